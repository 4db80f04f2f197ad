#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/config/config.hpp"

namespace re2 {
class RE2;
} // namespace re2

namespace flumen::interceptors {

/// The most memory RE2 may use for one compiled pattern (its
/// `max_mem`): a larger pattern is a config error, not a stall or an
/// allocation at run time. RE2 matches in time linear in the body, so a
/// pattern cannot make an agent backtrack for ever.
inline constexpr int64_t pattern_max_mem = int64_t{8} << 20;

/// How a pattern's text and the bodies it reads are taken.
enum class pattern_encoding {
  /// Characters in UTF-8. A byte that is not UTF-8 is no character: `.`
  /// and classes do not match it, the valid text around it still matches.
  utf8,
  /// One byte, one character (ISO-8859-1).
  latin1,
};

/// `pattern`, written in Java's syntax as Flume's, in RE2's: a named
/// group `(?<name>...)` becomes `(?P<name>...)` (RE2 before 2023 knows only
/// the latter). Everything else is taken as it is; what RE2 does not
/// support (backreferences, lookaround, possessive quantifiers) it refuses.
std::string re2_syntax(std::string_view pattern);

/// `text` (UTF-8) in ISO-8859-1; false when it holds a character above
/// U+00FF (or is not UTF-8).
bool utf8_to_latin1(std::string_view text, std::string& out);

/// What a body must hold for a pattern to match anywhere in it, found
/// with memmem before RE2 is asked (RE2 costs a lock and a DFA walk per
/// body, ~30-80 ns on 100 B; memmem a few). `literal` is the pattern's
/// leading run of plain ASCII characters that every match contains (empty:
/// no prefilter). `whole`: the pattern is that literal and nothing else,
/// so finding it is the answer. Conservative: a pattern with `|`, an
/// escape, a class or a group at its start has no prefilter.
struct literal_prefilter {
  std::string literal;
  bool whole = false;
  /// The literal's least common byte in log text (an upper-case letter or
  /// a sign rather than a space, a digit or a vowel), looked for with
  /// memchr: glibc's memmem sets up tables per call, which on a 100-byte
  /// body cost more than the search.
  std::size_t rare = 0;

  /// False only when no match is possible.
  bool may_match(std::string_view body) const;
  /// Where `literal` first is in `body` (npos when absent).
  std::size_t find(std::string_view body) const;
};

/// The prefilter of `pattern` (as RE2 compiled it: RE2::pattern()).
literal_prefilter make_prefilter(std::string_view pattern);

/// Compiles `pattern`, read from `key` of `r`: nullptr, and a located
/// config error quoting RE2's message, when RE2 refuses it (a syntax it
/// lacks, or a program larger than pattern_max_mem).
std::shared_ptr<const re2::RE2>
compile_pattern(option_reader& r, std::string_view key,
                const std::string& pattern,
                pattern_encoding encoding = pattern_encoding::utf8);

} // namespace flumen::interceptors
