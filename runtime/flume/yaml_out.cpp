#include "runtime/flume/yaml_out.hpp"

#include <cstdint>
#include <cstdio>

namespace flumen::flume {

ynode ynode::raw(std::string text) {
  ynode n;
  n.k = kind::scalar;
  n.text = std::move(text);
  return n;
}

ynode ynode::str(std::string_view s) {
  return raw(yaml_quote(s));
}

ynode ynode::list() {
  ynode n;
  n.k = kind::list;
  return n;
}

ynode* ynode::find(const std::string& key) {
  for (auto& [k2, v] : items)
    if (k2 == key) return &v;
  return nullptr;
}

ynode& ynode::child(const std::string& key) {
  if (auto* v = find(key)) return *v;
  items.push_back(yentry{key, ynode{}});
  return items.back().second;
}

ynode& ynode::set(const std::string& key, ynode v) {
  if (auto* old = find(key)) {
    auto notes = std::move(old->notes);
    *old = std::move(v);
    old->notes.insert(old->notes.begin(), notes.begin(), notes.end());
    return *old;
  }
  items.push_back(yentry{key, std::move(v)});
  return items.back().second;
}

void ynode::push(ynode v) {
  items.push_back(yentry{std::string{}, std::move(v)});
}

namespace {

bool plain_safe(std::string_view s) {
  if (s.empty() || s.front() == '-' || s.front() == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/' ||
              c == '-';
    if (!ok) return false;
  }
  std::string lower;
  for (char c : s)
    lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  // YAML 1.1's words that yaml-cpp reads as null or booleans.
  for (auto* w : {"null", "true", "false", "yes", "no", "on", "off", "y", "n"})
    if (lower == w) return false;
  return true;
}

/// The code point at `i` of valid UTF-8 (the reader checked it), and its
/// length.
uint32_t code_point(std::string_view s, std::size_t i, std::size_t& len) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80 || i + 1 >= s.size()) {
    len = 1;
    return c;
  }
  std::size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  uint32_t cp = c & (0x3F >> n);
  for (std::size_t k = 1; k <= n && i + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  len = n + 1;
  return cp;
}

bool printable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp >= 0x80 && cp < 0xA0) return false;
  return cp != 0x2028 && cp != 0x2029 && cp != 0xFEFF && cp < 0xFFFE;
}

} // namespace

std::string yaml_quote(std::string_view s) {
  if (plain_safe(s)) return std::string(s);
  bool all_printable = true;
  for (std::size_t i = 0, len = 0; i < s.size(); i += len)
    if (!printable(code_point(s, i, len))) all_printable = false;
  std::string out;
  if (all_printable) {
    out = "'";
    for (char c : s) {
      if (c == '\'') out += '\'';
      out += c;
    }
    return out + "'";
  }
  out = "\"";
  for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
    auto cp = code_point(s, i, len);
    if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (printable(cp)) {
      out.append(s.substr(i, len));
    } else {
      char buf[16];
      if (cp < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      else
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
    }
  }
  return out + "\"";
}

namespace {

/// A comment's text on one line.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s)
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? ' ' : c;
  return out;
}

void render(const ynode& n, std::size_t indent, std::string& out);

void entry(const std::string& key, const ynode& v, std::size_t indent,
           std::string& out, bool dash) {
  std::string pad(indent, ' ');
  std::string lead = dash ? pad.substr(0, indent - 2) + "- " : pad;
  if (!dash) {
    auto k = yaml_quote(key);
    // A plain or quoted key is at most 1024 characters in YAML; a longer
    // one is written as an explicit key ("? KEY" then ": VALUE").
    if (k.size() > 1000)
      lead += "? " + k + "\n" + pad + ":";
    else
      lead += k + ":";
  }
  auto eol = v.comment.empty() ? "\n" : "  # " + one_line(v.comment) + "\n";
  bool empty_map = v.k == ynode::kind::map && v.items.empty();
  bool empty_list = v.k == ynode::kind::list && v.items.empty();
  if (v.k == ynode::kind::scalar ||
      ((empty_map || empty_list) && v.notes.empty())) {
    auto text = v.k == ynode::kind::scalar ? v.text : empty_map ? "{}" : "[]";
    out += lead + (dash ? "" : " ") + text + eol;
    return;
  }
  if (dash && v.k == ynode::kind::map && v.notes.empty() &&
      v.items.front().second.k == ynode::kind::scalar) {
    // `- first: x` then the other entries under it.
    std::string first;
    entry(v.items.front().first, v.items.front().second, 0, first, false);
    out += lead + first;
    ynode rest = v;
    rest.items.erase(rest.items.begin());
    render(rest, indent, out);
    return;
  }
  out += (dash ? lead.substr(0, lead.size() - 1) : lead) + eol;
  render(v, dash ? indent : indent + 2, out);
}

void render(const ynode& n, std::size_t indent, std::string& out) {
  std::string pad(indent, ' ');
  for (auto& note : n.notes)
    out += pad + "# " + one_line(note) + "\n";
  for (auto& [key, v] : n.items)
    entry(key, v, n.k == ynode::kind::list ? indent + 2 : indent, out,
          n.k == ynode::kind::list);
}

} // namespace

std::string render_yaml(const ynode& root,
                        const std::vector<std::string>& header) {
  std::string out;
  for (auto& line : header)
    out += "# " + one_line(line) + "\n";
  render(root, 0, out);
  return out;
}

} // namespace flumen::flume
