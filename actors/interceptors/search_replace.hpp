#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/interceptors/pattern.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// A replacement as Java's Matcher.replaceAll reads it: literal text and
/// group references (`$1`, `${name}`; `\x` is `x`).
struct replacement_part {
  std::string text; ///< literal text (when group < 0)
  int group = -1;   ///< the capture group it stands for
};

/// `replacement` read by Java's rules against `re`'s groups: `$n` takes
/// as many digits as still name a group (`$12` with 3 groups is group 1
/// and `2`), `${name}` a named group, `\` makes the next character
/// literal. nullopt with `error` set where Java would throw (a `$` that
/// names no group, a trailing `\`).
std::optional<std::vector<replacement_part>>
parse_replacement(std::string_view replacement, const re2::RE2& re,
                  std::string& error);

/// Options of the `search_replace` interceptor (Flume's
/// SearchAndReplaceInterceptor): replaces every match in the body.
struct search_replace_config {
  std::string search_pattern;
  std::string replace_string;
  std::string charset = "UTF-8";             ///< UTF-8 or ISO-8859-1
  std::shared_ptr<const re2::RE2> compiled;  ///< set by the parser
  std::vector<replacement_part> replacement; ///< set by the parser
};

/// Its options (runtime/config/options.hpp).
const option_list& search_replace_options();

search_replace_config parse_search_replace(option_reader& r);

std::unique_ptr<interceptor>
make_search_replace(const search_replace_config& cfg);

/// `body` with every match of `re` replaced, matches found as Java's
/// Matcher.find() finds them (an empty match right after a match counts;
/// after an empty match the search moves one character on); nullopt
/// when nothing matches (the body stays as it is, uncopied).
std::optional<std::string>
replace_all(std::string_view body, const re2::RE2& re,
            const std::vector<replacement_part>& replacement, bool utf8);

} // namespace flumen::interceptors
