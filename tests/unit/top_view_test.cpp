// `flumen top`'s table, without a terminal: rates from two samples, the
// channel's fill bar, a failed component's reason, and /stats.json as the
// endpoint writes it read back.

#include "app/top_view.hpp"
#include "runtime/http/http_endpoint.hpp"

#include <sstream>

#include <gtest/gtest.h>

using namespace flumen;

namespace {

top_component comp(std::string kind, std::string name, std::string type,
                   std::map<std::string, uint64_t> counters,
                   std::string state = "running") {
  top_component c;
  c.kind = std::move(kind);
  c.name = std::move(name);
  c.type = std::move(type);
  c.state = std::move(state);
  c.counters = std::move(counters);
  return c;
}

top_sample sample(double uptime, uint64_t received, uint64_t put,
                  uint64_t committed, uint64_t size) {
  top_sample s;
  s.agent = "a1";
  s.uptime_seconds = uptime;
  s.rss_bytes = 12 << 20;
  // Sinks first: the table still lists sources, channels, sinks.
  s.components.push_back(
      comp("sink", "k1", "null",
           {{"events_taken", committed}, {"events_committed", committed}}));
  s.components.push_back(
      comp("source", "r1", "seq",
           {{"events_received", received}, {"events_accepted", received}}));
  s.components.push_back(comp("channel", "c1", "memory",
                              {{"events_put", put},
                               {"events_committed", committed},
                               {"channel_size", size},
                               {"channel_capacity", 1000},
                               {"events_rolled_back", 7}}));
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

// The words of the row of component `name`.
std::vector<std::string> row(const std::string& text, const std::string& name) {
  for (auto& l : lines_of(text)) {
    std::istringstream in{l};
    std::vector<std::string> words;
    for (std::string w; in >> w;)
      words.push_back(w);
    if (words.size() > 1 && words[1] == name) return words;
  }
  return {};
}

} // namespace

TEST(top_view, rates_come_from_the_counters_deltas) {
  auto a = sample(10, 1000, 1000, 400, 600);
  auto b = sample(12, 3000, 2600, 2400, 200);
  auto text = render_top(b, &a, {"127.0.0.1:8686", {}, 0});
  // KIND NAME TYPE STATE IN/S OUT/S ...
  auto r1 = row(text, "r1");
  ASSERT_GE(r1.size(), 6u) << text;
  EXPECT_EQ(r1[4], "1.0k"); // (3000 - 1000) / 2 s
  EXPECT_EQ(r1[5], "1.0k");
  auto c1 = row(text, "c1");
  ASSERT_GE(c1.size(), 6u) << text;
  EXPECT_EQ(c1[4], "800");  // put: 1600 / 2 s
  EXPECT_EQ(c1[5], "1.0k"); // committed: 2000 / 2 s
  auto k1 = row(text, "k1");
  EXPECT_EQ(k1[4], "1.0k");
  // Sources, channels, sinks, whatever order the sample had.
  auto ls = lines_of(text);
  ASSERT_EQ(ls.size(), 6u) << text;
  EXPECT_TRUE(ls[3].starts_with("source")) << text;
  EXPECT_TRUE(ls[4].starts_with("channel")) << text;
  EXPECT_TRUE(ls[5].starts_with("sink")) << text;
  EXPECT_NE(ls[0].find("agent a1 at 127.0.0.1:8686"), std::string::npos);
  EXPECT_NE(ls[0].find("RSS 12.0 MiB"), std::string::npos) << ls[0];
  EXPECT_NE(ls[0].find("up 12s"), std::string::npos) << ls[0];
}

TEST(top_view, no_rate_without_a_previous_sample_or_after_a_reset) {
  auto a = sample(10, 1000, 1000, 400, 600);
  auto text = render_top(a, nullptr, {});
  EXPECT_EQ(row(text, "r1")[4], "-");
  EXPECT_EQ(row(text, "r1")[5], "-");
  // A component that counts from zero again (restarted with fresh counters,
  // reloaded) has no rate for that frame, not a huge one.
  auto b = sample(11, 10, 2000, 900, 600);
  text = render_top(b, &a, {});
  EXPECT_EQ(row(text, "r1")[4], "-");
  EXPECT_EQ(row(text, "c1")[4], "1.0k");
}

TEST(top_view, channel_fill_is_a_bar_and_a_percentage) {
  EXPECT_EQ(fill_bar(250, 1000), "[##        ]  25%");
  EXPECT_EQ(fill_bar(0, 1000), "[          ]   0%");
  EXPECT_EQ(fill_bar(1, 1000), "[#         ]   0%"); // held: never blank
  EXPECT_EQ(fill_bar(1000, 1000), "[##########] 100%");
  EXPECT_EQ(fill_bar(5, 0), "[#         ]   0%");
  EXPECT_EQ(fill_bar(3, 4, 4), "[### ]  75%");
  auto text = render_top(sample(10, 1, 1, 1, 600), nullptr, {});
  EXPECT_NE(text.find("[######    ]  60%"), std::string::npos) << text;
  // Rollbacks of the channel, in their column.
  // The bar is three words here: "[######", "]", "60%".
  auto c1 = row(text, "c1");
  ASSERT_GE(c1.size(), 10u) << text;
  EXPECT_EQ(c1[9], "7");
}

TEST(top_view, a_failed_component_shows_why) {
  auto s = sample(10, 1, 1, 1, 0);
  s.components[0].state = "failed";
  s.components[0].reason = "cannot write to /var/out:\nNo space left";
  s.components[0].counters["connection_failures"] = 2;
  s.components[0].counters["events_dropped"] = 3;
  s.components[0].counters["restarts"] = 4;
  s.components[1].reason = "shown only when not running";
  auto text = render_top(s, nullptr, {});
  auto k1 = row(text, "k1");
  // A sink has no fill: KIND NAME TYPE STATE IN OUT ROLLBACKS RESTARTS ...
  ASSERT_GE(k1.size(), 9u) << text;
  EXPECT_EQ(k1[3], "failed");
  EXPECT_EQ(k1[7], "4"); // restarts
  EXPECT_EQ(k1[8], "5"); // errors: connection failures + dropped
  // On its row, on one line.
  EXPECT_NE(text.find("cannot write to /var/out: No space left"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("shown only when not running"), std::string::npos);
}

TEST(top_view, placement_and_unreachable_are_shown_and_lines_fit) {
  auto s = sample(10, 1, 1, 1, 0);
  s.components[0].placement = "node n1 (10.0.0.5:4700)";
  auto text = render_top(s, nullptr, {"h:1", "12:03:04", 0});
  EXPECT_NE(text.find("on node n1 (10.0.0.5:4700)"), std::string::npos);
  EXPECT_NE(text.find("UNREACHABLE since 12:03:04"), std::string::npos);
  text = render_top(s, nullptr, {"h:1", {}, 40});
  for (auto& l : lines_of(text))
    EXPECT_LE(l.size(), 40u) << l;
}

// A sink group's member says whether it takes, or how long it is still
// passed over; a sink in no group says nothing of groups.
TEST(top_view, a_sink_groups_members_show_active_standby_or_penalty) {
  auto s = sample(10, 1, 1, 1, 0);
  s.components[0].counters["group_active"] = 1;
  s.components[0].counters["group_penalty_ms"] = 0;
  EXPECT_NE(render_top(s, nullptr, {}).find("group: active"),
            std::string::npos);
  s.components[0].counters["group_active"] = 0;
  s.components[0].counters["group_penalty_ms"] = 3200;
  EXPECT_NE(render_top(s, nullptr, {}).find("group: penalty 3.2 s"),
            std::string::npos);
  s.components[0].counters["group_penalty_ms"] = 0;
  EXPECT_NE(render_top(s, nullptr, {}).find("group: standby"),
            std::string::npos);
  s.components[0].counters.erase("group_active");
  EXPECT_EQ(render_top(s, nullptr, {}).find("group:"), std::string::npos);
}

TEST(top_view, human_rates) {
  EXPECT_EQ(human_rate(0), "0");
  EXPECT_EQ(human_rate(2.5), "2.5");
  EXPECT_EQ(human_rate(950), "950");
  EXPECT_EQ(human_rate(12345), "12.3k");
  EXPECT_EQ(human_rate(4.1e6), "4.1M");
}

TEST(top_view, reads_the_endpoints_stats_json) {
  metrics_registry reg;
  auto r = reg.get("a1.sources.r1", "source", "netcat");
  r->events_received = 42;
  r->set_state(component_state::running);
  auto k = reg.get("a1.sinks.k1#0", "sink", "hop");
  k->set_state(component_state::backing_off, "peer refused");
  process_stats p{8 << 20, 9, 3.5};
  std::string why;
  auto s = parse_stats(stats_json("a1", reg, p), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->agent, "a1");
  EXPECT_EQ(s->uptime_seconds, 3.5);
  EXPECT_EQ(s->rss_bytes, 8u << 20);
  ASSERT_EQ(s->components.size(), 2u);
  EXPECT_EQ(s->components[1].name, "r1");
  EXPECT_EQ(s->components[1].counter("events_received"), 42u);
  EXPECT_EQ(s->components[0].name, "k1#0");
  EXPECT_EQ(s->components[0].reason, "peer refused");
  EXPECT_FALSE(parse_stats("{\"not\": \"stats\"}", &why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(parse_stats("<html>", &why));
}
