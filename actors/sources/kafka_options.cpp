// The kafka source's options: parsing and checking them (topics or a
// pattern, consumer settings, the keys flumen owns) and what they become for
// librdkafka. The consumer loop is in kafka.cpp.

#include <regex.h>

#include <algorithm>
#include <cstring>

#include "actors/sinks/kafka.hpp"
#include "actors/sources/kafka.hpp"
#include "actors/sources/source_options.hpp"
#include "runtime/core/event.hpp"
#include "runtime/libs/rdkafka.hpp"

namespace flumen::sources {

namespace {

/// Compiles `pattern` as librdkafka does (POSIX extended); the error text
/// when it does not compile, empty when it does.
std::string regex_error(const std::string& pattern) {
  regex_t re;
  int rc = ::regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc == 0) {
    ::regfree(&re);
    return {};
  }
  char buf[256];
  ::regerror(rc, &re, buf, sizeof(buf));
  return buf;
}

} // namespace

const std::vector<std::string>& owned_consumer_keys() {
  // Each is what the source's guarantee rests on, or an option of its own.
  static const std::vector<std::string> keys = {
      "bootstrap.servers",             // bootstrap_servers
      "group.id",                      // group_id
      "enable.auto.offset.store",      // stored only once accepted
      "enable.auto.commit",            // what was stored is committed
      "partition.assignment.strategy", // cooperative-sticky
  };
  return keys;
}

std::string subscription_pattern(const std::string& topics_regex) {
  // librdkafka takes a topic that starts with '^' as a pattern.
  return topics_regex.starts_with('^') ? topics_regex : "^" + topics_regex;
}

bool reads_topic(const kafka_source_config& cfg, const std::string& topic) {
  if (cfg.topics_regex.empty())
    return std::find(cfg.topics.begin(), cfg.topics.end(), topic) !=
           cfg.topics.end();
  regex_t re;
  if (::regcomp(&re, subscription_pattern(cfg.topics_regex).c_str(),
                REG_EXTENDED | REG_NOSUB) != 0)
    return false;
  bool match = ::regexec(&re, topic.c_str(), 0, nullptr, 0) == 0;
  ::regfree(&re);
  return match;
}

/// The options of the `kafka` source (docs/reference/sources/kafka.md
/// shows them, generated).
const option_list& kafka_source_options() {
  static const option_list table = {
      {.name = "bootstrap_servers",
       .kind = option_kind::string,
       .doc = "`host:port,...`, or `embedded`: the agent's in-process "
              "cluster (as the [kafka sink](../sinks/kafka.md)'s)"},
      {.name = "topics",
       .kind = option_kind::list,
       .type = "list of topic names",
       .doc = "the topics to read (Flume's `kafka.topics`); exactly one of "
              "`topics` and `topics_regex` (a config error otherwise: "
              "`kafka_source_parse.topics_or_topics_regex_exactly_one`)"},
      {.name = "topics_regex",
       .kind = option_kind::string,
       .type = "POSIX extended regex",
       .doc = "read every topic whose name it matches from its start (`^` "
              "is added when missing; Flume's `kafka.topics.regex`), topics "
              "created later too. One that does not compile is a config "
              "error quoting the reason "
              "(`kafka_source_parse.a_bad_regex_is_refused_with_its_reason`)"},
      {.name = "group_id",
       .kind = option_kind::string,
       .doc = "the consumer group (Flume's `kafka.consumer.group.id`): the "
              "agents of one group share the partitions"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .min = 1,
       .max = 1000000,
       .doc = "records per batch (Flume's `batchSize`); cut to the "
              "channels' `transaction_capacity` when not stated"},
      {.name = "batch_duration",
       .kind = option_kind::duration,
       .doc = "the longest a record waits for its batch to fill (Flume's "
              "`batchDurationMillis`)"},
      {.name = "set_topic_header",
       .kind = option_kind::boolean,
       .doc = "add the record's topic as a header (Flume's "
              "`setTopicHeader`)"},
      {.name = "topic_header",
       .kind = option_kind::string,
       .doc = "its name (Flume's `topicHeader`). A kafka sink fed by this "
              "source that takes its topic from this header would publish "
              "back into the topic read: `flumen validate` and `run` warn "
              "(`kafka_source_parse.a_relay_back_into_its_own_topic_is_"
              "warned`)"},
      {.name = "format",
       .kind = option_kind::choice,
       .choices = "body|flume_avro",
       .doc = "`body`: the record's value is the event's body. `flume_avro` "
              "(Flume's `useFlumeEventFormat`): the value is Flume's Avro "
              "event, an AvroFlumeEvent datum as Flume's Kafka sink and "
              "channel write (`useFlumeEventFormat`, `parseAsFlumeEvent`) "
              "and flumen's kafka sink with `format: flume_avro`: its "
              "headers and body become the event's. A value that is no such "
              "datum, or has bytes after it, is dropped: logged with its "
              "topic, partition and offset, counted in `dropped` and "
              "`malformed_records`, and its offset passes "
              "(`kafka_source.flume_event_format_records_keep_their_headers`)"},
      {.name = "max_message_size",
       .kind = option_kind::size,
       .min = 1,
       .max = max_event_length,
       .doc = "a record whose value is longer is dropped: logged with its "
              "topic, partition and offset, counted in `dropped` and "
              "`oversized_records`, and its offset passes (a poison record "
              "never stops the source: "
              "`kafka_source.a_poison_record_is_counted_and_passed`)"},
      max_inflight_option(
          "batches put and not yet accepted; with that many the source "
          "pauses its partitions and keeps polling "
          "(`kafka_source.a_full_window_pauses_the_partitions`)"),
      {.name = "revoke_timeout",
       .kind = option_kind::duration,
       .doc = "how long a revoke (a rebalance taking partitions away) waits "
              "for the puts of their records; what was not accepted by then"
              " is left uncommitted, for the next owner to read again "
              "(counted in `uncommitted_at_revoke`: possible duplicates). "
              "Keep it below `max.poll.interval.ms`"},
      {.name = "consumer",
       .kind = option_kind::mapping,
       .type = "mapping",
       .doc = "librdkafka consumer settings, passed as is and checked at "
              "load time (e.g. `session.timeout.ms: 10000`, "
              "`security.protocol: ssl`, `auto.offset.reset: latest`). The "
              "keys flumen sets itself are refused: `bootstrap.servers`, "
              "`group.id`, `enable.auto.offset.store`, `enable.auto.commit`,"
              " `partition.assignment.strategy` "
              "(`kafka_source_parse.consumer_keys_flumen_owns_are_refused`)"},
  };
  return table;
}

kafka_source_config parse_kafka_source(option_reader& r) {
  option_scope scope{r, kafka_source_options()};
  kafka_source_config cfg;
  cfg.bootstrap_servers = r.required_str("bootstrap_servers");
  bool has_topics = r.has("topics");
  bool has_regex = r.has("topics_regex");
  cfg.topics = r.string_list("topics");
  cfg.topics_regex = r.str("topics_regex");
  if (has_topics && has_regex)
    r.error("topics_regex", "give either topics or topics_regex, not both");
  else if (!has_topics && !has_regex)
    r.error("missing required key 'topics' (or 'topics_regex')");
  if (has_topics && r.parsed({"topics"})) {
    if (cfg.topics.empty()) r.invalid("topics", "names no topic");
    for (auto& t : cfg.topics)
      if (!sinks::valid_topic_name(t)) {
        r.invalid("topics", "'" + t.substr(0, 60) +
                                (t.size() > 60 ? "..." : "") +
                                "' is not a valid Kafka topic name (1 to 249 "
                                "of A-Z a-z 0-9 . _ -)");
        break;
      }
  }
  if (has_regex && r.parsed({"topics_regex"})) {
    if (cfg.topics_regex.empty())
      r.invalid("topics_regex", "is empty");
    else if (auto why = regex_error(subscription_pattern(cfg.topics_regex));
             !why.empty())
      r.invalid("topics_regex", "'" + cfg.topics_regex +
                                    "' is not a valid POSIX extended regular "
                                    "expression: " +
                                    why);
  }
  cfg.group_id = r.str("group_id", cfg.group_id);
  if (r.parsed({"group_id"}) && cfg.group_id.empty())
    r.invalid("group_id", "is empty");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.batch_duration = r.duration("batch_duration", cfg.batch_duration);
  cfg.set_topic_header = r.boolean("set_topic_header", cfg.set_topic_header);
  cfg.topic_header = r.str("topic_header", cfg.topic_header);
  cfg.format = r.choice("format", cfg.format, {"body", "flume_avro"});
  if (r.parsed({"topic_header"}) && cfg.topic_header.empty())
    r.invalid("topic_header", "is empty");
  cfg.max_message_size = r.bytes("max_message_size", cfg.max_message_size);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.revoke_timeout = r.duration("revoke_timeout", cfg.revoke_timeout);
  cfg.consumer = r.string_map("consumer");
  auto& owned = owned_consumer_keys();
  auto* probe = rd_kafka_conf_new();
  for (auto& [key, value] : cfg.consumer) {
    if (std::find(owned.begin(), owned.end(), key) != owned.end()) {
      r.invalid("consumer", "'" + key +
                                "' is set by flumen (its at-least-once "
                                "delivery and its own options rest on it)");
      continue;
    }
    char err[512];
    if (rd_kafka_conf_set(probe, key.c_str(), value.c_str(), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK)
      r.invalid("consumer",
                "librdkafka rejects '" + key + ": " + value + "': " + err);
  }
  rd_kafka_conf_destroy(probe);
  // The facts the loop check reads (topology_checks.cpp).
  auto& k = r.facts().kafka;
  k.bootstrap = cfg.bootstrap_servers;
  k.topics = cfg.topics;
  k.topics_regex = cfg.topics_regex.empty()
                       ? std::string{}
                       : subscription_pattern(cfg.topics_regex);
  if (cfg.set_topic_header) k.topic_header = cfg.topic_header;
  return cfg;
}

std::map<std::string, std::string>
consumer_settings(const kafka_source_config& cfg,
                  const std::string& bootstrap) {
  std::map<std::string, std::string> out{
      // Unlike Kafka's `latest`: a new group reads what its topics hold
      // (nothing already there is skipped).
      {"auto.offset.reset", "earliest"},
      // Come back within a second of the brokers (as the sink).
      {"reconnect.backoff.max.ms", "1000"},
      {"auto.commit.interval.ms", "1000"},
      // librdkafka's default prefetch is 64 MB (and 100,000 records): the
      // source wakes the fetchers as it reads the queue down
      // (fetch_waker), so a smaller one keeps the rate and not the memory.
      {"queued.max.messages.kbytes", "16384"},
  };
  for (auto& [k, v] : cfg.consumer)
    out[k] = v;
  out["bootstrap.servers"] = bootstrap;
  out["group.id"] = cfg.group_id;
  out["enable.auto.offset.store"] = "false";
  out["enable.auto.commit"] = "true";
  out["partition.assignment.strategy"] = "cooperative-sticky";
  return out;
}

} // namespace flumen::sources
