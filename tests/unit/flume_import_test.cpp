// `flumen import`'s converter (runtime/flume/import.hpp): Flume's names,
// old and new, to ours; Flume's defaults written out; what does not
// convert named with its key and line; Flume's own silent drops warned
// about. The output is parsed back with yaml-cpp. e2e.flume_import runs
// `flumen validate` on converted files and Flume's tutorial agent.

#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "runtime/flume/import.hpp"

using namespace flumen::flume;

namespace {

import_result convert(const std::string& text, bool partial = false) {
  import_options opt;
  opt.partial = partial;
  opt.file_name = "flume.conf";
  return import_flume(text, opt);
}

/// The converted agent a1, parsed back.
YAML::Node agent(const import_result& r) {
  EXPECT_TRUE(r.unconvertible.empty()) << r.unconvertible.front().to_string();
  EXPECT_FALSE(r.yaml.empty()) << r.error;
  return YAML::Load(r.yaml)["agents"]["a1"];
}

bool has_note(const std::vector<import_note>& notes, const std::string& key,
              std::size_t line, const std::string& part) {
  return std::any_of(notes.begin(), notes.end(), [&](auto& n) {
    return n.key == key && n.line == line &&
           n.message.find(part) != std::string::npos;
  });
}

const std::string tutorial = R"(# the tutorial, a Kafka sink
a1.sources = r1
a1.sinks = k1
a1.channels = c1
a1.sources.r1.type = NetCat
a1.sources.r1.bind = localhost
a1.sources.r1.port = 44444
a1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.MemoryChannel
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.brokerList = old:9092
a1.sinks.k1.kafka.bootstrap.servers = new:9092
a1.sinks.k1.topic = log_topic
a1.sinks.k1.defaultPartitionId = 0
a1.sinks.k1.requiredAcks = 1
a1.sinks.k1.kafka.producer.compression.type = lz4
a1.sinks.k1.channel = c1
)";

} // namespace

TEST(flume_importer, the_tutorial_with_flumes_defaults_written_out) {
  auto r = convert(tutorial);
  auto a = agent(r);
  EXPECT_EQ(r.yaml.rfind("# Converted by `flumen import` from flume.conf", 0),
            0u);
  auto src = a["sources"]["r1"];
  EXPECT_EQ(src["type"].as<std::string>(), "netcat"); // alias without case
  EXPECT_EQ(src["port"].as<int>(), 44444);
  EXPECT_EQ(src["channels"][0].as<std::string>(), "c1");
  EXPECT_TRUE(src["ack_every_event"].as<bool>());
  EXPECT_EQ(src["max_line_length"].as<int>(), 511); // Flume counts the \n
  EXPECT_EQ(src["overlong_policy"].as<std::string>(), "drop");
  auto ch = a["channels"]["c1"];
  EXPECT_EQ(ch["type"].as<std::string>(), "memory");
  EXPECT_EQ(ch["capacity"].as<int>(), 1000);
  EXPECT_EQ(ch["transaction_capacity"].as<int>(), 100);
  EXPECT_EQ(ch["keep_alive"].as<std::string>(), "3s");
  auto k = a["sinks"]["k1"];
  EXPECT_EQ(k["type"].as<std::string>(), "kafka");
  EXPECT_EQ(k["bootstrap_servers"].as<std::string>(), "new:9092");
  EXPECT_EQ(k["topic"].as<std::string>(), "log_topic");
  EXPECT_EQ(k["default_partition"].as<int>(), 0);
  EXPECT_EQ(k["batch_size"].as<int>(), 100);
  EXPECT_TRUE(k["allow_topic_override"].as<bool>());
  EXPECT_EQ(k["headers"].as<std::string>(), "none");
  EXPECT_EQ(k["producer"]["compression.type"].as<std::string>(), "lz4");
  EXPECT_FALSE(k["producer"]["acks"]) << "idempotence is kept";
  EXPECT_TRUE(has_note(r.warnings, "a1.sinks.k1.requiredAcks", 17,
                       "weaker than flumen's"));
  // Components in the order the file lists them: sources, channels, sinks.
  EXPECT_LT(r.yaml.find("sources:"), r.yaml.find("channels:\n"));
}

TEST(flume_importer, defaults_of_memory_channel_and_kafka_topic) {
  auto a = agent(convert("a1.sources = s\na1.channels = c\na1.sinks = k\n"
                         "a1.sources.s.type = seq\na1.sources.s.channels = c\n"
                         "a1.channels.c.type = memory\n"
                         "a1.sinks.k.type = kafka\na1.sinks.k.channel = c\n"
                         "a1.sinks.k.kafka.bootstrap.servers = b:1\n"));
  EXPECT_EQ(a["channels"]["c"]["capacity"].as<int>(), 100);
  EXPECT_EQ(a["channels"]["c"]["transaction_capacity"].as<int>(), 100);
  EXPECT_EQ(a["sinks"]["k"]["topic"].as<std::string>(), "default-flume-topic");
  EXPECT_EQ(a["sources"]["s"]["batch_size"].as<int>(), 1);
}

TEST(flume_importer, interceptors_by_alias_and_builder_class) {
  auto a = agent(convert(R"(a1.sources = r
a1.channels = c
a1.sinks = k
a1.channels.c.type = memory
a1.sinks.k.type = logger
a1.sinks.k.channel = c
a1.sources.r.type = seq
a1.sources.r.channels = c
a1.sources.r.interceptors = t h u x
a1.sources.r.interceptors.t.type = org.apache.flume.interceptor.TimestampInterceptor$Builder
a1.sources.r.interceptors.t.preserveExisting = true
a1.sources.r.interceptors.h.type = HOST
a1.sources.r.interceptors.h.hostHeader = hostname
a1.sources.r.interceptors.u.type = org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder
a1.sources.r.interceptors.x.type = regex_extractor
a1.sources.r.interceptors.x.regex = ^(\\d+)
a1.sources.r.interceptors.x.serializers = s1
a1.sources.r.interceptors.x.serializers.s1.type = org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer
a1.sources.r.interceptors.x.serializers.s1.name = ts
a1.sources.r.interceptors.x.serializers.s1.pattern = yyyy
)"));
  auto i = a["sources"]["r"]["interceptors"];
  ASSERT_EQ(i.size(), 4u);
  EXPECT_EQ(i[0]["type"].as<std::string>(), "timestamp");
  EXPECT_TRUE(i[0]["preserve_existing"].as<bool>());
  EXPECT_EQ(i[1]["type"].as<std::string>(), "host");
  EXPECT_EQ(i[1]["host_header"].as<std::string>(), "hostname");
  EXPECT_EQ(i[2]["type"].as<std::string>(), "uuid");
  EXPECT_EQ(i[3]["regex"].as<std::string>(), "^(\\d+)");
  EXPECT_EQ(i[3]["serializers"][0]["name"].as<std::string>(), "ts");
  EXPECT_EQ(i[3]["serializers"][0]["type"].as<std::string>(), "millis");
  EXPECT_EQ(i[3]["serializers"][0]["pattern"].as<std::string>(), "yyyy");
}

TEST(flume_importer, selectors_sink_groups_and_file_channel) {
  auto r = convert(R"(a1.sources = r
a1.channels = c1 c2
a1.sinks = k1 k2 k3
a1.sources.r.type = syslogtcp
a1.sources.r.port = 5140
a1.sources.r.channels = c1 c2
a1.sources.r.selector.type = multiplexing
a1.sources.r.selector.header = state
a1.sources.r.selector.mapping.CZ = c1
a1.sources.r.selector.default = c2
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = /var/flume/cp
a1.channels.c1.dataDirs = /var/flume/d1,/var/flume/d2
a1.channels.c2.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
a1.sinks.k3.type = logger
a1.sinks.k3.channel = c2
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
a1.sinkgroups.g1.processor.maxpenalty = 10000
)");
  auto a = agent(r);
  auto sel = a["sources"]["r"]["selector"];
  EXPECT_EQ(sel["type"].as<std::string>(), "multiplexing");
  EXPECT_EQ(sel["mapping"]["CZ"][0].as<std::string>(), "c1");
  EXPECT_EQ(sel["default"][0].as<std::string>(), "c2");
  EXPECT_EQ(a["sources"]["r"]["bind"].as<std::string>(), "0.0.0.0");
  EXPECT_EQ(a["channels"]["c1"]["directory"].as<std::string>(),
            "/var/flume/d1/flumen");
  EXPECT_NE(r.yaml.find("checkpointDir /var/flume/cp"), std::string::npos);
  auto g = a["sink_groups"]["g1"];
  EXPECT_EQ(g["sinks"].size(), 2u);
  EXPECT_EQ(g["processor"]["type"].as<std::string>(), "failover");
  EXPECT_EQ(g["processor"]["priority"]["k1"].as<int>(), 10);
  EXPECT_EQ(g["processor"]["max_penalty"].as<std::string>(), "10000ms");
}

TEST(flume_importer, environment_references_become_flumens) {
  auto a = agent(convert(R"(a1.configfilters = f
a1.configfilters.f.type = env
a1.sources = r
a1.channels = c
a1.sinks = k
a1.sources.r.type = netcat
a1.sources.r.bind = ${f['HOST']}
a1.sources.r.port = ${env:PORT}
a1.sources.r.channels = c
a1.channels.c.type = memory
a1.sinks.k.type = file_roll
a1.sinks.k.sink.directory = ${f[DIR]}/out
a1.sinks.k.channel = c
)"));
  EXPECT_EQ(a["sources"]["r"]["bind"].as<std::string>(), "${HOST}");
  EXPECT_EQ(a["sources"]["r"]["port"].as<std::string>(), "${PORT}");
  EXPECT_EQ(a["sinks"]["k"]["directory"].as<std::string>(), "${DIR}/out");
  auto r = convert("a1.configfilters = h\n"
                   "a1.configfilters.h.type = hadoop\n" +
                   tutorial.substr(0, tutorial.find("a1.sources.r1.bind")) +
                   "a1.sources.r1.bind = ${h['x']}\n" +
                   tutorial.substr(tutorial.find("a1.sources.r1.port")));
  EXPECT_TRUE(has_note(r.unconvertible, "a1.configfilters.h.type", 2,
                       "not of type env"));
  EXPECT_TRUE(
      has_note(r.unconvertible, "a1.sources.r1.bind", 8, "not of type env"));
}

TEST(flume_importer, what_does_not_convert_is_named_with_key_and_line) {
  const std::string text = R"(a1.sources = r
a1.channels = c
a1.sinks = k h
a1.sources.r.type = seq
a1.sources.r.channels = c
a1.channels.c.type = memory
a1.sinks.k.type = logger
a1.sinks.k.channel = c
a1.sinks.h.type = hdfs
a1.sinks.h.channel = c
a1.sinks.k.colour = blue
a1.sources.r.type2 = x
)";
  auto r = convert(text);
  EXPECT_TRUE(r.yaml.empty()) << "nothing written without --partial";
  EXPECT_EQ(r.unconvertible.size(), 3u);
  EXPECT_TRUE(has_note(r.unconvertible, "a1.sinks.h.type", 9, "HDFS"));
  EXPECT_TRUE(has_note(r.unconvertible, "a1.sinks.k.colour", 11, "option"));
  EXPECT_TRUE(has_note(r.unconvertible, "a1.sources.r.type2", 12, "option"));
  auto p = convert(text, true);
  ASSERT_FALSE(p.yaml.empty());
  EXPECT_NE(p.yaml.find("# not converted: a1.sinks.k.colour = blue (line 11)"),
            std::string::npos);
  auto a = YAML::Load(p.yaml)["agents"]["a1"];
  EXPECT_TRUE(a["sinks"]["k"]);
  EXPECT_FALSE(a["sinks"]["h"]);
}

TEST(flume_importer, what_flume_drops_is_dropped_with_a_warning) {
  auto r = convert(R"(a1.sources = r lost
a1.channels = c
a1.sinks = k nochan
a1.sources.r.type = seq
a1.sources.r.channels = c
a1.sources.extra.type = seq
a1.channels.c.type = memory
a1.sinks.k.type = logger
a1.sinks.k.channel = c
a1.sinks.nochan.type = logger
a1.sinks.k.maxBytesToLog =
)");
  auto a = agent(r);
  EXPECT_FALSE(a["sources"]["lost"]);
  EXPECT_FALSE(a["sources"]["extra"]);
  EXPECT_FALSE(a["sinks"]["nochan"]);
  EXPECT_TRUE(has_note(r.warnings, "a1.sources", 1, "never configured"));
  EXPECT_TRUE(has_note(r.warnings, "a1.sources.extra.type", 6, "not listed"));
  EXPECT_TRUE(has_note(r.warnings, "a1.sinks.nochan.type", 10, "no channel"));
  EXPECT_TRUE(has_note(r.warnings, "a1.sinks.k.maxBytesToLog", 11, "empty"));
}

TEST(flume_importer, class_names_are_exact_aliases_are_not) {
  auto base = tutorial;
  auto at = base.find("org.apache.flume.sink.kafka.KafkaSink");
  base.replace(at, 37, "org.apache.flume.sink.kafka.kafkasink");
  auto r = convert(base);
  EXPECT_TRUE(has_note(r.unconvertible, "a1.sinks.k1.type", 12, "custom"));
}

// Java reads `\\.` in a properties file as `\.` (a plain `\.` is `.`).
TEST(flume_importer, taildir_regexes_become_globs_or_are_named) {
  auto r = convert(R"(a1.sources = r
a1.channels = c
a1.sinks = k
a1.sources.r.type = TAILDIR
a1.sources.r.channels = c
a1.sources.r.filegroups = f1 f2 f3
a1.sources.r.filegroups.f1 = /var/log/app/.*\\.log
a1.sources.r.filegroups.f2 = /var/log/x/a.b
a1.sources.r.filegroups.f3 = /var/log/y/(a|b)\\.log
a1.sources.r.headers.f1.k = v
a1.channels.c.type = memory
a1.sinks.k.type = logger
a1.sinks.k.channel = c
)",
                   true);
  auto a = YAML::Load(r.yaml)["agents"]["a1"]["sources"]["r"];
  EXPECT_EQ(a["filegroups"]["f1"].as<std::string>(), "/var/log/app/*.log");
  EXPECT_EQ(a["filegroups"]["f2"].as<std::string>(), "/var/log/x/a?b");
  EXPECT_FALSE(a["filegroups"]["f3"]);
  EXPECT_EQ(a["headers"]["f1"]["k"].as<std::string>(), "v");
  EXPECT_EQ(a["positions_file"].as<std::string>(),
            "${HOME}/.flume/taildir_position.json");
  EXPECT_TRUE(
      has_note(r.unconvertible, "a1.sources.r.filegroups.f3", 9, "no glob"));
}

TEST(flume_importer, any_name_is_written_as_yaml_that_reads_back) {
  std::string longname(1500, 'n');
  auto r = convert("a1.sources = r\na1.channels = c\na1.sinks = k\n"
                   "a1.sources.r.type = seq\na1.sources.r.channels = c\n"
                   "a1.sources.r.selector.type = multiplexing\n"
                   "a1.sources.r.selector.mapping." +
                   longname +
                   " = c\n"
                   "a1.sources.r.selector.mapping.it's\\:\\ \\u00e9 = c\n"
                   "a1.channels.c.type = memory\n"
                   "a1.sinks.k.type = logger\na1.sinks.k.channel = c\n");
  auto a = agent(r);
  auto m = a["sources"]["r"]["selector"]["mapping"];
  EXPECT_EQ(m[longname][0].as<std::string>(), "c");
  EXPECT_EQ(m["it's: \xc3\xa9"][0].as<std::string>(), "c");
}

TEST(flume_importer, unreadable_files_and_missing_agents_are_errors) {
  auto r = convert("a1.sources = r\na1.x = \\u12\n");
  EXPECT_EQ(r.error_line, 2u);
  EXPECT_NE(r.error.find("\\uxxxx"), std::string::npos);
  import_options opt;
  opt.agent = "a9";
  auto m = import_flume(tutorial, opt);
  EXPECT_EQ(m.error, "no agent a9 in the file (it has a1)");
}

// Flume's Avro RPC source and sink become flumen's `avro` ones: options by
// Flume's names, Flume's defaults written out, a clear-text non-loopback
// endpoint said `insecure`, ipFilterRules as CIDR blocks; keystores and
// `name:` rules named with their key and line.
TEST(flume_importer, avro_source_and_sink_convert) {
  const std::string text = R"(a1.sources = r
a1.channels = c
a1.sinks = k
a1.sources.r.type = avro
a1.sources.r.bind = 0.0.0.0
a1.sources.r.port = 4141
a1.sources.r.threads = 8
a1.sources.r.compression-type = DEFLATE
a1.sources.r.ipFilter = true
a1.sources.r.ipFilterRules = allow:ip:127.*, allow:ip:10.1.2.3,deny:ip:*
a1.sources.r.channels = c
a1.channels.c.type = memory
a1.sinks.k.type = org.apache.flume.sink.AvroSink
a1.sinks.k.hostname = collector
a1.sinks.k.port = 4545
a1.sinks.k.request-timeout = 5000
a1.sinks.k.reset-connection-interval = 60
a1.sinks.k.compression-type = deflate
a1.sinks.k.compression-level = 9
a1.sinks.k.channel = c
)";
  auto r = convert(text);
  auto a = agent(r);
  auto src = a["sources"]["r"];
  EXPECT_EQ(src["type"].as<std::string>(), "avro");
  EXPECT_EQ(src["bind"].as<std::string>(), "0.0.0.0");
  EXPECT_EQ(src["port"].as<int>(), 4141);
  EXPECT_EQ(src["compression"].as<std::string>(), "deflate");
  EXPECT_TRUE(src["insecure"].as<bool>());
  ASSERT_EQ(src["ip_filter"].size(), 3u);
  EXPECT_EQ(src["ip_filter"][0].as<std::string>(), "allow:127.0.0.0/8");
  EXPECT_EQ(src["ip_filter"][1].as<std::string>(), "allow:10.1.2.3");
  EXPECT_EQ(src["ip_filter"][2].as<std::string>(), "deny:*");
  EXPECT_FALSE(src["threads"]);
  auto k = a["sinks"]["k"];
  EXPECT_EQ(k["type"].as<std::string>(), "avro");
  EXPECT_EQ(k["hostname"].as<std::string>(), "collector");
  EXPECT_EQ(k["port"].as<int>(), 4545);
  EXPECT_EQ(k["batch_size"].as<int>(), 100);
  // One call at a time, as Flume's AvroSink (flumen's default is 4).
  EXPECT_EQ(k["max_inflight"].as<int>(), 1);
  EXPECT_EQ(k["connect_timeout"].as<std::string>(), "20000ms");
  EXPECT_EQ(k["request_timeout"].as<std::string>(), "5000ms");
  EXPECT_EQ(k["reset_connection_interval"].as<std::string>(), "60s");
  EXPECT_EQ(k["compression_level"].as<int>(), 9);
  EXPECT_TRUE(k["insecure"].as<bool>());

  const std::string bad = R"(a1.sources = r
a1.channels = c
a1.sources.r.type = avro
a1.sources.r.bind = 127.0.0.1
a1.sources.r.port = 4141
a1.sources.r.ssl = true
a1.sources.r.keystore = /etc/flume/keystore.jks
a1.sources.r.ipFilter = true
a1.sources.r.ipFilterRules = allow:name:localhost,deny:ip:*
a1.sources.r.channels = c
a1.channels.c.type = memory
)";
  auto b = convert(bad);
  EXPECT_TRUE(has_note(b.unconvertible, "a1.sources.r.ssl", 6, "keystore"));
  EXPECT_TRUE(has_note(b.unconvertible, "a1.sources.r.keystore", 7, "PEM"));
  EXPECT_TRUE(
      has_note(b.unconvertible, "a1.sources.r.ipFilterRules", 9, "name:"));
}

// Flume's Kafka source reading Flume-format records (useFlumeEventFormat)
// converts: flumen's source reads the same AvroFlumeEvent datum.
TEST(flume_importer, a_kafka_source_of_flume_format_records_converts) {
  auto r = convert(R"(a1.sources = r
a1.channels = c
a1.sinks = k
a1.sources.r.type = org.apache.flume.source.kafka.KafkaSource
a1.sources.r.kafka.bootstrap.servers = k:9092
a1.sources.r.kafka.topics = flume
a1.sources.r.useFlumeEventFormat = true
a1.sources.r.channels = c
a1.channels.c.type = memory
a1.sinks.k.type = logger
a1.sinks.k.channel = c
)");
  auto a = agent(r);
  EXPECT_EQ(a["sources"]["r"]["format"].as<std::string>(), "flume_avro");
}

// useFlumeEventFormat on Flume's Kafka sink: records are AvroFlumeEvent
// datums, flumen's `format: flume_avro`.
TEST(flume_importer, kafka_sink_use_flume_event_format_converts) {
  const std::string text = R"(a1.sources = r
a1.channels = c
a1.sinks = k
a1.sources.r.type = seq
a1.sources.r.channels = c
a1.channels.c.type = memory
a1.sinks.k.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k.kafka.bootstrap.servers = b:9092
a1.sinks.k.useFlumeEventFormat = true
a1.sinks.k.channel = c
)";
  auto a = agent(convert(text));
  EXPECT_EQ(a["sinks"]["k"]["format"].as<std::string>(), "flume_avro");
}
