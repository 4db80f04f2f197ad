// One syslog message into a Flume event, as Flume's SyslogUtils (the
// syslogtcp and syslogudp sources) reads it: its two patterns, RFC 5424
// first, then RFC 3164, each matched by hand instead of by regex (no
// allocation, no backtracking blow-up), with its keepFields and its year
// window. Where this departs from Flume, a comment says so.

#include "actors/sources/syslog/syslog.hpp"

#include <charconv>
#include <cstring>
#include <ctime>

namespace flumen::sources::syslog {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Java's \s.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0B' || c == '\f' ||
         c == '\r';
}

// Java's \w (ASCII only: a byte above 0x7f is never part of a name).
bool is_word(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '_';
}

// Flume's host pattern: [\w][\w\d\.@-]*
bool is_host_char(char c) {
  return is_word(c) || c == '.' || c == '@' || c == '-';
}

// RFC 5424's PRINTUSASCII.
bool is_print(char c) {
  return c >= 33 && c <= 126;
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t year_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return yoe + era * 400 + (m <= 2);
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

struct civil {
  int64_t year;
  int month, day, hour, minute, second;
};

// Epoch seconds of a wall-clock time read in `z`; nothing when this
// machine's zone cannot represent it.
std::optional<int64_t> to_epoch(const civil& c, const zone& z) {
  if (!z.local)
    return days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 +
           c.minute * 60 + c.second - z.offset_seconds;
  std::tm tm{};
  tm.tm_year = static_cast<int>(c.year - 1900);
  tm.tm_mon = c.month - 1;
  tm.tm_mday = c.day;
  tm.tm_hour = c.hour;
  tm.tm_min = c.minute;
  tm.tm_sec = c.second;
  tm.tm_isdst = -1; // the zone's rules say whether DST applies
  auto t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1) &&
      !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31 &&
        tm.tm_hour == 23 && tm.tm_min == 59 && tm.tm_sec == 59))
    return std::nullopt;
  return static_cast<int64_t>(t);
}

int64_t year_of(int64_t now_ms, const zone& z) {
  auto secs = floor_div(now_ms, 1000);
  if (z.local) {
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    if (localtime_r(&t, &tm) != nullptr) return tm.tm_year + 1900;
  }
  return year_from_days(
      floor_div(secs + (z.local ? 0 : z.offset_seconds), 86400));
}

// `c` moved by `months`, the day clamped to the month's last (Java's
// Calendar.add(MONTH, n)).
civil add_months(civil c, int months) {
  int64_t idx = c.year * 12 + (c.month - 1) + months;
  c.year = floor_div(idx, 12);
  c.month = static_cast<int>(idx - c.year * 12) + 1;
  c.day = std::min(c.day, days_in_month(c.year, c.month));
  return c;
}

// A cursor over the message; every read is bounds-checked.
struct cursor {
  std::string_view s;
  std::size_t pos = 0;

  bool at_end() const { return pos >= s.size(); }
  char peek(std::size_t ahead = 0) const {
    return pos + ahead < s.size() ? s[pos + ahead] : '\0';
  }
  bool eat(char c) {
    if (at_end() || s[pos] != c) return false;
    ++pos;
    return true;
  }
  bool eat_space() {
    if (at_end() || !is_space(s[pos])) return false;
    ++pos;
    return true;
  }
  // Exactly `n` digits as a number.
  bool digits(int n, int& out) {
    out = 0;
    for (int i = 0; i < n; ++i) {
      if (!is_digit(peek())) return false;
      out = out * 10 + (s[pos++] - '0');
    }
    return true;
  }
  // Flume's host: [\w][\w\d\.@-]*
  std::string_view host() {
    auto from = pos;
    if (!is_word(peek())) return {};
    while (!at_end() && is_host_char(s[pos]))
      ++pos;
    return s.substr(from, pos - from);
  }
};

// The fields of a header that matched one of the two patterns.
struct header {
  std::string_view version; // the digit, or empty
  std::string_view stamp;   // as written ("-": none)
  std::string_view host;    // as written ("-": none)
  std::string_view rest;    // after the host and its space
  std::optional<int64_t> ms;
  bool rfc5424 = false; // the RFC 5424 pattern matched
};

// RFC 5424's TIMESTAMP as Flume's pattern has it:
// \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}|Z)?
// A date that does not exist (Feb 30) does not match: Flume's lenient
// SimpleDateFormat would roll it into March.
bool read_5424_stamp(cursor& c, const zone& z, int64_t& ms) {
  civil t{};
  int y = 0;
  if (!c.digits(4, y) || !c.eat('-') || !c.digits(2, t.month) || !c.eat('-') ||
      !c.digits(2, t.day) || !c.eat('T') || !c.digits(2, t.hour) ||
      !c.eat(':') || !c.digits(2, t.minute) || !c.eat(':') ||
      !c.digits(2, t.second))
    return false;
  t.year = y;
  if (t.month < 1 || t.month > 12 || t.day < 1 ||
      t.day > days_in_month(t.year, t.month) || t.hour > 23 || t.minute > 59 ||
      t.second > 59)
    return false;
  int frac_ms = 0;
  if (c.eat('.')) {
    // Up to 6 digits; the first three are the milliseconds (Flume's
    // SyslogParser; SyslogUtils reads ".52" as 52 ms, a bug not copied).
    int n = 0;
    while (n < 6 && is_digit(c.peek())) {
      if (n < 3) frac_ms = frac_ms * 10 + (c.peek() - '0');
      ++c.pos;
      ++n;
    }
    if (n == 0 || is_digit(c.peek())) return false;
    for (; n < 3; ++n)
      frac_ms *= 10;
  }
  std::optional<int64_t> secs;
  if (c.eat('Z')) {
    secs = to_epoch(t, zone{});
  } else if (c.peek() == '+' || c.peek() == '-') {
    int sign = c.peek() == '+' ? 1 : -1;
    ++c.pos;
    int oh = 0;
    int om = 0;
    if (!c.digits(2, oh) || !c.eat(':') || !c.digits(2, om) || oh > 23 ||
        om > 59)
      return false;
    secs = to_epoch(t, zone{false, sign * (oh * 3600 + om * 60)});
  } else {
    // No offset: read in the configured zone (Flume: the JVM's zone).
    secs = to_epoch(t, z);
  }
  if (!secs) return false;
  ms = *secs * 1000 + frac_ms;
  return true;
}

// Flume's SYSLOG_MSG_RFC5424_0 after the PRI:
// (\d?)\s? (STAMP|-) \s ([\w][\w\d\.@\-]*|-) \s (.*)
bool match_5424(cursor c, const zone& z, header& h) {
  auto from = c.pos;
  if (c.eat('-')) {
    h.stamp = "-";
  } else {
    int64_t ms = 0;
    if (!read_5424_stamp(c, z, ms)) return false;
    h.ms = ms;
    h.stamp = c.s.substr(from, c.pos - from);
  }
  if (!c.eat_space()) return false;
  h.host = c.host();
  if (h.host.empty()) {
    if (!c.eat('-')) return false;
    h.host = "-";
  }
  if (!c.eat_space()) return false;
  h.rest = c.s.substr(c.pos);
  h.rfc5424 = true;
  return true;
}

constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};

// Flume's SYSLOG_MSG_RFC3164_0 after the PRI:
// (\d)?\s? ([A-Z][a-z][a-z]\s{1,2}\d{1,2}\s\d{2}:\d{2}:\d{2}) \s HOST \s (.*)
bool match_3164(cursor c, const zone& z, int64_t now_ms, header& h) {
  auto from = c.pos;
  if (c.s.size() - std::min(c.pos, c.s.size()) < 3) return false;
  civil t{};
  auto name = c.s.substr(c.pos, 3);
  for (int i = 0; i < 12; ++i)
    if (name == month_names[i]) t.month = i + 1;
  if (t.month == 0) return false;
  c.pos += 3;
  if (!c.eat_space()) return false;
  c.eat_space();
  if (!is_digit(c.peek())) return false;
  t.day = c.s[c.pos++] - '0';
  if (is_digit(c.peek())) t.day = t.day * 10 + (c.s[c.pos++] - '0');
  if (!c.eat_space() || !c.digits(2, t.hour) || !c.eat(':') ||
      !c.digits(2, t.minute) || !c.eat(':') || !c.digits(2, t.second))
    return false;
  h.stamp = c.s.substr(from, c.pos - from);
  if (t.day < 1 || t.day > days_in_month(2000, t.month) || t.hour > 23 ||
      t.minute > 59 || t.second > 59)
    return false;
  if (!c.eat_space()) return false;
  h.host = c.host();
  if (h.host.empty() || !c.eat_space()) return false;
  h.rest = c.s.substr(c.pos);
  // The year, as Flume's SyslogUtils picks it: this year (of now, in the
  // zone read), then back a year when that date less one month is still
  // after now (more than a month ahead), or forward a year when that date
  // plus eleven months is still before now. A window of 11 months back,
  // 1 month ahead: "Dec 31 23:59" received at 00:05 on Jan 1 is last year,
  // "Jan  1" received on Dec 31 is next year. (Flume's SyslogParser, the
  // multiport source's, uses +1 month and has a year-2000 bug: not that.)
  t.year = year_of(now_ms, z);
  auto at = [&](const civil& x) -> std::optional<int64_t> {
    auto s = to_epoch(x, z);
    if (!s) return std::nullopt;
    return *s * 1000;
  };
  auto this_year = at(t);
  auto minus_one = at(add_months(t, -1));
  auto plus_eleven = at(add_months(t, 11));
  if (!this_year || !minus_one || !plus_eleven) return false;
  if (*this_year > now_ms && *minus_one > now_ms)
    --t.year;
  else if (*this_year < now_ms && *plus_eleven < now_ms)
    ++t.year;
  // Feb 29 only in a leap year (Flume would read it as Mar 1).
  if (t.day > days_in_month(t.year, t.month)) return false;
  h.ms = at(t);
  return h.ms.has_value();
}

// Flume's patterns start with an optional version digit and an optional
// space, (\d?)\s?; a regex backtracks over them, so this tries the digit
// as a version and then as the start of the timestamp. A version must be
// followed by a space here, as RFC 5424 has it (Flume would also read
// "<34>1Oct 11 ..." as version 1): a digit glued to what follows is no
// version.
template <class Match>
bool match_with_version(std::string_view s, header& h, Match&& match) {
  if (s.size() >= 2 && is_digit(s[0]) && is_space(s[1])) {
    cursor c{s, 2};
    h = header{};
    h.version = s.substr(0, 1);
    if (match(c)) return true;
  }
  cursor c{s, 0};
  c.eat_space();
  h = header{};
  return match(c);
}

// RFC 5424's SD-NAME: 1 to 32 PRINTUSASCII but '=', ' ', ']' and '"'.
std::string_view sd_name(cursor& c) {
  auto from = c.pos;
  while (!c.at_end() && c.pos - from < 32) {
    char ch = c.s[c.pos];
    if (!is_print(ch) || ch == '=' || ch == ']' || ch == '"') break;
    ++c.pos;
  }
  return c.s.substr(from, c.pos - from);
}

// Reads STRUCTURED-DATA (one or more SD-ELEMENTs) at the cursor, calling
// on_param(id, name, escaped value) for each parameter; false when it is
// malformed (then the caller must not have kept anything it was given).
template <class F>
bool read_sd(cursor& c, F&& on_param) {
  if (c.peek() != '[') return false;
  while (c.eat('[')) {
    auto id = sd_name(c);
    if (id.empty()) return false;
    while (c.eat(' ')) {
      auto name = sd_name(c);
      if (name.empty() || !c.eat('=') || !c.eat('"')) return false;
      auto from = c.pos;
      while (!c.at_end() && c.s[c.pos] != '"')
        c.pos += c.s[c.pos] == '\\' ? 2 : 1;
      if (c.at_end()) return false;
      on_param(id, name, c.s.substr(from, c.pos - from));
      ++c.pos; // the closing quote
    }
    if (!c.eat(']')) return false;
  }
  return true;
}

// PARAM-VALUE with \" \\ \] undone; any other backslash is kept (RFC 5424
// 6.3.3).
void append_unescaped(std::string& out, std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() &&
        (v[i + 1] == '"' || v[i + 1] == '\\' || v[i + 1] == ']'))
      ++i;
    out.push_back(v[i]);
  }
}

std::size_t unescaped_size(std::string_view v) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < v.size(); ++i, ++n)
    if (v[i] == '\\' && i + 1 < v.size() &&
        (v[i + 1] == '"' || v[i + 1] == '\\' || v[i + 1] == ']'))
      ++i;
  return n;
}

// APP-NAME, PROCID, MSGID of an RFC 5424 message (after HOSTNAME).
struct structured_fields {
  std::string_view app, proc, msgid;
  std::string_view sd;  // the structured data, "-" or elements
  std::string_view msg; // after the SD and its space
  bool sd_ok = false;   // the SD is well formed
  std::size_t params = 0;
};

bool read_field(cursor& c, std::size_t max, std::string_view& out) {
  auto from = c.pos;
  while (!c.at_end() && is_print(c.s[c.pos]))
    ++c.pos;
  auto n = c.pos - from;
  if (n == 0 || n > max || !c.eat(' ')) return false;
  out = c.s.substr(from, n);
  return true;
}

bool read_structured(std::string_view rest, structured_fields& f) {
  cursor c{rest, 0};
  if (!read_field(c, 48, f.app) || !read_field(c, 128, f.proc) ||
      !read_field(c, 32, f.msgid))
    return false;
  auto sd_from = c.pos;
  f.sd = rest.substr(sd_from);
  f.msg = f.sd; // malformed SD: stays in the body
  bool ok = false;
  if (c.eat('-'))
    ok = true;
  else
    ok = read_sd(c, [&](auto, auto, auto) { ++f.params; });
  if (ok && (c.at_end() || c.eat(' '))) {
    f.sd = rest.substr(sd_from, c.pos - sd_from);
    f.msg = rest.substr(c.pos);
    f.sd_ok = true;
  } else {
    f.params = 0;
  }
  return true;
}

std::string decimal(int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

} // namespace

void parse_message(std::string_view message, bool truncated,
                   const parse_options& opt, int64_t now_ms, event& out) {
  out.headers.clear();
  out.body.clear();
  if (message.size() > opt.max_message_size) {
    message = message.substr(0, opt.max_message_size);
    truncated = true;
  }
  // PRI: '<', 1 to 3 digits, '>' (Flume's state machine), 0..191 (RFC;
  // Flume takes <192> to <999> as facilities 24 to 124).
  int pri = -1;
  std::size_t pri_end = 0;
  if (!message.empty() && message[0] == '<') {
    std::size_t i = 1;
    int v = 0;
    while (i < message.size() && i <= 3 && is_digit(message[i]))
      v = v * 10 + (message[i++] - '0');
    if (i > 1 && i < message.size() && message[i] == '>' && v <= 191) {
      pri = v;
      pri_end = i + 1;
    }
  }
  if (pri < 0) {
    // Flume also sets Facility and Severity to 0 here; the contract says
    // the status alone, so an invalid message is not mistaken for kern.emerg.
    out.body.assign(message);
    out.headers.reserve(1);
    out.headers.emplace(std::string{status_header}, std::string{"Invalid"});
    return;
  }
  auto after = message.substr(pri_end);
  header h;
  bool matched = false;
  if (opt.fmt != format::rfc3164)
    matched = match_with_version(
        after, h, [&](cursor c) { return match_5424(c, opt.timezone, h); });
  if (!matched && opt.fmt != format::rfc5424)
    matched = match_with_version(after, h, [&](cursor c) {
      return match_3164(c, opt.timezone, now_ms, h);
    });
  structured_fields sf;
  // Structured data only in a real RFC 5424 message: one with a version.
  bool structured = matched && opt.structured && h.rfc5424 &&
                    !h.version.empty() && read_structured(h.rest, sf);
  std::size_t n_headers =
      2 + h.ms.has_value() + (h.host.size() > 0 && h.host != "-") + truncated;
  if (structured)
    n_headers +=
        (sf.app != "-") + (sf.proc != "-") + (sf.msgid != "-") + sf.params;
  out.headers.reserve(n_headers);
  out.headers.emplace(std::string{facility_header}, decimal(pri / 8));
  out.headers.emplace(std::string{severity_header}, decimal(pri % 8));
  if (!matched) {
    // Neither pattern: the whole message is the body (Flume).
    out.body.assign(message);
    if (truncated)
      out.headers.emplace(std::string{status_header},
                          std::string{"Incomplete"});
    return;
  }
  if (h.ms) out.headers.emplace(std::string{timestamp_header}, decimal(*h.ms));
  if (!h.host.empty() && h.host != "-")
    out.headers.emplace(std::string{host_header}, std::string{h.host});
  if (truncated)
    out.headers.emplace(std::string{status_header}, std::string{"Incomplete"});
  std::string_view msg = h.rest;
  if (structured) {
    if (sf.app != "-")
      out.headers.emplace("syslog.app_name", std::string{sf.app});
    if (sf.proc != "-")
      out.headers.emplace("syslog.proc_id", std::string{sf.proc});
    if (sf.msgid != "-")
      out.headers.emplace("syslog.msg_id", std::string{sf.msgid});
    if (sf.sd_ok && sf.params > 0) {
      cursor c{sf.sd, 0};
      read_sd(c, [&](std::string_view id, std::string_view name,
                     std::string_view value) {
        std::string key;
        key.reserve(10 + id.size() + 1 + name.size());
        key.append("syslog.sd.").append(id).append(".").append(name);
        std::string v;
        v.reserve(unescaped_size(value));
        append_unescaped(v, value);
        // A repeated parameter (RFC 5424 allows it): the last one wins.
        out.headers.insert_or_assign(std::move(key), std::move(v));
      });
    }
    msg = sf.msg;
  }
  const auto& k = opt.keep;
  if (k.priority && k.version && k.timestamp && k.hostname) {
    // keepFields: all keeps the message as received (Flume).
    out.body.assign(message);
    return;
  }
  // Flume's addFieldsToBody: "<PRI>" VERSION " " STAMP " " HOST " " MSG,
  // each part only when kept (and the version only when there was one).
  // Flume writes "null" for a NILVALUE stamp or host; this writes "-".
  // Every part is one of the message's, with at most one separator where
  // the message had at least one, so the body is never longer than it.
  auto pri_text = message.substr(0, pri_end);
  std::size_t size = msg.size();
  if (k.priority) size += pri_text.size();
  if (k.version && !h.version.empty()) size += h.version.size() + 1;
  if (k.timestamp) size += h.stamp.size() + 1;
  if (k.hostname) size += h.host.size() + 1;
  out.body.reserve(size);
  if (k.priority) out.body.append(pri_text);
  if (k.version && !h.version.empty())
    out.body.append(h.version).push_back(' ');
  if (k.timestamp) out.body.append(h.stamp).push_back(' ');
  if (k.hostname) out.body.append(h.host).push_back(' ');
  out.body.append(msg);
}

} // namespace flumen::sources::syslog
