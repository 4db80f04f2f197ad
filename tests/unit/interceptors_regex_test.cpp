// The interceptors of issue 19 (regex_filter, regex_extractor,
// search_replace, remove_header, uuid): Flume's documented behaviour (every
// example of its User Guide and of its own unit tests for them), bodies that
// are not UTF-8, and their config errors, located.

#include <chrono>
#include <ctime>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <re2/re2.h>

#include "actors/builtin.hpp"
#include "actors/interceptors/date_format.hpp"
#include "actors/interceptors/pattern.hpp"
#include "actors/interceptors/regex_extractor.hpp"
#include "actors/interceptors/regex_filter.hpp"
#include "actors/interceptors/remove_header.hpp"
#include "actors/interceptors/search_replace.hpp"
#include "actors/interceptors/uuid.hpp"
#include "runtime/core/event.hpp"
#include "tests/unit/events.hpp"

using namespace flumen;
using namespace flumen::interceptors;
using flumen::test::bodies;
using flumen::test::header;
using flumen::test::make_event;

namespace {

/// Runs `fn` over YAML text as interceptor `i1` of source `r1`.
template <class Parse>
auto parse(Parse fn, const std::string& yaml, error_list& errors) {
  auto node = YAML::Load(yaml);
  option_reader r{node, "agents.a1.sources.r1.interceptors.i1", "t.yaml",
                  errors};
  auto cfg = fn(r);
  r.finish();
  return cfg;
}

/// Parses `yaml` and expects no error.
template <class Parse>
auto parse_ok(Parse fn, const std::string& yaml) {
  error_list errors;
  auto cfg = parse(fn, yaml, errors);
  for (auto& e : errors)
    ADD_FAILURE() << e.to_string();
  return cfg;
}

/// The errors of parsing `yaml`, one line each.
template <class Parse>
std::vector<std::string> errors_of(Parse fn, const std::string& yaml) {
  error_list errors;
  parse(fn, yaml, errors);
  std::vector<std::string> out;
  for (auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

const std::string at = "agents.a1.sources.r1.interceptors.i1.";

} // namespace

// -- regex_filter
// --------------------------------------------------------------

TEST(regex_filter, matches_anywhere_in_the_body) {
  auto cfg = parse_ok(parse_regex_filter, "regex: 'ERR|WARN'");
  batch events{make_event("ok"), make_event("an ERROR here"),
               make_event("WARNING: x"), make_event("fine")};
  auto removed = make_regex_filter(cfg)->apply(events);
  EXPECT_EQ(removed, 2u) << "what it removed is what it returns";
  EXPECT_EQ(bodies(events),
            (std::vector<std::string>{"an ERROR here", "WARNING: x"}));
}

TEST(regex_filter, exclude_events_drops_the_matching_ones) {
  auto cfg =
      parse_ok(parse_regex_filter, "regex: '^DEBUG'\nexclude_events: true");
  batch events{make_event("DEBUG a"), make_event("INFO b"),
               make_event("x DEBUG c"), make_event("DEBUG d")};
  EXPECT_EQ(make_regex_filter(cfg)->apply(events), 2u);
  EXPECT_EQ(bodies(events), (std::vector<std::string>{"INFO b", "x DEBUG c"}));
}

TEST(regex_filter, flume_guide_dot_star_keeps_everything) {
  // Flume's default `.*`: every body matches, even an empty one.
  auto cfg = parse_ok(parse_regex_filter, "regex: '.*'");
  batch events{make_event(""), make_event("a"), make_event("\xff\xfe")};
  EXPECT_EQ(make_regex_filter(cfg)->apply(events), 0u);
  EXPECT_EQ(events.size(), 3u);
}

TEST(regex_filter, bodies_that_are_not_utf8_match_by_their_valid_parts) {
  // RE2 in UTF-8 mode: an invalid byte is no character (`.` does not take
  // it), but the valid text around it still matches. Never a crash.
  auto find = parse_ok(parse_regex_filter, "regex: 'abc'");
  auto dot = parse_ok(parse_regex_filter, "regex: '^.abc$'");
  batch a{make_event("\xff"
                     "abc"),
          make_event("\xc3"
                     "abc"),
          make_event("ab\x80"
                     "c")};
  EXPECT_EQ(make_regex_filter(find)->apply(a), 1u);
  EXPECT_EQ(bodies(a), (std::vector<std::string>{"\xff"
                                                 "abc",
                                                 "\xc3"
                                                 "abc"}));
  batch b{make_event("\xff"
                     "abc"),
          make_event("\xc3\xa9"
                     "abc"),
          make_event("xabc")};
  EXPECT_EQ(make_regex_filter(dot)->apply(b), 1u);
  EXPECT_EQ(bodies(b), (std::vector<std::string>{"\xc3\xa9"
                                                 "abc",
                                                 "xabc"}))
      << "`.` is one UTF-8 character, and no invalid byte";
  batch c{make_event(std::string(1 << 16, '\xff'))};
  EXPECT_EQ(make_regex_filter(dot)->apply(c), 1u) << "64 KiB of invalid bytes";
}

TEST(regex_filter, parse_errors_are_located) {
  EXPECT_EQ(errors_of(parse_regex_filter, "exclude_events: true"),
            (std::vector<std::string>{
                "t.yaml:1:1: agents.a1.sources.r1.interceptors.i1: missing "
                "required key 'regex'"}));
  auto bad = errors_of(parse_regex_filter, "regex: 'a(b'");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], "t.yaml:1:8: " + at +
                        "regex: not a valid RE2 pattern: missing ): a(b");
  auto java_only = errors_of(parse_regex_filter, "regex: '(?=a)b'");
  ASSERT_EQ(java_only.size(), 1u);
  EXPECT_NE(java_only[0].find("not a valid RE2 pattern"), std::string::npos);
  auto typo = errors_of(parse_regex_filter, "regex: a\nexclude_event: true");
  ASSERT_EQ(typo.size(), 1u);
  EXPECT_EQ(typo[0], "t.yaml:2:1: agents.a1.sources.r1.interceptors.i1: "
                     "unknown key 'exclude_event' (did you mean "
                     "'exclude_events'?)");
}

TEST(regex_filter, a_pattern_too_large_for_its_memory_bound_is_refused) {
  // A thousand letters of any script: each is a large UTF-8 program.
  auto e = errors_of(parse_regex_filter, "regex: '\\pL{1000}'");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("regex: not a valid RE2 pattern: pattern too large"),
            std::string::npos)
      << e[0];
  EXPECT_NE(e[0].find("8 MiB at most"), std::string::npos) << e[0];
}

// -- regex_extractor
// -----------------------------------------------------------

TEST(regex_extractor, flume_guide_example_sets_one_two_three) {
  // The User Guide: body `1:2:3.4foobar5`, regex `(\d):(\d):(\d)`,
  // serializers s1 s2 s3 named one two three.
  auto cfg = parse_ok(parse_regex_extractor,
                      "regex: '(\\d):(\\d):(\\d)'\n"
                      "serializers: [{name: one}, {name: two}, {name: three}]");
  batch events{make_event("1:2:3.4foobar5")};
  EXPECT_EQ(make_regex_extractor(cfg)->apply(events), 0u);
  EXPECT_EQ(events[0].body, "1:2:3.4foobar5");
  EXPECT_EQ(header(events[0], "one"), "1");
  EXPECT_EQ(header(events[0], "two"), "2");
  EXPECT_EQ(header(events[0], "three"), "3");
  // Flume's second example: two serializers for three groups use two.
  auto two = parse_ok(parse_regex_extractor,
                      "regex: '(\\d):(\\d):(\\d)'\n"
                      "serializers: [{name: one}, {name: two}]");
  batch more{make_event("1:2:3.4foobar5")};
  make_regex_extractor(two)->apply(more);
  EXPECT_EQ(header(more[0], "one"), "1");
  EXPECT_EQ(header(more[0], "two"), "2");
  EXPECT_EQ(more[0].headers.size(), 2u);
}

TEST(regex_extractor, flume_guide_millis_example) {
  // The User Guide: `2012-10-18 18:47:57,614 some log line` with pattern
  // `yyyy-MM-dd HH:mm` gives timestamp=1350611220000, read in its
  // author's zone (UTC-7 in October); flumen reads UTC unless told.
  auto cfg = parse_ok(parse_regex_extractor,
                      "regex: '^(?:\\n)?(\\d\\d\\d\\d-\\d\\d-\\d\\d\\s\\d\\d:"
                      "\\d\\d)'\n"
                      "serializers:\n"
                      "  - {name: timestamp, type: millis, pattern: "
                      "'yyyy-MM-dd HH:mm'}\n"
                      "timezone: '-07:00'\n");
  batch events{make_event("2012-10-18 18:47:57,614 some log line"),
               make_event("\n2012-10-18 18:47:57,614 after a newline"),
               make_event("no date")};
  make_regex_extractor(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "timestamp"), "1350611220000");
  EXPECT_EQ(header(events[1], "timestamp"), "1350611220000");
  EXPECT_EQ(header(events[2], "timestamp"), "<none>");
  cfg.zone = {};
  make_regex_extractor(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "timestamp"), "1350586020000") << "in UTC";
}

TEST(regex_extractor, an_unmatched_optional_group_sets_nothing) {
  auto cfg = parse_ok(parse_regex_extractor,
                      "regex: '(WARNING)|(ERROR)|(FATAL)'\n"
                      "serializers: [{name: w}, {name: e}, {name: f}]");
  batch events{make_event("an ERROR"), make_event("ok"),
               make_event("x", {{"w", "kept"}})};
  make_regex_extractor(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "e"), "ERROR");
  EXPECT_EQ(events[0].headers.size(), 1u);
  EXPECT_TRUE(events[1].headers.empty());
  EXPECT_EQ(header(events[2], "w"), "kept");
}

TEST(regex_extractor, a_date_that_does_not_parse_sets_nothing) {
  auto cfg = parse_ok(parse_regex_extractor,
                      "regex: '^(\\S+) (\\S+)'\n"
                      "serializers:\n"
                      "  - {name: when, type: millis, pattern: yyyy-MM-dd}\n"
                      "  - {name: word}\n");
  batch events{make_event("2024-02-30 feb"), make_event("2024-13-01 x"),
               make_event("2024-02-29 leap"), make_event("2024-02-29x y")};
  make_regex_extractor(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "when"), "<none>");
  EXPECT_EQ(header(events[0], "word"), "feb") << "the other group still sets";
  EXPECT_EQ(header(events[1], "when"), "<none>");
  EXPECT_EQ(header(events[2], "when"), "1709164800000");
  EXPECT_EQ(header(events[3], "when"), "<none>") << "the whole text must match";
}

TEST(regex_extractor, bodies_that_are_not_utf8_never_crash) {
  auto cfg = parse_ok(parse_regex_extractor,
                      "regex: 'id=(\\w+)'\nserializers: [{name: id}]");
  batch events{make_event("\xff\xfe id=abc \xc3"), make_event("id=\xff")};
  make_regex_extractor(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "id"), "abc");
  EXPECT_EQ(header(events[1], "id"), "<none>");
}

TEST(regex_extractor, java_named_groups_are_taken) {
  auto cfg = parse_ok(parse_regex_extractor,
                      "regex: '(?<user>[a-z]+)@(?<host>[a-z.]+)'\n"
                      "serializers: [{name: user}, {name: host}]");
  batch events{make_event("mail to bob@example.org now")};
  make_regex_extractor(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "user"), "bob");
  EXPECT_EQ(header(events[0], "host"), "example.org");
}

TEST(regex_extractor, parse_errors_are_located) {
  auto more = errors_of(parse_regex_extractor,
                        "regex: '(\\d)'\nserializers: [{name: a}, {name: b}]");
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0], "t.yaml:2:14: " + at +
                         "serializers: 2 serializers for a pattern with 1 "
                         "capture groups: each serializer takes one group");
  auto missing = errors_of(parse_regex_extractor,
                           "regex: '(\\d)'\n"
                           "serializers:\n"
                           "  - {type: millis}\n"
                           "  - {name: b, type: nanos}\n"
                           "  - {name: c, pattern: x}\n"
                           "  - {name: d, type: millis, pattern: 'yyyy EEE'}\n"
                           "  - {name: e, typo: 1}\n"
                           "  - just a name\n");
  EXPECT_EQ(missing, (std::vector<std::string>{
                         "t.yaml:3:5: " + at +
                             "serializers[0]: missing required key 'name'",
                         "t.yaml:3:5: " + at +
                             "serializers[0]: missing required key 'pattern'",
                         "t.yaml:4:21: " + at +
                             "serializers[1].type: must be one of: default, "
                             "millis",
                         "t.yaml:5:24: " + at +
                             "serializers[2].pattern: only a `type: millis` "
                             "serializer takes a pattern",
                         "t.yaml:6:38: " + at +
                             "serializers[3].pattern: unsupported letter 'E' "
                             "in date pattern (supported: y M d H h a m s S Z "
                             "X; put literal text in single quotes)",
                         "t.yaml:7:15: " + at +
                             "serializers[4]: unknown key 'typo' (did you "
                             "mean 'type'?)",
                         "t.yaml:8:5: " + at +
                             "serializers[5]: expected a mapping {name, type, "
                             "pattern}",
                     }));
  EXPECT_EQ(
      errors_of(parse_regex_extractor, "serializers: [{name: a}]"),
      (std::vector<std::string>{"t.yaml:1:1: " + at.substr(0, at.size() - 1) +
                                ": missing required key 'regex'"}));
  EXPECT_EQ(errors_of(parse_regex_extractor, "regex: '(a'\nserializers: []"),
            (std::vector<std::string>{
                "t.yaml:1:8: " + at +
                    "regex: not a valid RE2 pattern: "
                    "missing ): (a",
                "t.yaml:2:14: " + at +
                    "serializers: expected a list of {name, type, pattern}, "
                    "one per capture group"}));
  EXPECT_EQ(errors_of(parse_regex_extractor,
                      "regex: '(a)'\nserializers: [{name: a}]\ntimezone: "
                      "Europe/Paris"),
            (std::vector<std::string>{
                "t.yaml:3:11: " + at +
                "timezone: expected `UTC`, `local` or an offset such as "
                "`+02:00`, not 'Europe/Paris'"}));
}

// -- date_format (the millis serializer) ------------------------------------

namespace {

std::optional<int64_t> millis(const std::string& pattern,
                              const std::string& text, date_zone zone = {}) {
  std::string error;
  auto f = date_format::compile(pattern, error);
  EXPECT_TRUE(f) << error;
  if (!f) return std::nullopt;
  return f->parse(text, zone);
}

} // namespace

TEST(date_format, reads_each_supported_letter) {
  EXPECT_EQ(millis("yyyy-MM-dd HH:mm:ss.SSS", "2012-10-18 18:47:57.614"),
            1350586077614);
  EXPECT_EQ(millis("yyyyMMddHHmmss", "20121018184757"), 1350586077000);
  EXPECT_EQ(millis("dd/MMM/yyyy:HH:mm:ss Z", "18/Oct/2012:18:47:57 -0700"),
            1350611277000)
      << "an Apache access log's date";
  EXPECT_EQ(millis("MMM d HH:mm:ss yyyy", "oct 8 01:02:03 2012"),
            millis("yyyy-MM-dd HH:mm:ss", "2012-10-08 01:02:03"));
  EXPECT_EQ(millis("MMMM d, yyyy", "October 8, 2012"),
            millis("yyyy-MM-dd", "2012-10-08"));
  EXPECT_EQ(millis("yyyy-MM-dd'T'HH:mm:ssXXX", "2024-02-29T23:59:58+05:30"),
            1709231398000);
  EXPECT_EQ(millis("yyyy-MM-dd'T'HH:mm:ssZZ", "2024-02-29T18:29:58Z"),
            1709231398000);
  EXPECT_EQ(millis("hh:mm a", "12:30 AM"), 30 * 60 * 1000);
  EXPECT_EQ(millis("hh:mm a", "12:30 pm"), 12 * 3600000 + 30 * 60000);
  EXPECT_EQ(millis("h:mm a", "1:05 PM"), 13 * 3600000 + 5 * 60000);
  EXPECT_EQ(millis("H:m:s", "9:5:7"), (9 * 3600 + 5 * 60 + 7) * 1000);
  EXPECT_EQ(millis("ss.S", "01.5"), 1500) << "S digits are a fraction";
  EXPECT_EQ(millis("'at' HH 'o''clock'", "at 07 o'clock"), 7 * 3600000);
  EXPECT_EQ(millis("yyyy", "1969"), -365LL * 86400000);
  EXPECT_EQ(millis("yyyy-MM-dd", "2012-10-08", {.offset_seconds = 3600}),
            *millis("yyyy-MM-dd", "2012-10-08") - 3600000);
}

TEST(date_format, two_digit_years_are_within_80_years_before_now) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  int year = tm.tm_year + 1900;
  // The year 79 years ago keeps its century; 81 years ago is read as 19
  // years ahead.
  auto two = [](int y) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d", y % 100);
    return std::string{buf};
  };
  auto year_of = [&](int y) { return millis("yyyy", std::to_string(y)); };
  EXPECT_EQ(millis("yy", two(year - 79)), year_of(year - 79));
  EXPECT_EQ(millis("yy", two(year - 81)), year_of(year + 19));
  EXPECT_EQ(millis("yy", two(year)), year_of(year));
  EXPECT_EQ(millis("yy", "2012"), year_of(2012)) << "Joda: lenient when alone";
  EXPECT_EQ(millis("yyMMdd", "121008"), millis("yyyy-MM-dd", "2012-10-08"));
}

TEST(date_format, refuses_what_does_not_match_the_whole_pattern) {
  EXPECT_EQ(millis("yyyy-MM-dd", "2012-10-08 "), std::nullopt);
  EXPECT_EQ(millis("yyyy-MM-dd", "2012-10"), std::nullopt);
  EXPECT_EQ(millis("yyyy-MM-dd", "2012/10/08"), std::nullopt);
  EXPECT_EQ(millis("HH:mm", "24:00"), std::nullopt);
  EXPECT_EQ(millis("HH:mm", "23:60"), std::nullopt);
  EXPECT_EQ(millis("hh a", "13 PM"), std::nullopt);
  EXPECT_EQ(millis("MMM", "Okt"), std::nullopt);
  EXPECT_EQ(millis("yyyy-MM-dd", "2023-02-29"), std::nullopt);
  EXPECT_EQ(millis("Z", "+2400"), std::nullopt);
  EXPECT_EQ(millis("yyyy", ""), std::nullopt);
  std::string error;
  EXPECT_FALSE(date_format::compile("yyyy 'open", error));
  EXPECT_EQ(error, "unclosed quote in date pattern 'yyyy 'open'");
  EXPECT_FALSE(date_format::compile("zzz", error));
  EXPECT_FALSE(date_format::compile("ZZZ", error));
  EXPECT_EQ(error, "zone names (ZZZ) are not supported in a date pattern: "
                   "use an offset (Z, ZZ or XXX)");
}

TEST(date_format, the_local_zone_is_this_machines) {
  // mktime's answer for the same fields: the zone as the process has it.
  std::tm tm{};
  tm.tm_year = 2012 - 1900;
  tm.tm_mon = 9;
  tm.tm_mday = 18;
  tm.tm_hour = 18;
  tm.tm_min = 47;
  tm.tm_isdst = -1;
  auto want = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  EXPECT_EQ(millis("yyyy-MM-dd HH:mm", "2012-10-18 18:47", {.local = true}),
            want);
  EXPECT_EQ(date_zone::parse("local")->local, true);
  EXPECT_EQ(date_zone::parse("+02:00")->offset_seconds, 7200);
  EXPECT_EQ(date_zone::parse("-0530")->offset_seconds, -19800);
  EXPECT_EQ(date_zone::parse("UTC")->offset_seconds, 0);
  EXPECT_FALSE(date_zone::parse("CET"));
  EXPECT_FALSE(date_zone::parse("+2"));
}

// -- search_replace
// ------------------------------------------------------------

namespace {

std::string replaced(const std::string& yaml, const std::string& body) {
  auto cfg = parse_ok(parse_search_replace, yaml);
  batch events{make_event(body)};
  EXPECT_EQ(make_search_replace(cfg)->apply(events), 0u);
  return events[0].body;
}

} // namespace

TEST(search_replace, flume_guide_examples) {
  // "Remove leading alphanumeric characters in an event body."
  EXPECT_EQ(replaced("search_pattern: '^[A-Za-z0-9_]+'\nreplace_string: ''",
                     "Abc123@test.com"),
            "@test.com");
  EXPECT_EQ(replaced("search_pattern: '^[A-Za-z0-9_]+'", "Abc123@test.com"),
            "@test.com")
      << "replace_string defaults to empty";
  // "Use grouping operators to reorder and munge words on a line."
  EXPECT_EQ(replaced("search_pattern: 'The quick brown ([a-z]+) jumped over "
                     "the lazy ([a-z]+)'\n"
                     "replace_string: 'The hungry $2 ate the careless $1'",
                     "The quick brown fox jumped over the lazy dog."),
            "The hungry dog ate the careless fox.");
}

TEST(search_replace, flumes_own_tests) {
  EXPECT_EQ(replaced("search_pattern: '^prefix'", "prefix non-prefix suffix"),
            " non-prefix suffix");
  EXPECT_EQ(replaced("search_pattern: '^<[0-9]+>'",
                     "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"),
            "Feb  5 17:32:18 10.0.0.99 Use the BFG!");
  EXPECT_EQ(replaced("search_pattern: '[A-Za-z0-9_.]+@[A-Za-z0-9_-]+\\.com'\n"
                     "replace_string: REDACTED",
                     "Email addresses: test@test.com and foo@test.com"),
            "Email addresses: REDACTED and REDACTED");
}

TEST(search_replace, replacement_follows_javas_rules) {
  auto three = "search_pattern: '(a)(b)(c)'\nreplace_string: ";
  EXPECT_EQ(replaced(std::string{three} + "'$3$2$1'", "xabcx"), "xcbax");
  EXPECT_EQ(replaced(std::string{three} + "'$12'", "abc"), "a2")
      << "$12 with 3 groups: group 1, then `2`";
  EXPECT_EQ(replaced(std::string{three} + "'\\$1 \\\\ $0'", "abc"),
            "$1 \\ abc");
  // `${name}`: a named group, as Java's. In a topology `${w}` is an
  // environment variable first (expanded when the file loads), so there
  // named groups are referred to by number.
  {
    error_list errors;
    auto re = compile_pattern(
        *std::make_unique<option_reader>(YAML::Load("{}"), "x", "x", errors),
        "x", "(?<w>[a-z]+)");
    std::string error;
    auto parts = parse_replacement("<${w}>", *re, error);
    ASSERT_TRUE(parts) << error;
    EXPECT_EQ(replace_all("ab cd", *re, *parts, true), "<ab> <cd>");
    EXPECT_FALSE(parse_replacement("${nope}", *re, error));
    EXPECT_EQ(error, "no group named 'nope' in the pattern");
    EXPECT_EQ(replaced("search_pattern: '(?<w>[a-z]+)'\n"
                       "replace_string: '<$1>'",
                       "ab cd"),
              "<ab> <cd>");
    EXPECT_EQ(errors_of(parse_search_replace,
                        "search_pattern: '(?<w>[a-z]+)'\n"
                        "replace_string: '${flumen_unset_w}'")[0],
              "t.yaml:2:17: " + at +
                  "replace_string: environment variable 'flumen_unset_w' "
                  "is not set");
  }
  auto e = [&](const std::string& r) {
    auto v =
        errors_of(parse_search_replace, std::string{three} + "'" + r + "'");
    return v.empty() ? std::string{} : v[0];
  };
  EXPECT_EQ(e("$4"), "t.yaml:2:17: " + at +
                         "replace_string: no group 4 (the pattern has 3; "
                         "write `\\$` for a dollar sign)");
  EXPECT_NE(e("cost: 5$").find("a trailing `$`"), std::string::npos);
  EXPECT_NE(e("$x").find("`$` followed by 'x'"), std::string::npos);
  EXPECT_NE(e("a\\").find("a trailing `\\`"), std::string::npos);
  EXPECT_NE(e("${1}").find("needs a group name"), std::string::npos)
      << "not an environment variable's name: kept for the pattern";
}

TEST(search_replace, empty_matches_as_javas_replace_all) {
  // Java: "abc".replaceAll("x*", "-") is "-a-b-c-", and
  // "abc".replaceAll("b*", "-") is "-a--c-" (an empty match right after a
  // match counts; RE2::GlobalReplace would give "-a-c-").
  EXPECT_EQ(replaced("search_pattern: 'x*'\nreplace_string: '-'", "abc"),
            "-a-b-c-");
  EXPECT_EQ(replaced("search_pattern: 'b*'\nreplace_string: '-'", "abc"),
            "-a--c-");
  EXPECT_EQ(replaced("search_pattern: 'x*'\nreplace_string: '-'", "\xc3\xa9"),
            "-\xc3\xa9-")
      << "one step is one UTF-8 character";
  EXPECT_EQ(replaced("search_pattern: 'x*'\nreplace_string: '-'", ""), "-");
}

TEST(search_replace, bytes_that_are_not_utf8_are_kept) {
  EXPECT_EQ(replaced("search_pattern: 'secret=\\w+'\n"
                     "replace_string: 'secret=***'",
                     "\xff secret=abc \xfe"),
            "\xff secret=*** \xfe");
  EXPECT_EQ(replaced("search_pattern: '.'\nreplace_string: '_'", "a\xff"
                                                                 "b"),
            "_\xff_");
}

TEST(search_replace, iso_8859_1_takes_each_byte_as_a_character) {
  // é is one byte (0xE9) in ISO-8859-1; the pattern and replacement are
  // written in UTF-8 in the file and taken in the charset.
  EXPECT_EQ(replaced("search_pattern: 'caf.'\nreplace_string: 'x'\n"
                     "charset: ISO-8859-1",
                     "caf\xe9!"),
            "x!");
  EXPECT_EQ(replaced("search_pattern: \"\\u00e9\"\nreplace_string: "
                     "\"\\u00e8\"\ncharset: ISO-8859-1",
                     "caf\xe9"),
            "caf\xe8");
  EXPECT_EQ(replaced("search_pattern: 'caf.'\nreplace_string: 'x'", "caf\xe9!"),
            "caf\xe9!")
      << "in UTF-8, the lone 0xE9 is no character";
  auto e = errors_of(parse_search_replace,
                     "search_pattern: a\nreplace_string: \"\\u20ac\"\n"
                     "charset: ISO-8859-1");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("replace_string: holds a character that ISO-8859-1 "
                      "lacks"),
            std::string::npos);
  auto cs =
      errors_of(parse_search_replace, "search_pattern: a\ncharset: UTF-16");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0],
            "t.yaml:2:10: " + at +
                "charset: must be one of: UTF-8, ISO-8859-1 (did you mean "
                "'UTF-8'?)");
}

TEST(search_replace, parse_errors_are_located) {
  EXPECT_EQ(
      errors_of(parse_search_replace, "replace_string: x"),
      (std::vector<std::string>{"t.yaml:1:1: " + at.substr(0, at.size() - 1) +
                                ": missing required key "
                                "'search_pattern'"}));
  auto bad = errors_of(parse_search_replace, "search_pattern: '[a'");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], "t.yaml:1:17: " + at +
                        "search_pattern: not a valid RE2 pattern: missing ]: "
                        "[a");
}

// -- remove_header
// -------------------------------------------------------------

namespace {

batch headed() {
  return {make_event("b", {{"timestamp", "1"},
                           {"host", "h"},
                           {"x-trace", "t"},
                           {"x-span", "s"},
                           {"X-Other", "o"},
                           {"keep", "k"}})};
}

std::set<std::string> names_after(const std::string& yaml) {
  auto cfg = parse_ok(parse_remove_header, yaml);
  auto events = headed();
  EXPECT_EQ(make_remove_header(cfg)->apply(events), 0u);
  std::set<std::string> out;
  for (auto& [k, v] : events[0].headers)
    out.insert(k);
  return out;
}

} // namespace

TEST(remove_header, with_name_removes_that_header) {
  EXPECT_EQ(names_after("with_name: host"),
            (std::set<std::string>{"timestamp", "x-trace", "x-span", "X-Other",
                                   "keep"}));
  EXPECT_EQ(names_after("with_name: Host").size(), 6u) << "exact name";
}

TEST(remove_header, from_list_removes_each_name) {
  EXPECT_EQ(names_after("from_list: 'host ,timestamp,  x-span,absent'"),
            (std::set<std::string>{"x-trace", "X-Other", "keep"}));
  EXPECT_EQ(
      names_after("from_list: 'host|keep'\nfrom_list_separator: '\\|'"),
      (std::set<std::string>{"timestamp", "x-trace", "x-span", "X-Other"}));
}

TEST(remove_header, matching_takes_the_whole_name) {
  EXPECT_EQ(names_after("matching: 'x-.*'"),
            (std::set<std::string>{"timestamp", "host", "X-Other", "keep"}));
  EXPECT_EQ(names_after("matching: 'x-'").size(), 6u)
      << "a partial match removes nothing";
  EXPECT_EQ(names_after("matching: '(?i)x-.*'"),
            (std::set<std::string>{"timestamp", "host", "keep"}));
}

TEST(remove_header, the_three_together) {
  EXPECT_EQ(names_after("with_name: keep\nfrom_list: host\nmatching: 'x-.*'"),
            (std::set<std::string>{"timestamp", "X-Other"}));
}

TEST(remove_header, parse_errors_are_located) {
  EXPECT_EQ(errors_of(parse_remove_header, "from_list_separator: ';'"),
            (std::vector<std::string>{
                "t.yaml:1:1: " + at.substr(0, at.size() - 1) +
                    ": needs at least one of `with_name`, `from_list` and "
                    "`matching`",
                "t.yaml:1:22: " + at +
                    "from_list_separator: applies to `from_list`, which is "
                    "not set"}));
  EXPECT_EQ(errors_of(parse_remove_header, "matching: '*x'"),
            (std::vector<std::string>{
                "t.yaml:1:11: " + at +
                "matching: not a valid RE2 pattern: no argument for "
                "repetition operator: *"}));
  EXPECT_EQ(
      errors_of(parse_remove_header, "from_list: a\nfrom_list_separator: '('"),
      (std::vector<std::string>{
          "t.yaml:2:22: " + at +
          "from_list_separator: not a valid RE2 pattern: missing ): ("}));
}

// -- the literal prefilter (memmem before RE2)
// ----------------------------------------------------------------------

TEST(literal_prefilter, takes_only_the_literal_every_match_holds) {
  struct row {
    const char* pattern;
    const char* literal;
    bool whole;
  };
  for (auto [pattern, literal, whole] : std::vector<row>{
           {"abc", "abc", true},
           {" DEBUG ", " DEBUG ", true},
           {"password=\\S+", "password=", false},
           {"abc.d", "abc", false},
           {"abc$", "abc", false},
           {"ab?c", "a", false},
           {"ab*", "a", false},
           {"ab{0,2}", "a", false},
           {"ab+", "ab", false},
           {"ab(c)", "ab", false},
           {"a|b", "", false},
           {"ab(c|d)", "", false},
           {"^abc", "", false},
           {"(?i)abc", "", false},
           {"\\d+", "", false},
           {"[a]bc", "", false},
           {"\xc3\xa9t\xc3\xa9", "", false},
           {"", "", false},
       }) {
    auto p = make_prefilter(pattern);
    EXPECT_EQ(p.literal, literal) << pattern;
    EXPECT_EQ(p.whole, whole) << pattern;
  }
}

TEST(literal_prefilter, finds_the_literal_wherever_it_is) {
  for (std::string lit : {"a", " DEBUG ", "password=", "xx", "  "}) {
    auto p = make_prefilter(lit);
    ASSERT_TRUE(p.whole);
    // Every position, at the edges too, in bodies of spaces, digits and
    // near misses.
    for (std::size_t len = 0; len < 24; ++len)
      for (char fill : {' ', '1', 'x'})
        for (std::size_t at = 0; at + lit.size() <= len + lit.size(); ++at) {
          std::string body(len, fill);
          if (at + lit.size() <= len) body.replace(at, lit.size(), lit);
          auto want = body.find(lit);
          EXPECT_EQ(p.find(body), want)
              << "'" << lit << "' in '" << body << "'";
        }
  }
  // The rare byte is the one looked for: an upper-case letter or a sign
  // before a space, a digit or a vowel.
  EXPECT_EQ(make_prefilter(" DEBUG ").rare, 1u);
  EXPECT_EQ(make_prefilter("password=").rare, 8u);
}

TEST(literal_prefilter, changes_no_answer_of_the_three_regex_interceptors) {
  // Every pattern against every body: what regex_filter keeps, what
  // regex_extractor extracts and what search_replace writes are those of
  // RE2 alone.
  std::vector<std::string> patterns{
      "abc", "ab?c", "ab+", "b*", "password=(\\S+)", "x(y)z", ".", " DEBUG "};
  std::vector<std::string> bodies{"",
                                  "abc",
                                  "xabcx",
                                  "ac",
                                  "abbb",
                                  "a",
                                  "password=s3cret more",
                                  "password=",
                                  "xyz",
                                  "a DEBUG b",
                                  std::string{"\xff\xfeabc", 5}};
  for (auto& pattern : patterns) {
    RE2 re(pattern);
    ASSERT_TRUE(re.ok()) << pattern;
    auto keep = parse_ok(parse_regex_filter, "regex: '" + pattern + "'");
    auto extract =
        parse_ok(parse_regex_extractor,
                 "regex: '(" + pattern + ")'\nserializers: [{name: g}]");
    auto scrub =
        parse_ok(parse_search_replace,
                 "search_pattern: '" + pattern + "'\nreplace_string: '<$0>'");
    for (auto& body : bodies) {
      batch kept{make_event(body)};
      make_regex_filter(keep)->apply(kept);
      EXPECT_EQ(kept.size(), RE2::PartialMatch(body, re) ? 1u : 0u)
          << pattern << " on " << body;
      batch got{make_event(body)};
      make_regex_extractor(extract)->apply(got);
      re2::StringPiece g;
      RE2 grouped("(" + pattern + ")");
      if (RE2::PartialMatch(body, grouped, &g))
        EXPECT_EQ(header(got[0], "g"), std::string(g.data(), g.size()))
            << pattern << " on " << body;
      else
        EXPECT_FALSE(got[0].headers.contains("g")) << pattern << " on " << body;
      batch scrubbed{make_event(body)};
      make_search_replace(scrub)->apply(scrubbed);
      std::string want = body;
      RE2::GlobalReplace(&want, re, "<\\0>");
      // RE2's GlobalReplace and Java's replaceAll differ on empty matches
      // (tested above); compare only where no empty match is possible.
      if (!RE2::FullMatch("", re))
        EXPECT_EQ(scrubbed[0].body, want) << pattern << " on " << body;
    }
  }
}

// -- uuid
// ----------------------------------------------------------------------

TEST(uuid, sets_a_distinct_version_4_uuid_per_event) {
  auto cfg = parse_ok(parse_uuid, "{}");
  EXPECT_EQ(cfg.header_name, "id");
  EXPECT_TRUE(cfg.preserve_existing);
  auto i = make_uuid(cfg);
  std::regex form{
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"};
  std::set<std::string> seen;
  for (int round = 0; round < 20; ++round) {
    auto events = test::numbered(0, 500);
    EXPECT_EQ(i->apply(events), 0u);
    for (auto& e : events) {
      auto id = header(e, "id");
      EXPECT_TRUE(std::regex_match(id, form)) << id;
      seen.insert(id);
    }
  }
  EXPECT_EQ(seen.size(), 10000u);
  // Two instances (two sources, or a restart) do not repeat each other.
  batch a = test::numbered(0, 1), b = test::numbered(0, 1);
  make_uuid(cfg)->apply(a);
  make_uuid(cfg)->apply(b);
  EXPECT_NE(header(a[0], "id"), header(b[0], "id"));
}

TEST(uuid, digits_are_the_generators_numbers_with_version_and_variant) {
  for (uint64_t seed : {0ull, 1ull, 42ull, ~0ull}) {
    uuid_random a{seed}, b{seed};
    for (int i = 0; i < 100; ++i) {
      auto hi = a(), lo = a();
      hi = (hi & ~uint64_t{0xF000}) | 0x4000;
      lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);
      char want[37];
      std::snprintf(want, sizeof want, "%08llx-%04llx-%04llx-%04llx-%012llx",
                    static_cast<unsigned long long>(hi >> 32),
                    static_cast<unsigned long long>((hi >> 16) & 0xFFFF),
                    static_cast<unsigned long long>(hi & 0xFFFF),
                    static_cast<unsigned long long>(lo >> 48),
                    static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
      std::string got = "x";
      append_random_uuid(b, got);
      EXPECT_EQ(got, "x" + std::string{want});
    }
  }
  // Distinct seeds, distinct streams; every bit of the numbers varies.
  uuid_random g1{1}, g2{2};
  EXPECT_NE(g1(), g2());
  uint64_t ored = 0, anded = ~0ull;
  uuid_random g{7};
  for (int i = 0; i < 1000; ++i) {
    auto x = g();
    ored |= x;
    anded &= x;
  }
  EXPECT_EQ(ored, ~0ull);
  EXPECT_EQ(anded, 0u);
}

TEST(uuid, preserve_existing_keeps_a_header_already_set) {
  auto keep = parse_ok(parse_uuid, "prefix: 'ev-'\nheader_name: eid");
  batch events{make_event("a", {{"eid", "given"}}), make_event("b")};
  make_uuid(keep)->apply(events);
  EXPECT_EQ(header(events[0], "eid"), "given");
  EXPECT_EQ(header(events[1], "eid").rfind("ev-", 0), 0u);
  EXPECT_EQ(header(events[1], "eid").size(), 39u);
  auto replace = parse_ok(parse_uuid, "preserve_existing: false");
  batch again{make_event("a", {{"id", "given"}})};
  make_uuid(replace)->apply(again);
  EXPECT_EQ(header(again[0], "id").size(), 36u);
}

TEST(uuid, parse_errors_are_located) {
  EXPECT_EQ(errors_of(parse_uuid, "header_name: ''\nprefx: a"),
            (std::vector<std::string>{
                "t.yaml:1:14: " + at + "header_name: must not be empty",
                "t.yaml:2:1: " + at.substr(0, at.size() - 1) +
                    ": unknown key 'prefx' (did you mean 'prefix'?)"}));
}

// -- through the registry, as a topology names them
// ----------------------------

TEST(interceptor_registry, the_new_types_are_registered_with_flumes_names) {
  registry r;
  register_builtin(r);
  auto types = r.types("interceptors");
  for (auto t : {"regex_filter", "regex_extractor", "search_replace",
                 "remove_header", "uuid", "timestamp", "host", "static"})
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
}
