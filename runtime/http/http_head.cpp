#include "runtime/http/http_head.hpp"

#include <algorithm>

namespace flumen {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
        hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// Where the request head ends (just past its blank line), or npos.
std::size_t head_end_of(std::string_view in) {
  auto crlf = in.find("\r\n\r\n");
  auto lf = in.find("\n\n");
  auto a = crlf == std::string::npos ? crlf : crlf + 4;
  auto b = lf == std::string::npos ? lf : lf + 2;
  return std::min(a, b);
}

} // namespace

std::size_t http_head_end(std::string_view in) {
  return head_end_of(in);
}

http_head parse_http_head(std::string_view head) {
  http_head out;
  auto fail = [&](int status, std::string why) {
    out.status = status;
    out.error = std::move(why);
    return out;
  };
  // Request line.
  auto eol = head.find('\n');
  std::string_view line = trim(head.substr(0, eol));
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  std::string method{line.substr(0, sp1)};
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return fail(version.starts_with("HTTP/") ? 505 : 400,
                "only HTTP/1.0 and HTTP/1.1 are served");
  bool keep_alive = version == "HTTP/1.1";
  // Headers: only what decides the connection's fate is looked at.
  std::size_t pos = eol == std::string_view::npos ? head.size() : eol + 1;
  while (pos < head.size()) {
    auto next = head.find('\n', pos);
    auto h = trim(head.substr(pos, next == std::string_view::npos
                                       ? std::string_view::npos
                                       : next - pos));
    pos = next == std::string_view::npos ? head.size() : next + 1;
    if (h.empty()) continue;
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(400, "malformed header line");
    auto name = lower(h.substr(0, colon));
    auto value = lower(trim(h.substr(colon + 1)));
    if ((name == "content-length" && value != "0") ||
        name == "transfer-encoding")
      return fail(400, "request bodies are not accepted here");
    if (name == "connection") {
      if (value.find("close") != std::string::npos) keep_alive = false;
      if (value.find("keep-alive") != std::string::npos) keep_alive = true;
    }
  }
  if (method != "GET" && method != "HEAD")
    return fail(405, "only GET and HEAD are served");
  if (target.empty() || target.front() != '/')
    return fail(400, "the request target must be a path");
  out.keep_alive = keep_alive;
  auto& req = out.request;
  req.method = method;
  auto q = target.find('?');
  req.path = percent_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    auto query = target.substr(q + 1);
    while (!query.empty()) {
      auto amp = query.find('&');
      auto kv = query.substr(0, amp);
      auto eq = kv.find('=');
      req.params[percent_decode(kv.substr(0, eq), true)] =
          eq == std::string_view::npos
              ? std::string{}
              : percent_decode(kv.substr(eq + 1), true);
      query = amp == std::string_view::npos ? std::string_view{}
                                            : query.substr(amp + 1);
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

} // namespace flumen
