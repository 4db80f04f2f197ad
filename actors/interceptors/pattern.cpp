#include "actors/interceptors/pattern.hpp"

#include <cstring>

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

literal_prefilter make_prefilter(std::string_view pattern) {
  literal_prefilter out;
  // An alternation anywhere may make the leading run optional (`ab|c`).
  if (pattern.find('|') != std::string_view::npos) return out;
  static constexpr std::string_view meta = "\\.^$|?*+()[]{}";
  std::size_t i = 0;
  while (i < pattern.size()) {
    auto c = static_cast<unsigned char>(pattern[i]);
    if (c >= 0x80 || c < 0x20 ||
        meta.find(static_cast<char>(c)) != std::string_view::npos)
      break;
    ++i;
  }
  if (i == pattern.size()) {
    out.literal = std::string{pattern};
    out.whole = !out.literal.empty();
  } else {
    // A quantifier that allows none makes the character before it
    // optional (`ab?`, `ab*`, `ab{0,2}`); `+` keeps it required.
    auto next = pattern[i];
    if ((next == '?' || next == '*' || next == '{') && i > 0) --i;
    out.literal = std::string{pattern.substr(0, i)};
  }
  // How common a byte is in log lines: lower is rarer.
  auto commonness = [](unsigned char c) {
    if (c == ' ') return 9;
    if (std::strchr("etaoinsrhl", c) != nullptr) return 8;
    if (c >= '0' && c <= '9') return 7;
    if (c >= 'a' && c <= 'z') return 6;
    if (std::strchr(".:-/_,", c) != nullptr) return 5;
    if (c >= 'A' && c <= 'Z') return 3;
    return 2;
  };
  for (std::size_t k = 1; k < out.literal.size(); ++k)
    if (commonness(static_cast<unsigned char>(out.literal[k])) <
        commonness(static_cast<unsigned char>(out.literal[out.rare])))
      out.rare = k;
  return out;
}

std::size_t literal_prefilter::find(std::string_view body) const {
  if (literal.empty()) return 0;
  auto* at = memmem(body.data(), body.size(), literal.data(), literal.size());
  return at == nullptr ? std::string_view::npos
                       : static_cast<std::size_t>(static_cast<const char*>(at) -
                                                  body.data());
}

bool literal_prefilter::may_match(std::string_view body) const {
  return literal.empty() || find(body) != std::string_view::npos;
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
