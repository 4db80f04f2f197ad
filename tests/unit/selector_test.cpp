// Channel selectors in the router (Flume's replicating and multiplexing):
// each event goes to the channels its header value chooses, in order per
// channel; optional channels never hold or fail a batch; an event sent
// nowhere is counted filtered.

#include <future>

#include "runtime/flow/router.hpp"
#include "runtime/flow/source_pump.hpp"

#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;
using strs = std::vector<std::string>;

namespace {

event in(std::string body, std::string region) {
  if (region.empty()) return make_event(std::move(body));
  return make_event(std::move(body), {{"region", std::move(region)}});
}

struct selector_test : actor_test {
  std::vector<std::string> names{"c_eu", "c_us", "c_other", "c_audit"};
  std::vector<caf::actor> chans;

  void SetUp() override {
    for (auto& n : names)
      chans.push_back(channel(channel_config(100, 100), n));
  }

  caf::actor router(selector_spec sel) {
    route r;
    r.channels = chans;
    r.names = names;
    r.selector = std::move(sel);
    for (auto& n : names)
      r.channel_metrics.push_back(metrics_of("channels", n, "memory"));
    return track(spawn_router(sys, std::make_shared<route_table>(std::move(r)),
                              metrics_of("sources", "r1", "seq")));
  }

  static selector_spec issue_example() {
    selector_spec s;
    s.type = selector_spec::kind::multiplexing;
    s.header = "region";
    s.mapping = {{"eu", {"c_eu"}}, {"us", {"c_us"}}};
    s.default_channels = {"c_other"};
    s.optional = {{"eu", {"c_audit"}}};
    return s;
  }

  strs bodies_in(std::size_t i, std::size_t n) {
    return bodies(drain(self, chans[i], n));
  }
  uint64_t put_into(std::size_t i) {
    return metrics_of("channels", names[i], "memory")->events_put.load();
  }
};

} // namespace

// The issue's example: eu to c_eu (and a copy to c_audit), us to c_us,
// anything else, or no header, to c_other; each channel in batch order.
TEST_F(selector_test, multiplexing_splits_a_batch_by_header_value_in_order) {
  auto r = router(issue_example());
  ASSERT_FALSE(put(self, r,
                   {in("1", "eu"), in("2", "us"), in("3", "fr"), in("4", ""),
                    in("5", "eu"), in("6", "us"), in("7", " ")}));
  EXPECT_EQ(bodies_in(0, 2), (strs{"1", "5"}));
  EXPECT_EQ(bodies_in(1, 2), (strs{"2", "6"}));
  EXPECT_EQ(bodies_in(2, 3), (strs{"3", "4", "7"})); // blank: no value
  ASSERT_TRUE(wait_until([&] { return put_into(3) == 2; }));
  EXPECT_EQ(bodies_in(3, 2), (strs{"1", "5"}));
}

// Flume's rule: a header value is matched as it is (case and all).
TEST_F(selector_test, a_value_is_matched_exactly) {
  auto r = router(issue_example());
  ASSERT_FALSE(put(self, r, {in("1", "EU"), in("2", "eu ")}));
  EXPECT_EQ(bodies_in(2, 2), (strs{"1", "2"}));
  EXPECT_EQ(put_into(0), 0u);
}

// A required channel that is full holds the batch (back-pressure, as
// today); a full optional one does not: its part is refused at once
// (a try_put), counted optional_failed on that channel, and the batch is
// answered.
TEST_F(selector_test, a_full_optional_channel_never_holds_the_batch) {
  chans[3] = channel(channel_config(2, 2), "c_audit");
  auto r = router(issue_example());
  ASSERT_FALSE(put(self, r, {in("1", "eu"), in("2", "eu")})); // fills c_audit
  ASSERT_TRUE(wait_until([&] { return put_into(3) == 2; }));
  ASSERT_FALSE(put(self, r, {in("3", "eu")}));
  ASSERT_FALSE(put(self, r, {in("4", "eu"), in("5", "eu")}));
  auto audit = metrics_of("channels", "c_audit", "memory");
  EXPECT_TRUE(wait_until([&] { return audit->value("optional_failed") == 3; }))
      << audit->summary();
  EXPECT_EQ(bodies_in(0, 5), (strs{"1", "2", "3", "4", "5"}));
  // Room again: later parts go in; the refused ones are gone from it.
  EXPECT_EQ(bodies_in(3, 2), (strs{"1", "2"}));
  ASSERT_FALSE(put(self, r, {in("6", "eu")}));
  EXPECT_EQ(bodies_in(3, 1), (strs{"6"}));
  EXPECT_EQ(audit->value("optional_failed"), 3u);
}

// An optional channel with room gets every part, however fast batches
// come (no part waits for the one before it).
TEST_F(selector_test, an_optional_channel_with_room_gets_every_part) {
  auto r = router(issue_example());
  for (int i = 0; i < 90; ++i)
    self->send(r, put_atom::value, batch{in(std::to_string(i), "eu")});
  for (int i = 0; i < 90; ++i)
    ASSERT_TRUE(ok_within(self, 5s));
  ASSERT_TRUE(wait_until([&] { return put_into(3) == 90; }));
  EXPECT_EQ(
      metrics_of("channels", "c_audit", "memory")->value("optional_failed"),
      0u);
}

// A full required channel still holds the batch.
TEST_F(selector_test, a_full_required_channel_holds_the_batch) {
  chans[0] = channel(channel_config(1, 1), "c_eu");
  auto r = router(issue_example());
  ASSERT_FALSE(put(self, r, {in("1", "eu")}));
  self->send(r, put_atom::value, batch{in("2", "eu"), in("3", "us")});
  ASSERT_TRUE(wait_until([&] { return put_into(1) == 1; }));
  round_trip(self, r, true);
  round_trip(self, chans[0]);
  EXPECT_FALSE(ok_already(self));
  EXPECT_EQ(bodies_in(0, 1), (strs{"1"}));
  EXPECT_TRUE(ok_within(self, 5s));
  EXPECT_EQ(bodies_in(0, 1), (strs{"2"}));
}

// No default: an unmapped value goes nowhere, and the source counts it
// filtered (received = accepted + filtered).
TEST_F(selector_test, an_event_sent_nowhere_is_counted_filtered) {
  auto sel = issue_example();
  sel.default_channels.clear();
  auto r = router(sel);
  auto m = metrics_of("sources", "r1", "probe");
  auto done = std::make_shared<std::promise<void>>();
  track(spawn_source(
      sys,
      [done](source_pump& pump) {
        auto last = pump.emit_numbered(
            {in("1", "eu"), in("2", "fr"), in("3", ""), in("4", "us")});
        pump.wait_accepted(last);
        done->set_value();
      },
      r, m, 4));
  ASSERT_EQ(done->get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(m->events_received.load(), 4u);
  EXPECT_EQ(m->events_accepted.load(), 2u);
  EXPECT_EQ(m->events_filtered.load(), 2u);
  EXPECT_EQ(bodies_in(0, 1), (strs{"1"}));
  EXPECT_EQ(bodies_in(1, 1), (strs{"4"}));
  EXPECT_EQ(put_into(2), 0u);
}

// Replicating with optional channels: every channel gets every event; the
// optional one is best effort.
TEST_F(selector_test, replicating_puts_everywhere_optional_ones_best_effort) {
  chans[3] = channel(channel_config(2, 2), "c_audit");
  selector_spec sel;
  sel.optional = {{"", {"c_audit"}}};
  auto r = router(sel);
  ASSERT_FALSE(put(self, r, {in("1", ""), in("2", "")}));
  ASSERT_FALSE(put(self, r, {in("3", "")})); // c_audit is full
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(bodies_in(i, 3), (strs{"1", "2", "3"})) << names[i];
  EXPECT_EQ(bodies_in(3, 2), (strs{"1", "2"}));
  auto audit = metrics_of("channels", "c_audit", "memory");
  EXPECT_TRUE(wait_until([&] { return audit->value("optional_failed") == 1; }));
}

// A channel both required and optional for a value is required (Flume).
TEST_F(selector_test, required_wins_over_optional_for_the_same_value) {
  chans[0] = channel(channel_config(1, 1), "c_eu");
  auto sel = issue_example();
  sel.optional = {{"eu", {"c_eu", "c_audit"}}};
  auto r = router(sel);
  ASSERT_FALSE(put(self, r, {in("1", "eu")}));
  // Full now: a required c_eu holds the next batch.
  self->send(r, put_atom::value, batch{in("2", "eu")});
  round_trip(self, r, true);
  round_trip(self, chans[0]);
  EXPECT_FALSE(ok_already(self));
  EXPECT_EQ(bodies_in(0, 1), (strs{"1"}));
  EXPECT_TRUE(ok_within(self, 5s));
}

// Flume: "If there is no required channels for a header, then the event
// will be written to the default channels and will attempt to be written
// to the optional channels for that header." With no default either, an
// event of such a value goes to its optional channels only: one taken by
// none of them (all full) is dropped by that policy and counted `dropped`
// by its source, never `accepted` (received = accepted + filtered +
// dropped); one taken by any of them is accepted.
TEST_F(selector_test, an_event_only_optional_channels_all_refuse_is_dropped) {
  chans[3] = channel(channel_config(2, 2), "c_audit");
  auto sel = issue_example();
  sel.default_channels.clear();
  sel.optional = {{"fr", {"c_audit"}}};
  auto r = router(sel);
  auto m = metrics_of("sources", "r1", "probe");
  auto done = std::make_shared<std::promise<void>>();
  track(spawn_source(
      sys,
      [done](source_pump& pump) {
        // c_audit (capacity 2) takes "2" and "3"; the next batch's "4"
        // and "6" find it full (a part goes in whole or not at all).
        pump.wait_accepted(
            pump.emit_numbered({in("1", "eu"), in("2", "fr"), in("3", "fr")}));
        pump.wait_accepted(
            pump.emit_numbered({in("4", "fr"), in("5", "us"), in("6", "fr")}));
        done->set_value();
      },
      r, m, 6));
  ASSERT_EQ(done->get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(m->events_received.load(), 6u);
  EXPECT_EQ(m->events_accepted.load(), 4u) << m->summary();
  EXPECT_EQ(m->events_dropped.load(), 2u) << m->summary();
  EXPECT_EQ(m->events_filtered.load(), 0u);
  EXPECT_EQ(bodies_in(3, 2), (strs{"2", "3"}));
  EXPECT_EQ(bodies_in(0, 1), (strs{"1"}));
  EXPECT_EQ(bodies_in(1, 1), (strs{"5"}));
  auto audit = metrics_of("channels", "c_audit", "memory");
  EXPECT_EQ(audit->value("optional_failed"), 2u);
}
