#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flumen::interceptors {

/// The zone a date without an offset of its own is read in.
struct date_zone {
  bool local = false;     ///< this machine's zone (mktime), DST included
  int offset_seconds = 0; ///< a fixed offset east of UTC, when not local

  /// `UTC`, `local`, or a fixed offset (`+02:00`, `-0530`, `+02`, `Z`);
  /// nullopt otherwise.
  static std::optional<date_zone> parse(std::string_view text);
};

/// A date pattern in Joda-Time's letters, as Flume's regex_extractor
/// `millis` serializer takes it (DateTimeFormat.forPattern), read the way
/// Joda's parser reads: the whole text must match; numbers take as many
/// digits as their field allows (a year 9, or its letter count when a
/// number follows it; the others 2); `yy` is a year within 80 years
/// before and 20 after now; `S` digits are a fraction of a second; text
/// and literals match without regard to case; a field out of range
/// (month 13, February 30) fails. Letters: `yyyy` `yy` `M` `MM` `MMM`
/// `MMMM` `d` `dd` `H` `HH` `h` `hh` `a` `m` `mm` `s` `ss` `S`..., and
/// offsets `Z` `ZZ` `X` `XX` `XXX` (each reads `Z` or `±HH`, `±HHMM`,
/// `±HH:MM`). Other ASCII letters are refused; text in single quotes is
/// literal (`''` is a quote).
class date_format {
public:
  /// The format of `pattern`; nullopt with `error` set when it holds a
  /// letter this does not support or an unclosed quote.
  static std::optional<date_format> compile(std::string_view pattern,
                                            std::string& error);

  /// Milliseconds since the epoch of `text`: in the offset it states, or
  /// in `zone`. Fields it lacks are 1970-01-01T00:00:00.000's. nullopt
  /// when it does not match the whole pattern.
  std::optional<int64_t> parse(std::string_view text,
                               const date_zone& zone) const;

private:
  enum class field {
    literal,
    year,
    two_digit_year,
    month,
    month_text,
    day,
    hour24,
    hour12,
    halfday,
    minute,
    second,
    fraction,
    offset,
  };
  struct token {
    field kind;
    int max_digits = 0; ///< numbers: the most digits read
    std::string text;   ///< literals
    int letters = 0;    ///< how many times its letter was written
  };
  std::vector<token> tokens_;
};

} // namespace flumen::interceptors
