// The seq source (and what every source does when its channel goes): into
// a real memory channel, taken back by the test.

#include "actors/sources/seq.hpp"

#include "tests/unit/source_test.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

} // namespace

TEST_F(source_test, seq_puts_every_event_in_order_and_stops) {
  auto ch = channel(channel_config(10000, 1000));
  seq_config cfg;
  cfg.count = 2500;
  cfg.batch_size = 1000;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto m = registry_.find("a1.sources.r1");
  auto events = drain(self, ch, 2500);
  ASSERT_EQ(events.size(), 2500u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].body, std::to_string(i));
    ASSERT_EQ(header(events[i], "seq"), std::to_string(i));
  }
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->events_received.load(), 2500u);
  EXPECT_EQ(m->events_accepted.load(), 2500u);
  EXPECT_EQ(m->batches.load(), 3u); // 1000 + 1000 + 500
  EXPECT_TRUE(stop(src)) << "a finished source answers stop at once";
  auto t = take(self, ch, 10); // nothing more comes
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->events.empty());
}

TEST_F(source_test, seq_pads_bodies_to_body_size_and_starts_at_start) {
  auto ch = channel(channel_config(100, 100));
  seq_config cfg;
  cfg.count = 3;
  cfg.start = 9;
  cfg.body_size = 6;
  track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto events = drain(self, ch, 3);
  EXPECT_EQ(bodies(events), (strs{"9.....", "10....", "11...."}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(header(events[2], "seq"), "11");
}

TEST_F(source_test, seq_batches_above_transaction_capacity_all_arrive) {
  // transaction_capacity 5 and batches of 10: every batch goes in whole
  // (the channel admits it in pieces), none is dropped.
  auto ch = channel(channel_config(100, 5));
  seq_config cfg;
  cfg.count = 13;
  cfg.batch_size = 10;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->events_received.load(), 13u);
  EXPECT_EQ(m->events_dropped.load(), 0u);
  EXPECT_EQ(m->events_accepted.load(), 13u);
  auto all = drain(self, ch, 13);
  ASSERT_EQ(all.size(), 13u);
  EXPECT_EQ(all.front().body, "0");
  EXPECT_EQ(all.back().body, "12");
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, a_source_goes_down_with_its_downstream) {
  auto ch = channel(channel_config(100, 100));
  seq_config cfg;
  cfg.count = 0; // no end
  cfg.rate = 100;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  self->monitor(src);
  caf::anon_send_exit(ch, caf::exit_reason::kill);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(5s) >> [] {});
  ASSERT_TRUE(reason) << "a source without its channel must not run on";
  // Either the down message or a failed put comes first: both are errors.
  EXPECT_TRUE(*reason) << "not a normal exit";
  EXPECT_NE(*reason, caf::exit_reason::normal);
}

TEST_F(source_test, parse_seq_reads_options) {
  error_list errors;
  auto node = YAML::Load("count: 5\nstart: 2\nrate: 100\nbody_size: 10\n"
                         "batch_size: 7\nmax_inflight: 0\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_seq(r);
  r.finish();
  EXPECT_EQ(cfg.count, 5u);
  EXPECT_EQ(cfg.start, 2u);
  EXPECT_EQ(cfg.rate, 100u);
  EXPECT_EQ(cfg.body_size, 10u);
  EXPECT_EQ(cfg.batch_size, 7u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:6:15: agents.a1.sources.r1.max_inflight: must be at "
            "least 1");
}
