#include "runtime/flume/properties.hpp"

#include <cstdint>
#include <unordered_map>

namespace flumen::flume {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\f';
}

/// The offset of the first byte that is not valid UTF-8, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i; // truncated at the end
    for (std::size_t k = 1; k <= n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Properties.loadConvert: decodes the escapes of `in` into UTF-8. An
/// empty string on success, else the error.
std::string load_convert(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  uint32_t high = 0; // a pending high surrogate from \uXXXX
  for (std::size_t i = 0; i < in.size();) {
    char c = in[i++];
    if (c != '\\') {
      if (high) return "a \\u escape of a lone high surrogate";
      out += c;
      continue;
    }
    if (i == in.size()) break; // a trailing backslash: Java drops it
    c = in[i++];
    if (c == 'u') {
      if (in.size() - i < 4) return "malformed \\uxxxx encoding";
      uint32_t unit = 0;
      for (int k = 0; k < 4; ++k) {
        int h = hex_value(in[i + k]);
        if (h < 0) return "malformed \\uxxxx encoding";
        unit = (unit << 4) | static_cast<uint32_t>(h);
      }
      i += 4;
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        if (high) return "a \\u escape of a lone high surrogate";
        high = unit;
        continue;
      }
      if (unit >= 0xDC00 && unit <= 0xDFFF) {
        if (!high) return "a \\u escape of a lone low surrogate";
        put_utf8(out, 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00));
        high = 0;
        continue;
      }
      if (high) return "a \\u escape of a lone high surrogate";
      put_utf8(out, unit);
      continue;
    }
    if (high) return "a \\u escape of a lone high surrogate";
    switch (c) {
    case 't':
      out += '\t';
      break;
    case 'r':
      out += '\r';
      break;
    case 'n':
      out += '\n';
      break;
    case 'f':
      out += '\f';
      break;
    default:
      out += c; // the rest of a multi-byte character follows as it is
    }
  }
  if (high) return "a \\u escape of a lone high surrogate";
  return {};
}

} // namespace

properties_result read_properties(std::string_view text,
                                  const properties_limits& limits) {
  properties_result result;
  auto fail = [&](std::string message, std::size_t line) {
    result.entries.clear();
    result.duplicates.clear();
    result.error = std::move(message);
    result.error_line = line;
    return result;
  };
  if (text.size() > limits.max_file_bytes)
    return fail("the file has " + std::to_string(text.size()) +
                    " bytes, more than the " +
                    std::to_string(limits.max_file_bytes) + " read at most",
                0);
  if (auto bad = invalid_utf8_at(text); bad != std::string_view::npos) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < bad; ++i)
      line += text[i] == '\n';
    return fail("not valid UTF-8 (byte " + std::to_string(bad) + ")", line);
  }
  std::unordered_map<std::string, std::size_t> index;
  std::string logical, key, value;
  std::size_t pos = 0, line = 1;
  bool skip_lf = false; // after a \r: a \n next is the same line end
  while (pos < text.size()) {
    // LineReader.readLine: one logical line, from natural lines.
    logical.clear();
    bool skip_white = true, new_line = true, comment = false;
    bool appended = false, preceding_backslash = false;
    std::size_t start_line = line;
    bool have_line = false;
    while (pos < text.size()) {
      char c = text[pos++];
      if (skip_lf) {
        skip_lf = false;
        if (c == '\n') continue;
      }
      if (skip_white) {
        if (is_space(c)) continue;
        if (!appended && (c == '\r' || c == '\n')) {
          if (c == '\r') skip_lf = true;
          ++line;
          continue;
        }
        skip_white = false;
        appended = false;
      }
      if (new_line) {
        new_line = false;
        start_line = line;
        if (c == '#' || c == '!') comment = true;
      }
      if (c != '\n' && c != '\r') {
        if (!comment) {
          logical += c;
          if (logical.size() > limits.max_line_bytes)
            return fail("a logical line over " +
                            std::to_string(limits.max_line_bytes) + " bytes",
                        start_line);
          preceding_backslash = c == '\\' ? !preceding_backslash : false;
        }
        continue;
      }
      // The end of a natural line.
      if (c == '\r') skip_lf = true;
      ++line;
      if (comment || logical.empty()) {
        comment = false;
        new_line = true;
        skip_white = true;
        logical.clear();
        continue;
      }
      if (preceding_backslash) {
        logical.pop_back();
        skip_white = true;
        appended = true;
        preceding_backslash = false;
        continue;
      }
      have_line = true;
      break;
    }
    if (!have_line) {
      // The end of the input: a pending logical line counts (a final
      // backslash dropped), a comment does not.
      if (comment || logical.empty()) break;
      if (preceding_backslash) logical.pop_back();
    }
    // Properties.load0: the key, the separator, the value.
    std::size_t key_len = 0, value_start = logical.size();
    bool has_sep = false, backslash = false;
    while (key_len < logical.size()) {
      char c = logical[key_len];
      if ((c == '=' || c == ':') && !backslash) {
        value_start = key_len + 1;
        has_sep = true;
        break;
      }
      if (is_space(c) && !backslash) {
        value_start = key_len + 1;
        break;
      }
      backslash = c == '\\' ? !backslash : false;
      ++key_len;
    }
    while (value_start < logical.size()) {
      char c = logical[value_start];
      if (!is_space(c)) {
        if (!has_sep && (c == '=' || c == ':'))
          has_sep = true;
        else
          break;
      }
      ++value_start;
    }
    if (key_len > limits.max_key_bytes)
      return fail("a key over " + std::to_string(limits.max_key_bytes) +
                      " bytes",
                  start_line);
    if (auto err =
            load_convert(std::string_view(logical).substr(0, key_len), key);
        !err.empty())
      return fail(err + " in a key", start_line);
    if (auto err =
            load_convert(std::string_view(logical).substr(value_start), value);
        !err.empty())
      return fail(err + " in the value of " + key, start_line);
    if (auto it = index.find(key); it != index.end()) {
      auto& entry = result.entries[it->second];
      result.duplicates.push_back({key, entry.line, start_line});
      entry.value = value;
      entry.line = start_line;
    } else {
      index.emplace(key, result.entries.size());
      result.entries.push_back({key, value, start_line});
    }
  }
  return result;
}

} // namespace flumen::flume
