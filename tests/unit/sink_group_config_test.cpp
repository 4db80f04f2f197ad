// An agent's `sink_groups:` as the loader reads and checks it.

#include <gtest/gtest.h>

#include "runtime/config/topology.hpp"
#include "tests/support/fake_components.hpp"

using namespace flumen;
using namespace flumen::test;
using strs = std::vector<std::string>;
using namespace std::chrono_literals;

namespace {

std::string agent(const std::string& groups) {
  return R"(agents:
  a1:
    sources:
      r1: {type: fake_src, port: 44444, channels: [c1, c2]}
    channels:
      c1: {type: mem}
      c2: {type: mem}
    sinks:
      k1: {type: snk, channel: c1, topic: t}
      k2: {type: snk, channel: c1, topic: t}
      k3: {type: snk, channel: c2, topic: t}
      k4: {type: snk, channel: c2, topic: t, replicas: 2}
    sink_groups:
)" + groups +
         "\n";
}

load_result load(const std::string& groups) {
  return load_topology_text(agent(groups), "t.yaml", test_registry());
}

strs errors_of(const std::string& groups) {
  strs out;
  for (const auto& e : load(groups).errors)
    out.push_back(e.to_string());
  return out;
}

} // namespace

TEST(sink_group_config, reads_failover_and_load_balance) {
  auto r = load(R"(      g1:
        sinks: [k1, k2]
        processor: {type: failover, priority: {k1: 10, k2: 5}, max_penalty: 10s}
      g2:
        sinks: [k3, k4x]
        processor: {type: load_balance, selector: random, backoff: true, max_backoff: 3s})");
  // k4x: unknown (k4 has replicas); only that error.
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "t.yaml:18:21: agents.a1.sink_groups.g2.sinks[1]: unknown sink "
            "'k4x' (did you mean 'k4'?)");
  auto& a = r.topo.agents.at(0);
  ASSERT_EQ(a.sink_groups.size(), 2u);
  auto& g1 = a.sink_groups[0];
  EXPECT_EQ(g1.type, sink_group_spec::kind::failover);
  EXPECT_EQ(g1.sinks, (strs{"k1", "k2"}));
  EXPECT_EQ(g1.priority, (std::vector<long>{10, 5}));
  EXPECT_EQ(g1.max_penalty, 10s);
  auto& g2 = a.sink_groups[1];
  EXPECT_EQ(g2.type, sink_group_spec::kind::load_balance);
  EXPECT_TRUE(g2.random);
  EXPECT_TRUE(g2.backoff);
  EXPECT_EQ(g2.max_backoff, 3s);
  EXPECT_EQ(a.sinks[0].group, "g1");
  EXPECT_EQ(a.sinks[1].group, "g1");
  EXPECT_EQ(a.sinks[2].group, "g2");
}

// Flume's defaults: max_penalty 30 s; round_robin without backoff; an
// unstated priority below every stated one, in file order.
TEST(sink_group_config, flumes_defaults) {
  auto r = load(R"(      g1:
        sinks: [k1, k2]
        processor: {type: failover, priority: {k2: 1}}
      g2:
        sinks: [k3, k1x]
        processor: {type: load_balance})");
  auto& a = r.topo.agents.at(0);
  EXPECT_EQ(a.sink_groups[0].priority, (std::vector<long>{-1, 1}));
  EXPECT_EQ(a.sink_groups[0].max_penalty, 30s);
  EXPECT_FALSE(a.sink_groups[1].random);
  EXPECT_FALSE(a.sink_groups[1].backoff);
  EXPECT_EQ(a.sink_groups[1].max_backoff, 30s);
}

TEST(sink_group_config, what_cannot_run_is_refused_where_written) {
  EXPECT_EQ(
      errors_of(R"(      g1:
        sinks: [k1, k3]
        processor: {type: failover})"),
      strs{"t.yaml:15:21: agents.a1.sink_groups.g1.sinks[1]: sink 'k3' "
           "takes from channel 'c2', sink 'k1' from 'c1': a group's sinks "
           "take from one channel"});
  EXPECT_EQ(errors_of(R"(      g1:
        sinks: [k1, k2]
        processor: {type: failover}
      g2:
        sinks: [k2, k1]
        processor: {type: load_balance})"),
            (strs{"t.yaml:18:17: agents.a1.sink_groups.g2.sinks[0]: sink 'k2' "
                  "is in sink group 'g1' already: a sink belongs to one group "
                  "at most",
                  "t.yaml:18:21: agents.a1.sink_groups.g2.sinks[1]: sink 'k1' "
                  "is in sink group 'g1' already: a sink belongs to one group "
                  "at most"}));
  EXPECT_EQ(
      errors_of(R"(      g1:
        sinks: [k3, k4]
        processor: {type: load_balance})"),
      strs{"t.yaml:15:21: agents.a1.sink_groups.g1.sinks[1]: sink 'k4' "
           "has replicas or a placement: a group's sinks run once, in the "
           "agent's process (the group shares out its channel itself)"});
  EXPECT_EQ(errors_of(R"(      g1:
        sinks: [k1]
        processor: {type: failover})"),
            strs{"t.yaml:15:16: agents.a1.sink_groups.g1.sinks: a sink group "
                 "needs two sinks at least"});
}

// One mistake, one error: a sink listed twice is said so, and its
// priority that does not parse is judged by nothing else.
TEST(sink_group_config,
     a_sink_listed_twice_and_a_bad_priority_are_one_error_each) {
  EXPECT_EQ(
      errors_of(R"(      g1:
        sinks: [k1, k1, k2]
        processor: {type: failover, priority: {k1: lots}})"),
      (strs{"t.yaml:15:21: agents.a1.sink_groups.g1.sinks[1]: sink 'k1' "
            "is listed twice",
            "t.yaml:16:52: agents.a1.sink_groups.g1.processor.priority.k1: "
            "expected an integer"}));
}

TEST(sink_group_config, mistakes_are_located) {
  EXPECT_EQ(
      errors_of(R"(      g1:
        sinks: [k1, k2]
        processor: {type: failover, priority: {k1: 5, k2: 5}})"),
      strs{"t.yaml:16:59: agents.a1.sink_groups.g1.processor.priority.k2: "
           "priority 5 is sink 'k1''s already: each needs its own"});
  EXPECT_EQ(errors_of(R"(      g1:
        sinks: [k1, k2]
        processor: {type: failover, priority: {k1: 5, k9: 1}})"),
            strs{"t.yaml:16:55: agents.a1.sink_groups.g1.processor.priority: "
                 "unknown key 'k9' (did you mean 'k1'?)"});
  EXPECT_EQ(
      errors_of(R"(      g1:
        sinks: [k1, k2]
        processor: {type: load_balance, max_penalty: 3s})"),
      strs{"t.yaml:16:54: agents.a1.sink_groups.g1.processor.max_penalty: "
           "only a failover processor has 'max_penalty'"});
  EXPECT_EQ(errors_of(R"(      g1:
        sinks: [k1, k2]
        processor: {type: failovr})"),
            strs{"t.yaml:16:27: agents.a1.sink_groups.g1.processor.type: must "
                 "be one of: failover, load_balance (did you mean "
                 "'failover'?)"});
  EXPECT_EQ(errors_of(R"(      g1:
        sinks: [k1, k2])"),
            strs{"t.yaml:15:9: agents.a1.sink_groups.g1: missing required key "
                 "'processor'"});
  EXPECT_EQ(errors_of(R"(      g1:
        sinks: [k1, k2]
        processor: {type: load_balance, selector: round_robbin})"),
            strs{"t.yaml:16:51: agents.a1.sink_groups.g1.processor.selector: "
                 "must be one of: round_robin, random (did you mean "
                 "'round_robin'?)"});
}
