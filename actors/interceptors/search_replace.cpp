#include "actors/interceptors/search_replace.hpp"

#include <stdexcept>

#include <re2/re2.h>

namespace flumen::interceptors {

/// The options of the `search_replace` interceptor
/// (docs/reference/interceptors/search_replace.md shows them, generated).
const option_list& search_replace_options() {
  static const option_list table = {
      {.name = "search_pattern",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "every match in the body is replaced, found as Java's "
              "`replaceAll` finds them "
              "(`search_replace.flume_guide_examples`). An invalid pattern "
              "is a config error quoting RE2"},
      {.name = "replace_string",
       .kind = option_kind::string,
       .doc = "Java's replacement syntax: `$1`..`$9`.. and `${name}` are "
              "groups, `\\$` and `\\\\` literal; a reference to no group or"
              " a trailing `\\` is a config error (Java throws on the first "
              "match) (`search_replace.replacement_follows_javas_rules`)"},
      {.name = "charset",
       .kind = option_kind::choice,
       .choices = "UTF-8|ISO-8859-1",
       .doc = "how the body's bytes are characters. Bytes that are not UTF-8"
              " stay as they are (Java turns them into U+FFFD) and match "
              "nothing (`search_replace.bytes_that_are_not_utf8_are_kept`); "
              "with `ISO-8859-1` each byte is a character, and the pattern "
              "and replacement must be written in it. Flume takes any Java "
              "charset; flumen these two"},
  };
  return table;
}

std::optional<std::vector<replacement_part>>
parse_replacement(std::string_view s, const re2::RE2& re, std::string& error) {
  std::vector<replacement_part> out;
  auto literal = [&](std::string_view t) {
    if (out.empty() || out.back().group >= 0) out.push_back({});
    out.back().text += t;
  };
  int groups = re.NumberOfCapturingGroups();
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      if (++i == s.size()) {
        error = "character to be escaped is missing (a trailing `\\`)";
        return std::nullopt;
      }
      literal(s.substr(i, 1));
    } else if (c == '$') {
      if (++i == s.size()) {
        error = "illegal group reference: group index is missing (a "
                "trailing `$`; write `\\$` for a dollar sign)";
        return std::nullopt;
      }
      if (s[i] == '{') {
        auto end = s.find('}', i);
        auto name = s.substr(i + 1, end == std::string_view::npos
                                        ? std::string_view::npos
                                        : end - i - 1);
        bool valid = end != std::string_view::npos && !name.empty() &&
                     !is_digit(name[0]);
        for (char n : name)
          valid = valid && (is_digit(n) || (n >= 'a' && n <= 'z') ||
                            (n >= 'A' && n <= 'Z'));
        if (!valid) {
          error = "illegal group reference: `${` needs a group name and `}`";
          return std::nullopt;
        }
        auto& named = re.NamedCapturingGroups();
        auto it = named.find(std::string{name});
        if (it == named.end()) {
          error = "no group named '" + std::string{name} + "' in the pattern";
          return std::nullopt;
        }
        out.push_back({{}, it->second});
        i = end;
      } else if (is_digit(s[i])) {
        int ref = s[i] - '0';
        if (ref > groups) {
          error = "no group " + std::to_string(ref) + " (the pattern has " +
                  std::to_string(groups) + "; write `\\$` for a dollar sign)";
          return std::nullopt;
        }
        // As Java: more digits while they still name a group.
        while (i + 1 < s.size() && is_digit(s[i + 1])) {
          int next = ref * 10 + (s[i + 1] - '0');
          if (next > groups) break;
          ref = next;
          ++i;
        }
        out.push_back({{}, ref});
      } else {
        error = "illegal group reference: `$` followed by '" +
                std::string(1, s[i]) + "' (write `\\$` for a dollar sign)";
        return std::nullopt;
      }
    } else {
      literal(s.substr(i, 1));
    }
  }
  return out;
}

std::optional<std::string>
replace_all(std::string_view body, const re2::RE2& re,
            const std::vector<replacement_part>& replacement, bool utf8) {
  int n = 1;
  for (auto& p : replacement)
    n = std::max(n, p.group + 1);
  re2::StringPiece groups[10];
  std::vector<re2::StringPiece> many;
  auto* g = groups;
  if (n > 10) {
    many.resize(static_cast<std::size_t>(n));
    g = many.data();
  }
  std::string out;
  std::size_t copied = 0; // body[0, copied) is in `out`
  std::size_t from = 0;   // where the next search starts
  bool any = false;
  while (from <= body.size() &&
         re.Match(body, from, body.size(), RE2::UNANCHORED, g, n)) {
    auto start = static_cast<std::size_t>(g[0].data() - body.data());
    auto end = start + g[0].size();
    if (!any) out.reserve(body.size() + 16);
    any = true;
    out.append(body.substr(copied, start - copied));
    for (auto& p : replacement) {
      if (p.group < 0)
        out += p.text;
      else if (g[p.group].data() != nullptr)
        out.append(g[p.group].data(), g[p.group].size());
    }
    copied = end;
    from = end;
    if (start == end) {
      // An empty match: the next search starts one character on (Java's
      // find()), the character itself still to be copied.
      if (from == body.size()) break;
      std::size_t step = 1;
      auto b = static_cast<unsigned char>(body[from]);
      if (utf8 && b >= 0xC0) {
        step = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        if (from + step > body.size()) step = 1;
        for (std::size_t k = 1; k < step && step > 1; ++k)
          if ((static_cast<unsigned char>(body[from + k]) & 0xC0) != 0x80)
            step = 1;
      }
      from += step;
    }
  }
  if (!any) return std::nullopt;
  out.append(body.substr(copied));
  return out;
}

search_replace_config parse_search_replace(option_reader& r) {
  option_scope scope{r, search_replace_options()};
  search_replace_config cfg;
  cfg.search_pattern = r.required_str("search_pattern");
  cfg.replace_string = r.str("replace_string", cfg.replace_string);
  cfg.charset = r.choice("charset", cfg.charset, {"UTF-8", "ISO-8859-1"});
  bool latin1 = cfg.charset == "ISO-8859-1";
  if (r.parsed({"search_pattern", "charset"}))
    cfg.compiled = compile_pattern(r, "search_pattern", cfg.search_pattern,
                                   latin1 ? pattern_encoding::latin1
                                          : pattern_encoding::utf8);
  if (cfg.compiled && r.parsed({"replace_string"})) {
    std::string text = cfg.replace_string;
    if (latin1 && !utf8_to_latin1(cfg.replace_string, text)) {
      r.invalid("replace_string", "holds a character that ISO-8859-1 lacks "
                                  "(the charset is ISO-8859-1)");
      return cfg;
    }
    std::string error;
    if (auto parts = parse_replacement(text, *cfg.compiled, error))
      cfg.replacement = std::move(*parts);
    else
      r.invalid("replace_string", error);
  }
  return cfg;
}

namespace {

class search_replace final : public interceptor {
public:
  std::size_t headers_added() const override { return 0; }
  explicit search_replace(search_replace_config cfg)
      : cfg_(std::move(cfg)), utf8_(cfg_.charset != "ISO-8859-1") {
    if (!cfg_.compiled)
      throw std::invalid_argument{"search_replace: no pattern"};
    pre_ = make_prefilter(cfg_.compiled->pattern());
  }

  std::size_t apply(batch& events) override {
    for (auto& e : events) {
      // Most bodies hold nothing to replace: memmem says so before RE2.
      if (!pre_.may_match(e.body)) continue;
      if (auto body =
              replace_all(e.body, *cfg_.compiled, cfg_.replacement, utf8_))
        e.body = std::move(*body);
    }
    return 0;
  }

private:
  search_replace_config cfg_;
  bool utf8_;
  literal_prefilter pre_;
};

} // namespace

std::unique_ptr<interceptor>
make_search_replace(const search_replace_config& cfg) {
  return std::make_unique<search_replace>(cfg);
}

} // namespace flumen::interceptors
