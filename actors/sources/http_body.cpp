#include "actors/sources/http_body.hpp"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>

#include <nlohmann/json.hpp>

namespace flumen::sources {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// `in` converted from charset `from` to `to` with iconv; nullopt when it
/// does not convert (bytes that are no text in `from`).
std::optional<std::string> convert(std::string_view in, const char* from,
                                   const char* to) {
  auto cd = ::iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  out.resize(in.size() * 2 + 16);
  auto* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  std::size_t done = 0;
  bool ok = true;
  while (src_left > 0) {
    auto* dst = out.data() + done;
    std::size_t dst_left = out.size() - done;
    auto r = ::iconv(cd, &src, &src_left, &dst, &dst_left);
    done = out.size() - dst_left;
    if (r != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    ok = false; // EILSEQ, EINVAL: not text in that charset
    break;
  }
  ::iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(done);
  return out;
}

/// Flume's JSONHandler takes these three (Java's names for them).
enum class json_charset { utf8, utf16, utf32 };

std::optional<json_charset> json_charset_of(const std::string& name) {
  if (name.empty() || name == "utf-8" || name == "utf8")
    return json_charset::utf8;
  if (name == "utf-16") return json_charset::utf16;
  if (name == "utf-32") return json_charset::utf32;
  return std::nullopt;
}

/// A body string as Java's String.getBytes(charset) writes it: UTF-16 big
/// endian after a byte order mark, UTF-32 big endian without one.
std::string encode_body(std::string utf8, json_charset cs) {
  switch (cs) {
  case json_charset::utf8:
    return utf8;
  case json_charset::utf16: {
    auto out = convert(utf8, "UTF-8", "UTF-16BE");
    return out ? "\xFE\xFF" + *out : std::string{};
  }
  case json_charset::utf32:
    return convert(utf8, "UTF-8", "UTF-32BE").value_or(std::string{});
  }
  return utf8;
}

using json = nlohmann::json;

/// Builds events from Flume's JSON shape as the parser reads it: no tree
/// of the document is made, and every count is checked as it grows.
class event_reader : public nlohmann::json_sax<json> {
public:
  event_reader(std::size_t max_events, json_charset cs)
      : max_events_(max_events), charset_(cs) {}

  http_decoded result;

  bool null() override { return value(std::nullopt); }
  bool boolean(bool v) override { return value(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override {
    return value(std::to_string(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return value(std::to_string(v));
  }
  bool number_float(number_float_t, const string_t& text) override {
    return value(text);
  }
  bool string(string_t& v) override { return value(std::move(v)); }
  bool binary(binary_t&) override { return fail("unexpected binary value"); }

  bool start_object(std::size_t) override {
    if (skip_ > 0 || skip_next_) return enter_skipped();
    switch (where_) {
    case at::array:
      if (result.events.size() >= max_events_) {
        result.status = 413;
        result.error =
            "more than max_events (" + std::to_string(max_events_) + ") events";
        return false;
      }
      result.events.emplace_back();
      where_ = at::event;
      return true;
    case at::event:
      if (key_ == "headers") {
        where_ = at::headers;
        return true;
      }
      return fail(what_of_key() + " must be a string, not an object");
    case at::top:
      return fail("expected a JSON array of events, found an object");
    case at::headers:
      return fail("header '" + key_ + "' of event " + event_number() +
                  " must be a string, not an object");
    case at::done:
      return fail("more after the array of events");
    }
    return false;
  }
  bool key(string_t& k) override {
    if (skip_ > 0) return true;
    key_ = std::move(k);
    // Keys other than Flume's two are let pass, as Gson does.
    skip_next_ = where_ == at::event && key_ != "headers" && key_ != "body";
    return true;
  }
  bool end_object() override {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    if (where_ == at::headers) {
      where_ = at::event;
    } else if (where_ == at::event) {
      where_ = at::array;
    }
    return true;
  }
  bool start_array(std::size_t) override {
    if (skip_ > 0 || skip_next_) return enter_skipped();
    if (where_ == at::top) {
      where_ = at::array;
      return true;
    }
    if (where_ == at::array)
      return fail("event " + std::to_string(result.events.size() + 1) +
                  " is an array, not an object");
    if (where_ == at::event)
      return fail(what_of_key() + " must be " +
                  (key_ == "headers" ? "an object" : "a string") +
                  ", not an array");
    return fail("header '" + key_ + "' of event " + event_number() +
                " must be a string, not an array");
  }
  bool end_array() override {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    where_ = at::done;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    if (result.status == 200) {
      result.status = 400;
      std::string what = ex.what();
      // "[json.exception.parse_error.101] parse error at line 1, ...":
      // the part after the bracket is the reason.
      auto close = what.find("] ");
      result.error =
          "malformed JSON: " +
          (close == std::string::npos ? what : what.substr(close + 2));
    }
    return false;
  }

private:
  enum class at { top, array, event, headers, done };

  bool fail(std::string why) {
    result.status = 400;
    result.error = std::move(why);
    return false;
  }
  std::string event_number() const {
    return std::to_string(result.events.size());
  }
  std::string what_of_key() const {
    return "'" + key_ + "' of event " + event_number();
  }
  bool enter_skipped() {
    skip_next_ = false;
    ++skip_;
    return true;
  }

  /// A scalar (or null) where the document is now.
  bool value(std::optional<std::string> v) {
    if (skip_ > 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    switch (where_) {
    case at::top:
      return fail("expected a JSON array of events");
    case at::array:
      return fail("event " + std::to_string(result.events.size() + 1) +
                  " is not an object");
    case at::event:
      if (key_ == "body") {
        // null: an empty body, as Flume's (a null String) makes.
        if (v) result.events.back().body = encode_body(std::move(*v), charset_);
        return true;
      }
      // "headers": null means none.
      if (!v) return true;
      return fail("'headers' of event " + event_number() +
                  " must be an object");
    case at::headers: {
      if (!v) return true; // a null value: no such header
      auto& h = result.events.back().headers;
      if (h.contains(key_))
        return fail("duplicate header '" + key_ + "' in event " +
                    event_number());
      if (h.size() >= http_max_headers)
        return fail("event " + event_number() + " has more than " +
                    std::to_string(http_max_headers) + " headers");
      h.emplace(key_, std::move(*v));
      return true;
    }
    case at::done:
      return fail("more after the array of events");
    }
    return false;
  }

  std::size_t max_events_;
  json_charset charset_;
  at where_ = at::top;
  std::string key_;
  std::size_t skip_ = 0;   ///< depth inside a value let pass
  bool skip_next_ = false; ///< the next value is let pass
};

http_decoded decode_json(std::string_view body, std::string_view content_type,
                         std::size_t max_events) {
  http_decoded out;
  auto name = http_charset(content_type);
  auto cs = json_charset_of(name);
  if (!cs) {
    out.status = 400;
    out.error = "unsupported charset '" + name +
                "' (the json handler reads UTF-8, UTF-16 or UTF-32)";
    return out;
  }
  std::string text;
  if (*cs != json_charset::utf8) {
    // As Java reads "UTF-16" and "UTF-32": by the byte order mark, big
    // endian without one (said to iconv, whose own default is the
    // machine's order).
    auto starts = [&](std::string_view bom) { return body.starts_with(bom); };
    const char* from = nullptr;
    if (*cs == json_charset::utf16) {
      from = starts("\xFF\xFE") ? "UTF-16LE" : "UTF-16BE";
      if (starts("\xFF\xFE") || starts("\xFE\xFF")) body.remove_prefix(2);
    } else {
      using namespace std::string_view_literals;
      from = starts("\xFF\xFE\0\0"sv) ? "UTF-32LE" : "UTF-32BE";
      if (starts("\xFF\xFE\0\0"sv) || starts("\0\0\xFE\xFF"sv))
        body.remove_prefix(4);
    }
    auto utf8 = convert(body, from, "UTF-8");
    if (!utf8) {
      out.status = 400;
      out.error = "the body is not " + name + " text";
      return out;
    }
    text = std::move(*utf8);
    body = text;
  }
  event_reader reader{max_events, *cs};
  json::sax_parse(body.begin(), body.end(), &reader);
  return std::move(reader.result);
}

} // namespace

std::string http_charset(std::string_view content_type) {
  auto ct = lower(content_type);
  std::size_t pos = 0;
  while ((pos = ct.find(';', pos)) != std::string::npos) {
    ++pos;
    while (pos < ct.size() && (ct[pos] == ' ' || ct[pos] == '\t'))
      ++pos;
    if (ct.compare(pos, 8, "charset=") != 0) continue;
    auto v = ct.substr(pos + 8);
    v = v.substr(0, v.find(';'));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
      v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
      v = v.substr(1, v.size() - 2);
    return v;
  }
  return {};
}

http_decoded decode_http_body(http_handler handler, std::string_view body,
                              std::string_view content_type,
                              std::size_t max_events) {
  http_decoded out;
  auto too_many = [&] {
    out.events.clear();
    out.status = 413;
    out.error =
        "more than max_events (" + std::to_string(max_events) + ") events";
    return out;
  };
  switch (handler) {
  case http_handler::json:
    return decode_json(body, content_type, max_events);
  case http_handler::body:
    if (max_events < 1) return too_many();
    out.events.push_back(event{{}, std::string{body}});
    return out;
  case http_handler::lines: {
    // Counted before anything is made: a body of newlines would
    // otherwise make an event per byte first.
    auto n =
        static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n'));
    if (!body.empty() && body.back() != '\n') ++n;
    if (n > max_events) return too_many();
    out.events.reserve(n);
    std::size_t start = 0;
    while (start < body.size()) {
      auto end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      auto line = body.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out.events.push_back(event{{}, std::string{line}});
      start = end + 1;
    }
    return out;
  }
  }
  return out;
}

} // namespace flumen::sources
