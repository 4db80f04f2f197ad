#include "actors/interceptors/date_format.hpp"

#include <array>
#include <ctime>

namespace flumen::interceptors {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(text[i]) != lower(prefix[i])) return false;
  return true;
}

constexpr std::array<std::string_view, 12> month_names = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// `±HH`, `±HHMM`, `±HH:MM` (or `Z`) at the start of `text`: the offset in
// seconds and the characters read; nullopt when there is none.
std::optional<std::pair<int, std::size_t>> read_offset(std::string_view text) {
  if (!text.empty() && (text[0] == 'Z' || text[0] == 'z'))
    return std::pair{0, std::size_t{1}};
  if (text.size() < 3 || (text[0] != '+' && text[0] != '-') ||
      !is_digit(text[1]) || !is_digit(text[2]))
    return std::nullopt;
  int hours = (text[1] - '0') * 10 + (text[2] - '0');
  int minutes = 0;
  std::size_t used = 3;
  auto rest = text.substr(3);
  if (!rest.empty() && rest[0] == ':') rest.remove_prefix(1), ++used;
  if (rest.size() >= 2 && is_digit(rest[0]) && is_digit(rest[1])) {
    minutes = (rest[0] - '0') * 10 + (rest[1] - '0');
    used += 2;
  } else if (used == 4) {
    return std::nullopt; // `+02:` with no minutes
  }
  if (hours > 23 || minutes > 59) return std::nullopt;
  int sign = text[0] == '-' ? -1 : 1;
  return std::pair{sign * (hours * 3600 + minutes * 60), used};
}

} // namespace

std::optional<date_zone> date_zone::parse(std::string_view text) {
  if (text == "UTC" || text == "utc") return date_zone{};
  if (text == "local") return date_zone{.local = true};
  auto o = read_offset(text);
  if (!o || o->second != text.size()) return std::nullopt;
  return date_zone{.offset_seconds = o->first};
}

std::optional<date_format> date_format::compile(std::string_view pattern,
                                                std::string& error) {
  date_format f;
  auto literal = [&](std::string text) {
    if (!f.tokens_.empty() && f.tokens_.back().kind == field::literal)
      f.tokens_.back().text += text;
    else
      f.tokens_.push_back({field::literal, 0, std::move(text)});
  };
  std::size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    if (c == '\'') {
      // Quoted text; `''` is one quote, inside quotes or out.
      if (i + 1 < pattern.size() && pattern[i + 1] == '\'') {
        literal("'");
        i += 2;
        continue;
      }
      std::string text;
      std::size_t j = i + 1;
      for (;; ++j) {
        if (j >= pattern.size()) {
          error =
              "unclosed quote in date pattern '" + std::string{pattern} + "'";
          return std::nullopt;
        }
        if (pattern[j] != '\'') {
          text += pattern[j];
        } else if (j + 1 < pattern.size() && pattern[j + 1] == '\'') {
          text += '\'';
          ++j;
        } else {
          break;
        }
      }
      literal(std::move(text));
      i = j + 1;
      continue;
    }
    if (!is_letter(c)) {
      literal(std::string(1, c));
      ++i;
      continue;
    }
    std::size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c)
      ++n;
    int count = static_cast<int>(n);
    int two = std::max(2, count);
    switch (c) {
    case 'y':
      if (count == 2)
        f.tokens_.push_back({field::two_digit_year, 2, {}});
      else
        f.tokens_.push_back({field::year, 9, {}, count});
      break;
    case 'M':
      if (count >= 3)
        f.tokens_.push_back({field::month_text, 0, {}});
      else
        f.tokens_.push_back({field::month, two, {}});
      break;
    case 'd':
      f.tokens_.push_back({field::day, two, {}});
      break;
    case 'H':
      f.tokens_.push_back({field::hour24, two, {}});
      break;
    case 'h':
      f.tokens_.push_back({field::hour12, two, {}});
      break;
    case 'a':
      f.tokens_.push_back({field::halfday, 0, {}});
      break;
    case 'm':
      f.tokens_.push_back({field::minute, two, {}});
      break;
    case 's':
      f.tokens_.push_back({field::second, two, {}});
      break;
    case 'S':
      f.tokens_.push_back({field::fraction, count, {}});
      break;
    case 'Z':
      if (count > 2) {
        error = "zone names (ZZZ) are not supported in a date pattern: use "
                "an offset (Z, ZZ or XXX)";
        return std::nullopt;
      }
      f.tokens_.push_back({field::offset, 0, {}});
      break;
    case 'X':
      if (count > 3) {
        error = "'" + std::string(n, 'X') + "' is not a date pattern field";
        return std::nullopt;
      }
      f.tokens_.push_back({field::offset, 0, {}});
      break;
    default:
      error = "unsupported letter '" + std::string(1, c) +
              "' in date pattern (supported: y M d H h a m s S Z X; put "
              "literal text in single quotes)";
      return std::nullopt;
    }
    i += n;
  }
  // As Joda: a year followed by another number reads only its own width
  // (`yyyyMMdd`), and a two-digit year then reads exactly two.
  for (std::size_t k = 0; k + 1 < f.tokens_.size(); ++k) {
    auto next = f.tokens_[k + 1].kind;
    bool numeric = next != field::literal && next != field::month_text &&
                   next != field::halfday && next != field::offset;
    if (f.tokens_[k].kind == field::year && numeric)
      f.tokens_[k].max_digits = f.tokens_[k].letters;
  }
  return f;
}

std::optional<int64_t> date_format::parse(std::string_view text,
                                          const date_zone& zone) const {
  int64_t year = 1970;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
  int hour12 = -1;
  int pm = -1;
  std::optional<int> offset;
  std::size_t pos = 0;
  auto number = [&](int max_digits) -> std::optional<int64_t> {
    int64_t v = 0;
    int n = 0;
    while (n < max_digits && pos < text.size() && is_digit(text[pos])) {
      v = v * 10 + (text[pos] - '0');
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
    return v;
  };
  for (std::size_t k = 0; k < tokens_.size(); ++k) {
    auto& t = tokens_[k];
    auto rest = text.substr(pos);
    switch (t.kind) {
    case field::literal:
      if (!starts_with_nocase(rest, t.text)) return std::nullopt;
      pos += t.text.size();
      break;
    case field::year: {
      auto v = number(t.max_digits);
      if (!v) return std::nullopt;
      year = *v;
      break;
    }
    case field::two_digit_year: {
      // Lenient as Joda's when no number follows: other than two digits
      // is a year as written.
      bool strict = k + 1 < tokens_.size() &&
                    tokens_[k + 1].kind != field::literal &&
                    tokens_[k + 1].kind != field::month_text &&
                    tokens_[k + 1].kind != field::halfday &&
                    tokens_[k + 1].kind != field::offset;
      auto start = pos;
      auto v = number(strict ? 2 : 9);
      if (!v) return std::nullopt;
      if (pos - start != 2) {
        if (strict) return std::nullopt;
        year = *v;
        break;
      }
      // Within 80 years before and 20 after now (Joda's pivot, as
      // SimpleDateFormat's).
      auto now = std::time(nullptr);
      std::tm tm{};
      ::gmtime_r(&now, &tm);
      int64_t base = tm.tm_year + 1900 - 80;
      int64_t y = base - base % 100 + *v;
      if (y < base) y += 100;
      year = y;
      break;
    }
    case field::month:
    case field::day:
    case field::hour24:
    case field::hour12:
    case field::minute:
    case field::second: {
      auto v = number(t.max_digits);
      if (!v) return std::nullopt;
      int x = static_cast<int>(*v);
      switch (t.kind) {
      case field::month:
        month = x;
        break;
      case field::day:
        day = x;
        break;
      case field::hour24:
        hour = x;
        break;
      case field::hour12:
        hour12 = x;
        break;
      case field::minute:
        minute = x;
        break;
      default:
        second = x;
        break;
      }
      break;
    }
    case field::month_text: {
      // The full name or its first three letters, any case.
      int found = 0;
      std::size_t used = 0;
      for (int m = 0; m < 12; ++m) {
        auto name = month_names[static_cast<std::size_t>(m)];
        if (starts_with_nocase(rest, name) && name.size() > used) {
          found = m + 1;
          used = name.size();
        } else if (used < 3 && starts_with_nocase(rest, name.substr(0, 3))) {
          found = m + 1;
          used = 3;
        }
      }
      if (found == 0) return std::nullopt;
      month = found;
      pos += used;
      break;
    }
    case field::halfday:
      if (starts_with_nocase(rest, "am"))
        pm = 0;
      else if (starts_with_nocase(rest, "pm"))
        pm = 1;
      else
        return std::nullopt;
      pos += 2;
      break;
    case field::fraction: {
      int64_t value = 0;
      int64_t unit = 100;
      int n = 0;
      while (n < t.max_digits && pos < text.size() && is_digit(text[pos])) {
        value += (text[pos] - '0') * unit;
        unit /= 10;
        ++pos;
        ++n;
      }
      if (n == 0) return std::nullopt;
      millis = static_cast<int>(value);
      break;
    }
    case field::offset: {
      auto o = read_offset(rest);
      if (!o) return std::nullopt;
      offset = o->first;
      pos += o->second;
      break;
    }
    }
  }
  if (pos != text.size()) return std::nullopt;
  if (hour12 >= 0) {
    if (hour12 < 1 || hour12 > 12) return std::nullopt;
    hour = hour12 % 12 + (pm == 1 ? 12 : 0);
  } // With `H`, Joda sets the hour after the half day: `a` changes nothing.
  if (year > 292278993 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 59)
    return std::nullopt;
  int64_t local_seconds =
      ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 +
      second;
  if (offset) return (local_seconds - *offset) * 1000 + millis;
  if (!zone.local) return (local_seconds - zone.offset_seconds) * 1000 + millis;
  std::tm tm{};
  tm.tm_year = static_cast<int>(year - 1900);
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  auto t = ::mktime(&tm);
  if (t == static_cast<std::time_t>(-1) && tm.tm_year != 69)
    return std::nullopt;
  return static_cast<int64_t>(t) * 1000 + millis;
}

} // namespace flumen::interceptors
