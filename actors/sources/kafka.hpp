#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

struct rd_kafka_s;

namespace flumen::sources {

/// Options of the `kafka` source (Flume's Kafka source): a member of a
/// consumer group that puts the records of its partitions into its
/// channels, at least once.
struct kafka_source_config {
  /// `host:port,...`, or `embedded` for the agent's in-process cluster.
  std::string bootstrap_servers;
  /// The topics read; exactly one of `topics` and `topics_regex` is set.
  std::vector<std::string> topics;
  /// A POSIX extended regular expression: every topic whose name it
  /// matches from its start (librdkafka's pattern subscription).
  std::string topics_regex;
  std::string group_id = "flumen";
  std::size_t batch_size = 1000;
  /// The longest a record waits in a batch that is not full.
  std::chrono::milliseconds batch_duration{1000};
  /// Flume's setTopicHeader / topicHeader.
  bool set_topic_header = true;
  std::string topic_header = "topic";
  /// `body`: a record's value is the body. `flume_avro` (Flume's
  /// useFlumeEventFormat): it is an AvroFlumeEvent datum (written by
  /// Flume's Kafka sink or channel, or flumen's kafka sink with `format:
  /// flume_avro`): its headers and body become the event's.
  std::string format = "body";
  /// A record whose value is longer is dropped, counted and passed.
  std::size_t max_message_size = std::size_t{16} << 20;
  std::size_t max_inflight = 4;
  /// How long a revoke waits for the puts of the partitions it takes away.
  std::chrono::milliseconds revoke_timeout{10000};
  /// Passed to librdkafka as is (the keys flumen owns are refused).
  std::map<std::string, std::string> consumer;
};

/// Its options (runtime/config/options.hpp).
const option_list& kafka_source_options();

/// Reads the `kafka` source's options; errors go to the reader, located:
/// `topics` and `topics_regex` both or neither, a regular expression that
/// does not compile, a topic name Kafka refuses, a `consumer:` key
/// librdkafka does not know or that flumen owns.
kafka_source_config parse_kafka_source(option_reader& r);

/// The librdkafka settings of the consumer for `cfg` (flumen's, after the
/// user's `consumer:` ones).
std::map<std::string, std::string>
consumer_settings(const kafka_source_config& cfg, const std::string& bootstrap);

/// The `consumer:` keys flumen sets itself and refuses from the user.
const std::vector<std::string>& owned_consumer_keys();

/// The pattern librdkafka subscribes with for `topics_regex`: `^` first.
std::string subscription_pattern(const std::string& topics_regex);

/// True when `topic` is one the source reads (`topics`, or matched by
/// `topics_regex`).
bool reads_topic(const kafka_source_config& cfg, const std::string& topic);

/// Called with each consumer a kafka source creates (its metrics name, its
/// handle, `made` true) and just before it is destroyed (`made` false), on
/// the source's reader thread. A seam for tests; empty by default.
void set_consumer_observer(
    std::function<void(const std::string&, rd_kafka_s*, bool made)> observer);

/// Spawns the source: subscribes `group_id` to its topics with the
/// cooperative-sticky assignor, makes an event of each record (its value
/// the body; Kafka record headers first, then `topic` (with
/// `set_topic_header`, named `topic_header`), `partition`, `offset`,
/// `timestamp` (ms) and `key` (when it has one), none overwriting a header
/// the record has) and puts them in batches of `batch_size`, or what came
/// within `batch_duration`.
///
/// At least once: an offset is stored for commit only once every batch
/// holding that partition's records up to it was accepted by every
/// required channel (the accepted watermark of each partition); stored
/// offsets are committed by librdkafka's auto-commit, on each revoke and at
/// a stop. With `max_inflight` batches unanswered the source pauses its
/// partitions and keeps polling (its group membership stays alive), and
/// resumes them once a batch was accepted. A revoke waits up to
/// `revoke_timeout` for the revoked partitions' batches, commits what was
/// accepted and lets them go; what was not accepted by then is left
/// uncommitted (read again by the partition's next owner: duplicates,
/// counted in `uncommitted_at_revoke`).
caf::actor spawn_kafka_source(caf::actor_system& sys,
                              const kafka_source_config& cfg, const wiring& w);

} // namespace flumen::sources
