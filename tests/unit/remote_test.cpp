// The channel protocol across two actor systems (CAF 0.17 drops unregistered
// types on the network silently, so every message is checked here).

#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

/// System A hosts a published memory channel; system B reaches it over the
/// middleman on loopback.
class remote_test : public ::testing::Test {
protected:
  void SetUp() override {
    channels::memory_config cfg;
    cfg.capacity = 100;
    cfg.transaction_capacity = 100;
    cfg.keep_alive = 100ms;
    wiring w;
    w.agent = "a1";
    w.name = "c1";
    w.metrics = metrics.get("a1.channels.c1", "channel", "memory");
    m = w.metrics;
    local = channels::spawn_memory(sys_a, cfg, w);
    auto port = sys_a.middleman().publish(local, 0, "127.0.0.1", true);
    ASSERT_TRUE(port) << sys_a.render(port.error());
    auto proxy = sys_b.middleman().remote_actor("127.0.0.1", *port);
    ASSERT_TRUE(proxy) << sys_b.render(proxy.error());
    remote = *proxy;
  }

  void TearDown() override {
    if (local) caf::anon_send_exit(local, caf::exit_reason::kill);
  }

  flumen_config cfg_a;
  caf::actor_system sys_a{cfg_a};
  flumen_config cfg_b;
  caf::actor_system sys_b{cfg_b};
  caf::scoped_actor self{sys_b};
  metrics_registry metrics;
  std::shared_ptr<component_metrics> m;
  caf::actor local;                 ///< the channel, in A
  caf::actor remote;                ///< its proxy, in B
  std::vector<caf::actor> b_actors; ///< killed at the end
};

/// Events with headers and binary bodies (NUL bytes included).
batch binary_events() {
  return {make_event(std::string{"\0a\0b", 4}, {{"k", "v"}, {"empty", ""}}),
          make_event(std::string{"\xff\x00\n", 3}),
          make_event("", {{"only", "headers"}})};
}

} // namespace

TEST_F(remote_test, put_take_rollback_take_commit) {
  ASSERT_TRUE(remote);
  auto sent = binary_events();
  ASSERT_FALSE(put(self, remote, sent));
  EXPECT_EQ(m->events_put.load(), 3u);
  auto t1 = take(self, remote, 10);
  ASSERT_TRUE(t1) << sys_b.render(t1.error());
  EXPECT_NE(t1->id, 0u);
  EXPECT_EQ(t1->events, sent);
  ASSERT_EQ(t1->events.size(), 3u);
  EXPECT_EQ(t1->events[0].body.size(), 4u);
  ASSERT_FALSE(rollback(self, remote, t1->id));
  EXPECT_EQ(m->events_rolled_back.load(), 3u);
  auto t2 = take(self, remote, 10);
  ASSERT_TRUE(t2);
  EXPECT_NE(t2->id, t1->id);
  EXPECT_EQ(t2->events, sent);
  ASSERT_FALSE(commit(self, remote, t2->id));
  EXPECT_EQ(m->events_committed.load(), 3u);
  EXPECT_EQ(m->channel_size.load(), 0u);
}

TEST_F(remote_test, errors_arrive_as_errors) {
  ASSERT_TRUE(remote);
  auto err = commit(self, remote, 4711);
  EXPECT_TRUE(is(err, errc::unknown_transaction)) << sys_b.render(err);
  EXPECT_NE(sys_b.render(err).find("unknown_transaction"), std::string::npos)
      << sys_b.render(err);
  EXPECT_NE(sys_b.render(err).find("4711"), std::string::npos)
      << "the context travels too: " << sys_b.render(err);
}

TEST_F(remote_test, an_empty_take_times_out_empty) {
  ASSERT_TRUE(remote);
  auto t = take(self, remote, 10);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, 0u);
  EXPECT_TRUE(t->events.empty());
}

TEST_F(remote_test, a_held_put_is_answered_over_the_network) {
  ASSERT_TRUE(remote);
  ASSERT_FALSE(put(self, remote, numbered(0, 100)));
  self->send(remote, put_atom::value, numbered(100, 1));
  // The channel handled the put before it answers the round trip, and its
  // messages to us come in order over the one connection.
  round_trip(self, remote);
  EXPECT_FALSE(ok_already(self));
  auto t = take(self, remote, 100);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, remote, t->id));
  EXPECT_TRUE(ok_within(self, 5s));
}

TEST_F(remote_test, a_dead_remote_takers_transaction_rolls_back) {
  ASSERT_TRUE(remote);
  ASSERT_FALSE(put(self, remote, numbered(0, 4)));
  auto taker = b_actors.emplace_back(sys_b.spawn(
      holding_taker, remote, uint32_t{100}, caf::actor_cast<caf::actor>(self)));
  std::optional<taken> held;
  self->receive(
      [&](txn_id id, batch& events) {
        held = taken{id, events};
      },
      caf::after(5s) >> [] {});
  ASSERT_TRUE(held);
  EXPECT_EQ(held->events, numbered(0, 4));
  EXPECT_TRUE(reaches(m->open_transactions, 1u)) << m->open_transactions.load();
  caf::anon_send_exit(taker, caf::exit_reason::kill);
  ASSERT_TRUE(wait_until([&] { return m->events_rolled_back.load() == 4; }))
      << "the down message crossed the network";
  EXPECT_TRUE(reaches(m->open_transactions, 0u)) << m->open_transactions.load();
  auto again = take(self, remote, 100);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->events, numbered(0, 4));
  ASSERT_FALSE(commit(self, remote, again->id));
}
