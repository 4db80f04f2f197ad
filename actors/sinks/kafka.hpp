#pragma once

#include <chrono>
#include <map>
#include <string>

#include "runtime/config.hpp"
#include "runtime/registry.hpp"

namespace flumen::sinks {

/// Options of the `kafka` sink (see README, "kafka sink").
struct kafka_config {
  /// `host:port,...`, or `embedded` for the in-process cluster.
  std::string bootstrap_servers;
  int embedded_brokers = 3;
  int embedded_partitions = 16;
  std::string topic; ///< required
  std::size_t batch_size = 1000;
  /// Batches produced and not yet confirmed, per sink. Keeping several in
  /// flight is what gets close to librdkafka's own rate.
  std::size_t max_inflight = 16;
  std::string key_header = "key";
  std::string partition_header; ///< empty: librdkafka's partitioner
  std::string topic_header = "topic";
  bool allow_topic_override = false;
  /// Forward Flume headers as Kafka record headers.
  bool forward_headers = true;
  /// Passed to librdkafka as is (overrides flumen's defaults).
  std::map<std::string, std::string> producer;
};

/// Pure apart from asking librdkafka whether each `producer:` key exists
/// (a wrong name is a located config error, not a runtime surprise).
kafka_config parse_kafka(option_reader& r);

/// The producer settings flumen uses for `cfg` (defaults, then `producer:`).
std::map<std::string, std::string>
producer_settings(const kafka_config& cfg, const std::string& bootstrap);

/// Spawns the sink: takes batches from its channel, produces them, and
/// commits a batch only after every delivery report of it succeeded; any
/// failure rolls the batch back and retries it after a backoff.
caf::actor spawn_kafka(caf::actor_system& sys, const kafka_config& cfg,
                       const wiring& w);

} // namespace flumen::sinks
