#pragma once

// The integration tests' fixture: an actor system, librdkafka's in-process
// Kafka cluster, and a topology loaded from YAML text and started.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "actors/builtin.hpp"
#include "actors/sinks/embedded_kafka.hpp"
#include "runtime/agent/agent.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/config/topology.hpp"
#include "runtime/core/metrics.hpp"
#include "tests/support/kafka.hpp"
#include "tests/support/netcat.hpp"
#include "tests/support/ports.hpp"
#include "tests/support/text_edit.hpp"

namespace flumen::test {

/// An actor system, a 3-broker in-process Kafka cluster, and one agent
/// started from topology text.
class pipeline : public ::testing::Test {
protected:
  void SetUp() override {
    configure_actor_system(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    cluster_ = std::make_unique<sinks::embedded_kafka>(3);
  }

  void TearDown() override {
    agent_.reset();
    sys_.reset();
  }

  /// Loads `yaml` (with BOOTSTRAP replaced) and starts its agent `a1`.
  agent& start(const std::string& yaml) {
    auto text = replace_all(yaml, "BOOTSTRAP", cluster_->bootstrap_servers());
    reg_ = registry{};
    register_builtin(reg_);
    auto loaded = load_topology_text(text, "test.yaml", reg_);
    for (auto& e : loaded.errors)
      ADD_FAILURE() << e.to_string();
    topo_ = std::move(loaded.topo);
    agent_ = std::make_unique<agent>(*sys_, topo_.agents.at(0), metrics_);
    agent_->start();
    return *agent_;
  }

  /// The metrics of component `name` (e.g. `a1.sinks.k1`).
  component_metrics& metric(const std::string& name) {
    auto m = metrics_.find(name);
    EXPECT_TRUE(m) << name;
    return *m;
  }

  /// The in-process cluster, for `rd_kafka_mock_*` fault injection.
  rd_kafka_mock_cluster_t* mock() {
    return static_cast<rd_kafka_mock_cluster_t*>(cluster_->handle());
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<sinks::embedded_kafka> cluster_;
  registry reg_;
  topology topo_;
  metrics_registry metrics_;
  std::unique_ptr<agent> agent_;
};

/// Expects every sequence number below `count` in `records` at least once;
/// returns how many arrived more than once.
inline std::size_t expect_all_seq(const std::vector<record>& records,
                                  uint64_t count) {
  std::vector<int> seen(count, 0);
  std::size_t dupes = 0;
  for (auto& r : records) {
    auto i = std::stoull(r.value);
    EXPECT_LT(i, count);
    if (i < count && seen[i]++ > 0) ++dupes;
  }
  std::size_t missing = 0;
  for (auto s : seen)
    missing += s == 0;
  EXPECT_EQ(missing, 0u) << "sequence numbers lost";
  return dupes;
}

} // namespace flumen::test
