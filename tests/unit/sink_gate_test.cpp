// A sink group's gate (runtime/flow/sink_gate) on a clock of our own:
// failover picks the highest-priority sink that can work and passes over
// a failed one for its doubling penalty; load_balance takes turns among
// the members ready to take.

#include <gtest/gtest.h>

#include "runtime/flow/sink_gate.hpp"

using namespace flumen;
using namespace std::chrono_literals;

namespace {

struct sink_gate_test : ::testing::Test {
  sink_gate::clock::time_point t0 = sink_gate::clock::now();
  std::vector<std::shared_ptr<component_metrics>> m;

  std::unique_ptr<sink_gate> make(sink_group_spec g) {
    auto gate = std::make_unique<sink_gate>(g);
    for (std::size_t i = 0; i < g.sinks.size(); ++i) {
      m.push_back(std::make_shared<component_metrics>());
      m.back()->name = "a1.sinks." + g.sinks[i];
      m.back()->set_state(component_state::running);
      gate->attach(i, m.back());
    }
    return gate;
  }

  static sink_group_spec failover() {
    sink_group_spec g;
    g.name = "g1";
    g.sinks = {"k_backup", "k_primary"};
    g.priority = {5, 10};
    g.max_penalty = 30s;
    return g;
  }

  static sink_group_spec balance(bool backoff = false) {
    sink_group_spec g;
    g.name = "g2";
    g.type = sink_group_spec::kind::load_balance;
    g.sinks = {"k3", "k4", "k5"};
    g.backoff = backoff;
    g.max_backoff = 4s;
    return g;
  }

  bool may(sink_gate& g, std::size_t i, std::chrono::milliseconds at,
           std::chrono::milliseconds* recheck = nullptr) {
    std::chrono::milliseconds r{0};
    auto ok = g.may_take(i, t0 + at, caf::actor{}, r);
    if (recheck) *recheck = r;
    return ok;
  }
};

} // namespace

TEST_F(sink_gate_test, failover_takes_from_the_highest_priority_only) {
  auto g = make(failover());
  EXPECT_TRUE(may(*g, 1, 0ms));  // k_primary: 10
  EXPECT_FALSE(may(*g, 0, 0ms)); // k_backup: 5
  EXPECT_EQ(m[1]->value("group_active"), 1u);
  EXPECT_EQ(m[0]->value("group_active"), 0u);
}

// A failed batch: the next one takes; the preferred one returns after its
// penalty (1 s, then 2 s, 4 s ... up to max_penalty), and a success
// forgets its failures.
TEST_F(sink_gate_test, failover_penalty_doubles_and_the_preferred_returns) {
  auto g = make(failover());
  g->failed(1, t0);
  std::chrono::milliseconds recheck{0};
  EXPECT_FALSE(may(*g, 1, 10ms));
  EXPECT_TRUE(may(*g, 0, 10ms, &recheck));
  EXPECT_EQ(m[1]->value("group_penalty_ms"), 990u);
  EXPECT_FALSE(may(*g, 0, 999ms, &recheck) && may(*g, 1, 999ms));
  EXPECT_TRUE(may(*g, 1, 1000ms));
  EXPECT_FALSE(may(*g, 0, 1000ms, &recheck));
  EXPECT_EQ(recheck, 500ms); // no penalty running: the state poll
  g->failed(1, t0 + 1000ms); // again: 2 s
  EXPECT_FALSE(may(*g, 1, 2999ms));
  EXPECT_FALSE(may(*g, 0, 2999ms) == false);
  EXPECT_TRUE(may(*g, 1, 3000ms));
  g->succeeded(1, t0 + 3000ms);
  g->failed(1, t0 + 4000ms); // forgotten: 1 s again
  EXPECT_TRUE(may(*g, 1, 5000ms));
}

TEST_F(sink_gate_test, failover_penalty_is_capped_by_max_penalty) {
  auto spec = failover();
  spec.max_penalty = 3s;
  auto g = make(spec);
  for (int i = 0; i < 10; ++i)
    g->failed(1, t0);
  EXPECT_FALSE(may(*g, 1, 2999ms));
  EXPECT_TRUE(may(*g, 1, 3000ms));
}

// A sink that cannot work (still connecting, restarting, failed) is passed
// over; a degraded one is penalised as if it had failed a batch.
TEST_F(sink_gate_test, failover_passes_over_a_sink_that_cannot_work) {
  auto g = make(failover());
  for (auto s : {component_state::connecting, component_state::backing_off,
                 component_state::failed}) {
    m[1]->set_state(s);
    EXPECT_FALSE(may(*g, 1, 0ms)) << to_string(s);
    EXPECT_TRUE(may(*g, 0, 0ms)) << to_string(s);
  }
  m[1]->set_state(component_state::degraded);
  EXPECT_TRUE(may(*g, 0, 0ms));
  EXPECT_FALSE(may(*g, 1, 500ms)); // penalised when seen: 1 s
  EXPECT_TRUE(may(*g, 1, 1000ms)); // then it may try
  m[1]->set_state(component_state::running);
  EXPECT_TRUE(may(*g, 1, 1000ms));
  // Nobody can work: nobody takes.
  m[0]->set_state(component_state::connecting);
  m[1]->set_state(component_state::connecting);
  EXPECT_FALSE(may(*g, 0, 2000ms));
  EXPECT_FALSE(may(*g, 1, 2000ms));
}

// Round robin: one take at a time in the group; when it is answered the
// turn moves on, and the first member from the turn that is waiting takes
// next. A member busy elsewhere (not asking) is skipped after a while.
TEST_F(sink_gate_test, load_balance_goes_round_among_members_ready_to_take) {
  auto g = make(balance());
  EXPECT_TRUE(may(*g, 0, 0ms));
  EXPECT_FALSE(may(*g, 1, 0ms)); // 0 is taking: 1 and 2 wait
  EXPECT_FALSE(may(*g, 2, 0ms));
  g->took(0, 10);                // turn: 1
  EXPECT_FALSE(may(*g, 2, 1ms)); // 1 waits before it
  EXPECT_TRUE(may(*g, 1, 1ms));
  EXPECT_FALSE(may(*g, 0, 1ms)); // 1 is taking
  g->took(1, 10);                // turn: 2
  EXPECT_FALSE(may(*g, 0, 2ms));
  EXPECT_TRUE(may(*g, 2, 2ms));
  g->took(2, 0); // an empty take moves the turn too: 0
  EXPECT_FALSE(may(*g, 1, 3ms));
  EXPECT_TRUE(may(*g, 0, 3ms));
  g->took(0, 10); // turn: 1, waiting since 3 ms
  EXPECT_FALSE(may(*g, 2, 4ms));
  // 1 stopped asking (its window is full): after 2 s it is skipped.
  EXPECT_TRUE(may(*g, 2, 2004ms));
  g->took(2, 10);
  // A take never answered (its sink died) holds the group 5 s at most.
  EXPECT_TRUE(may(*g, 0, 2005ms));
  EXPECT_FALSE(may(*g, 1, 7004ms));
  EXPECT_TRUE(may(*g, 1, 7005ms));
}

TEST_F(sink_gate_test, load_balance_backoff_passes_over_a_failing_member) {
  auto g = make(balance(true));
  g->failed(0, t0);
  EXPECT_FALSE(may(*g, 0, 10ms));
  EXPECT_TRUE(may(*g, 1, 10ms));
  g->took(1, 10);
  EXPECT_TRUE(may(*g, 2, 11ms));
  g->took(2, 10);
  EXPECT_TRUE(may(*g, 1, 12ms)); // 0's turn, but it is backing off
  g->took(1, 10);
  EXPECT_TRUE(may(*g, 0, 1010ms));
  // Without backoff a failure passes nothing over.
  auto plain = make(balance(false));
  plain->failed(0, t0);
  EXPECT_TRUE(may(*plain, 0, 10ms));
}

TEST_F(sink_gate_test, load_balance_random_spreads_over_every_member) {
  auto spec = balance();
  spec.random = true;
  auto g = make(spec);
  std::vector<int> got(3);
  std::chrono::milliseconds now{0};
  for (int round = 0; round < 300; ++round) {
    now += 1ms;
    // Everyone asks; the one whose turn it is takes, the others wait.
    std::size_t winner = 3;
    for (std::size_t i = 0; i < 3; ++i)
      if (may(*g, i, now) && winner == 3) winner = i;
    ASSERT_LT(winner, 3u);
    ++got[winner];
    g->took(winner, 10);
  }
  for (auto n : got)
    EXPECT_GT(n, 50);
}
