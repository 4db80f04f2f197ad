// The sinks and interceptors `flumen import` converts, and the table of
// every Flume type (find_type).

#include <cctype>
#include <tuple>

#include "runtime/flume/types.hpp"

namespace flumen::flume {
namespace {

void logger(converter& c) {
  c.integer({"maxBytesToLog"}, "max_body_bytes", {}, 0);
}

void null_sink(converter& c) {
  c.integer({"batchSize"}, "batch_size", 100, 1);
}

void file_roll(converter& c) {
  c.text({"sink.directory"}, "directory");
  c.seconds({"sink.rollInterval"}, "roll_interval");
  if (auto* p = c.take({"sink.serializer"})) {
    auto v = std::string(trim(p->value));
    auto upper = v;
    for (auto& ch : upper)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (upper == "TEXT")
      c.out().set("format", ynode::str("line"));
    else if (upper == "HEADER_AND_TEXT")
      c.out().set("format", ynode::str("header_and_body"));
    else
      c.unconvertible(*p, "flumen's file_roll writes TEXT or "
                          "HEADER_AND_TEXT only");
  }
  if (auto* p = c.take({"sink.serializer.appendNewline"}))
    if (!converter::parse_bool(p->value))
      c.unconvertible(*p, "flumen's file_roll ends every event with a "
                          "newline");
  c.integer({"sink.batchSize"}, "batch_size", {}, 1);
  c.text({"sink.pathManager.prefix"}, "prefix");
  if (auto* p = c.take({"sink.pathManager"}))
    if (trim(p->value) != "DEFAULT" && trim(p->value) != "default")
      c.unconvertible(*p, "a path manager flumen does not have");
  c.refuse({"sink.pathManager.extension"},
           "flumen's file_roll names files <prefix><ms>-<n>, without an "
           "extension");
}

/// librdkafka has no Java keystores, Kerberos or Java classes.
void kafka_client_key(converter& c, prop& p, const std::string& key,
                      ynode& into) {
  if (key.rfind("ssl.keystore", 0) == 0 ||
      key.rfind("ssl.truststore", 0) == 0) {
    c.unconvertible(p, "a Java keystore: give librdkafka PEM files "
                       "(ssl.ca.location, ssl.certificate.location, "
                       "ssl.key.location)");
  } else if (key.rfind("sasl.kerberos", 0) == 0 || key == "sasl.jaas.config") {
    c.unconvertible(p, "Kerberos and JAAS have no flumen counterpart");
  } else if (key == "ssl.disableTLSHostnameVerification") {
    // Flume's own switch; librdkafka's is the identification algorithm.
    if (converter::parse_bool(p.value))
      into.set("ssl.endpoint.identification.algorithm", ynode::str("none"));
  } else if (key == "key.serializer" || key == "value.serializer") {
    c.warn(p, "ignored: flumen sends keys and values as bytes");
  } else if (key == "partitioner.class" || key == "interceptor.classes") {
    c.unconvertible(p, "a Java class");
  } else if (key == "buffer.memory" || key == "max.block.ms") {
    c.warn(p, "ignored: a Java client setting; flumen bounds what it holds "
              "with max_inflight_bytes");
  } else {
    into.set(key, ynode::str(c.value(p)));
  }
}

void avro_sink(converter& c) {
  c.text({"hostname"}, "hostname");
  auto* host = c.out().find("hostname");
  auto h = host ? host->text : "";
  c.integer({"port"}, "port", {}, 1);
  c.integer({"batch-size"}, "batch_size", 100, 1);
  // Flume's AvroSink waits for each call's answer before the next.
  c.out().set("max_inflight", ynode::raw("1")).comment =
      "Flume sends one call at a time; flumen's default is 4";
  c.millis({"connect-timeout"}, "connect_timeout", 20000);
  c.millis({"request-timeout"}, "request_timeout", 20000);
  c.seconds({"reset-connection-interval"}, "reset_connection_interval");
  avro_compression(c);
  c.integer({"compression-level"}, "compression_level", {}, 0);
  c.ignore({"maxIoWorkers"}, "one thread serves the connection");
  const std::string trust =
      "a Java truststore: convert it to a PEM CA file (keytool -exportcert "
      "-rfc) and set `tls: {certificate, key, ca_file}` "
      "(docs/migrating-from-flume.md)";
  bool ssl = false;
  if (auto* p = c.take({"ssl"})) {
    ssl = converter::parse_bool(c.value(*p));
    if (ssl) c.unconvertible(*p, trust);
  }
  for (auto* p :
       {c.take({"trust-all-certs"}), c.take({"truststore"}),
        c.take({"truststore-password"}), c.take({"truststore-type"}),
        c.take({"exclude-protocols"}), c.take({"include-protocols"}),
        c.take({"exclude-cipher-suites"}), c.take({"include-cipher-suites"})})
    if (p) {
      if (ssl)
        c.unconvertible(*p, trust);
      else
        c.warn(*p, "ignored: `ssl` is not true");
    }
  if (!ssl && h != "127.0.0.1" && h != "localhost" && h != "'::1'")
    c.out().set("insecure", ynode::raw("true")).comment =
        "Flume's Avro sink sends in clear text; flumen asks to be told";
}

void kafka_sink(converter& c) {
  c.text({"kafka.bootstrap.servers", "brokerList"}, "bootstrap_servers");
  c.text({"kafka.topic", "topic"}, "topic", "default-flume-topic");
  c.integer({"flumeBatchSize", "batchSize"}, "batch_size", 100, 1);
  for (auto* p : c.take_prefix("kafka."))
    if (p->key != "kafka.topic" && p->key != "kafka.bootstrap.servers" &&
        p->key.rfind("kafka.producer.", 0) != 0 &&
        p->key != "kafka.partitioner.class") {
      // Flume reads only these under kafka.; the user guide's own example
      // has kafka.flumeBatchSize, which it ignores.
      c.warn(*p, "Flume ignores it (not an option of its Kafka sink), and "
                 "so does this");
      c.note(p->full + " is ignored, as by Flume");
    } else {
      p->used = false;
    }
  if (auto* p = c.take({"kafka.producer.acks", "requiredAcks"})) {
    auto v = std::string(trim(p->value));
    if (v == "all" || v == "-1") {
      c.note("acks " + v +
             ": flumen's producer always waits for all "
             "in-sync replicas (idempotent)");
    } else {
      c.warn(*p, "acks " + v +
                     " is weaker than flumen's: the sink keeps its "
                     "idempotent producer (acks=all), so a confirmed record "
                     "is on every in-sync replica");
      c.note(p->full + " = " + v +
             " (Flume's) not kept: flumen's producer is idempotent "
             "(acks=all)");
    }
  } else {
    c.note("Flume's producer acks=1 by default; flumen's is idempotent "
           "(acks=all): slower to confirm, never loses a confirmed record");
  }
  c.text({"partitionIdHeader"}, "partition_header");
  c.integer({"defaultPartitionId"}, "default_partition", {}, 0);
  c.text({"topicHeader"}, "topic_header");
  c.boolean({"allowTopicOverride"}, "allow_topic_override", true);
  c.text({"timestampHeader"}, "timestamp_header");
  if (auto* p = c.take({"useFlumeEventFormat"}))
    if (converter::parse_bool(c.value(*p)))
      c.out().set("format", ynode::str("flume_avro"));
  auto headers = c.take_prefix("header.");
  if (headers.empty()) {
    c.out().set("headers", ynode::str("none")).comment =
        "Flume sends no event headers to Kafka";
  } else {
    auto& h = c.out().child("headers");
    for (auto* p : headers)
      h.set(p->key.substr(7), ynode::str(c.value(*p)));
  }
  c.refuse({"kafka.partitioner.class"}, "a Java class");
  ynode producer;
  for (auto* p : c.take_prefix("kafka.producer."))
    kafka_client_key(c, *p, p->key.substr(15), producer);
  if (!producer.items.empty()) c.out().set("producer", std::move(producer));
}

void timestamp(converter& c) {
  c.text({"headerName"}, "header_name");
  c.boolean({"preserveExisting"}, "preserve_existing");
}

void host(converter& c) {
  c.text({"hostHeader"}, "host_header");
  c.boolean({"useIP"}, "use_ip");
  c.boolean({"preserveExisting"}, "preserve_existing");
}

void static_(converter& c) {
  c.text({"key"}, "key");
  c.text({"value"}, "value");
  c.boolean({"preserveExisting"}, "preserve_existing");
}

void remove_header(converter& c) {
  c.text({"withName"}, "with_name");
  c.text({"fromList"}, "from_list");
  c.text({"fromListSeparator"}, "from_list_separator");
  c.text({"matching"}, "matching");
}

void uuid(converter& c) {
  c.text({"headerName"}, "header_name");
  c.boolean({"preserveExisting"}, "preserve_existing");
  c.text({"prefix"}, "prefix");
}

void search_replace(converter& c) {
  c.text({"searchPattern"}, "search_pattern");
  c.text({"replaceString"}, "replace_string");
  c.text({"charset"}, "charset");
}

void regex_filter(converter& c) {
  c.text({"regex"}, "regex");
  c.boolean({"excludeEvents"}, "exclude_events");
}

void regex_extractor(converter& c) {
  c.text({"regex"}, "regex");
  auto* list = c.take({"serializers"});
  auto parts = c.take_prefix("serializers.");
  auto l = ynode::list();
  if (list)
    for (auto& s : split_ws(c.value(*list))) {
      ynode item;
      for (auto* p : parts) {
        auto prefix = "serializers." + s + ".";
        if (p->key.rfind(prefix, 0) != 0) continue;
        auto key = p->key.substr(prefix.size());
        if (key == "name") {
          item.set("name", ynode::str(c.value(*p)));
        } else if (key == "type") {
          auto v = std::string(trim(p->value));
          if (v == "org.apache.flume.interceptor."
                   "RegexExtractorInterceptorMillisSerializer")
            item.set("type", ynode::str("millis"));
          else if (v != "DEFAULT" && v != "default" &&
                   v != "org.apache.flume.interceptor."
                        "RegexExtractorInterceptorPassThroughSerializer")
            c.unconvertible(*p, "a serializer class flumen does not have");
        } else if (key == "pattern") {
          item.set("pattern", ynode::str(c.value(*p)));
        } else {
          c.unconvertible(*p, "not an option of a serializer");
        }
      }
      if (!item.find("name")) {
        c.warn(*list, "serializer " + s +
                          " has no name; Flume refuses the interceptor");
        continue;
      }
      // name first, as the reference writes it.
      ynode ordered;
      ordered.set("name", *item.find("name"));
      for (auto& [k, v] : item.items)
        if (k != "name") ordered.set(k, v);
      l.push(std::move(ordered));
    }
  c.out().set("serializers", std::move(l));
}

} // namespace

void add_sink_rules(std::vector<type_rule>& t) {
  auto sink = [&](std::vector<std::string_view> names, std::string_view ours,
                  void (*fn)(converter&)) {
    t.push_back({role::sink, std::move(names), ours, {}, fn});
  };
  auto no = [&](std::vector<std::string_view> names, std::string_view why) {
    t.push_back({role::sink, std::move(names), {}, why, nullptr});
  };
  sink({"logger", "org.apache.flume.sink.LoggerSink"}, "logger", logger);
  sink({"null", "org.apache.flume.sink.NullSink"}, "null", null_sink);
  sink({"file_roll", "org.apache.flume.sink.RollingFileSink"}, "file_roll",
       file_roll);
  sink({"kafka", "org.apache.flume.sink.kafka.KafkaSink"}, "kafka", kafka_sink);
  sink({"avro", "org.apache.flume.sink.AvroSink"}, "avro", avro_sink);
  no({"thrift", "org.apache.flume.sink.ThriftSink"},
     "Flume's Thrift RPC sink has no flumen counterpart");
  no({"hdfs", "org.apache.flume.sink.hdfs.HDFSEventSink"},
     "HDFS has no flumen sink (write to Kafka, or file_roll)");
  no({"hive", "org.apache.flume.sink.hive.HiveSink"},
     "Hive has no flumen sink");
  no({"hbase", "org.apache.flume.sink.hbase.HBaseSink"},
     "HBase has no flumen sink");
  no({"hbase2", "org.apache.flume.sink.hbase2.HBase2Sink"},
     "HBase has no flumen sink");
  no({"asynchbase", "org.apache.flume.sink.hbase.AsyncHBaseSink"},
     "HBase has no flumen sink");
  no({"irc", "org.apache.flume.sink.irc.IRCSink"}, "IRC has no flumen sink");
  no({"elasticsearch", "org.apache.flume.sink.elasticsearch.ElasticSearchSink"},
     "Elasticsearch has no flumen sink");
  no({"morphline_solr",
      "org.apache.flume.sink.solr.morphline.MorphlineSolrSink"},
     "Solr (morphlines) has no flumen sink");
  no({"http", "org.apache.flume.sink.http.HttpSink"},
     "Flume's HTTP sink has no flumen counterpart");
}

void add_interceptor_rules(std::vector<type_rule>& t) {
  auto i = [&](std::vector<std::string_view> names, std::string_view ours,
               void (*fn)(converter&)) {
    t.push_back({role::interceptor, std::move(names), ours, {}, fn});
  };
  i({"timestamp", "org.apache.flume.interceptor.TimestampInterceptor$Builder"},
    "timestamp", timestamp);
  i({"host", "org.apache.flume.interceptor.HostInterceptor$Builder"}, "host",
    host);
  i({"static", "org.apache.flume.interceptor.StaticInterceptor$Builder"},
    "static", static_);
  i({"remove_header",
     "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder"},
    "remove_header", remove_header);
  i({"org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"}, "uuid",
    uuid);
  i({"search_replace",
     "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder"},
    "search_replace", search_replace);
  i({"regex_filter",
     "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"},
    "regex_filter", regex_filter);
  i({"regex_extractor",
     "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder"},
    "regex_extractor", regex_extractor);
  t.push_back({role::interceptor,
               {"org.apache.flume.sink.solr.morphline.MorphlineInterceptor$"
                "Builder"},
               {},
               "morphlines have no flumen counterpart",
               nullptr});
}

const type_rule* find_type(role r, std::string_view flume_type) {
  static const std::vector<type_rule> table = [] {
    std::vector<type_rule> t;
    add_source_rules(t);
    add_channel_rules(t);
    add_sink_rules(t);
    add_interceptor_rules(t);
    // What Flume's components require (Configurables.ensureRequiredNonNull
    // and their configure()).
    const std::vector<
        std::tuple<role, std::string_view, std::string_view, std::string_view>>
        required = {
            {role::source, "netcat", "bind", "bind"},
            {role::source, "netcat", "port", "port"},
            {role::source, "netcat_udp", "bind", "bind"},
            {role::source, "netcat_udp", "port", "port"},
            {role::source, "syslog_tcp", "port", "port"},
            {role::source, "syslog_udp", "port", "port"},
            {role::source, "multiport_syslog_tcp", "ports", "ports"},
            {role::source, "http", "port", "port"},
            {role::source, "exec", "command", "command"},
            {role::source, "spooldir", "spool_dir", "spoolDir"},
            {role::source, "taildir", "filegroups", "filegroups"},
            {role::source, "kafka", "bootstrap_servers",
             "kafka.bootstrap.servers"},
            {role::sink, "file_roll", "directory", "sink.directory"},
            {role::sink, "kafka", "bootstrap_servers",
             "kafka.bootstrap.servers"},
        };
    for (auto& rule : t)
      for (auto& [r, ours, key, flume] : required)
        if (rule.r == r && rule.ours == ours)
          rule.required.emplace_back(key, flume);
    return t;
  }();
  auto same_ci = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i])))
        return false;
    return true;
  };
  for (auto& rule : table) {
    if (rule.r != r) continue;
    for (auto name : rule.names) {
      // Aliases without case (Flume upper-cases them into its enums);
      // class names exactly, as Java loads them.
      bool is_class = name.find('.') != std::string_view::npos;
      if (is_class ? name == flume_type : same_ci(name, flume_type))
        return &rule;
    }
  }
  return nullptr;
}

} // namespace flumen::flume
