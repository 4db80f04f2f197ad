// The Kafka sink's options: parsing and checking them (topics, producer
// settings), what they become for librdkafka, and the pure helpers the
// backend (kafka.cpp) uses per event: placeholders, the JSON envelope,
// error classes.

#include "actors/sinks/kafka.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "runtime/avro/datum.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/flow/sink_driver.hpp"
#include "runtime/libs/rdkafka.hpp"

namespace flumen::sinks {

namespace {

// Topic names Kafka would refuse fail here, not at the first event (a topic
// longer than 249 characters used to crash the sink).
void check_topics(option_reader& r, const kafka_config& cfg) {
  if (cfg.topic.find("%{") == std::string::npos) {
    if (!cfg.topic.empty() && !valid_topic_name(cfg.topic))
      r.invalid("topic", "'" + cfg.topic.substr(0, 60) +
                             (cfg.topic.size() > 60 ? "..." : "") +
                             "' is not a valid Kafka topic name (1 to 249 of "
                             "A-Z a-z 0-9 . _ -)");
  } else {
    // The text around the placeholders must be valid on its own.
    std::string literal;
    for (std::size_t pos = 0;;) {
      auto open = cfg.topic.find("%{", pos);
      auto close = open == std::string::npos ? open : cfg.topic.find('}', open);
      if (close == std::string::npos) {
        literal.append(cfg.topic, pos);
        break;
      }
      literal.append(cfg.topic, pos, open - pos);
      pos = close + 1;
    }
    if (cfg.topic.find("%{}") != std::string::npos)
      r.invalid("topic", "'%{}' names no header");
    else if (!literal.empty() && !valid_topic_name(literal))
      r.invalid("topic",
                "the text around the %{...} placeholders is not valid "
                "in a Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -)");
  }
  if (!cfg.default_topic.empty() && !valid_topic_name(cfg.default_topic))
    r.invalid("default_topic", "'" + cfg.default_topic.substr(0, 60) +
                                   "' is not a valid Kafka topic name");
}

// Settings librdkafka would refuse when the sink starts (and then again on
// every restart) are config errors: each value, and the whole set, as the
// sink would create its producer.
void check_producer(option_reader& r, const kafka_config& cfg) {
  auto window = cfg.max_inflight * cfg.batch_size;
  if (auto i = cfg.producer.find("queue.buffering.max.kbytes");
      i != cfg.producer.end()) {
    auto n = std::strtoull(i->second.c_str(), nullptr, 10);
    auto floor = queue_kbytes(cfg, cfg.producer) / 2;
    if (n < floor) {
      r.error("producer", "queue.buffering.max.kbytes " + i->second +
                              " is below the sink's window in bytes (" +
                              std::to_string(floor) +
                              " KB: max_inflight_bytes and one batch or "
                              "record more)");
      return;
    }
  }
  if (auto i = cfg.producer.find("queue.buffering.max.messages");
      i != cfg.producer.end()) {
    auto n = std::strtoull(i->second.c_str(), nullptr, 10);
    if (n < window) {
      r.error("producer", "queue.buffering.max.messages " + i->second +
                              " is below the sink's window (max_inflight " +
                              std::to_string(cfg.max_inflight) +
                              " x batch_size " +
                              std::to_string(cfg.batch_size) + " = " +
                              std::to_string(window) +
                              "): the sink could never make "
                              "progress");
      return;
    }
  }
  char err[512];
  auto* conf = rd_kafka_conf_new();
  for (auto& [k, v] : producer_settings(cfg, "")) {
    if (k == "bootstrap.servers") continue; // no connection at load time
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      if (k == "queue.buffering.max.messages" && !cfg.producer.contains(k))
        r.error("batch_size",
                "batch_size " + std::to_string(cfg.batch_size) +
                    " x max_inflight " + std::to_string(cfg.max_inflight) +
                    " needs a client queue librdkafka refuses (" + err + ")");
      else
        r.error("producer",
                "librdkafka rejects '" + k + ": " + v + "': " + err);
      return;
    }
  }
  // Quiet: a producer without brokers logs that it has none.
  rd_kafka_conf_set_log_cb(
      conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    r.error("producer",
            std::string{"librdkafka refuses these settings: "} + err);
    return;
  }
  rd_kafka_destroy(rk);
}

/// A numeric librdkafka property as set under `producer`, else `fallback`
/// (librdkafka's default).
std::size_t producer_number(const std::map<std::string, std::string>& producer,
                            const char* key, std::size_t fallback) {
  if (auto i = producer.find(key); i != producer.end()) {
    std::size_t n = 0;
    auto& v = i->second;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec == std::errc{} && end == v.data() + v.size() && n > 0) return n;
  }
  return fallback;
}

} // namespace

/// The options of the `kafka` sink (docs/reference/sinks/kafka.md shows
/// them, generated).
const option_list& kafka_options() {
  static const option_list table = {
      {.name = "bootstrap_servers",
       .kind = option_kind::string,
       .doc = "`host:port,...`, or `embedded`: librdkafka's in-process "
              "Kafka cluster started inside the agent (the real Kafka "
              "protocol on loopback ports; see "
              "[below](#the-embedded-cluster))"},
      {.name = "embedded_brokers",
       .kind = option_kind::integer,
       .min = 1,
       .max = 16,
       .doc = "brokers of the embedded cluster"},
      {.name = "embedded_partitions",
       .kind = option_kind::integer,
       .min = 1,
       .max = 1024,
       .doc = "partitions of `topic` on the embedded cluster"},
      {.name = "topic",
       .kind = option_kind::string,
       .doc = "may hold `%{header}` placeholders (Flume's syntax), filled "
              "per event. Checked at load time against Kafka's rule (1 to "
              "249 of `A-Z a-z 0-9 . _ -`; the text around placeholders "
              "too): `kafka_parse.topic_names_kafka_refuses`. An event that"
              " lacks a placeholder's header, or whose filled-in name is "
              "not a valid topic, is refused for good "
              "(`on_permanent_error`), unless `default_topic` is set: "
              "`kafka_errors.header_topic_without_the_header_is_dropped`, "
              "`kafka_errors.header_topic_without_the_header_is_dead_lettered`."
              " No topic named `%{...}` or `\"\"` is ever created"},
      {.name = "default_topic",
       .kind = option_kind::string,
       .doc = "where an event goes whose `%{header}` topic names a header "
              "it lacks "
              "(`kafka_errors.header_topic_falls_back_to_default_topic`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .min = 1,
       .max = 1000000,
       .def = "`10000`, or `batch.num.messages` under `producer` if smaller",
       .doc = "events per transaction; a default one is cut to the "
              "channel's `transaction_capacity`"},
      {.name = "batch_bytes",
       .kind = option_kind::size,
       .min = 1,
       .def = "the smallest of librdkafka's `batch.size` and "
              "`message.max.bytes` (`1000000` each unless set under "
              "`producer`) and `max_inflight_bytes`",
       .doc = "a transaction's most bytes (counted as by `byte_capacity`), "
              "one event at least "
              "(`memory_channel.take_with_max_bytes_is_cut_by_bytes_one_event_"
              "at_least`,"
              " `kafka_parse.batch_bytes_follows_librdkafkas_batch_size`). "
              "Counted so, a transaction never exceeds its size on the "
              "wire, so it leaves as one of librdkafka's batches; a larger "
              "value (or `batch_size` above `batch.num.messages`) works but"
              " splits each transaction, and librdkafka spins for "
              "`linger.ms` on the remainder"},
      {.name = "max_inflight",
       .kind = option_kind::count,
       .min = 1,
       .max = 64,
       .doc = "transactions produced and not yet confirmed"},
      {.name = "max_inflight_bytes",
       .kind = option_kind::size,
       .type = "size, at least `batch_bytes`",
       .doc =
           "bytes produced and not yet confirmed, at most; within it the"
           " sink keeps about four times what the cluster acknowledges "
           "in one round trip in flight (measured rate × measured round "
           "trip), starting from two batches' worth "
           "(`window_estimate.follows_rate_times_round_trip_within_its_bounds`,"
           " `sink_driver_test.bytes_in_flight_bound_the_window`). The "
           "default fits a loopback or LAN cluster at full speed and keeps"
           " the working set small (bench/README.md, part 13); a cluster "
           "tens of milliseconds away needs more (e.g. `16MB`)"},
      {.name = "key_header",
       .kind = option_kind::string,
       .doc = "the header used as the record key"},
      {.name = "partition_header",
       .kind = option_kind::string,
       .doc = "a header holding the partition number"},
      {.name = "default_partition",
       .kind = option_kind::integer,
       .min = -1,
       .max = INT32_MAX,
       .type = "integer, at least -1",
       .doc = "partition when that header is absent or not a number; `-1`: "
              "a keyed record goes where librdkafka's partitioner puts its "
              "key, and the key-less records of one transaction all go to "
              "one partition, the next transaction to the next one "
              "(round-robin; like librdkafka's sticky partitioner, per "
              "transaction): every partition gets whole batches, in the "
              "order taken "
              "(`pipeline.keyless_transactions_go_to_one_partition_each_round_"
              "robin`)"},
      {.name = "timestamp_header",
       .kind = option_kind::string,
       .doc = "a header holding the record timestamp (ms since the epoch); "
              "otherwise the send time"},
      {.name = "topic_header",
       .kind = option_kind::string,
       .doc = "a header naming the topic, used when `allow_topic_override`"},
      {.name = "allow_topic_override",
       .kind = option_kind::boolean,
       .doc = "(Flume's default is true; off here so a stray header can't "
              "redirect data)"},
      {.name = "headers",
       .kind = option_kind::node,
       .type = "`all`, `none` or a mapping",
       .doc = "which event headers become Kafka record headers: `all`, "
              "`none`, or a mapping `flume_name: kafka_name` (only those, "
              "renamed)"},
      {.name = "format",
       .kind = option_kind::choice,
       .choices = "body|json|flume_avro",
       .doc =
           "record value: `body` (the raw body, byte for byte), "
           "`flume_avro` (Flume's `useFlumeEventFormat`: the Avro datum of "
           "an AvroFlumeEvent, `{headers: map<string>, body: bytes}`, as "
           "Flume's Kafka sink and channel write it; "
           "`kafka_format.flume_avro_envelope_is_flumes_datum`) or `json`"
           " (`{\"headers\":{...},\"body\":\"...\"}` written by nlohmann-json:"
           " UTF-8 text stays as it is, \"café\" arrives as \"café\"; bytes "
           "that are not valid UTF-8 become U+FFFD, so use `body` for "
           "binary data: "
           "`kafka_format.json_envelope_keeps_utf8_and_replaces_invalid_bytes`"
           ")"},
      {.name = "on_permanent_error",
       .kind = option_kind::choice,
       .choices = "drop|dead_letter|fail",
       .doc =
           "an event that *itself* can never be delivered: record too "
           "large, invalid record, or a topic or partition taken from "
           "the event's own headers that cannot exist or is not "
           "authorised. `drop` (logged, counted in `dropped`), "
           "`dead_letter` (put to `dead_letter_channel`), `fail` (roll "
           "back and stop; the supervisor restarts the sink). The same "
           "errors for the *configured* topic or partition are the "
           "cluster's (an ACL, a topic not yet created): retried with "
           "backoff, the sink `degraded` with the reason, nothing "
           "committed or dropped "
           "(`kafka_errors.configured_topic_authorization_error_is_retried_not_"
           "dropped`,"
           " "
           "`kafka_errors.event_chosen_topic_authorization_error_is_per_event`,"
           " `kafka_format.only_a_records_own_errors_are_permanent`)"},
      {.name = "dead_letter_channel",
       .kind = option_kind::string,
       .doc = "a channel of the same agent, required by `dead_letter` (and "
              "only used with it); dead letters carry the headers "
              "`flumen.error`, `flumen.error_code`, `flumen.sink`, "
              "`flumen.topic`, `flumen.time` (ms). For a dead-letter "
              "*topic*, read that channel with a second `kafka` sink (or "
              "`file_roll` for records no topic accepts). Not the sink's "
              "own channel, nor closing a cycle of channels (config errors)"},
      {.name = "producer",
       .kind = option_kind::mapping,
       .type = "mapping",
       .doc = "librdkafka producer settings, passed as is and checked at "
              "load time, each value and the whole set as the sink would "
              "create its producer (so `acks: 1` with the default "
              "idempotence, or a `queue.buffering.max.messages` below the "
              "sink's window, are config errors: `kafka_parse.*`) (e.g. "
              "`compression.type: lz4`, `acks: all`, `security.protocol: "
              "ssl`)"},
  };
  return table;
}

kafka_config parse_kafka(option_reader& r) {
  option_scope scope{r, kafka_options()};
  auto errors_before = r.errors().size();
  kafka_config cfg;
  cfg.bootstrap_servers = r.required_str("bootstrap_servers");
  r.facts().process_local = cfg.bootstrap_servers == "embedded";
  cfg.embedded_brokers =
      static_cast<int>(r.integer("embedded_brokers", cfg.embedded_brokers));
  cfg.embedded_partitions = static_cast<int>(
      r.integer("embedded_partitions", cfg.embedded_partitions));
  cfg.topic = r.required_str("topic");
  // At most a million: the client queue is sized 2 x max_inflight x
  // batch_size, which must stay within librdkafka's int range (999999999
  // overflowed it, and every produce then failed with a full queue).
  cfg.producer = r.string_map("producer");
  // A transaction is one of librdkafka's batches (see batch_bytes below):
  // not stated, it holds no more records than one of them may.
  cfg.batch_size = r.count(
      "batch_size",
      std::min(cfg.batch_size,
               producer_number(cfg.producer, "batch.num.messages", 10000)));
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.key_header = r.str("key_header", cfg.key_header);
  cfg.partition_header = r.str("partition_header", cfg.partition_header);
  cfg.topic_header = r.str("topic_header", cfg.topic_header);
  cfg.allow_topic_override =
      r.boolean("allow_topic_override", cfg.allow_topic_override);
  cfg.default_partition = static_cast<int32_t>(
      r.integer("default_partition", cfg.default_partition));
  cfg.timestamp_header = r.str("timestamp_header", cfg.timestamp_header);
  if (auto h = r.node("headers"); h.IsDefined() && h.IsMap()) {
    cfg.headers = "mapping";
    cfg.header_names = r.string_map("headers");
  } else {
    cfg.headers = r.choice("headers", cfg.headers, {"all", "none"});
  }
  cfg.format = r.choice("format", cfg.format, {"body", "json", "flume_avro"});
  {
    using p = permanent_error_policy;
    cfg.on_permanent_error =
        r.choice("on_permanent_error", cfg.on_permanent_error,
                 {{"drop", p::drop},
                  {"dead_letter", p::dead_letter},
                  {"fail", p::fail}});
  }
  cfg.dead_letter_channel = r.str("dead_letter_channel");
  bool policy_parsed = r.parsed({"on_permanent_error", "dead_letter_channel"});
  if (policy_parsed &&
      cfg.on_permanent_error == permanent_error_policy::dead_letter &&
      cfg.dead_letter_channel.empty())
    r.error("on_permanent_error", "'dead_letter' needs a dead_letter_channel");
  if (policy_parsed &&
      cfg.on_permanent_error != permanent_error_policy::dead_letter &&
      !cfg.dead_letter_channel.empty())
    r.error("dead_letter_channel",
            "is used only with on_permanent_error: dead_letter");
  // Let librdkafka judge each key and value now, at load time.
  auto* probe = rd_kafka_conf_new();
  for (auto& [key, value] : cfg.producer) {
    char err[512];
    if (rd_kafka_conf_set(probe, key.c_str(), value.c_str(), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK)
      r.invalid("producer",
                "librdkafka rejects '" + key + ": " + value + "': " + err);
  }
  rd_kafka_conf_destroy(probe);
  // A transaction is one of librdkafka's batches: unless told otherwise it
  // holds what fits in one, whose size is bounded by batch.size and
  // message.max.bytes (event_bytes is never less than a record's size on
  // the wire). A transaction that spills over leaves librdkafka a remainder
  // it waits linger.ms for, spinning (bench/README.md). Nor more than the
  // window in bytes.
  cfg.max_inflight_bytes =
      r.bytes("max_inflight_bytes", cfg.max_inflight_bytes);
  cfg.batch_bytes = r.bytes(
      "batch_bytes",
      std::min({producer_number(cfg.producer, "batch.size", 1000000),
                producer_number(cfg.producer, "message.max.bytes", 1000000),
                cfg.max_inflight_bytes}));
  if (cfg.batch_bytes == 0) r.invalid("batch_bytes", "must be at least 1");
  // batch_bytes' default is taken from the producer's settings.
  if (r.parsed({"max_inflight_bytes", "batch_bytes", "producer"}) &&
      cfg.max_inflight_bytes < cfg.batch_bytes)
    r.error("max_inflight_bytes",
            "must be at least batch_bytes (" + std::to_string(cfg.batch_bytes) +
                "): not even one batch could be in flight");
  cfg.default_topic = r.str("default_topic");
  check_topics(r, cfg);
  // What the relay-loop check reads (topology_checks.cpp).
  auto& k = r.facts().kafka;
  k.bootstrap = cfg.bootstrap_servers;
  k.topics = {cfg.topic};
  if (cfg.allow_topic_override) k.topic_header = cfg.topic_header;
  if (r.errors().size() == errors_before) check_producer(r, cfg);
  return cfg;
}

std::size_t queue_kbytes(const kafka_config& cfg,
                         const std::map<std::string, std::string>& producer) {
  // In flight: the window's bytes plus one more batch or record (a take
  // stops after the event that reaches the target), and as much again in
  // batches abandoned after a failure whose reports are not in yet.
  auto record_max = producer_number(producer, "message.max.bytes", 1000000);
  auto bytes =
      2 * (cfg.max_inflight_bytes + std::max(cfg.batch_bytes, record_max));
  return std::min<std::size_t>(bytes / 1024 + 1, INT32_MAX);
}

std::map<std::string, std::string>
producer_settings(const kafka_config& cfg, const std::string& bootstrap) {
  auto in_flight_messages = cfg.max_inflight * cfg.batch_size;
  std::map<std::string, std::string> out{
      {"bootstrap.servers", bootstrap},
      {"enable.idempotence", "true"},
      // As Kafka's own Java client does: a request's last segment is not
      // held back until the broker acknowledges the one before.
      {"socket.nagle.disable", "true"},
      // A transaction is enqueued whole (it is the batch): waiting longer only
      // adds latency, and 0 sends a request per record enqueued.
      {"linger.ms", "1"},
      // Come back within a second of the brokers (librdkafka's default
      // backoff grows to 10 s while they are away).
      {"reconnect.backoff.max.ms", "1000"},
      // The client's queue is sized from the sink's own window: everything
      // the sink may have in flight fits (a produce call never fails for a
      // full queue), and nothing more, so the process has a known ceiling.
      {"queue.buffering.max.messages", std::to_string(2 * in_flight_messages)},
      {"queue.buffering.max.kbytes",
       std::to_string(queue_kbytes(cfg, cfg.producer))},
  };
  for (auto& [k, v] : cfg.producer)
    out[k] = v;
  return out;
}

std::string expand_placeholders(const std::string& pattern,
                                const header_map& headers,
                                std::string* missing) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    auto open = pattern.find("%{", pos);
    auto close = open == std::string::npos ? open : pattern.find('}', open);
    if (close == std::string::npos) {
      out.append(pattern, pos);
      return out;
    }
    out.append(pattern, pos, open - pos);
    auto name = std::string_view{pattern}.substr(open + 2, close - open - 2);
    if (auto i = headers.find(name); i != headers.end())
      out += i->second;
    else if (missing && missing->empty())
      *missing = name;
    pos = close + 1;
  }
}

std::string json_envelope(const event& e) {
  // ordered_json: `headers` before `body`, as the format has always been.
  nlohmann::ordered_json headers = nlohmann::ordered_json::object();
  for (auto& [k, v] : e.headers)
    headers[k] = v;
  nlohmann::ordered_json doc;
  doc["headers"] = std::move(headers);
  doc["body"] = e.body;
  // Strings are UTF-8 as they are; a byte that is not valid UTF-8 becomes
  // U+FFFD (JSON has no bytes). Use `format: body` for byte-exact records.
  return doc.dump(-1, ' ', false,
                  nlohmann::ordered_json::error_handler_t::replace);
}

std::string flume_event_envelope(const event& e) {
  std::string out;
  out.reserve(avro::encoded_size(e));
  avro::writer{out}.write_event(e);
  return out;
}

bool valid_topic_name(std::string_view name) {
  // Kafka's own rule: 1..249 of [A-Za-z0-9._-], and not "." or "..".
  if (name.empty() || name.size() > 249 || name == "." || name == "..")
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-';
  });
}

error_class classify(int kafka_error, bool topic_from_event,
                     bool partition_from_event) {
  switch (static_cast<rd_kafka_resp_err_t>(kafka_error)) {
  case RD_KAFKA_RESP_ERR_NO_ERROR:
    return error_class::none;
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
  case RD_KAFKA_RESP_ERR__INVALID_ARG:
    return error_class::record;
  case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    // The event chose this topic: its own fault. The configured topic:
    // the cluster's (an ACL, a topic not created yet), retried.
    return topic_from_event ? error_class::record : error_class::passing;
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    return partition_from_event ? error_class::record : error_class::passing;
  case RD_KAFKA_RESP_ERR__FATAL:
    return error_class::fatal;
  default:
    return error_class::passing;
  }
}

} // namespace flumen::sinks
