#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

struct rd_kafka_s;

namespace flumen::sinks {

/// Options of the `kafka` sink (see README, "kafka sink").
struct kafka_config {
  /// `host:port,...`, or `embedded` for the in-process cluster.
  std::string bootstrap_servers;
  int embedded_brokers = 3;
  int embedded_partitions = 16;
  /// Required. May hold `%{header}` placeholders (Flume's syntax), filled
  /// from each event's headers.
  std::string topic;
  /// Where an event goes whose `%{header}` topic names a header it lacks;
  /// empty: such an event is refused for good (on_permanent_error).
  std::string default_topic;
  std::size_t batch_size = 10000;
  /// A transaction's most bytes (event_bytes), one event at least. Not
  /// stated: librdkafka's `batch.size` (1000000 unless set under
  /// `producer`), so a transaction is one of its batches.
  std::size_t batch_bytes = 1000000;
  /// Batches produced and not yet confirmed, per sink. Keeping several in
  /// flight is what gets close to librdkafka's own rate.
  std::size_t max_inflight = 16;
  /// Most bytes in flight; within it the window follows the cluster's
  /// measured rate x round trip (runtime/flow/sink_driver.hpp). 2 MiB:
  /// enough for a loopback or LAN cluster's round trip at full speed
  /// (bench/README.md, part 13); more for a distant one.
  std::size_t max_inflight_bytes = 2 << 20;
  std::string key_header = "key";
  std::string partition_header; ///< empty: librdkafka's partitioner
  /// Partition when the header is absent or not a number; -1: partitioner.
  int32_t default_partition = -1;
  /// A header holding the record timestamp in ms since the epoch.
  std::string timestamp_header;
  std::string topic_header = "topic";
  bool allow_topic_override = false;
  /// Which event headers become Kafka record headers: `all`, `none`, or
  /// only those in `header_names` (renamed: flume name -> kafka name).
  std::string headers = "all";
  std::map<std::string, std::string> header_names;
  /// `body` (the raw body), `json` (`{"headers":{...},"body":"..."}`) or
  /// `flume_avro` (Flume's AvroFlumeEvent datum).
  std::string format = "body";
  /// What to do with an event Kafka rejects for good (record too large,
  /// invalid or unauthorised topic, unknown partition): `drop` (logged,
  /// counted), `dead_letter` (put to `dead_letter_channel` with headers
  /// saying why) or `fail` (roll back and stop; the supervisor restarts).
  permanent_error_policy on_permanent_error = permanent_error_policy::drop;
  std::string dead_letter_channel;
  /// Passed to librdkafka as is (overrides flumen's defaults).
  std::map<std::string, std::string> producer;
};

/// Its options (runtime/config/options.hpp).
const option_list& kafka_options();

/// Pure apart from asking librdkafka whether each `producer:` key exists
/// (a wrong name is a located config error, not a runtime surprise).
kafka_config parse_kafka(option_reader& r);

/// librdkafka's queue.buffering.max.kbytes for `cfg`: twice what the sink
/// may have in flight, so a produce never fails for a full queue and the
/// client holds no more than that.
std::size_t queue_kbytes(const kafka_config& cfg,
                         const std::map<std::string, std::string>& producer);

/// The producer settings flumen uses for `cfg` (defaults, then `producer:`).
std::map<std::string, std::string>
producer_settings(const kafka_config& cfg, const std::string& bootstrap);

/// `pattern` with each `%{name}` replaced by header `name` (empty when
/// absent); the first absent name goes to `missing`, when given.
std::string expand_placeholders(const std::string& pattern,
                                const header_map& headers,
                                std::string* missing = nullptr);

/// The `json` format: `{"headers":{"k":"v",...},"body":"..."}`. UTF-8 text
/// stays as it is ("café" arrives as "café"); a byte sequence that is not
/// valid UTF-8 becomes U+FFFD (JSON strings hold text, not bytes).
std::string json_envelope(const event& e);

/// The `flume_avro` format (Flume's `useFlumeEventFormat`): the Avro binary
/// datum of an AvroFlumeEvent, `{headers: map<string>, body: bytes}`, with
/// no schema or container around it, as Flume's Kafka sink and channel
/// write a record's value.
std::string flume_event_envelope(const event& e);

/// Kafka's rule for topic names: 1 to 249 of `[A-Za-z0-9._-]`.
bool valid_topic_name(std::string_view name);

/// What a delivery error means for the event it is about.
enum class error_class {
  none,
  record,  ///< this record's own fault (too large, invalid, a topic or
           ///< partition the event chose): on_permanent_error
  passing, ///< the cluster's or the configured topic's: retried, degraded
  fatal,   ///< the producer is unusable: the sink restarts
};

/// Classifies a delivery error. Topic errors (authorization, unknown topic)
/// are the record's fault only when the event chose the topic (a `%{header}`
/// topic or an override); partition errors only when the event chose the
/// partition. For the configured topic they are the cluster's: retried.
error_class classify(int kafka_error, bool topic_from_event,
                     bool partition_from_event);
/// Called with each producer a Kafka sink creates (its metrics name, its
/// librdkafka handle, `made` true) and again just before it destroys it
/// (`made` false), on the sink's thread. A seam for tests that inject
/// client faults (`rd_kafka_test_fatal_error`, which may make the sink
/// destroy the handle while the call is still in it: the observer can hold
/// the destruction back); empty by default.
void set_producer_observer(
    std::function<void(const std::string&, rd_kafka_s*, bool made)> observer);

/// Spawns the sink: takes batches from its channel, produces them, and
/// commits a batch only after every delivery report of it succeeded. A
/// retriable failure rolls the batch back and retries it after a backoff; a
/// permanent one is handled by `on_permanent_error`, so a poison event never
/// blocks the events behind it.
caf::actor spawn_kafka(caf::actor_system& sys, const kafka_config& cfg,
                       const wiring& w);

} // namespace flumen::sinks
