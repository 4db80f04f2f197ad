// Tap points: the line format, the bounded queue that counts what it had no
// room for, and the hook that does nothing but one load when nobody taps.

#include "runtime/core/metrics.hpp"
#include "runtime/core/tap.hpp"

#include <gtest/gtest.h>

using namespace flumen;

namespace {

batch events_of(std::initializer_list<std::string> bodies) {
  batch b;
  for (auto& body : bodies)
    b.push_back(event{{}, body});
  return b;
}

} // namespace

TEST(tap_line, shows_headers_and_body) {
  event e{{{"host", "web1"}, {"timestamp", "1700000000000"}}, "GET / 200"};
  EXPECT_EQ(format_tap_line("r1", e),
            "r1 {host=web1, timestamp=1700000000000} \"GET / 200\"");
  EXPECT_EQ(format_tap_line("k1#0", event{{}, ""}), "k1#0 {} \"\"");
}

TEST(tap_line, escapes_what_would_break_a_line_and_keeps_utf8) {
  std::string body = "a\nb\tc\"d\\e";
  body += '\0';
  body += "\x01\x7f";
  body += "\xff\xfe";     // not UTF-8
  body += "caf\xc3\xa9";  // UTF-8: kept
  body += "\xed\xa0\x80"; // a surrogate: not valid UTF-8
  event e{{{"k\n", "v\x02"}}, body};
  EXPECT_EQ(format_tap_line("r1", e),
            "r1 {k\\n=v\\x02} "
            "\"a\\nb\\tc\\\"d\\\\e\\x00\\x01\\x7f\\xff\\xfecaf\xc3\xa9"
            "\\xed\\xa0\\x80\"");
}

TEST(tap_line, cuts_long_bodies_with_a_marker) {
  event e{{}, std::string(250, 'x')};
  auto line = format_tap_line("r1", e, 200);
  EXPECT_EQ(line, "r1 {} \"" + std::string(200, 'x') + "\"...(+50 bytes)");
  // Headers are bounded too: a thousand of them make a short line.
  event many;
  for (int i = 0; i < 1000; ++i)
    many.headers.insert_or_assign("h" + std::to_string(i), "value");
  auto l2 = format_tap_line("r1", many);
  EXPECT_LT(l2.size(), 700u);
  EXPECT_NE(l2.find(", ...}"), std::string::npos) << l2;
}

TEST(tap_queue, holds_at_most_its_capacity_and_counts_the_rest_as_missed) {
  tap_queue q{3};
  q.push("r1", events_of({"1", "2", "3", "4", "5"}));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.take_missed(), 2u);
  EXPECT_EQ(q.take_missed(), 0u); // reported once
  std::vector<std::string> out;
  EXPECT_EQ(q.pop(out, 2), 2u);
  EXPECT_EQ(out, (std::vector<std::string>{"r1 {} \"1\"", "r1 {} \"2\""}));
  // Room for two again: "6" and "7" fit, "8" is missed.
  q.push("r1", events_of({"6", "7", "8"}));
  EXPECT_EQ(q.take_missed(), 1u);
  out.clear();
  EXPECT_EQ(q.pop(out, 100), 3u);
  EXPECT_EQ(out.back(), "r1 {} \"7\"");
}

TEST(tap_point, untapped_the_hook_takes_no_slow_path) {
  component_metrics m;
  auto b = events_of({"a", "b"});
  EXPECT_FALSE(m.tap.tapped());
  m.tap.offer(b);
  EXPECT_EQ(m.tap.published(), 0u);
  auto q = std::make_shared<tap_queue>();
  m.tap.subscribe(q, "r1");
  EXPECT_TRUE(m.tap.tapped());
  m.tap.offer(b);
  EXPECT_EQ(m.tap.published(), 1u);
  EXPECT_EQ(q->size(), 2u);
  m.tap.unsubscribe(q);
  EXPECT_FALSE(m.tap.tapped());
  m.tap.offer(b);
  EXPECT_EQ(m.tap.published(), 1u);
  EXPECT_EQ(q->size(), 2u);
}

TEST(tap_point, every_tapper_gets_its_own_copy_with_its_label) {
  tap_point p;
  auto a = std::make_shared<tap_queue>();
  auto b = std::make_shared<tap_queue>(1);
  p.subscribe(a, "k1#0");
  p.subscribe(b, "k1#0");
  p.offer(events_of({"x", "y"}));
  std::vector<std::string> out;
  a->pop(out, 10);
  EXPECT_EQ(out, (std::vector<std::string>{"k1#0 {} \"x\"", "k1#0 {} \"y\""}));
  // The small queue misses one; the other did not wait for it.
  EXPECT_EQ(b->size(), 1u);
  EXPECT_EQ(b->take_missed(), 1u);
  EXPECT_EQ(a->take_missed(), 0u);
  p.unsubscribe(a);
  EXPECT_TRUE(p.tapped());
  p.unsubscribe(b);
  EXPECT_FALSE(p.tapped());
}
