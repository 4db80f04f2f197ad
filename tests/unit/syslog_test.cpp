// Syslog parsing (RFC 3164, RFC 5424, Flume's headers) and framing
// (RFC 6587). Expected epoch milliseconds were computed apart from the
// code under test (Python's datetime, or libc's timegm below), never with
// its own date arithmetic.

#include "actors/sources/syslog/syslog.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace flumen {
// Readable failures for header maps.
void PrintTo(const header_map& m, std::ostream* os) {
  *os << "{";
  for (auto& [k, v] : m)
    *os << " " << k << "=" << v;
  *os << " }";
}
} // namespace flumen

namespace {

using namespace flumen;
using namespace flumen::sources::syslog;

// 2026-11-15T00:00:00Z: the receive time of the RFC 3164 examples.
constexpr int64_t nov_15_2026 = 1794700800000;

event parse(std::string_view msg, parse_options opt = {},
            int64_t now_ms = nov_15_2026, bool truncated = false) {
  event e;
  e.headers.insert_or_assign("stale", "from before"); // must be replaced
  e.body = "stale";
  parse_message(msg, truncated, opt, now_ms, e);
  return e;
}

header_map fs(const char* facility, const char* severity) {
  return {{"Facility", facility}, {"Severity", severity}};
}

header_map with(header_map m,
                std::initializer_list<header_map::value_type> kv) {
  for (auto& [k, v] : kv)
    m.insert_or_assign(k, v);
  return m;
}

header_map invalid() {
  return {{"flume.syslog.status", "Invalid"}};
}

// ---- RFC 3164, section 5.4 ----

TEST(Syslog3164, Rfc3164Examples) {
  auto e = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for "
                 "lonvick on /dev/pts/8");
  EXPECT_EQ(e.headers, with(fs("4", "2"), {{"host", "mymachine"},
                                           {"timestamp", "1791756855000"}}));
  EXPECT_EQ(e.body, "su: 'su root' failed for lonvick on /dev/pts/8");

  // "Use the BFG!" as the device sent it (no PRI), then as a relay sends it.
  e = parse("Use the BFG!");
  EXPECT_EQ(e.headers, invalid());
  EXPECT_EQ(e.body, "Use the BFG!");
  e = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
  EXPECT_EQ(e.headers, with(fs("1", "5"), {{"host", "10.0.0.99"},
                                           {"timestamp", "1770312738000"}}));
  EXPECT_EQ(e.body, "Use the BFG!");

  // Flume's pattern takes the first word after the time as the host.
  e = parse("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's "
            "time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # "
            "Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: "
            "Conveyer1=OK, Conveyer2=OK # %%");
  EXPECT_EQ(e.headers, with(fs("20", "5"),
                            {{"host", "CST"}, {"timestamp", "1787549640000"}}));
  EXPECT_EQ(e.body, "1987 mymachine myproc[10]: %% It's time to make the "
                    "do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: "
                    "Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: "
                    "Conveyer1=OK, Conveyer2=OK # %%");

  // A year before the month matches neither pattern: all of it the body.
  const char* raw = "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org "
                    "10.1.2.3 sched[0]: That's All Folks!";
  e = parse(raw);
  EXPECT_EQ(e.headers, fs("0", "0"));
  EXPECT_EQ(e.body, raw);
  e = parse("<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 "
            "scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!");
  EXPECT_EQ(e.headers, with(fs("0", "0"), {{"host", "scapegoat"},
                                           {"timestamp", "1792666332000"}}));
  EXPECT_EQ(e.body, "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org "
                    "10.1.2.3 sched[0]: That's All Folks!");
}

// ---- RFC 5424, section 6.5 ----

const std::string bom = "\xEF\xBB\xBF";
const std::string ex1 = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com "
                        "su - ID47 - " +
                        bom + "'su root' failed for lonvick on /dev/pts/8";
const std::string ex2 = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 "
                        "myproc 8710 - - %% It's time to make the do-nuts.";
const std::string sd3 = "[exampleSDID@32473 iut=\"3\" "
                        "eventSource=\"Application\" eventID=\"1011\"]";
const std::string ex3 = "<165>1 2003-10-11T22:14:15.003Z "
                        "mymachine.example.com evntslog - ID47 " +
                        sd3 + " " + bom + "An application event log entry...";
const std::string sd4 = sd3 + "[examplePriority@32473 class=\"high\"]";
const std::string ex4 = "<165>1 2003-10-11T22:14:15.003Z "
                        "mymachine.example.com evntslog - ID47 " +
                        sd4;

TEST(Syslog5424, Rfc5424ExamplesAsFlume) {
  auto e = parse(ex1);
  EXPECT_EQ(e.headers, with(fs("4", "2"), {{"host", "mymachine.example.com"},
                                           {"timestamp", "1065910455003"}}));
  EXPECT_EQ(e.body, "su - ID47 - " + bom +
                        "'su root' failed for lonvick on /dev/pts/8");
  e = parse(ex2);
  EXPECT_EQ(e.headers, with(fs("20", "5"), {{"host", "192.0.2.1"},
                                            {"timestamp", "1061727255000"}}));
  EXPECT_EQ(e.body, "myproc 8710 - - %% It's time to make the do-nuts.");
  e = parse(ex3);
  EXPECT_EQ(e.headers, with(fs("20", "5"), {{"host", "mymachine.example.com"},
                                            {"timestamp", "1065910455003"}}));
  EXPECT_EQ(e.body, "evntslog - ID47 " + sd3 + " " + bom +
                        "An application event log entry...");
  e = parse(ex4);
  EXPECT_EQ(e.body, "evntslog - ID47 " + sd4);
}

TEST(Syslog5424, Rfc5424ExamplesStructured) {
  parse_options o;
  o.structured = true;
  auto e = parse(ex1, o);
  EXPECT_EQ(e.headers, with(fs("4", "2"), {{"host", "mymachine.example.com"},
                                           {"timestamp", "1065910455003"},
                                           {"syslog.app_name", "su"},
                                           {"syslog.msg_id", "ID47"}}));
  EXPECT_EQ(e.body, bom + "'su root' failed for lonvick on /dev/pts/8");
  e = parse(ex2, o);
  EXPECT_EQ(e.headers, with(fs("20", "5"), {{"host", "192.0.2.1"},
                                            {"timestamp", "1061727255000"},
                                            {"syslog.app_name", "myproc"},
                                            {"syslog.proc_id", "8710"}}));
  EXPECT_EQ(e.body, "%% It's time to make the do-nuts.");
  auto sd3_headers =
      with(fs("20", "5"),
           {{"host", "mymachine.example.com"},
            {"timestamp", "1065910455003"},
            {"syslog.app_name", "evntslog"},
            {"syslog.msg_id", "ID47"},
            {"syslog.sd.exampleSDID@32473.iut", "3"},
            {"syslog.sd.exampleSDID@32473.eventSource", "Application"},
            {"syslog.sd.exampleSDID@32473.eventID", "1011"}});
  e = parse(ex3, o);
  EXPECT_EQ(e.headers, sd3_headers);
  EXPECT_EQ(e.body, bom + "An application event log entry...");
  e = parse(ex4, o);
  EXPECT_EQ(
      e.headers,
      with(sd3_headers, {{"syslog.sd.examplePriority@32473.class", "high"}}));
  EXPECT_EQ(e.body, "");
  // Kept fields go before the MSG; the structured fields are headers.
  o.keep.hostname = true;
  e = parse(ex3, o);
  EXPECT_EQ(e.body, "mymachine.example.com " + bom +
                        "An application event log entry...");
}

TEST(Syslog5424, StructuredDataEscapesAndMalformed) {
  parse_options o;
  o.structured = true;
  auto head = std::string{"<14>1 2003-10-11T22:14:15.003Z h app 12 id "};
  auto e = parse(head + R"([x@1 a="q\"x\\y\]z\n" b=""][y c="]"] msg)", o);
  EXPECT_EQ(e.headers.find("syslog.sd.x@1.a")->second, R"(q"x\y]z\n)");
  EXPECT_EQ(e.headers.find("syslog.sd.x@1.b")->second, "");
  EXPECT_EQ(e.headers.find("syslog.sd.y.c")->second, "]");
  EXPECT_EQ(e.body, "msg");
  // A repeated parameter: the last wins. An element without parameters.
  e = parse(head + R"([x a="1" a="2"][z] msg)", o);
  EXPECT_EQ(e.headers.find("syslog.sd.x.a")->second, "2");
  EXPECT_EQ(e.body, "msg");
  // Malformed: the SD and what follows are the body, no sd header, the
  // other fields still headers.
  for (std::string sd :
       {R"([x a="unterminated] msg)", R"([x a=1] msg)", R"([x a="1"]msg)",
        R"([] msg)", R"([x a="1" msg)", R"(x a="1"] msg)",
        R"([x a="1"] [y] msg)", R"([x =""] msg)", "[x a=\"1\"\\"}) {
    e = parse(head + sd, o);
    auto want = with(fs("1", "6"), {{"host", "h"},
                                    {"timestamp", "1065910455003"},
                                    {"syslog.app_name", "app"},
                                    {"syslog.proc_id", "12"},
                                    {"syslog.msg_id", "id"}});
    if (sd == R"([x a="1"] [y] msg)") {
      // Well formed up to its space: [y] msg is the MSG.
      EXPECT_EQ(e.headers, with(want, {{"syslog.sd.x.a", "1"}})) << sd;
      EXPECT_EQ(e.body, "[y] msg") << sd;
      continue;
    }
    EXPECT_EQ(e.headers, want) << sd;
    EXPECT_EQ(e.body, sd) << sd;
  }
  // Fields that are not RFC 5424's (too long, missing): no structured
  // headers, the body as Flume has it.
  auto long_app = std::string(49, 'a');
  e = parse("<14>1 - h " + long_app + " - - - msg", o);
  EXPECT_EQ(e.headers, with(fs("1", "6"), {{"host", "h"}}));
  EXPECT_EQ(e.body, long_app + " - - - msg");
  e = parse("<14>1 - h onlyapp", o);
  EXPECT_EQ(e.body, "onlyapp");
  // Without a version it is not RFC 5424 proper: no structured fields.
  e = parse("<13>2003-08-24T05:14:15Z localhost app 1 m - msg", o);
  EXPECT_EQ(e.body, "app 1 m - msg");
  // Non-UTF-8 in a value is kept as it is.
  e = parse(head + "[x a=\"\xff\xfe\"] \x80", o);
  EXPECT_EQ(e.headers.find("syslog.sd.x.a")->second, "\xff\xfe");
  EXPECT_EQ(e.body, "\x80");
}

// ---- Flume's TestSyslogUtils ----

const char* cloudera = "ubuntu-11.cloudera.com";

void expect_flume(std::string_view msg, const char* ts, const char* host,
                  const char* body, parse_options o = {}) {
  auto e = parse(msg, o);
  auto want = fs("1", "2");
  if (ts) want.insert_or_assign("timestamp", ts);
  if (host) want.insert_or_assign("host", host);
  EXPECT_EQ(e.headers, want) << msg;
  EXPECT_EQ(e.body, body) << msg;
}

TEST(SyslogFlume, TestHeader0To11) {
  // TestHeader0: hh:mm offset, no version.
  expect_flume("<10>2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg",
               "1334286671000", cloudera, "some msg");
  // TestHeader1: no offset, read in the configured zone (UTC by default).
  expect_flume("<10>1 2012-04-13T11:11:11 ubuntu-11.cloudera.com some msg",
               "1334315471000", cloudera, "some msg");
  parse_options plus2;
  plus2.timezone = zone{false, 7200};
  expect_flume("<10>1 2012-04-13T11:11:11 ubuntu-11.cloudera.com some msg",
               "1334308271000", cloudera, "some msg", plus2);
  // TestHeader2: Z.
  expect_flume("<10>1 2012-04-13T11:11:11Z ubuntu-11.cloudera.com some msg",
               "1334315471000", cloudera, "some msg");
  // TestHeader3: +08:00.
  expect_flume("<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com "
               "some msg",
               "1334286671000", cloudera, "some msg");
  // TestHeader4: NILVALUE timestamp: no timestamp header.
  expect_flume("<10>1 - ubuntu-11.cloudera.com some msg", nullptr, cloudera,
               "some msg");
  // TestHeader5..7: NILVALUE host: no host header.
  expect_flume("<10>1 2012-04-13T11:11:11 - some msg", "1334315471000", nullptr,
               "some msg");
  expect_flume("<10>1 2012-04-13T11:11:11Z - some msg", "1334315471000",
               nullptr, "some msg");
  expect_flume("<10>1 2012-04-13T11:11:11+08:00 - some msg", "1334286671000",
               nullptr, "some msg");
  // TestHeader8: milliseconds.
  expect_flume("<10>1 2012-04-13T11:11:11.999 ubuntu-11.cloudera.com some msg",
               "1334315471999", cloudera, "some msg");
  // TestHeader11: microseconds cut to milliseconds.
  expect_flume("<10>2014-10-03T17:20:01.123456-07:00 ubuntu-11.cloudera.com "
               "some msg",
               "1412382001123", cloudera, "some msg");
  // TestHeader9/10 (RFC 3164 of today) are TestRfc3164Dates below.
}

TEST(SyslogFlume, TestRfc3164HeaderApacheLogWithNulls) {
  expect_flume("<10>Oct 11 22:14:15 ubuntu-11.cloudera.com - "
               "hyphen_null_breaks_5424_pattern [07/Jun/2012:14:46:44 -0600]",
               "1791756855000", cloudera,
               "- hyphen_null_breaks_5424_pattern [07/Jun/2012:14:46:44 "
               "-0600]");
}

// Flume's TestRfc3164Dates: for 14 receive times a month apart, messages
// from 10 months before to (a day short of) one month after each carry the
// year they were written in. libc's timegm is the oracle.
TEST(SyslogFlume, TestRfc3164Dates) {
  for (int offset = 0; offset <= 13; ++offset) {
    std::tm now_tm{};
    now_tm.tm_year = 2026 - 1900;
    now_tm.tm_mon = 2 + offset; // from March 2026
    now_tm.tm_mday = 10;
    now_tm.tm_hour = 12;
    auto now_s = timegm(&now_tm);
    for (int i = -10; i <= 1; ++i) {
      std::tm t = now_tm;
      t.tm_mon += i;
      t.tm_min = 17;
      t.tm_sec = 42;
      if (i == 1) t.tm_mday -= 1;
      auto when = timegm(&t); // normalises t
      char stamp[32];
      std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &t);
      auto msg = std::string{"<10>"} + stamp + " ubuntu-11.cloudera.com x";
      auto e = parse(msg, {}, int64_t{now_s} * 1000);
      EXPECT_EQ(e.headers.find("timestamp")->second,
                std::to_string(int64_t{when} * 1000))
          << msg << " received at offset " << offset;
    }
  }
}

TEST(SyslogFlume, YearResolutionAtNewYear) {
  // 2026-01-01T00:05Z: "Dec 31 23:59:00" is 2025-12-31.
  auto e = parse("<13>Dec 31 23:59:00 host msg", {}, 1767225900000);
  EXPECT_EQ(e.headers.find("timestamp")->second, "1767225540000");
  // 2026-12-31T12:00Z: "Jan  1 00:00:00" is 2027-01-01 (Flume rolls a date
  // more than eleven months in the past forward).
  e = parse("<13>Jan  1 00:00:00 host msg", {}, 1798718400000);
  EXPECT_EQ(e.headers.find("timestamp")->second, "1798761600000");
  // Feb 29 exists only in a leap year: 2028-02-29 received 2028-03-01.
  e = parse("<13>Feb 29 10:00:00 host msg", {}, 1835481600000);
  EXPECT_EQ(e.headers.find("timestamp")->second, "1835431200000");
  // ...and received in 2026 it matches no pattern (Flume: Mar 1).
  e = parse("<13>Feb 29 10:00:00 host msg", {}, 1772280000000);
  EXPECT_EQ(e.headers, fs("1", "5"));
  EXPECT_EQ(e.body, "<13>Feb 29 10:00:00 host msg");
}

TEST(SyslogFlume, TimeZones) {
  parse_options o;
  o.timezone = zone{false, 7200};
  auto e = parse("<13>Oct 11 22:14:15 host msg", o);
  EXPECT_EQ(e.headers.find("timestamp")->second, "1791749655000");
  // The machine's zone, DST included (a POSIX TZ rule: no tzdata needed).
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
  tzset();
  o.timezone = zone{true, 0};
  auto summer = parse("<13>Jul  1 12:00:00 host msg", o, 1784073600000);
  auto winter = parse("<13>Jan 15 12:00:00 host msg", o, 1768867200000);
  auto no_offset = parse("<13>1 2026-07-01T12:00:00 host msg", o);
  auto with_offset = parse("<13>1 2026-07-01T12:00:00+02:00 host msg", o);
  if (old)
    setenv("TZ", saved.c_str(), 1);
  else
    unsetenv("TZ");
  tzset();
  EXPECT_EQ(summer.headers.find("timestamp")->second, "1782921600000");
  EXPECT_EQ(winter.headers.find("timestamp")->second, "1768496400000");
  EXPECT_EQ(no_offset.headers.find("timestamp")->second, "1782921600000");
  // An offset written in the message wins over the zone.
  EXPECT_EQ(with_offset.headers.find("timestamp")->second, "1782900000000");
}

TEST(SyslogFlume, ExtractBadEvents) {
  // testExtractBadEvent1..4 (Flume also sets Facility=0 Severity=0).
  for (const char* bad :
       {"<10F> bad bad data", "hi guys! <10> bad bad data", "<> bad bad data",
        "<123123123123123123123123123123> bad bad data"}) {
    auto e = parse(bad);
    EXPECT_EQ(e.headers, invalid()) << bad;
    EXPECT_EQ(e.body, bad);
  }
  // testExtractGoodEvent: a PRI and no header: all of it the body.
  auto e = parse("<10>Good good good data");
  EXPECT_EQ(e.headers, fs("1", "2"));
  EXPECT_EQ(e.body, "<10>Good good good data");
}

std::vector<event> frame_and_parse(std::string_view stream,
                                   std::size_t max = 2500) {
  framer f(framing::auto_detect, max);
  parse_options o;
  o.max_message_size = max;
  std::vector<event> out;
  auto on = [&](const framer::message& m) {
    out.emplace_back();
    parse_message(m.bytes, m.truncated, o, nov_15_2026, out.back());
  };
  EXPECT_TRUE(f.feed(stream, on));
  f.finish(on);
  return out;
}

TEST(SyslogFlume, BadAndGoodEventsOnOneStream) {
  // testBadEventGoodEvent, testGoodEventBadEvent, testBadEventBadEvent,
  // testGoodEventGoodEvent.
  auto ev = frame_and_parse("hi guys! <10F> bad bad data\n"
                            "<10>Good good good data\n"
                            "hi guys! <20> bad bad data\n"
                            "<20>Good really good data\n");
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].headers, invalid());
  EXPECT_EQ(ev[0].body, "hi guys! <10F> bad bad data");
  EXPECT_EQ(ev[1].headers, fs("1", "2"));
  EXPECT_EQ(ev[1].body, "<10>Good good good data");
  EXPECT_EQ(ev[2].headers, invalid());
  EXPECT_EQ(ev[3].headers, fs("2", "4"));
  EXPECT_EQ(ev[3].body, "<20>Good really good data");
}

TEST(SyslogFlume, ExtractBadEventLarge) {
  // testExtractBadEventLarge, size 10: the first 10 bytes, Incomplete.
  // Flume makes the rest a second (Invalid) event; the framer skips it.
  auto ev = frame_and_parse("<10> bad bad data bad bad\n<10>next\n", 10);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].headers,
            with(fs("1", "2"), {{"flume.syslog.status", "Incomplete"}}));
  EXPECT_EQ(ev[0].body, "<10> bad b");
  EXPECT_EQ(ev[1].body, "<10>next");
}

TEST(SyslogFlume, KeepFields) {
  // testKeepFields.
  const char* msg = "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com "
                    "some msg";
  auto body = [&](keep_fields k) {
    parse_options o;
    o.keep = k;
    auto e = parse(msg, o);
    EXPECT_EQ(e.headers, with(fs("1", "2"), {{"host", cloudera},
                                             {"timestamp", "1334286671000"}}));
    return e.body;
  };
  EXPECT_EQ(body({}), "some msg");
  EXPECT_EQ(body({false, false, false, true}),
            "ubuntu-11.cloudera.com some msg");
  EXPECT_EQ(body({false, false, true, true}),
            "2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  EXPECT_EQ(body({true, false, true, true}),
            "<10>2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg");
  EXPECT_EQ(body(keep_fields::all()), msg);
  EXPECT_EQ(body({true, true, false, false}), "<10>1 some msg");
  EXPECT_EQ(body({false, true, false, false}), "1 some msg");
  // TestSyslogTcpSource's keepFields: timestamp alone; no version to keep.
  parse_options o;
  o.keep.timestamp = true;
  o.keep.version = true;
  auto e = parse("<10>2026-11-14T10:00:00.000+01:00 localhost.localdomain "
                 "test syslog data",
                 o);
  EXPECT_EQ(e.body, "2026-11-14T10:00:00.000+01:00 test syslog data");
  // An RFC 3164 stamp is kept as written, its two spaces included; a
  // NILVALUE as "-" (Flume writes "null").
  o.keep = {true, false, true, true};
  e = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", o);
  EXPECT_EQ(e.body, "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
  e = parse("<13>1 - - msg", o);
  EXPECT_EQ(e.body, "<13>- - msg");
}

// ---- Flume's TestSyslogParser ----

TEST(SyslogFlume, TestRfc5424DateParsing) {
  struct {
    const char* stamp;
    const char* ms;
  } cases[] = {{"1985-04-12T23:20:50.52Z", "482196050520"},
               {"1985-04-12T19:20:50.52-04:00", "482196050520"},
               {"2003-10-11T22:14:15.003Z", "1065910455003"},
               {"2003-08-24T05:14:15.000003-07:00", "1061727255000"},
               {"2012-04-13T11:11:11-08:00", "1334344271000"},
               {"2012-04-13T08:08:08.0001+00:00", "1334304488000"},
               {"2012-04-13T08:08:08.251+00:00", "1334304488251"}};
  for (auto& c : cases) {
    auto e = parse(std::string{"<13>1 "} + c.stamp + " host msg");
    EXPECT_EQ(e.headers.find("timestamp")->second, c.ms) << c.stamp;
  }
}

TEST(SyslogFlume, TestMessageParsing) {
  const std::string messages[] = {
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on "
      "/dev/pts/8",
      "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
      "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to "
      "make "
      "the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, "
      "Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # "
      "%%",
      "<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 "
      "scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
      "BOM'su root' failed for lonvick on /dev/pts/8",
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% "
      "It's time to make the do-nuts.",
      "<13>2003-08-24T05:14:15Z localhost snarf?",
      "<13>2012-08-16T14:34:03-08:00 127.0.0.1 test shnap!"};
  for (auto& m : messages) {
    auto e = parse(m);
    EXPECT_FALSE(e.headers.contains("flume.syslog.status")) << m;
    EXPECT_TRUE(e.headers.contains("timestamp")) << m;
    parse_options all;
    all.keep = keep_fields::all();
    EXPECT_EQ(parse(m, all).body, m);
    parse_options host;
    host.keep.hostname = true;
    e = parse(m, host);
    EXPECT_NE(e.body.find(e.headers.find("host")->second), std::string::npos);
  }
}

// ---- Malformed input: what each gives ----

TEST(SyslogMalformed, Table) {
  struct {
    std::string in;
    header_map headers;
    std::string body;
  } cases[] = {
      {"no PRI here", invalid(), "no PRI here"},
      {"<192>Oct 11 22:14:15 host msg", invalid(),
       "<192>Oct 11 22:14:15 host msg"},
      {"<>", invalid(), "<>"},
      {"<1", invalid(), "<1"},
      {"<0001>x", invalid(), "<0001>x"},
      {"<", invalid(), "<"},
      {"", invalid(), ""},
      {"<34>", fs("4", "2"), "<34>"},
      {"<34>Oct 11 22:14", fs("4", "2"), "<34>Oct 11 22:14"},
      {"<34>Oct 11 22:14:15", fs("4", "2"), "<34>Oct 11 22:14:15"},
      {"<34>Oct 11 22:14:15 host", fs("4", "2"), "<34>Oct 11 22:14:15 host"},
      {"<34>Ocx 11 22:14:15 host msg", fs("4", "2"),
       "<34>Ocx 11 22:14:15 host msg"},
      {"<34>Feb 30 10:00:00 host msg", fs("4", "2"),
       "<34>Feb 30 10:00:00 host msg"},
      {"<34>Oct 11 24:00:00 host msg", fs("4", "2"),
       "<34>Oct 11 24:00:00 host msg"},
      {"<34>1 2026-02-30T10:00:00Z host msg", fs("4", "2"),
       "<34>1 2026-02-30T10:00:00Z host msg"},
      {"<34>1 2026-13-01T10:00:00Z host msg", fs("4", "2"),
       "<34>1 2026-13-01T10:00:00Z host msg"},
      {"<34>1 2003-10-11T22:14:15.1234567Z host msg", fs("4", "2"),
       "<34>1 2003-10-11T22:14:15.1234567Z host msg"},
      {"<34>1 2003-10-11T22:14:15+0800 host msg", fs("4", "2"),
       "<34>1 2003-10-11T22:14:15+0800 host msg"},
      {"<34>1 2003-10-11T22:14:15. host msg", fs("4", "2"),
       "<34>1 2003-10-11T22:14:15. host msg"},
      // An empty MSG is an empty body (Flume would put the whole message).
      {"<34>Oct 11 22:14:15 host ",
       with(fs("4", "2"), {{"host", "host"}, {"timestamp", "1791756855000"}}),
       ""},
      // Bytes that are not UTF-8: kept as they are.
      {"<34>Oct 11 22:14:15 host \xff\xfe\xc3\x28",
       with(fs("4", "2"), {{"host", "host"}, {"timestamp", "1791756855000"}}),
       "\xff\xfe\xc3\x28"},
      {"<34>Oct 11 22:14:15 h\xffst msg", fs("4", "2"),
       "<34>Oct 11 22:14:15 h\xffst msg"},
      {"\xff<34>", invalid(), "\xff<34>"},
      // A version digit must be followed by a space (RFC 5424; Flume's \s?
      // would take it as a version).
      {"<34>1Oct 11 22:14:15 host msg", fs("4", "2"),
       "<34>1Oct 11 22:14:15 host msg"},
      // Leading zeros in a PRI of at most 3 digits: Flume's parseInt takes it.
      {"<01>x", fs("0", "1"), "<01>x"},
      {std::string("<34>Oct 11 22:14:15 host a\0b", 28),
       with(fs("4", "2"), {{"host", "host"}, {"timestamp", "1791756855000"}}),
       std::string("a\0b", 3)},
  };
  for (auto& c : cases) {
    auto e = parse(c.in);
    EXPECT_EQ(e.headers, c.headers) << c.in;
    EXPECT_EQ(e.body, c.body) << c.in;
  }
}

TEST(SyslogMalformed, FormatForced) {
  parse_options o;
  o.fmt = format::rfc3164;
  auto e = parse("<13>1 2003-08-24T05:14:15Z host msg", o);
  EXPECT_EQ(e.headers, fs("1", "5"));
  o.fmt = format::rfc5424;
  e = parse("<34>Oct 11 22:14:15 mymachine su", o);
  EXPECT_EQ(e.headers, fs("4", "2"));
  e = parse("<13>1 2003-08-24T05:14:15Z host msg", o);
  EXPECT_EQ(e.headers.find("timestamp")->second, "1061702055000");
}

TEST(SyslogMalformed, TruncationAtMaxMessageSize) {
  parse_options o;
  o.max_message_size = 28;
  // Longer than max: cut there, Incomplete.
  auto e = parse("<34>Oct 11 22:14:15 host abcdefgh", o);
  EXPECT_EQ(e.headers,
            with(fs("4", "2"), {{"host", "host"},
                                {"timestamp", "1791756855000"},
                                {"flume.syslog.status", "Incomplete"}}));
  EXPECT_EQ(e.body, "abc");
  // Cut by the framer: Incomplete too. Invalid wins over Incomplete.
  e = parse("<34>Oct 11 22:14:15 host abc", o, nov_15_2026, true);
  EXPECT_EQ(e.headers.find("flume.syslog.status")->second, "Incomplete");
  e = parse("no pri", o, nov_15_2026, true);
  EXPECT_EQ(e.headers, invalid());
  // Cut inside the header: no pattern, Incomplete, the cut message.
  o.max_message_size = 10;
  o.keep = keep_fields::all();
  e = parse("<34>Oct 11 22:14:15 host abc", o);
  EXPECT_EQ(e.headers,
            with(fs("4", "2"), {{"flume.syslog.status", "Incomplete"}}));
  EXPECT_EQ(e.body, "<34>Oct 11");
}

// ---- Framing (RFC 6587) ----

struct got {
  std::string bytes;
  bool truncated;
  bool operator==(const got&) const = default;
};

void PrintTo(const got& g, std::ostream* os) {
  *os << "{\"" << g.bytes << "\"" << (g.truncated ? " cut" : "") << "}";
}

struct run_result {
  std::vector<got> messages;
  bool ok = true;
  bool finished = false;
};

// Feeds `stream` split at `cuts` (ascending offsets), then finishes.
run_result run(framing mode, std::size_t max, std::string_view stream,
               const std::vector<std::size_t>& cuts = {}) {
  framer f(mode, max);
  run_result r;
  auto on = [&](const framer::message& m) {
    EXPECT_LE(m.bytes.size(), max);
    r.messages.push_back({std::string{m.bytes}, m.truncated});
  };
  std::size_t from = 0;
  auto all = cuts;
  all.push_back(stream.size());
  for (auto to : all) {
    r.ok = f.feed(stream.substr(from, to - from), on) && r.ok;
    from = to;
  }
  if (r.ok) r.finished = f.finish(on);
  return r;
}

std::vector<std::size_t> every_byte(std::size_t n) {
  std::vector<std::size_t> v;
  for (std::size_t i = 1; i < n; ++i)
    v.push_back(i);
  return v;
}

TEST(SyslogFramer, LineFeed) {
  auto r = run(framing::lf, 100, "a\nb\r\n\n\r\n\nc d\r\ne");
  EXPECT_EQ(r.messages,
            (std::vector<got>{
                {"a", false}, {"b", false}, {"c d", false}, {"e", false}}));
  EXPECT_TRUE(r.finished); // "e" came at the end
  r = run(framing::lf, 100, "a\n");
  EXPECT_FALSE(r.finished);
}

TEST(SyslogFramer, OctetCounting) {
  auto r = run(framing::octet_counting, 100, "5 hello3 a\nb11 <1>x\r\ny\nz z");
  EXPECT_EQ(r.messages,
            (std::vector<got>{
                {"hello", false}, {"a\nb", false}, {"<1>x\r\ny\nz z", false}}));
  EXPECT_FALSE(r.finished);
  // A partial last message at the end of the stream: cut.
  r = run(framing::octet_counting, 100, "5 hello10 abc");
  EXPECT_EQ(r.messages.back(), (got{"abc", true}));
  EXPECT_TRUE(r.finished);
  // A length and no byte of its message: nothing.
  r = run(framing::octet_counting, 100, "5 hello10 ");
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.finished);
}

TEST(SyslogFramer, AutoDetect) {
  framer a(framing::auto_detect, 100);
  std::vector<std::string> m;
  auto on = [&](const framer::message& x) { m.emplace_back(x.bytes); };
  EXPECT_TRUE(a.feed("", on));
  EXPECT_EQ(a.mode(), framing::auto_detect);
  EXPECT_TRUE(a.feed("3 abc", on));
  EXPECT_EQ(a.mode(), framing::octet_counting);
  framer b(framing::auto_detect, 100);
  EXPECT_TRUE(b.feed("<1>x\n3 abc\n", on));
  EXPECT_EQ(b.mode(), framing::lf);
  EXPECT_EQ(m, (std::vector<std::string>{"abc", "<1>x", "3 abc"}));
}

TEST(SyslogFramer, FramingErrors) {
  struct {
    std::string in;
    std::size_t delivered;
  } cases[] = {
      {"05 hello", 0},      // a leading zero
      {"0 ", 0},            // a zero length
      {"1234567890 x", 0},  // ten digits
      {"3 abc5x", 1},       // no space after the length
      {"3 abc5\nhello", 1}, // a newline in its place
      {"3 abc\n3 abc", 1},  // a trailer after a message
      {" 5 hello", 0},      // a space before the length
      {"3 abc 3 abc", 1},   // a space instead of a length
  };
  for (auto& c : cases) {
    for (bool bytewise : {false, true}) {
      framer f(framing::octet_counting, 100);
      std::size_t n = 0;
      auto on = [&](const framer::message&) { ++n; };
      bool ok = true;
      if (bytewise) {
        for (char ch : c.in)
          ok = f.feed(std::string_view{&ch, 1}, on) && ok;
      } else {
        ok = f.feed(c.in, on);
      }
      EXPECT_FALSE(ok) << c.in;
      EXPECT_FALSE(f.error().empty()) << c.in;
      EXPECT_EQ(n, c.delivered) << c.in;
      // Nothing after an error, not even a valid message.
      EXPECT_FALSE(f.feed("3 abc", on));
      EXPECT_FALSE(f.finish(on));
      EXPECT_EQ(n, c.delivered) << c.in;
    }
  }
  // Nine digits is a length (then cut at max).
  auto r = run(framing::octet_counting, 4, "999999999 abcdef");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.messages, (std::vector<got>{{"abcd", true}}));
}

TEST(SyslogFramer, TruncationOctetCounting) {
  // Longer than max: the first max bytes, cut, delivered at once; the rest
  // skipped as it comes; the next message whole.
  std::string stream = "30 0123456789abcdefghijklmnopqrst3 xyz";
  for (auto cuts : {std::vector<std::size_t>{}, every_byte(stream.size())}) {
    auto r = run(framing::octet_counting, 10, stream, cuts);
    EXPECT_EQ(r.messages,
              (std::vector<got>{{"0123456789", true}, {"xyz", false}}));
  }
  // Exactly max: not cut.
  auto r = run(framing::octet_counting, 3, "3 abc");
  EXPECT_EQ(r.messages, (std::vector<got>{{"abc", false}}));
  // A huge length: delivered at max, then gigabytes could follow without
  // being held: feed 1 MiB more, nothing else is delivered and the framer
  // is still in the message.
  framer f(framing::octet_counting, 16);
  std::vector<got> m;
  auto on = [&](const framer::message& x) {
    m.push_back({std::string{x.bytes}, x.truncated});
  };
  ASSERT_TRUE(f.feed("999999999 ", on));
  std::string mib(1 << 20, 'x');
  ASSERT_TRUE(f.feed(mib, on));
  EXPECT_EQ(m, (std::vector<got>{{std::string(16, 'x'), true}}));
  EXPECT_TRUE(f.in_message());
  EXPECT_FALSE(f.finish(on)); // already delivered
}

TEST(SyslogFramer, TruncationLineFeed) {
  std::string stream = "abcdefgh\nxy\nabc\r\nabcd\r\nabc\rd\nab\r\r\n";
  for (auto cuts : {std::vector<std::size_t>{}, every_byte(stream.size())}) {
    auto r = run(framing::lf, 3, stream, cuts);
    EXPECT_EQ(r.messages, (std::vector<got>{{"abc", true},
                                            {"xy", false},
                                            {"abc", false},
                                            {"abc", true},
                                            {"abc", true},
                                            {"ab\r", false}}));
  }
  // A long line with no end: delivered at max, the rest skipped.
  framer f(framing::lf, 4);
  std::vector<got> m;
  auto on = [&](const framer::message& x) {
    m.push_back({std::string{x.bytes}, x.truncated});
  };
  ASSERT_TRUE(f.feed("abcdef", on));
  ASSERT_TRUE(f.feed(std::string(1 << 20, 'x'), on));
  EXPECT_TRUE(f.in_message());
  ASSERT_TRUE(f.feed("yy\nok\n", on));
  EXPECT_EQ(m, (std::vector<got>{{"abcd", true}, {"ok", false}}));
  EXPECT_FALSE(f.in_message());
  // max bytes and a '\r' at the end of the stream: cut.
  auto r = run(framing::lf, 3, "abc\r");
  EXPECT_EQ(r.messages, (std::vector<got>{{"abc", true}}));
}

// The same stream fed whole, byte by byte and in random splits gives the
// same messages (both framings, with and without truncation).
TEST(SyslogFramer, ChunkBoundaries) {
  std::string lf, oc;
  std::mt19937 rng(42);
  for (int i = 0; i < 60; ++i) {
    std::string msg;
    auto len = rng() % 40;
    for (std::size_t j = 0; j < len; ++j) {
      const char alphabet[] = "<>1 aZ\r\t-[]\"\\\xff";
      msg.push_back(alphabet[rng() % (sizeof(alphabet) - 1)]);
    }
    lf += msg + (i % 3 ? "\n" : "\r\n");
    if (!msg.empty()) oc += std::to_string(msg.size() + 1) + " " + msg + "\n";
  }
  lf += "tail";
  oc += "9 tail";
  for (std::size_t max : {std::size_t{2500}, std::size_t{7}}) {
    for (auto* s : {&lf, &oc}) {
      auto mode = s == &lf ? framing::lf : framing::octet_counting;
      auto whole = run(mode, max, *s);
      ASSERT_TRUE(whole.ok);
      ASSERT_GT(whole.messages.size(), 40u);
      EXPECT_EQ(run(mode, max, *s, every_byte(s->size())).messages,
                whole.messages);
      EXPECT_EQ(run(framing::auto_detect, max, *s).messages, whole.messages);
      for (int k = 0; k < 200; ++k) {
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < s->size(); ++i)
          if (rng() % 7 == 0) cuts.push_back(i);
        auto split = run(mode, max, *s, cuts);
        ASSERT_EQ(split.messages, whole.messages) << "split " << k;
        ASSERT_EQ(split.finished, whole.finished);
      }
    }
  }
}

} // namespace
