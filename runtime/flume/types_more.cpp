// More sources (taildir, seq, kafka), the channels and the interceptors
// `flumen import` converts.

#include <cctype>
#include <map>

#include "runtime/flume/types.hpp"

namespace flumen::flume {
namespace {

/// Flume's taildir file name regex as a glob, or nullopt: `.*` is `*`,
/// `.` is `?`, `\.` is `.`, anchors dropped; nothing else of regex.
std::optional<std::string> regex_to_glob(std::string_view re) {
  if (!re.empty() && re.front() == '^') re.remove_prefix(1);
  if (!re.empty() && re.back() == '$' &&
      (re.size() < 2 || re[re.size() - 2] != '\\'))
    re.remove_suffix(1);
  std::string out;
  for (std::size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '.') {
      if (i + 1 < re.size() && re[i + 1] == '*') {
        out += '*';
        ++i;
      } else {
        out += '?';
      }
    } else if (c == '\\') {
      if (i + 1 == re.size()) return std::nullopt;
      char e = re[++i];
      if (std::isalnum(static_cast<unsigned char>(e)) || e == '*' || e == '?' ||
          e == '[' || e == ']')
        return std::nullopt; // \d, \w...; a glob can't say a literal *
      out += e;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_' || c == ',' || c == '@' || c == '%' || c == '~' ||
               c == '=' || static_cast<unsigned char>(c) >= 0x80) {
      out += c;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

void taildir(converter& c) {
  auto* groups = c.take({"filegroups"});
  auto paths = c.take_prefix("filegroups.");
  auto& fg = c.out().child("filegroups");
  if (groups)
    for (auto& g : split_ws(c.value(*groups))) {
      const prop* path = nullptr;
      for (auto* p : paths)
        if (p->key == "filegroups." + g) path = p;
      if (!path) {
        c.warn(*groups, "file group " + g + " has no filegroups." + g +
                            " path; Flume refuses the source");
        continue;
      }
      auto full = c.value(*path);
      auto slash = full.rfind('/');
      auto dir = slash == std::string::npos ? std::string{}
                                            : full.substr(0, slash + 1);
      auto name = slash == std::string::npos ? full : full.substr(slash + 1);
      auto glob = regex_to_glob(name);
      if (!glob) {
        c.unconvertible(*path, "the file name regex '" + name +
                                   "' has no glob equivalent (flumen's "
                                   "taildir takes a glob: .* and . only)");
        continue;
      }
      auto& entry = fg.set(g, ynode::str(dir + *glob));
      if (*glob != name) entry.comment = "Flume's regex " + name;
    }
  for (auto* p : paths)
    if (!groups || p->key.size() <= 11 ||
        fg.find(p->key.substr(11)) == nullptr) {
      bool listed = false;
      if (groups)
        for (auto& g : split_ws(groups->value))
          listed = listed || "filegroups." + g == p->key;
      if (!listed)
        c.warn(*p, "a file group not listed in filegroups: Flume ignores "
                   "it, and so does this");
    }
  c.text({"positionFile"}, "positions_file",
         "${HOME}/.flume/taildir_position.json");
  for (auto* p : c.take_prefix("headers.")) {
    auto rest = p->key.substr(8);
    auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) {
      c.unconvertible(*p, "not headers.<group>.<key>");
      continue;
    }
    c.out()
        .child("headers")
        .child(rest.substr(0, dot))
        .set(rest.substr(dot + 1), ynode::str(c.value(*p)));
  }
  c.boolean({"byteOffsetHeader"}, "byte_offset_header");
  c.boolean({"skipToEnd"}, "skip_to_end");
  c.millis({"idleTimeout"}, "idle_timeout");
  c.integer({"batchSize"}, "batch_size", {}, 1);
  c.boolean({"fileHeader"}, "file_header");
  c.text({"fileHeaderKey"}, "file_header_key");
  c.ignore({"writePosInterval"},
           "flumen saves positions as the channel accepts lines");
  c.ignore({"maxBatchCount", "backoffSleepIncrement", "maxBackoffSleep",
            "cachePatternMatching"},
           "flumen's taildir polls and batches on its own (poll_interval)");
}

void seq(converter& c) {
  c.integer({"batchSize"}, "batch_size", 1, 1);
  c.integer({"totalEvents"}, "count", {}, 0);
}

/// Issue 20's kafka source names (bootstrap_servers, topics, ...).
void kafka_source(converter& c) {
  c.text({"kafka.bootstrap.servers"}, "bootstrap_servers");
  if (auto* p = c.take({"kafka.topics", "topic"})) {
    auto l = ynode::list();
    std::string item;
    for (char ch : c.value(*p) + ",") {
      if (ch != ',') {
        item += ch;
        continue;
      }
      auto t = std::string(trim(item));
      if (!t.empty()) l.push(ynode::str(t));
      item.clear();
    }
    c.out().set("topics", std::move(l));
  }
  c.text({"kafka.topics.regex"}, "topics_regex");
  c.text({"kafka.consumer.group.id", "groupId"}, "group_id", "flume");
  c.integer({"batchSize"}, "batch_size", 1000, 1);
  c.millis({"batchDurationMillis"}, "batch_duration", 1000);
  c.boolean({"setTopicHeader"}, "set_topic_header", true);
  c.text({"topicHeader"}, "topic_header", "topic");
  if (auto* p = c.take({"useFlumeEventFormat"}))
    if (converter::parse_bool(p->value))
      c.out().set("format", ynode::str("flume_avro"));
  c.refuse({"zookeeperConnect", "migrateZookeeperOffsets"},
           "ZooKeeper offsets: flumen's consumer keeps offsets in Kafka");
  for (auto* p : c.take_prefix("kafka.consumer.")) {
    auto key = p->key.substr(15);
    if (key.rfind("ssl.keystore", 0) == 0 ||
        key.rfind("ssl.truststore", 0) == 0)
      c.unconvertible(*p, "a Java keystore: give librdkafka PEM files "
                          "(ssl.ca.location, ssl.certificate.location, "
                          "ssl.key.location)");
    else if (key.rfind("sasl.kerberos", 0) == 0 || key == "sasl.jaas.config")
      c.unconvertible(*p, "Kerberos and JAAS have no flumen counterpart");
    else if (key == "ssl.disableTLSHostnameVerification") {
      if (converter::parse_bool(p->value))
        c.out()
            .child("consumer")
            .set("ssl.endpoint.identification.algorithm", ynode::str("none"));
    } else if (key == "key.deserializer" || key == "value.deserializer")
      c.warn(*p, "ignored: flumen reads keys and values as bytes");
    else
      c.out().child("consumer").set(key, ynode::str(c.value(*p)));
  }
}

void memory(converter& c) {
  c.integer({"capacity"}, "capacity", 100, 1);
  c.integer({"transactionCapacity"}, "transaction_capacity", 100, 1);
  c.seconds({"keep-alive"}, "keep_alive", 3);
  if (auto* p = c.take({"byteCapacity"})) {
    auto v = c.value(*p);
    auto n = converter::parse_long(v);
    if (!converter::has_reference(v) && (!n || *n < 0)) {
      c.unconvertible(*p, "not a number of bytes");
    } else {
      c.out().set("byte_capacity", ynode::str(v)).comment =
          "Flume counts bodies only; flumen counts headers and 64 bytes per "
          "event too";
    }
  }
  c.ignore({"byteCapacityBufferPercentage"},
           "flumen counts each event's headers and overhead instead");
}

void file(converter& c) {
  auto* data = c.take({"dataDirs"});
  auto* checkpoint = c.take({"checkpointDir"});
  std::string dir = "${HOME}/.flume/file-channel/data";
  if (data) {
    std::string first;
    for (char ch : c.value(*data)) {
      if (ch == ',') break;
      first += ch;
    }
    dir = std::string(trim(first));
  }
  auto& d = c.out().set("directory", ynode::str(dir + "/flumen"));
  d.comment = "one directory for the log and its checkpoint";
  c.note(std::string("Flume's ") +
         (data ? "dataDirs " + std::string(trim(data->value)) : "") +
         (data && checkpoint ? " and " : "") +
         (checkpoint ? "checkpointDir " + std::string(trim(checkpoint->value))
                     : "") +
         (data || checkpoint ? "" : "default directories") +
         ": flumen keeps its log and checkpoint in one directory, made here "
         "under the first data dir. It does not read Flume's files: let "
         "the Flume agent drain its channel first");
  c.integer({"capacity"}, "capacity", {}, 1);
  c.integer({"transactionCapacity"}, "transaction_capacity", {}, 1);
  c.seconds({"keep-alive"}, "keep_alive", 3);
  c.integer({"maxFileSize"}, "max_file_size", {}, 1);
  c.integer({"minimumRequiredSpace"}, "min_free_space", {}, 0);
  auto* per_tx = c.take({"fsyncPerTransaction"});
  auto* interval = c.take({"fsyncInterval"});
  if (per_tx && !converter::parse_bool(per_tx->value)) {
    c.out().set("fsync", ynode::str("interval"));
    auto n = interval ? converter::parse_long(interval->value) : 5;
    if (!n || *n < 1)
      c.unconvertible(*interval, "not a positive number of seconds");
    else
      c.out().set("fsync_interval", ynode::raw(std::to_string(*n) + "s"));
  }
  c.ignore({"checkpointInterval", "useDualCheckpoints", "backupCheckpointDir",
            "checkpointOnClose", "compressBackupCheckpoint", "useLogReplayV1",
            "useFastReplay", "maxFileSize.ignored"},
           "flumen's file channel checkpoints on its own (see its page)");
  c.refuse_prefix("encryption.",
                  "flumen's file channel does not encrypt; use an encrypted "
                  "file system");
}

} // namespace

void add_more_source_rules(std::vector<type_rule>& t) {
  t.push_back({role::source,
               {"taildir", "org.apache.flume.source.taildir.TaildirSource"},
               "taildir",
               {},
               taildir});
  t.push_back({role::source,
               {"seq", "org.apache.flume.source.SequenceGeneratorSource"},
               "seq",
               {},
               seq});
  t.push_back({role::source,
               {"kafka", "org.apache.flume.source.kafka.KafkaSource"},
               "kafka",
               {},
               kafka_source});
}

void add_channel_rules(std::vector<type_rule>& t) {
  t.push_back({role::channel,
               {"memory", "org.apache.flume.channel.MemoryChannel"},
               "memory",
               {},
               memory});
  t.push_back({role::channel,
               {"file", "org.apache.flume.channel.file.FileChannel"},
               "file",
               {},
               file});
  t.push_back({role::channel,
               {"jdbc", "org.apache.flume.channel.jdbc.JdbcChannel"},
               {},
               "the JDBC channel has no flumen counterpart (use the file "
               "channel)",
               nullptr});
  t.push_back(
      {role::channel,
       {"spillablememory", "org.apache.flume.channel.SpillableMemoryChannel"},
       {},
       "the spillable memory channel has no flumen counterpart (use "
       "memory or file)",
       nullptr});
  t.push_back({role::channel,
               {"kafka", "org.apache.flume.channel.kafka.KafkaChannel"},
               {},
               "the Kafka channel has no flumen counterpart (use a kafka "
               "sink and a kafka source)",
               nullptr});
}

} // namespace flumen::flume
