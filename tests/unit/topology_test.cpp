#include "runtime/config/draw.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/topology.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/fake_components.hpp"
#include "tests/support/text_edit.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

// -- helpers ------------------------------------------------------------------

/// The smallest valid agent; tests change it with `edit`.
const std::string base = R"(agents:
  a1:
    sources:
      r1:
        type: fake_src
        port: 44444
        channels: [c1]
    channels:
      c1:
        type: mem
    sinks:
      k1:
        type: snk
        channel: c1
        topic: logs
)";

strs strings(const error_list& errors) {
  strs out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

/// The errors of loading `text` as `t.yaml`.
strs errors_of(const std::string& text) {
  return strings(load_topology_text(text, "t.yaml", test_registry()).errors);
}

} // namespace

// -- registry -----------------------------------------------------------------

TEST(registry, lists_types_per_kind) {
  auto reg = test_registry();
  EXPECT_EQ(reg.types("sources"), (strs{"exec", "fake_src"}));
  EXPECT_EQ(reg.types("channels"), strs{"mem"});
  EXPECT_EQ(reg.types("sinks"), (strs{"logger", "snk"}));
  EXPECT_EQ(reg.types("interceptors"), (strs{"tag", "timestamp"}));
  EXPECT_EQ(reg.types("other"), strs{});
}

TEST(registry, parses_known_types_only) {
  auto reg = test_registry();
  error_list errors;
  option_reader r(YAML::Load("topic: t"), "x", "t.yaml", errors);
  EXPECT_TRUE(reg.parse("sinks", "snk", r).has_value());
  EXPECT_FALSE(reg.parse("sinks", "mem", r).has_value());
  EXPECT_FALSE(reg.parse("other", "snk", r).has_value());
  auto make = reg.parse_interceptor("tag", r);
  ASSERT_TRUE(make.has_value());
  EXPECT_NE((*make)(), nullptr);
  EXPECT_FALSE(reg.parse_interceptor("snk", r).has_value());
  EXPECT_TRUE(errors.empty());
}

// -- loading valid files ------------------------------------------------------

TEST(load_topology, reads_a_multi_agent_file) {
  auto text = R"(agents:
  a1:
    sources:
      r1:
        type: fake_src
        port: 44444
        channels: [c1, c2]
        batch_size: 50
        interceptors:
          - type: timestamp
          - type: tag
            header: hostname
      r2:
        type: exec
        command: tail -F /var/log/x
        channels: c2
    channels:
      c1:
        type: mem
        capacity: 100
        transaction_capacity: 80
      c2:
        type: mem
    sinks:
      k1:
        type: snk
        channel: c1
        topic: logs
        batch_size: 80
      k2:
        type: logger
        channel: c2
      k3:
        type: logger
        channel: c2
  a2:
    sources:
      r1: {type: fake_src, port: 1, channels: [c1]}
    channels:
      c1: {type: mem}
    sinks:
      k1: {type: logger, channel: c1}
)";
  auto res = load_topology_text(text, "multi.yaml", test_registry());
  ASSERT_EQ(strings(res.errors), strs{});
  const auto& topo = res.topo;
  EXPECT_EQ(topo.file, "multi.yaml");
  ASSERT_EQ(topo.agents.size(), 2u);
  const auto* a1 = topo.find("a1");
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1->name, "a1");
  EXPECT_EQ(a1->where.line, 2);
  EXPECT_EQ(a1->where.col, 3);
  EXPECT_EQ(topo.find("a3"), nullptr);

  ASSERT_EQ(a1->sources.size(), 2u);
  const auto& r1 = a1->sources[0];
  EXPECT_EQ(r1.name, "r1");
  EXPECT_EQ(r1.type, "fake_src");
  EXPECT_EQ(r1.path, "agents.a1.sources.r1");
  EXPECT_EQ(r1.where.line, 4);
  EXPECT_EQ(r1.where.col, 7);
  EXPECT_TRUE(static_cast<bool>(r1.spawn));
  EXPECT_EQ(r1.channels, (strs{"c1", "c2"}));
  EXPECT_EQ(r1.interceptor_types, (strs{"timestamp", "tag"}));
  ASSERT_EQ(r1.interceptors.size(), 2u);
  auto second = r1.interceptors[1]();
  ASSERT_NE(dynamic_cast<tag*>(second.get()), nullptr);
  EXPECT_EQ(dynamic_cast<tag*>(second.get())->header, "hostname");
  EXPECT_EQ(r1.facts.batch_size, 50u);
  EXPECT_TRUE(r1.facts.batch_size_stated);
  ASSERT_EQ(r1.facts.listens.size(), 1u);
  EXPECT_EQ(r1.facts.listens[0].host, "127.0.0.1");
  EXPECT_EQ(r1.facts.listens[0].port, 44444);
  EXPECT_EQ(r1.facts.listens[0].proto, transport::tcp);
  const auto& r2 = a1->sources[1];
  EXPECT_EQ(r2.type, "exec");
  EXPECT_EQ(r2.channels, strs{"c2"});
  EXPECT_EQ(r2.facts.batch_size, 0u); // the type states none
  EXPECT_TRUE(r2.facts.listens.empty());

  ASSERT_EQ(a1->channels.size(), 2u);
  EXPECT_EQ(a1->channels[0].facts.transaction_capacity, 80u);
  EXPECT_EQ(a1->channels[0].facts.capacity, 100u);
  EXPECT_EQ(a1->channels[1].facts.transaction_capacity, 1000u); // the default
  ASSERT_NE(a1->find_channel("c2"), nullptr);
  EXPECT_EQ(a1->find_channel("c2")->path, "agents.a1.channels.c2");
  EXPECT_EQ(a1->find_channel("c9"), nullptr);

  ASSERT_EQ(a1->sinks.size(), 3u);
  EXPECT_EQ(a1->sinks[0].channel, "c1");
  EXPECT_EQ(a1->sinks[0].facts.batch_size, 80u);
  EXPECT_TRUE(a1->sinks[0].facts.batch_size_stated);
  EXPECT_EQ(a1->sinks[1].type, "logger");
  EXPECT_EQ(a1->sinks[2].channel, "c2"); // competing consumers are fine

  const auto* a2 = topo.find("a2");
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(a2->sources[0].path, "agents.a2.sources.r1");
  EXPECT_EQ(a2->sinks[0].channel, "c1");
}

TEST(load_topology, allows_the_same_name_in_different_kinds) {
  auto text = edit(edit(edit(base, "c1:", "x:"), "[c1]", "[x]"), "channel: c1",
                   "channel: x");
  text = edit(edit(text, "r1:", "x:"), "k1:", "x:");
  EXPECT_EQ(errors_of(text), strs{});
}

TEST(load_topology, reads_a_file) {
  auto path = std::filesystem::temp_directory_path() / "flumen_topo_test.yaml";
  {
    std::ofstream out(path);
    out << base;
  }
  auto res = load_topology(path.string(), test_registry());
  std::filesystem::remove(path);
  EXPECT_EQ(strings(res.errors), strs{});
  EXPECT_EQ(res.topo.file, path.string());
  ASSERT_EQ(res.topo.agents.size(), 1u);
}

TEST(load_topology, expands_environment_variables) {
  setenv("FLUMEN_T_TOPIC", "from_env", 1);
  setenv("FLUMEN_T_PORT", "5140", 1);
  unsetenv("FLUMEN_T_UNSET");
  auto text = edit(edit(base, "topic: logs", "topic: ${FLUMEN_T_TOPIC}"),
                   "type: snk", "type: ${FLUMEN_T_UNSET:-snk}");
  text = edit(text, "port: 44444", "port: ${FLUMEN_T_PORT}");
  last_topic.clear();
  auto res = load_topology_text(text, "t.yaml", test_registry());
  EXPECT_EQ(strings(res.errors), strs{});
  EXPECT_EQ(last_topic, "from_env");
  EXPECT_EQ(res.topo.agents[0].sinks[0].type, "snk");
}

// -- every error, located
// ---------------------------------------------------------

TEST(load_topology_errors, unknown_key_with_a_hint) {
  EXPECT_EQ(
      errors_of(edit(base, "topic: logs", "topic: logs\n        topik: x")),
      strs{"t.yaml:16:9: agents.a1.sinks.k1: unknown key 'topik' (did "
           "you mean 'topic'?)"});
}

TEST(load_topology_errors, misspelt_required_key) {
  EXPECT_EQ(errors_of(edit(base, "topic: logs", "topik: logs")),
            (strs{"t.yaml:13:9: agents.a1.sinks.k1: missing required key "
                  "'topic'",
                  "t.yaml:15:9: agents.a1.sinks.k1: unknown key 'topik' (did "
                  "you mean 'topic'?)"}));
}

TEST(load_topology_errors, unknown_key_without_a_hint) {
  EXPECT_EQ(
      errors_of(edit(base, "port: 44444", "port: 1\n        colour: red")),
      strs{"t.yaml:7:9: agents.a1.sources.r1: unknown key 'colour'"});
}

TEST(load_topology_errors, unknown_keys_of_agents_and_top_level) {
  auto text = edit(base, "    sinks:", "    sink: {}\n    sinks:");
  text += "agnts: {}\n";
  EXPECT_EQ(
      errors_of(text),
      (strs{"t.yaml:11:5: agents.a1: unknown key 'sink' (did you mean "
            "'sinks'?)",
            "t.yaml:17:1: unknown key 'agnts' (did you mean 'agents'?)"}));
}

TEST(load_topology_errors, wrong_type) {
  EXPECT_EQ(
      errors_of(edit(base, "port: 44444", "port: abc")),
      strs{"t.yaml:6:15: agents.a1.sources.r1.port: expected an integer"});
}

TEST(load_topology_errors, out_of_range) {
  EXPECT_EQ(errors_of(edit(base, "port: 44444", "port: 70000")),
            strs{"t.yaml:6:15: agents.a1.sources.r1.port: must be at most "
                 "65535"});
  EXPECT_EQ(
      errors_of(edit(base, "type: mem", "type: mem\n        capacity: 0")),
      strs{"t.yaml:11:19: agents.a1.channels.c1.capacity: must be at "
           "least 1"});
}

TEST(load_topology_errors, missing_required_key) {
  EXPECT_EQ(errors_of(edit(base, "        topic: logs\n", "")),
            strs{"t.yaml:13:9: agents.a1.sinks.k1: missing required key "
                 "'topic'"});
  EXPECT_EQ(errors_of(edit(base, "        channel: c1\n", "")),
            (strs{"t.yaml:9:7: agents.a1.channels.c1: channel 'c1' is not "
                  "read by any sink",
                  "t.yaml:13:9: agents.a1.sinks.k1: missing required key "
                  "'channel'"}));
  EXPECT_EQ(errors_of(edit(base, "        channels: [c1]\n", "")),
            (strs{"t.yaml:5:9: agents.a1.sources.r1: missing required key "
                  "'channels'",
                  "t.yaml:8:7: agents.a1.channels.c1: channel 'c1' has no "
                  "source"}));
}

TEST(load_topology_errors, empty_channel_list) {
  EXPECT_EQ(errors_of(edit(base, "[c1]", "[]")),
            (strs{"t.yaml:7:19: agents.a1.sources.r1.channels: must not be "
                  "empty",
                  "t.yaml:9:7: agents.a1.channels.c1: channel 'c1' has no "
                  "source"}));
}

TEST(load_topology_errors, missing_type) {
  EXPECT_EQ(errors_of(edit(base, "type: mem", "capacity: 10")),
            strs{"t.yaml:10:9: agents.a1.channels.c1: missing required key "
                 "'type'"});
}

TEST(load_topology_errors, unknown_type_with_a_hint) {
  EXPECT_EQ(errors_of(edit(base, "type: fake_src", "type: fake_srx")),
            strs{"t.yaml:5:15: agents.a1.sources.r1.type: unknown source type "
                 "'fake_srx' (did you mean 'fake_src'?)"});
}

TEST(load_topology_errors, unknown_type_lists_known_types) {
  EXPECT_EQ(errors_of(edit(base, "type: snk", "type: kafka")),
            strs{"t.yaml:13:15: agents.a1.sinks.k1.type: unknown sink type "
                 "'kafka' (known: logger, snk)"});
}

TEST(load_topology_errors, component_that_is_no_mapping) {
  EXPECT_EQ(errors_of(edit(base, "      c1:\n        type: mem\n",
                           "      c1: mem\n")),
            strs{"t.yaml:9:11: agents.a1.channels.c1: expected a mapping with "
                 "'type'"});
}

TEST(load_topology_errors, dangling_channel_of_a_sink) {
  EXPECT_EQ(errors_of(edit(base, "channel: c1", "channel: c2")),
            (strs{"t.yaml:9:7: agents.a1.channels.c1: channel 'c1' is not "
                  "read by any sink",
                  "t.yaml:14:18: agents.a1.sinks.k1.channel: unknown channel "
                  "'c2' (did you mean 'c1'?)"}));
}

TEST(load_topology_errors, dangling_channel_of_a_source) {
  EXPECT_EQ(errors_of(edit(base, "[c1]", "[c1, other]")),
            strs{"t.yaml:7:24: agents.a1.sources.r1.channels[1]: unknown "
                 "channel 'other' (known: c1)"});
  EXPECT_EQ(errors_of(edit(base, "[c1]", "c2")),
            (strs{"t.yaml:7:19: agents.a1.sources.r1.channels: unknown "
                  "channel 'c2' (did you mean 'c1'?)",
                  "t.yaml:9:7: agents.a1.channels.c1: channel 'c1' has no "
                  "source"}));
}

TEST(load_topology_errors, channel_listed_twice) {
  EXPECT_EQ(errors_of(edit(base, "[c1]", "[c1, c1]")),
            strs{"t.yaml:7:24: agents.a1.sources.r1.channels[1]: channel 'c1' "
                 "is listed twice"});
}

TEST(load_topology_errors, channel_not_read_by_any_sink) {
  auto text = edit(edit(base, "[c1]", "[c1, c3]"),
                   "    sinks:", "      c3:\n        type: mem\n    sinks:");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:11:7: agents.a1.channels.c3: channel 'c3' is not "
                 "read by any sink"});
}

TEST(load_topology_errors, channel_without_source) {
  auto text =
      edit(base, "    sinks:", "      c3:\n        type: mem\n    sinks:");
  text += "      k2: {type: logger, channel: c3}\n";
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:11:7: agents.a1.channels.c3: channel 'c3' has no "
                 "source"});
}

TEST(load_topology_errors, batch_size_above_transaction_capacity) {
  auto text = edit(
      edit(base, "type: mem", "type: mem\n        transaction_capacity: 1000"),
      "topic: logs", "topic: logs\n        batch_size: 2000");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:17:21: agents.a1.sinks.k1.batch_size: batch_size 2000 "
                 "exceeds transaction_capacity 1000 of channel 'c1'"});
}

TEST(load_topology_errors, batch_size_above_default_transaction_capacity) {
  auto text = edit(base, "port: 44444", "port: 1\n        batch_size: 1001");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:7:21: agents.a1.sources.r1.batch_size: batch_size "
                 "1001 exceeds transaction_capacity 1000 of channel 'c1'"});
  // Equal is fine, and so is a small channel when the batch isn't stated.
  text = edit(base, "port: 44444", "port: 1\n        batch_size: 1000");
  EXPECT_EQ(errors_of(text), strs{});
  text = edit(base, "type: mem", "type: mem\n        transaction_capacity: 5");
  EXPECT_EQ(errors_of(text), strs{});
}

TEST(load_topology_errors, stated_batch_size_above_a_small_channel) {
  auto small =
      edit(base, "type: mem", "type: mem\n        transaction_capacity: 100");
  // Defaults (1000 here, as in the real sources and sinks) adapt at run
  // time: no error.
  EXPECT_EQ(errors_of(small), strs{});
  EXPECT_EQ(
      errors_of(
          edit(small, "port: 44444", "port: 1\n        batch_size: 1000")),
      strs{"t.yaml:7:21: agents.a1.sources.r1.batch_size: batch_size 1000 "
           "exceeds transaction_capacity 100 of channel 'c1'"});
  EXPECT_EQ(
      errors_of(edit(small, "port: 44444", "port: 1\n        batch_size: 100")),
      strs{});
}

TEST(load_topology_errors, stated_batch_size_above_a_dead_letter_channel) {
  auto text = edit(base, "topic: logs",
                   "topic: logs\n"
                   "        batch_size: 500\n"
                   "        dead_letter_channel: dlq");
  text = edit(text, "    sinks:",
              "      dlq: {type: mem, transaction_capacity: 100}\n    sinks:");
  text += "      k2: {type: logger, channel: dlq}\n";
  // A batch Kafka rejects as a whole goes to the dead-letter channel in one
  // put.
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:17:21: agents.a1.sinks.k1.batch_size: batch_size 500 "
                 "exceeds transaction_capacity 100 of dead-letter channel "
                 "'dlq'"});
  EXPECT_EQ(errors_of(edit(text, "batch_size: 500", "batch_size: 100")),
            strs{});
}

// A value that failed to parse leaves a default the file does not state:
// no later check may judge it (each case gave a false second error).
TEST(load_topology_errors, a_value_that_failed_to_parse_feeds_no_check) {
  auto small =
      edit(base, "type: mem", "type: mem\n        transaction_capacity: 100");
  EXPECT_EQ(errors_of(edit(small, "port: 44444",
                           "port: 1\n        batch_size: lots")),
            strs{"t.yaml:7:21: agents.a1.sources.r1.batch_size: expected an "
                 "integer"});
  EXPECT_EQ(errors_of(edit(edit(base, "type: mem",
                                "type: mem\n        transaction_capacity: x"),
                           "port: 44444", "port: 1\n        batch_size: 5000")),
            strs{"t.yaml:12:31: agents.a1.channels.c1.transaction_capacity: "
                 "expected an integer"});
  auto bytes = edit(base, "type: mem", "type: mem\n        byte_capacity: 4KB");
  EXPECT_EQ(errors_of(edit(bytes, "port: 44444",
                           "port: 1\n        max_line_length: lots")),
            strs{"t.yaml:7:26: agents.a1.sources.r1.max_line_length: expected "
                 "an integer"});
  // r2's bind is no address: it does not stand for 127.0.0.1.
  EXPECT_EQ(errors_of(edit(base, "    channels:\n",
                           "      r2: {type: fake_src, bind: [x], port: 44444, "
                           "channels: [c1]}\n    channels:\n")),
            strs{"t.yaml:8:34: agents.a1.sources.r2.bind: expected a string"});
  // Which channel a sink reads, or a source writes, is not known: no
  // channel is reported unread or without source.
  EXPECT_EQ(
      errors_of(edit(base, "channel: c1", "channel: [c1]")),
      strs{"t.yaml:14:18: agents.a1.sinks.k1.channel: expected a string"});
  EXPECT_EQ(errors_of(edit(base, "channels: [c1]", "channels: {c1: x}")),
            strs{"t.yaml:7:19: agents.a1.sources.r1.channels: expected a list "
                 "of strings"});
}

// A channel lets an event larger than its byte_capacity in alone
// (memory_channel.byte_capacity_splits_a_put_and_admits_a_lone_big_event),
// so a source whose longest event is larger is no error: the default
// byte_capacity (4MB) is below several sources' default limits (16MB).
TEST(load_topology_errors, byte_capacity_below_the_longest_event_is_accepted) {
  auto text = edit(base, "type: mem", "type: mem\n        byte_capacity: 4KB");
  EXPECT_EQ(errors_of(text), strs{});
}

TEST(load_topology_errors, two_sources_on_one_port) {
  auto text = edit(base, "    channels:\n",
                   "      r2: {type: fake_src, port: 44444, channels: [c1]}\n"
                   "      r3: {type: fake_src, bind: 0.0.0.0, port: 5000, "
                   "channels: [c1]}\n"
                   "      r4: {type: fake_src, port: 5000, channels: [c1]}\n"
                   "      r5: {type: fake_src, port: 5001, channels: [c1]}\n"
                   "      r6: {type: fake_src, port: 0, channels: [c1]}\n"
                   "      r7: {type: fake_src, port: 0, channels: [c1]}\n"
                   "    channels:\n");
  EXPECT_EQ(errors_of(text),
            (strs{"t.yaml:8:34: agents.a1.sources.r2.port: source 'r1' "
                  "already listens on 127.0.0.1:44444",
                  "t.yaml:10:34: agents.a1.sources.r4.port: source 'r3' "
                  "already listens on 0.0.0.0:5000, which overlaps "
                  "127.0.0.1:5000 (0.0.0.0 and :: stand for every address)"}));
  // Agents are separate processes: each may use the port.
  auto two = base + "  a2:\n" + base.substr(base.find("    sources:"));
  EXPECT_EQ(errors_of(two), strs{});
}

TEST(load_topology_errors, two_file_channels_on_one_directory) {
  std::string dir = "/tmp"; // columns below count its length
  auto text =
      edit(base, "        type: mem\n",
           "        type: mem\n        directory: " + dir +
               "/fc\n      c2: {type: mem, directory: " + dir + "/x/../fc}\n");
  text = edit(text, "        topic: logs\n",
              "        topic: logs\n      k2: {type: snk, channel: c2, "
              "topic: t}\n");
  text = edit(text, "        channels: [c1]", "        channels: [c1, c2]");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:12:34: agents.a1.channels.c2.directory: '" + dir +
                 "/x/../fc' is the directory of agents.a1.channels.c1 too: "
                 "each file channel needs its own"});
  // One that can never be written is refused too.
  auto unwritable = edit(base, "        type: mem\n",
                         "        type: mem\n        directory: "
                         "/proc/version/fc\n");
  EXPECT_EQ(errors_of(unwritable),
            strs{"t.yaml:11:20: agents.a1.channels.c1.directory: "
                 "'/proc/version' is not a directory"});
}

TEST(load_topology_errors, two_sources_on_one_positions_file) {
  std::string dir = "/tmp"; // columns below count its length
  auto text = edit(base, "        channels: [c1]\n",
                   "        channels: [c1]\n        positions_file: " + dir +
                       "/pos.json\n      r2: {type: fake_src, "
                       "positions_file: " +
                       dir + "/pos.json, channels: [c1]}\n");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:9:44: agents.a1.sources.r2.positions_file: '" + dir +
                 "/pos.json' is the positions file of agents.a1.sources.r1 "
                 "too: each source needs its own"});
}

TEST(load_topology_errors, ipv6_wildcard_overlaps_ipv4) {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) GTEST_SKIP() << "no IPv6 here";
  ::close(fd);
  auto text = edit(base, "    channels:\n",
                   "      r2: {type: fake_src, bind: '::', port: 44444, "
                   "channels: [c1]}\n    channels:\n");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:8:46: agents.a1.sources.r2.port: source 'r1' "
                 "already listens on 127.0.0.1:44444, which overlaps "
                 "[::]:44444 (0.0.0.0 and :: stand for every address)"});
}

TEST(load_topology_errors, bind_address_not_of_this_machine) {
  // 192.0.2.0/24 is reserved for documentation: no machine has it.
  EXPECT_EQ(errors_of(edit(base, "port: 44444",
                           "port: 44444\n        bind: 192.0.2.1")),
            strs{"t.yaml:7:15: agents.a1.sources.r1.bind: cannot listen on "
                 "'192.0.2.1': Cannot assign requested address (not an "
                 "address of this machine)"});
  // A name with a blank is refused without asking DNS.
  EXPECT_EQ(errors_of(edit(base, "port: 44444",
                           "port: 44444\n        bind: bad host")),
            strs{"t.yaml:7:15: agents.a1.sources.r1.bind: cannot listen on "
                 "'bad host': Name or service not known"});
  EXPECT_EQ(errors_of(edit(base, "port: 44444",
                           "port: 44444\n        bind: localhost")),
            strs{});
  EXPECT_EQ(errors_of(edit(base, "port: 44444",
                           "port: 44444\n        bind: 0.0.0.0")),
            strs{});
}

TEST(load_topology_errors, dead_letter_channel_is_the_sinks_own) {
  auto text =
      edit(base, "topic: logs", "topic: logs\n        dead_letter_channel: c1");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:16:30: agents.a1.sinks.k1.dead_letter_channel: must "
                 "not be the channel the sink reads"});
}

TEST(load_topology_errors, dead_letter_cycles) {
  const std::string two = R"(agents:
  a1:
    sources:
      r1: {type: exec, command: x, channels: [c1, c3]}
    channels:
      c1: {type: mem}
      c2: {type: mem}
      c3: {type: mem}
    sinks:
      k1: {type: snk, topic: t, channel: c1, dead_letter_channel: c2}
      k2: {type: snk, topic: t, channel: c2, dead_letter_channel: c1}
      k3: {type: logger, channel: c3}
)";
  EXPECT_EQ(errors_of(two),
            strs{"t.yaml:11:67: agents.a1.sinks.k2.dead_letter_channel: "
                 "dead-letter cycle c2 -> c1 -> c2 (sinks k2, k1): an event "
                 "none of them can deliver would go round forever"});
  auto three =
      edit(edit(two, "dead_letter_channel: c1}", "dead_letter_channel: c3}"),
           "k3: {type: logger, channel: c3}",
           "k3: {type: snk, topic: t, channel: c3, "
           "dead_letter_channel: c1}");
  EXPECT_EQ(errors_of(three),
            strs{"t.yaml:12:67: agents.a1.sinks.k3.dead_letter_channel: "
                 "dead-letter cycle c3 -> c1 -> c2 -> c3 (sinks k3, k1, k2): "
                 "an event none of them can deliver would go round forever"});
  // A chain, and two sinks sharing one dead-letter channel, make no cycle.
  auto chain =
      edit(two, "dead_letter_channel: c1}", "dead_letter_channel: c3}");
  EXPECT_EQ(errors_of(chain), strs{});
  auto shared =
      edit(edit(chain, "dead_letter_channel: c2}", "dead_letter_channel: c3}"),
           "[c1, c3]", "[c1, c2]");
  EXPECT_EQ(errors_of(shared), strs{});
}

TEST(load_topology_errors, incomplete_agents) {
  auto text = edit(edit(base,
                        "      k1:\n        type: snk\n        channel: "
                        "c1\n        topic: logs\n",
                        ""),
                   "    sources:\n      r1:\n        type: fake_src\n        "
                   "port: 44444\n        channels: [c1]\n",
                   "    sources: {}\n");
  // Missing sinks make c1 unread; no source makes it unwritten.
  EXPECT_EQ(errors_of(text),
            (strs{"t.yaml:3:14: agents.a1.sources: at least one source is "
                  "required",
                  "t.yaml:5:7: agents.a1.channels.c1: channel 'c1' is not "
                  "read by any sink",
                  "t.yaml:5:7: agents.a1.channels.c1: channel 'c1' has no "
                  "source",
                  "t.yaml:7:5: agents.a1.sinks: at least one sink is "
                  "required"}));
  EXPECT_EQ(errors_of("agents:\n  a1:\n    channels: {c1: {type: mem}}\n"),
            (strs{"t.yaml:3:5: agents.a1: missing required key 'sources'",
                  "t.yaml:3:5: agents.a1: missing required key 'sinks'",
                  "t.yaml:3:16: agents.a1.channels.c1: channel 'c1' is not "
                  "read by any sink",
                  "t.yaml:3:16: agents.a1.channels.c1: channel 'c1' has no "
                  "source"}));
  EXPECT_EQ(errors_of("agents:\n  a1:\n"),
            strs{"t.yaml:2:3: agents.a1: expected a mapping with sources, "
                 "channels and sinks"});
}

TEST(load_topology_errors, interceptors) {
  auto text = edit(base, "channels: [c1]",
                   "channels: [c1]\n"
                   "        interceptors:\n"
                   "          - type: tag\n"
                   "            headr: h\n"
                   "          - type: timestamq\n"
                   "          - tag\n"
                   "          - header: h\n");
  EXPECT_EQ(errors_of(text),
            (strs{"t.yaml:10:13: agents.a1.sources.r1.interceptors[0]: unknown "
                  "key 'headr' (did you mean 'header'?)",
                  "t.yaml:11:19: agents.a1.sources.r1.interceptors[1].type: "
                  "unknown interceptor type 'timestamq' (did you mean "
                  "'timestamp'?)",
                  "t.yaml:12:13: agents.a1.sources.r1.interceptors[2]: "
                  "expected a mapping with 'type'",
                  "t.yaml:13:13: agents.a1.sources.r1.interceptors[3]: "
                  "missing required key 'type'"}));
  EXPECT_EQ(errors_of(edit(base, "channels: [c1]",
                           "channels: [c1]\n        interceptors: tag")),
            strs{"t.yaml:8:23: agents.a1.sources.r1.interceptors: expected a "
                 "list of interceptors"});
}

TEST(load_topology_errors, duplicate_component) {
  auto text = edit(base, "    channels:\n",
                   "      r1: {type: fake_src, channels: c1}\n    channels:\n");
  EXPECT_EQ(errors_of(text),
            strs{"t.yaml:8:7: agents.a1.sources: duplicate key 'r1'"});
}

TEST(load_topology_errors, environment_variable_not_set) {
  unsetenv("FLUMEN_T_UNSET");
  EXPECT_EQ(errors_of(edit(base, "topic: logs", "topic: ${FLUMEN_T_UNSET}")),
            strs{"t.yaml:15:16: agents.a1.sinks.k1.topic: environment "
                 "variable 'FLUMEN_T_UNSET' is not set"});
}

TEST(load_topology_errors, malformed_yaml) {
  EXPECT_EQ(errors_of("agents: [a1\n"),
            strs{"t.yaml:2:1: end of sequence flow not found"});
  EXPECT_EQ(errors_of(edit(base, "        port: 44444", "       port: 44444")),
            strs{"t.yaml:6:8: end of map not found"});
}

namespace {

/// Peak resident memory of this process in KiB.
long peak_rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

/// A "billion laughs": `levels` anchors, each a list of ten aliases of the
/// one before, the last one used as an option of a source: 10^levels
/// strings once expanded, in about 40 bytes per level.
std::string alias_bomb(int levels) {
  std::string text = "l0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
                     "\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (int i = 1; i < levels; ++i) {
    auto prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j)
      text += (j ? "," : "") + prev;
    text += "]\n";
  }
  return text + edit(base, "        port: 44444",
                     "        port: 44444\n        x: *l" +
                         std::to_string(levels - 1));
}

} // namespace

// Aliases are shared nodes that every walk of the document expands: a file
// of a few lines would make billions (3.9 GB before the bound, through
// validate, run and reload alike). It is refused before anything walks it,
// at the node where the count passed the bound, in bounded memory.
TEST(load_topology_errors, alias_expansion_is_bounded) {
  auto text = alias_bomb(10); // 10^10 strings expanded
  EXPECT_LT(text.size(), 1024u);
  auto before = peak_rss_kib();
  auto errors = errors_of(text);
  auto grown = peak_rss_kib() - before;
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0],
            "t.yaml:1:34: l4[7][8][8][8][4]: the document has more than 100000 "
            "nodes once its aliases are expanded (each *alias counts what its "
            "&anchor holds again); refused before it is read");
  EXPECT_LT(grown, 32 * 1024) << "KiB of peak RSS grown";
  // Smaller bombs, which an unbounded loader expands in full (10^6 strings
  // once, then again for each copy it makes), are refused the same way.
  for (int levels : {6, 7}) {
    auto e = errors_of(alias_bomb(levels));
    ASSERT_EQ(e.size(), 1u) << levels << ::testing::PrintToString(e);
    EXPECT_NE(e[0].find("more than 100000 nodes"), std::string::npos) << e[0];
  }
}

// An alias inside its own anchor makes a cycle (yaml-cpp registers the
// anchor before its contents): infinitely deep, it crashed the loader with
// a stack overflow.
TEST(load_topology_errors, an_alias_inside_its_own_anchor_is_refused) {
  auto text = edit(base, "  a1:\n", "  a1: &a1\n");
  text =
      edit(text, "        port: 44444", "        port: 44444\n        x: *a1");
  auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("nested more than 64 levels deep (or an *alias "
                           "inside its own &anchor)"),
            std::string::npos)
      << errors[0];
  EXPECT_EQ(errors[0].rfind("t.yaml:", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find(": agents.a1.sources.r1.x.sources.r1.x...."),
            std::string::npos)
      << errors[0];
}

// Aliases within the bound are YAML as usual: shared settings load.
TEST(load_topology_errors, aliases_within_the_bound_load) {
  auto text = edit(base, "      c1:\n        type: mem\n",
                   "      c1: &chan\n        type: mem\n      c2: *chan\n");
  text = edit(text, "channels: [c1]", "channels: [c1, c2]");
  text += "      k2: {type: snk, channel: c2, topic: logs}\n";
  auto res = load_topology_text(text, "t.yaml", test_registry());
  EXPECT_EQ(strings(res.errors), strs{});
  ASSERT_EQ(res.topo.agents.size(), 1u);
  EXPECT_EQ(res.topo.agents[0].channels.size(), 2u);
}

TEST(config_bounds, a_document_at_the_bounds_passes_one_past_is_refused) {
  // max_yaml_nodes nodes: a mapping (1) of one key (1) to a list (1) of
  // the rest.
  std::string text = "k: [";
  for (std::size_t i = 0; i < max_yaml_nodes - 3; ++i)
    text += i ? ",1" : "1";
  text += "]\n";
  error_list errors;
  EXPECT_TRUE(check_yaml_bounds(YAML::Load(text), "t.yaml", errors));
  EXPECT_TRUE(errors.empty());
  text.insert(text.size() - 2, ",1");
  EXPECT_FALSE(check_yaml_bounds(YAML::Load(text), "t.yaml", errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "k[" + std::to_string(max_yaml_nodes - 3) + "]");
  // Depth: max_yaml_depth levels below the root pass, one more does not.
  std::string deep(max_yaml_depth + 1, '[');
  deep += std::string(max_yaml_depth + 1, ']');
  errors.clear();
  EXPECT_TRUE(check_yaml_bounds(YAML::Load(deep), "t.yaml", errors));
  deep = "[" + deep + "]";
  EXPECT_FALSE(check_yaml_bounds(YAML::Load(deep), "t.yaml", errors));
}

// A name goes into every log line and metric about its component: a
// newline in it split log lines. Control characters (C0, DEL, C1) are
// refused in every name, located at the name.
TEST(load_topology_errors, names_with_control_characters) {
  auto text = edit(base, "      r1:", "      \"r\\n1\":");
  text = edit(text, "channels: [c1]", "channels: [c1, \"c\\t2\"]");
  text = edit(text, "      c1:\n        type: mem\n",
              "      c1:\n        type: mem\n      \"c\\t2\": {type: mem}\n");
  text = edit(text, "      k1:", "      \"k\\u00851\":");
  text = edit(text, "  a1:", "  \"a\\x7f1\":");
  EXPECT_EQ(
      errors_of(text),
      (strs{"t.yaml:2:3: agents: name 'a\\x7f1' holds a control character; "
            "names appear in log lines and metrics, which it would split or "
            "garble"}))
      << "an agent refused is not read further";
  text = edit(text, "  \"a\\x7f1\":", "  a1:");
  // (Each refused component is left out, so c1 has no source nor sink.)
  strs named;
  for (auto& e : errors_of(text))
    if (e.find("control character") != std::string::npos) named.push_back(e);
  EXPECT_EQ(
      named,
      (strs{"t.yaml:4:7: agents.a1.sources: name 'r\\x0a1' holds a control "
            "character; names appear in log lines and metrics, which it "
            "would split or garble",
            "t.yaml:11:7: agents.a1.channels: name 'c\\x092' holds a control "
            "character; names appear in log lines and metrics, which it "
            "would split or garble",
            "t.yaml:13:7: agents.a1.sinks: name 'k\\xc2\\x851' holds a "
            "control character; names appear in log lines and metrics, "
            "which it would split or garble"}));
  // Node names too; printable UTF-8 is a name like any other.
  auto nodes = "nodes:\n  \"n\\r1\": {host: 127.0.0.1, port: 4700}\n" +
               edit(base, "      r1:", "      \"r\u00e91\":");
  EXPECT_EQ(errors_of(nodes),
            (strs{"t.yaml:2:3: nodes: name 'n\\x0d1' holds a control "
                  "character; names appear in log lines and metrics, which "
                  "it would split or garble"}));
}

TEST(config_names, control_characters_are_found_and_shown) {
  EXPECT_EQ(control_character_in("r1"), "");
  EXPECT_EQ(control_character_in("caf\u00e9-\u20ac"), "");
  EXPECT_NE(control_character_in(std::string{"a\0b", 3}).find("'a\\x00b'"),
            std::string::npos);
  EXPECT_NE(control_character_in("\x1b[31mred").find("'\\x1b[31mred'"),
            std::string::npos);
  EXPECT_NE(control_character_in("x\u009by").find("'x\\xc2\\x9by'"),
            std::string::npos);
}

TEST(load_topology_errors, empty_file_or_no_agents) {
  EXPECT_EQ(errors_of(""),
            strs{"t.yaml:1:1: the file is empty (expected key 'agents')"});
  EXPECT_EQ(errors_of("# nothing yet\n"),
            strs{"t.yaml:1:1: the file is empty (expected key 'agents')"});
  EXPECT_EQ(errors_of("agents: {}\n"),
            strs{"t.yaml:1:9: agents: at least one agent is required"});
  EXPECT_EQ(errors_of("agents:\n"),
            strs{"t.yaml:1:1: agents: at least one agent is required"});
  EXPECT_EQ(errors_of("agents: [a1]\n"),
            strs{"t.yaml:1:9: agents: expected a mapping of agents"});
  EXPECT_EQ(errors_of("- a1\n"),
            strs{"t.yaml:1:1: expected a mapping with key 'agents'"});
  EXPECT_EQ(errors_of("version: 1\n"),
            (strs{"t.yaml:1:1: missing required key 'agents'",
                  "t.yaml:1:1: unknown key 'version'"}));
}

TEST(load_topology_errors, unreadable_file) {
  auto res = load_topology("/nonexistent/flumen.yaml", test_registry());
  EXPECT_EQ(strings(res.errors),
            strs{"/nonexistent/flumen.yaml:0:0: cannot read file: No such "
                 "file or directory"});
  auto dir = std::filesystem::temp_directory_path().string();
  res = load_topology(dir, test_registry());
  EXPECT_EQ(strings(res.errors),
            strs{dir + ":0:0: cannot read file: Is a directory"});
}

TEST(load_topology_errors, no_regular_file) {
  // Neither is read: /dev/zero never ends, and opening a FIFO would wait
  // for a writer.
  auto res = load_topology("/dev/zero", test_registry());
  EXPECT_EQ(strings(res.errors),
            strs{"/dev/zero:0:0: cannot read file: not a regular file (a "
                 "character device)"});
  auto fifo = std::filesystem::temp_directory_path() /
              ("flumen_topo_fifo_" + std::to_string(::getpid()));
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  res = load_topology(fifo.string(), test_registry());
  std::filesystem::remove(fifo);
  EXPECT_EQ(strings(res.errors),
            strs{fifo.string() + ":0:0: cannot read file: not a regular file "
                                 "(a FIFO)"});
}

TEST(load_topology_errors, file_too_large) {
  auto path = std::filesystem::temp_directory_path() /
              ("flumen_topo_big_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << base;
  }
  // Sparse: no 4 MiB are written.
  std::filesystem::resize_file(path, 4 * 1024 * 1024 + 1);
  auto res = load_topology(path.string(), test_registry());
  EXPECT_EQ(strings(res.errors),
            strs{path.string() + ":0:0: cannot read file: too large (4194305 "
                                 "bytes; a topology file may have at most 4 "
                                 "MiB)"});
  // At the limit the file is read (and its NUL padding is no YAML).
  std::filesystem::resize_file(path, 4 * 1024 * 1024);
  res = load_topology(path.string(), test_registry());
  std::filesystem::remove(path);
  ASSERT_FALSE(res.errors.empty());
  EXPECT_EQ(res.errors[0].message.find("too large"), std::string::npos)
      << res.errors[0].to_string();
}

TEST(load_topology_errors, unquoted_null_type) {
  // The sink type `null` is YAML's null unless quoted.
  for (auto word : {"null", "Null", "NULL", "~"})
    EXPECT_EQ(errors_of(edit(base, "type: snk", std::string{"type: "} + word)),
              strs{"t.yaml:13:15: agents.a1.sinks.k1.type: expected a string: "
                   "YAML reads an unquoted " +
                   std::string{word} +
                   " as no value (for the null sink, quote it: type: "
                   "\"null\")"})
        << word;
  // Other keys: the generic hint.
  EXPECT_EQ(errors_of(edit(base, "topic: logs", "topic: null")),
            strs{"t.yaml:15:16: agents.a1.sinks.k1.topic: expected a string: "
                 "YAML reads an unquoted null as no value (quote it: "
                 "\"null\")"});
}

TEST(load_topology_errors, a_flume_properties_file_is_named_as_one) {
  auto advice =
      "and flumen reads YAML topologies (docs/reference/topology.md): "
      "convert it with `flumen import FILE -o FILE.yaml` "
      "(docs/migrating-from-flume.md)";
  EXPECT_EQ(errors_of("# The tutorial's agent\n"
                      "\n"
                      "a1.sources = r1\n"
                      "a1.channels = c1\n"
                      "a1.sources.r1.type = netcat\n"),
            strs{"t.yaml:3:1: this is a Flume properties file ('a1.sources "
                 "= r1'), " +
                 std::string{advice}});
  // Java's other separators; the first line naming a component.
  EXPECT_EQ(errors_of("! comment\n"
                      "agent.foo=bar\n"
                      "  agent.channels.c1.type: memory  \n"),
            strs{"t.yaml:3:3: this is a Flume properties file "
                 "('agent.channels.c1.type: memory'), " +
                 std::string{advice}});
  auto line = flume_properties_line("\xEF\xBB\xBF"
                                    "a1.sinks k1\n");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->number, 1);
  EXPECT_EQ(line->text, "a1.sinks k1");
  // Properties that name no Flume component, and YAML, are what they were.
  EXPECT_EQ(errors_of("a.b = c\n"),
            strs{"t.yaml:1:1: expected a mapping with key 'agents'"});
  EXPECT_FALSE(flume_properties_line(base));
  EXPECT_FALSE(flume_properties_line("# x\n---\na1.sources: r1\n"));
  EXPECT_FALSE(flume_properties_line("agents:\n  a1.sources = r1\n"));
}

TEST(load_topology_errors, collects_every_error_in_file_order) {
  auto text = edit(edit(edit(base, "port: 44444", "port: abc"), "topic: logs",
                        "topik: logs"),
                   "type: mem", "type: memory");
  text += "  a2:\n    sources: {}\n";
  EXPECT_EQ(
      errors_of(text),
      (strs{
          "t.yaml:6:15: agents.a1.sources.r1.port: expected an integer",
          "t.yaml:10:15: agents.a1.channels.c1.type: unknown channel type "
          "'memory' (known: mem)",
          "t.yaml:13:9: agents.a1.sinks.k1: missing required key 'topic'",
          "t.yaml:15:9: agents.a1.sinks.k1: unknown key 'topik' (did you "
          "mean 'topic'?)",
          "t.yaml:17:5: agents.a2: missing required key 'channels'",
          "t.yaml:17:5: agents.a2: missing required key 'sinks'",
          "t.yaml:17:14: agents.a2.sources: at least one source is "
          "required",
      }));
}

// -- relative TLS paths
// ---------------------------------------------------------

namespace {

/// Like the hop source and sink: a TLS identity, and where each listens or
/// sends.
struct link_config {
  link_security security;
};

link_config parse_link_in(option_reader& r) {
  auto bind = r.str("bind", "127.0.0.1");
  auto port = static_cast<uint16_t>(r.integer("port", 0, 0, 65535));
  link_config cfg{parse_link_security(r)};
  r.facts().security = cfg.security;
  r.facts().listens.push_back({bind, port});
  return cfg;
}

link_config parse_link_out(option_reader& r) {
  auto host = r.required_str("host");
  auto port = static_cast<uint16_t>(r.integer("port", 0, 1, 65535));
  link_config cfg{parse_link_security(r)};
  r.facts().security = cfg.security;
  r.facts().sends_to.push_back({host, port});
  return cfg;
}

/// The test registry with `link_in` (a source) and `link_out` (a sink).
registry link_registry() {
  auto r = test_registry();
  r.add_source("link_in", parse_link_in, never_spawned<link_config>);
  r.add_sink("link_out", parse_link_out, never_spawned<link_config>);
  return r;
}

/// A topology in DIR/conf/ with its PEM files in DIR/conf/certs/, loaded
/// from the current directory (the repository: no certs/ there).
class relative_tls : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "flumen-tls-paths-XXXXXX")
            .string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ / "conf" / "certs");
    for (auto name : {"ca.pem", "cert.pem", "key.pem"})
      std::ofstream{dir_ / "conf" / "certs" / name} << "PEM\n";
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// The topology file's directory, as errors name it.
  std::string conf() const { return (dir_ / "conf").string() + "/"; }

  load_result load(const std::string& text) {
    std::ofstream{conf() + "t.yaml"} << text;
    return load_topology(conf() + "t.yaml", link_registry());
  }

  std::filesystem::path dir_;
};

const std::string relative_chain = R"(nodes:
  n1:
    host: 127.0.0.1
    port: 4700
    tls: {certificate: certs/cert.pem, key: certs/key.pem, ca_file: certs/ca.pem}
agents:
  collector:
    sources:
      in:
        type: link_in
        port: 4545
        channels: [c1]
        tls: {certificate: certs/cert.pem, key: ./certs/key.pem, ca_file: certs/ca.pem}
    channels: {c1: {type: mem}}
    sinks: {k1: {type: logger, channel: c1}}
  edge:
    sources: {r1: {type: exec, command: x, channels: [c1]}}
    channels: {c1: {type: mem}}
    sinks:
      out:
        type: link_out
        channel: c1
        host: 127.0.0.1
        port: 4545
        replicas: 2
        placement: [n1]
        tls: {certificate: certs/cert.pem, key: certs/../certs/key.pem, ca_file: certs/ca.pem}
)";

} // namespace

TEST_F(relative_tls, paths_are_taken_from_the_topology_files_directory) {
  auto res = load(relative_chain);
  ASSERT_EQ(strings(res.errors), strs{});
  link_security want;
  want.certificate = conf() + "certs/cert.pem";
  want.key = conf() + "certs/key.pem";
  want.ca_file = conf() + "certs/ca.pem";
  // One identity however it is written (`./`, `..`): the edge's sink and
  // the node it is placed on agree.
  EXPECT_EQ(res.topo.nodes.at(0).security, want);
  EXPECT_EQ(res.topo.find("collector")->tls(), want);
  EXPECT_EQ(res.topo.find("edge")->tls(), want);
  // The node parses the placed sink again: with the files as resolved here.
  auto placed = res.topo.find("edge")->sinks.at(0).yaml;
  EXPECT_NE(placed.find(want.certificate), std::string::npos) << placed;
  EXPECT_NE(placed.find(want.key), std::string::npos) << placed;
  EXPECT_NE(placed.find(want.ca_file), std::string::npos) << placed;
}

TEST_F(relative_tls, an_unreadable_file_says_relative_to_what) {
  auto text = edit(relative_chain, "ca_file: certs/ca.pem}\nagents",
                   "ca_file: certs/nope.pem}\nagents");
  text =
      edit(text, "key: ./certs/key.pem", "key: " + conf() + "certs/gone.pem");
  EXPECT_EQ(
      strings(load(text).errors),
      (strs{conf() +
                "t.yaml:5:69: nodes.n1.tls.ca_file: cannot read "
                "'certs/nope.pem' (relative to " +
                conf() +
                ", the topology file's directory): No such file or directory",
            conf() +
                "t.yaml:13:49: agents.collector.sources.in.tls.key: "
                "cannot read '" +
                conf() + "certs/gone.pem': No such file or directory"}));
}

// -- --agent NAME
// ---------------------------------------------------------------

TEST(missing_agent, suggests_the_closest_name_where_it_is_defined) {
  auto text = edit(base, "  a1:", "  edge:") +
              "  collector:\n"
              "    sources: {r1: {type: exec, command: x, channels: [c1]}}\n"
              "    channels: {c1: {type: mem}}\n"
              "    sinks: {k1: {type: logger, channel: c1}}\n";
  auto res = load_topology_text(text, "t.yaml", test_registry());
  ASSERT_EQ(strings(res.errors), strs{});
  EXPECT_FALSE(missing_agent(res.topo, "collector"));
  auto err = missing_agent(res.topo, "colector");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->to_string(), "t.yaml:16:3: agents: no agent named 'colector' "
                              "(did you mean 'collector'?)");
  err = missing_agent(res.topo, "a1");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->to_string(), "t.yaml:2:3: agents: no agent named 'a1' "
                              "(agents: edge, collector)");
}

// -- drawing ------------------------------------------------------------------

namespace {

const std::string drawn = R"(agents:
  a1:
    sources:
      r1:
        type: fake_src
        port: 1
        channels: [c1, c2]
        interceptors:
          - type: timestamp
          - type: tag
    channels:
      c1: {type: mem}
      c2: {type: mem}
    sinks:
      k1: {type: snk, channel: c1, topic: t}
      k2: {type: logger, channel: c2}
  a2:
    sources:
      in: {type: exec, command: x, channels: [ch-1]}
    channels:
      ch-1: {type: mem}
    sinks:
      out: {type: logger, channel: ch-1}
)";

} // namespace

TEST(to_dot, draws_agents_as_clusters) {
  auto res = load_topology_text(drawn, "d.yaml", test_registry());
  ASSERT_EQ(strings(res.errors), strs{});
  EXPECT_EQ(to_dot(res.topo), R"x(digraph flumen {
  rankdir=LR;
  node [shape=box];
  subgraph cluster_a1 {
    label="a1";
    a1_sources_r1 [label="r1\n(fake_src)\n| timestamp | tag"];
    a1_channels_c1 [label="c1\n(mem)", shape=cylinder];
    a1_channels_c2 [label="c2\n(mem)", shape=cylinder];
    a1_sinks_k1 [label="k1\n(snk)"];
    a1_sinks_k2 [label="k2\n(logger)"];
    a1_sources_r1 -> a1_channels_c1;
    a1_sources_r1 -> a1_channels_c2;
    a1_channels_c1 -> a1_sinks_k1;
    a1_channels_c2 -> a1_sinks_k2;
  }
  subgraph cluster_a2 {
    label="a2";
    a2_sources_in [label="in\n(exec)"];
    a2_channels_ch_2D1 [label="ch-1\n(mem)", shape=cylinder];
    a2_sinks_out [label="out\n(logger)"];
    a2_sources_in -> a2_channels_ch_2D1;
    a2_channels_ch_2D1 -> a2_sinks_out;
  }
}
)x");
}

TEST(to_mermaid, draws_agents_as_subgraphs) {
  auto res = load_topology_text(drawn, "d.yaml", test_registry());
  ASSERT_EQ(strings(res.errors), strs{});
  EXPECT_EQ(to_mermaid(res.topo), R"x(flowchart LR
  subgraph a1
    a1_sources_r1["r1<br/>(fake_src)<br/>| timestamp | tag"]
    a1_channels_c1[("c1<br/>(mem)")]
    a1_channels_c2[("c2<br/>(mem)")]
    a1_sinks_k1["k1<br/>(snk)"]
    a1_sinks_k2["k2<br/>(logger)"]
    a1_sources_r1 --> a1_channels_c1
    a1_sources_r1 --> a1_channels_c2
    a1_channels_c1 --> a1_sinks_k1
    a1_channels_c2 --> a1_sinks_k2
  end
  subgraph a2
    a2_sources_in["in<br/>(exec)"]
    a2_channels_ch_2D1[("ch-1<br/>(mem)")]
    a2_sinks_out["out<br/>(logger)"]
    a2_sources_in --> a2_channels_ch_2D1
    a2_channels_ch_2D1 --> a2_sinks_out
  end
)x");
}

namespace {

/// Components whose names differed only in characters Mermaid ids can't
/// hold, and an agent whose name looks like another node's id.
const std::string lookalikes = R"(agents:
  a:
    sources:
      c-1: {type: exec, command: x, channels: [c.1]}
      c_1: {type: exec, command: x, channels: [c_2D1]}
      x_sources_y: {type: exec, command: x, channels: [c.1]}
    channels:
      c.1: {type: mem}
      c_2D1: {type: mem}
    sinks:
      k: {type: logger, channel: c.1}
      k2: {type: logger, channel: c_2D1}
  a_sources_x:
    sources:
      y: {type: exec, command: x, channels: [end]}
    channels:
      end: {type: mem}
    sinks:
      k: {type: logger, channel: end}
  end:
    sources:
      s: {type: exec, command: x, channels: [c]}
    channels:
      c: {type: mem}
    sinks:
      k: {type: logger, channel: c}
)";

/// The ids of the node lines of a drawing: what precedes `open` on lines
/// that contain it and no edge.
strs node_ids(const std::string& drawing, const std::string& open) {
  strs ids;
  std::istringstream in(drawing);
  for (std::string line; std::getline(in, line);) {
    auto pos = line.find(open);
    if (pos == std::string::npos || line.find("->") != std::string::npos ||
        line.find("subgraph") != std::string::npos)
      continue;
    auto start = line.find_first_not_of(' ');
    ids.push_back(line.substr(start, pos - start));
  }
  return ids;
}

} // namespace

TEST(to_mermaid, ids_are_distinct_and_labels_unchanged) {
  auto res = load_topology_text(lookalikes, "d.yaml", test_registry());
  ASSERT_EQ(strings(res.errors), strs{});
  auto out = to_mermaid(res.topo);
  auto ids = node_ids(out, "[");
  ASSERT_EQ(ids.size(), 13u) << out;
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size())
      << out;
  EXPECT_NE(out.find("    a_sources_c_2D1[\"c-1<br/>(exec)\"]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("    a_sources_c_5F1[\"c_1<br/>(exec)\"]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("    a_channels_c_2E1[(\"c.1<br/>(mem)\")]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("    a_channels_c_5F2D1[(\"c_2D1<br/>(mem)\")]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  subgraph a_5Fsources_5Fx [\"a_sources_x\"]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  subgraph end_ [\"end\"]\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    a_sources_c_2D1 --> a_channels_c_2E1\n"),
            std::string::npos)
      << out;
}

TEST(to_dot, ids_are_distinct_and_labels_unchanged) {
  auto res = load_topology_text(lookalikes, "d.yaml", test_registry());
  ASSERT_EQ(strings(res.errors), strs{});
  auto out = to_dot(res.topo);
  auto ids = node_ids(out, " [label=");
  ASSERT_EQ(ids.size(), 13u) << out;
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size())
      << out;
  EXPECT_NE(out.find("    a_sources_c_2D1 [label=\"c-1\\n(exec)\"];\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("    a_5Fsources_5Fx_sources_y [label=\"y\\n(exec)\"];\n"),
            std::string::npos)
      << out;
  EXPECT_NE(
      out.find(
          "    a_sources_x_5Fsources_5Fy [label=\"x_sources_y\\n(exec)\"];\n"),
      std::string::npos)
      << out;
}

namespace {

/// A chain: edge's hop to collector (localhost to a source on every
/// address), collector's sink with three replicas on two nodes and a hop
/// to an address no source of the file listens on, and an agent with no
/// hop at all.
const std::string chain = R"(nodes:
  n1: {host: 127.0.0.1, port: 4701}
  n2: {host: 127.0.0.1, port: 4702}
agents:
  edge:
    sources:
      r1: {type: exec, command: x, channels: [c1]}
    channels:
      c1: {type: mem}
    sinks:
      out: {type: link_out, channel: c1, host: localhost, port: 4545}
  collector:
    sources:
      in: {type: link_in, bind: 0.0.0.0, port: 4545, channels: [c1]}
    channels:
      c1: {type: mem}
    sinks:
      k1: {type: snk, channel: c1, topic: t, replicas: 3, placement: [n1, n2]}
      up: {type: link_out, channel: c1, host: 10.0.0.9, port: 4546}
  other:
    sources: {r1: {type: exec, command: x, channels: [c1]}}
    channels: {c1: {type: mem}}
    sinks: {k1: {type: logger, channel: c1}}
)";

topology chain_topology() {
  auto res = load_topology_text(chain, "c.yaml", link_registry());
  EXPECT_EQ(strings(res.errors), strs{});
  return std::move(res.topo);
}

} // namespace

TEST(to_dot, draws_hops_replicas_and_placement_on_nodes) {
  EXPECT_EQ(to_dot(chain_topology()), R"x(digraph flumen {
  rankdir=LR;
  node [shape=box];
  subgraph cluster_edge {
    label="edge";
    edge_sources_r1 [label="r1\n(exec)"];
    edge_channels_c1 [label="c1\n(mem)", shape=cylinder];
    edge_sinks_out [label="out\n(link_out)"];
    edge_sources_r1 -> edge_channels_c1;
    edge_channels_c1 -> edge_sinks_out;
  }
  subgraph cluster_collector {
    label="collector";
    collector_sources_in [label="in\n(link_in)"];
    collector_channels_c1 [label="c1\n(mem)", shape=cylinder];
    collector_sinks_k1 [label="k1\n(snk)\n3 replicas"];
    collector_sinks_up [label="up\n(link_out)\nto 10.0.0.9:4546"];
    collector_sources_in -> collector_channels_c1;
    collector_channels_c1 -> collector_sinks_k1;
    collector_channels_c1 -> collector_sinks_up;
  }
  subgraph cluster_other {
    label="other";
    other_sources_r1 [label="r1\n(exec)"];
    other_channels_c1 [label="c1\n(mem)", shape=cylinder];
    other_sinks_k1 [label="k1\n(logger)"];
    other_sources_r1 -> other_channels_c1;
    other_channels_c1 -> other_sinks_k1;
  }
  n1_node [label="n1\n127.0.0.1:4701", shape=box3d];
  n2_node [label="n2\n127.0.0.1:4702", shape=box3d];
  edge_sinks_out -> collector_sources_in [style=dashed, label="localhost:4545"];
  collector_sinks_k1 -> n1_node [style=bold, label="replicas 1, 3"];
  collector_sinks_k1 -> n2_node [style=bold, label="replica 2"];
}
)x");
}

TEST(to_mermaid, draws_hops_replicas_and_placement_on_nodes) {
  EXPECT_EQ(to_mermaid(chain_topology(), "collector"), R"x(flowchart LR
  subgraph edge
    edge_sources_r1["r1<br/>(exec)"]
    edge_channels_c1[("c1<br/>(mem)")]
    edge_sinks_out["out<br/>(link_out)"]
    edge_sources_r1 --> edge_channels_c1
    edge_channels_c1 --> edge_sinks_out
  end
  subgraph collector
    collector_sources_in["in<br/>(link_in)"]
    collector_channels_c1[("c1<br/>(mem)")]
    collector_sinks_k1["k1<br/>(snk)<br/>3 replicas"]
    collector_sinks_up["up<br/>(link_out)<br/>to 10.0.0.9:4546"]
    collector_sources_in --> collector_channels_c1
    collector_channels_c1 --> collector_sinks_k1
    collector_channels_c1 --> collector_sinks_up
  end
  n1_node[["n1<br/>127.0.0.1:4701"]]
  n2_node[["n2<br/>127.0.0.1:4702"]]
  edge_sinks_out -.->|"localhost:4545"| collector_sources_in
  collector_sinks_k1 ==>|"replicas 1, 3"| n1_node
  collector_sinks_k1 ==>|"replica 2"| n2_node
)x");
}

TEST(to_dot, one_agent_with_its_direct_hop_peers) {
  auto topo = chain_topology();
  // edge: itself and collector (its peer), the hop; collector's nodes are
  // not edge's.
  auto edge = to_dot(topo, "edge");
  EXPECT_NE(edge.find("subgraph cluster_collector"), std::string::npos);
  EXPECT_EQ(edge.find("subgraph cluster_other"), std::string::npos);
  EXPECT_EQ(edge.find("n1_node"), std::string::npos);
  EXPECT_NE(edge.find("  edge_sinks_out -> collector_sources_in [style=dashed, "
                      "label=\"localhost:4545\"];\n"),
            std::string::npos)
      << edge;
  EXPECT_EQ(to_mermaid(topo, "other"), R"x(flowchart LR
  subgraph other
    other_sources_r1["r1<br/>(exec)"]
    other_channels_c1[("c1<br/>(mem)")]
    other_sinks_k1["k1<br/>(logger)"]
    other_sources_r1 --> other_channels_c1
    other_channels_c1 --> other_sinks_k1
  end
)x");
}

TEST(to_dot, a_hop_goes_to_the_source_that_listens_where_it_sends) {
  // The same address beats this machine, which beats every address; two
  // sources the file can't tell apart both get the edge; another port, or
  // another machine's address, gets none.
  auto text = R"(agents:
  a:
    sources: {r: {type: exec, command: x, channels: [c]}}
    channels: {c: {type: mem}}
    sinks:
      exact: {type: link_out, channel: c, host: 10.1.1.1, port: 5000}
      local: {type: link_out, channel: c, host: 127.0.0.1, port: 6000}
      both: {type: link_out, channel: c, host: 10.2.2.2, port: 7000}
      none: {type: link_out, channel: c, host: 10.3.3.3, port: 8000}
  b:
    sources:
      any5: {type: link_in, bind: 0.0.0.0, port: 5000, channels: [c]}
      ip5: {type: link_in, bind: 10.1.1.1, port: 5000, channels: [c]}
      any6: {type: link_in, bind: "::", port: 6000, channels: [c]}
      lo6: {type: link_in, bind: localhost, port: 6000, channels: [c]}
      w7: {type: link_in, bind: 0.0.0.0, port: 7000, channels: [c]}
      x7: {type: link_in, bind: "::", port: 7000, channels: [c]}
      lo8: {type: link_in, bind: 127.0.0.1, port: 8000, channels: [c]}
    channels: {c: {type: mem}}
    sinks: {k: {type: logger, channel: c}}
)";
  // No address is tried: 10.1.1.1 is no address of this machine.
  auto res = load_topology_text(text, "h.yaml", link_registry(),
                                probe_scope{false, {}});
  ASSERT_EQ(strings(res.errors), strs{});
  auto out = to_dot(res.topo);
  strs hops;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.find("style=dashed") != std::string::npos) hops.push_back(line);
  EXPECT_EQ(hops, (strs{"  a_sinks_exact -> b_sources_ip5 [style=dashed, "
                        "label=\"10.1.1.1:5000\"];",
                        "  a_sinks_local -> b_sources_lo6 [style=dashed, "
                        "label=\"127.0.0.1:6000\"];",
                        "  a_sinks_both -> b_sources_w7 [style=dashed, "
                        "label=\"10.2.2.2:7000\"];",
                        "  a_sinks_both -> b_sources_x7 [style=dashed, "
                        "label=\"10.2.2.2:7000\"];"}))
      << out;
  EXPECT_NE(out.find("a_sinks_none [label=\"none\\n(link_out)\\nto "
                     "10.3.3.3:8000\"];"),
            std::string::npos)
      << out;
}

// -- libraries a component loads at its start
// ------------------------------------------------------------

namespace {

struct lib_config {};

/// Like the http source: a library loaded when it starts, not linked.
lib_config parse_needs_lib(option_reader& r) {
  r.facts().libraries.push_back(r.required_str("library"));
  return {};
}

/// A topology of one `needs_lib` source that needs `lib`.
std::string needs_lib(const std::string& lib) {
  return "agents:\n"
         "  a1:\n"
         "    sources:\n"
         "      r1: {type: needs_lib, library: " +
         lib +
         ", channels: [c1]}\n"
         "    channels: {c1: {type: mem}}\n"
         "    sinks: {k1: {type: logger, channel: c1}}\n";
}

} // namespace

TEST(load_topology_errors, a_library_a_component_loads_must_load_here) {
  auto reg = test_registry();
  reg.add_source("needs_lib", parse_needs_lib, never_spawned<lib_config>);
  auto errors = [&](const std::string& lib, probe_scope probe = {}) {
    return strings(
        load_topology_text(needs_lib(lib), "t.yaml", reg, probe).errors);
  };
  auto missing = errors("libflumen-absent.so.9");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].rfind("t.yaml:4:18: agents.a1.sources.r1.type: needs "
                             "libflumen-absent.so.9, which cannot be loaded "
                             "here: libflumen-absent.so.9: cannot open",
                             0),
            0u)
      << missing[0];
  EXPECT_EQ(errors("libc.so.6"), strs{});
  // Another machine's agent (run --agent other) is not tried here; this
  // one is.
  EXPECT_EQ(errors("libflumen-absent.so.9", probe_scope{false, "other"}),
            strs{});
  EXPECT_EQ(errors("libflumen-absent.so.9", probe_scope{false, "a1"}).size(),
            1u);
}

lib_config parse_throws(option_reader& r) {
  // What runtime/libs throws when a component's parser first calls a
  // library that is not installed.
  (void)r.str("library", "");
  throw std::runtime_error{"Kafka needs librdkafka.so.1, which could not be "
                           "loaded: no such file (on Debian: apt-get install "
                           "librdkafka1)"};
}

TEST(load_topology_errors, a_parser_that_throws_is_its_components_error) {
  auto reg = test_registry();
  reg.add_source("needs_lib", parse_throws, never_spawned<lib_config>);
  auto text = needs_lib("x");
  text.replace(text.find("type: logger"), 12, "type: nope");
  auto errors = strings(load_topology_text(text, "t.yaml", reg).errors);
  // Located at the component's type, and the rest of the file is still
  // checked (the unknown sink type below it is reported too).
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "t.yaml:4:18: agents.a1.sources.r1.type: Kafka needs "
                       "librdkafka.so.1, which could not be loaded: no such "
                       "file (on Debian: apt-get install librdkafka1)");
  EXPECT_NE(errors[1].find("unknown sink type 'nope'"), std::string::npos)
      << errors[1];
}
