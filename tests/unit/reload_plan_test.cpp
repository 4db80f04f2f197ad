// plan_reload: what a reload does to each component, decided from the two
// specs alone (runtime/agent/reload_plan.hpp). The executor's behaviour
// under load is in reload_test (agent) and tests/e2e/reload.sh.

#include "runtime/agent/reload_plan.hpp"

#include <gtest/gtest.h>

#include "actors/builtin.hpp"

namespace flumen {
namespace {

using action = reload_action;

agent_spec load(const std::string& yaml) {
  registry reg;
  register_builtin(reg);
  auto result =
      load_topology_text(yaml, "plan.yaml", reg, probe_scope{false, {}});
  for (auto& e : result.errors)
    ADD_FAILURE() << e.to_string();
  EXPECT_EQ(result.topo.agents.size(), 1u);
  return result.topo.agents.empty() ? agent_spec{} : result.topo.agents[0];
}

const std::string base = R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: 10, channels: [c1]}
      r2: {type: seq, count: 10, channels: [c2]}
    channels:
      c1: {type: memory, capacity: 100}
      c2: {type: memory, capacity: 100}
    sinks:
      k1: {type: "null", channel: c1}
      k2: {type: "null", channel: c2}
)";

auto never_durable = [](const std::string&) { return false; };

TEST(reload_plan, the_same_file_keeps_everything) {
  auto old = load(base);
  auto p = plan_reload(old, old, never_durable);
  EXPECT_TRUE(p.refused.empty());
  EXPECT_EQ(p.kept(), 6u);
  EXPECT_TRUE(p.channels_to_start.empty());
  EXPECT_TRUE(p.channels_to_drain.empty());
  for (auto* kind : {&p.channels, &p.sources, &p.sinks})
    for (auto& [name, a] : *kind)
      EXPECT_EQ(a, action::keep) << name;
}

TEST(reload_plan, a_source_given_another_channel_is_rerouted_not_restarted) {
  auto old = load(base);
  auto text = base;
  text.replace(text.find("channels: [c1]"), 14, "channels: [c1, c2]");
  auto p = plan_reload(old, load(text), never_durable);
  EXPECT_EQ(p.sources.at("r1"), action::reroute);
  EXPECT_EQ(p.sources.at("r2"), action::keep);
  EXPECT_EQ(p.channels.at("c1"), action::keep);
  EXPECT_EQ(p.kept(), 6u); // a rerouted source keeps running
}

// A selector is the router's, as channels and interceptors are: a new
// one reroutes the source, which keeps running.
TEST(reload_plan, a_source_given_a_selector_is_rerouted_not_restarted) {
  auto old = load(base);
  auto text = base;
  text.replace(text.find("channels: [c1]"), 14,
               "channels: [c1, c2], selector: {type: multiplexing, header: "
               "r, mapping: {x: c2}, default: c1}");
  auto p = plan_reload(old, load(text), never_durable);
  EXPECT_EQ(p.sources.at("r1"), action::reroute);
  EXPECT_EQ(p.sources.at("r2"), action::keep);
  EXPECT_EQ(p.kept(), 6u);
}

// A sink group that changes restarts its sinks (with the new group); the
// others keep running.
TEST(reload_plan, a_changed_sink_group_restarts_its_sinks) {
  auto grouped = base;
  const std::string k2 = "k2: {type: \"null\", channel: c2}";
  grouped.replace(grouped.find(k2), k2.size(),
                  "k2: {type: \"null\", channel: c2}\n      k3: {type: "
                  "\"null\", channel: c2}\n    sink_groups:\n      g1: "
                  "{sinks: [k2, k3], processor: {type: failover}}");
  auto old = load(grouped);
  auto p = plan_reload(old, old, never_durable);
  EXPECT_EQ(p.sinks.at("k2"), action::keep);
  auto text = grouped;
  text.replace(text.find("type: failover"), 14, "type: load_balance");
  p = plan_reload(old, load(text), never_durable);
  EXPECT_EQ(p.sinks.at("k2"), action::restart);
  EXPECT_EQ(p.sinks.at("k3"), action::restart);
  EXPECT_EQ(p.sinks.at("k1"), action::keep);
}

TEST(reload_plan, a_changed_source_restarts_alone) {
  auto old = load(base);
  auto text = base;
  text.replace(text.find("count: 10, channels: [c1]"), 9, "count: 20");
  auto p = plan_reload(old, load(text), never_durable);
  EXPECT_EQ(p.sources.at("r1"), action::restart);
  EXPECT_EQ(p.sources.at("r2"), action::keep);
  EXPECT_EQ(p.sinks.at("k1"), action::keep);
  EXPECT_EQ(p.kept(), 5u);
}

TEST(
    reload_plan,
    a_changed_memory_channel_is_replaced_and_drained_with_its_neighbours_following) {
  auto old = load(base);
  auto text = base;
  text.replace(text.find("c1: {type: memory, capacity: 100}"), 33,
               "c1: {type: memory, capacity: 200}");
  auto p = plan_reload(old, load(text), never_durable);
  EXPECT_EQ(p.channels.at("c1"), action::restart);
  EXPECT_EQ(p.channels_to_start, std::vector<std::string>{"c1"});
  // The old instance drains (what is left at the timeout moves into the
  // new one); its source gets the new channel, its sink restarts on it.
  EXPECT_EQ(p.channels_to_drain, std::vector<std::string>{"c1"});
  EXPECT_EQ(p.sources.at("r1"), action::reroute);
  EXPECT_EQ(p.sinks.at("k1"), action::restart);
  EXPECT_EQ(p.channels.at("c2"), action::keep);
  EXPECT_EQ(p.sinks.at("k2"), action::keep);
}

TEST(reload_plan, a_removed_channel_drains_and_its_sink_goes) {
  auto old = load(base);
  auto next = load(R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: 10, channels: [c2]}
      r2: {type: seq, count: 10, channels: [c2]}
    channels:
      c2: {type: memory, capacity: 100}
    sinks:
      k2: {type: "null", channel: c2}
)");
  auto p = plan_reload(old, next, never_durable);
  EXPECT_EQ(p.channels.at("c1"), action::remove);
  EXPECT_EQ(p.channels_to_drain, std::vector<std::string>{"c1"});
  EXPECT_EQ(p.sinks.at("k1"), action::remove);
  EXPECT_EQ(p.sources.at("r1"), action::reroute);
  EXPECT_EQ(p.kept(), 4u);
}

TEST(reload_plan, added_components_start_and_nothing_else_moves) {
  auto old = load(base);
  auto text = base + R"(      k3: {type: "null", channel: c3}
)";
  text.replace(text.find("    sinks:"), 10,
               "      c3: {type: memory}\n    sinks:");
  text.replace(text.find("    channels:\n"), 14,
               "      r3: {type: seq, count: 1, channels: [c3]}\n"
               "    channels:\n");
  auto p = plan_reload(old, load(text), never_durable);
  EXPECT_EQ(p.channels.at("c3"), action::add);
  EXPECT_EQ(p.sources.at("r3"), action::add);
  EXPECT_EQ(p.sinks.at("k3"), action::add);
  EXPECT_EQ(p.channels_to_start, std::vector<std::string>{"c3"});
  EXPECT_TRUE(p.channels_to_drain.empty());
  EXPECT_EQ(p.kept(), 6u);
}

TEST(reload_plan, a_changed_file_channel_is_refused) {
  auto old = load(base);
  auto text = base;
  text.replace(text.find("c1: {type: memory, capacity: 100}"), 33,
               "c1: {type: memory, capacity: 200}");
  auto p = plan_reload(old, load(text),
                       [](const std::string& name) { return name == "c1"; });
  EXPECT_NE(p.refused.find("agents.a1.channels.c1"), std::string::npos)
      << p.refused;
  EXPECT_NE(p.refused.find("a file channel cannot change"), std::string::npos);
  // Removing a durable channel is no change to it: allowed (it drains).
  auto q =
      plan_reload(old, load(base), [](const std::string&) { return true; });
  EXPECT_TRUE(q.refused.empty());
}

TEST(reload_plan, a_dead_letter_channel_drains_after_its_writers) {
  auto old = load(R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: 10, channels: [c1]}
    channels:
      dlq: {type: memory}
      c1: {type: memory}
    sinks:
      k1: {type: kafka, bootstrap_servers: "127.0.0.1:9", topic: t,
           channel: c1, on_permanent_error: dead_letter,
           dead_letter_channel: dlq}
      k2: {type: "null", channel: dlq}
)");
  auto next = load(R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: 10, channels: [c9]}
    channels:
      c9: {type: memory}
    sinks:
      k9: {type: "null", channel: c9}
)");
  auto p = plan_reload(old, next, never_durable);
  EXPECT_EQ(p.channels_to_drain, (std::vector<std::string>{"c1", "dlq"}));
  EXPECT_EQ(channel_stop_order(old), (std::vector<std::string>{"c1", "dlq"}));
}

} // namespace
} // namespace flumen
