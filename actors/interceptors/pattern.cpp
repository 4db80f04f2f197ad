#include "actors/interceptors/pattern.hpp"

#include <re2/re2.h>

namespace flumen::interceptors {

std::string re2_syntax(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 4);
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out += c;
      out += pattern[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A `]` first in a class (`[]a]`, `[^]a]`) is a member, not its end.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (pattern.substr(i).starts_with("(?<") && i + 3 < pattern.size() &&
        pattern[i + 3] != '=' && pattern[i + 3] != '!') {
      out += "(?P<";
      i += 2;
      continue;
    }
    out += c;
  }
  return out;
}

bool utf8_to_latin1(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out += static_cast<char>(b);
    } else if ((b == 0xC2 || b == 0xC3) && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      out += static_cast<char>(
          ((b & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F));
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

std::shared_ptr<const re2::RE2> compile_pattern(option_reader& r,
                                                std::string_view key,
                                                const std::string& pattern,
                                                pattern_encoding encoding) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(pattern_max_mem);
  auto text = re2_syntax(pattern);
  if (encoding == pattern_encoding::latin1) {
    o.set_encoding(RE2::Options::EncodingLatin1);
    std::string latin1;
    if (!utf8_to_latin1(text, latin1)) {
      r.invalid(key, "holds a character that ISO-8859-1 lacks (the charset "
                     "is ISO-8859-1)");
      return nullptr;
    }
    text = std::move(latin1);
  }
  auto re = std::make_shared<const RE2>(text, o);
  if (re->ok()) return re;
  std::string why = "not a valid RE2 pattern: " + re->error();
  if (re->error_code() == RE2::ErrorPatternTooLarge)
    why += " (a compiled pattern may use " +
           std::to_string(pattern_max_mem >> 20) + " MiB at most)";
  r.invalid(key, why);
  return nullptr;
}

} // namespace flumen::interceptors
