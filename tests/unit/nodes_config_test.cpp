// Validation of a topology's `nodes:` and of sinks' `replicas` and
// `placement` (runtime/config/topology.hpp), through the loader with the
// builtin types; and load_placed_sink, which a node runs on what an agent
// sends. Here and not in config_tests: the sink parsers live in flumen_actors.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actors/builtin.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/config/topology.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/text_edit.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

/// Two loopback nodes (each at the indentation of a `nodes:` entry).
const std::string two_nodes = "  n1: {host: 127.0.0.1, port: 7001}\n"
                              "  n2: {host: localhost, port: 7002}\n";

/// A seq source feeding a memory channel.
const std::string seq_source =
    "      gen: {type: seq, count: 10, channels: [c1]}\n";

/// A topology: `nodes:` with `nodes` (omitted when empty), and agent `a1`
/// with `source` and the kafka sink `k1`, to which `sink_lines` are added
/// (at option indentation).
std::string topology_with(const std::string& nodes,
                          const std::string& sink_lines,
                          const std::string& bootstrap = "'127.0.0.1:9092'",
                          const std::string& source = seq_source) {
  std::string out;
  if (!nodes.empty()) out += "nodes:\n" + nodes;
  out += "agents:\n"
         "  a1:\n"
         "    sources:\n" +
         source +
         "    channels:\n"
         "      c1: {type: memory}\n"
         "    sinks:\n"
         "      k1:\n"
         "        type: kafka\n"
         "        channel: c1\n"
         "        bootstrap_servers: " +
         bootstrap +
         "\n"
         "        topic: t\n" +
         sink_lines;
  return out;
}

/// The kafka sink placed on the two loopback nodes with 4 replicas.
const std::string placed =
    topology_with(two_nodes, "        replicas: 4\n"
                             "        placement: [n1, n2]\n");

const registry& builtin() {
  static const registry reg = [] {
    registry r;
    register_builtin(r);
    return r;
  }();
  return reg;
}

/// `text` loaded with the builtin types.
load_result load(const std::string& text) {
  return load_topology_text(text, "t.yaml", builtin());
}

strs errors_of(const std::string& text) {
  strs out;
  for (const auto& e : load(text).errors)
    out.push_back(e.to_string());
  return out;
}

strs errors_of(const error_list& errors) {
  strs out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

/// True when `s` contains every one of `parts`.
bool contains_all(const std::string& s, const strs& parts) {
  for (const auto& p : parts)
    if (s.find(p) == std::string::npos) return false;
  return true;
}

/// Expects exactly one error, at `path`, saying all of `parts`.
void expect_one_error(const std::string& text, const std::string& path,
                      const strs& parts) {
  auto errors = load(text).errors;
  ASSERT_EQ(errors.size(), 1u)
      << testing::PrintToString(errors_of(errors)) << "\n"
      << text;
  EXPECT_EQ(errors[0].path, path) << errors[0].to_string();
  EXPECT_EQ(errors[0].where.file, "t.yaml");
  EXPECT_GT(errors[0].where.line, 0) << errors[0].to_string();
  EXPECT_TRUE(contains_all(errors[0].message, parts)) << errors[0].to_string();
}

/// The one agent's sink `k1` of a topology that validated.
const component_spec& sink_k1(const load_result& res) {
  EXPECT_EQ(res.topo.agents.size(), 1u);
  EXPECT_EQ(res.topo.agents.at(0).sinks.size(), 1u);
  return res.topo.agents.at(0).sinks.at(0);
}

strs node_names(const std::vector<node_spec>& nodes) {
  strs out;
  for (const auto& n : nodes)
    out.push_back(n.name);
  return out;
}

/// PEM files that exist (validation only checks they are readable).
class nodes_config : public ::testing::Test {
protected:
  void SetUp() override {
    for (auto name : {"ca.pem", "cert.pem", "key.pem", "other-cert.pem"})
      std::ofstream{dir_ / name} << "-----BEGIN PLACEHOLDER-----\n";
  }

  std::string file(const std::string& name) const {
    return (dir_ / name).string();
  }

  /// A flow mapping `{certificate, key, ca_file}` with these files.
  std::string tls_map(const std::string& cert = "cert.pem") const {
    return "{certificate: " + file(cert) + ", key: " + file("key.pem") +
           ", ca_file: " + file("ca.pem") + "}";
  }

  /// Node `n1` on loopback with this certificate.
  std::string tls_node(const std::string& cert = "cert.pem") const {
    return "  n1:\n"
           "    host: 127.0.0.1\n"
           "    port: 7001\n"
           "    tls: " +
           tls_map(cert) + "\n";
  }

  /// A hop source `h1` on loopback with this certificate.
  std::string tls_hop_source(const std::string& cert = "cert.pem") const {
    return "      h1:\n"
           "        type: hop\n"
           "        bind: 127.0.0.1\n"
           "        port: 4545\n"
           "        channels: [c1]\n"
           "        tls: " +
           tls_map(cert) + "\n";
  }

  /// The expected identity with this certificate.
  link_security identity(const std::string& cert = "cert.pem") const {
    link_security sec;
    sec.certificate = file(cert);
    sec.key = file("key.pem");
    sec.ca_file = file("ca.pem");
    return sec;
  }

  temp_dir dir_{"flumen-nodes-config"};
};

const std::string k1_path = "agents.a1.sinks.k1";

} // namespace

// -- valid --------------------------------------------------------------------

TEST_F(nodes_config, placed_replicas_validate) {
  auto res = load(placed);
  ASSERT_EQ(errors_of(res.errors), strs{}) << placed;
  const auto& k1 = sink_k1(res);
  EXPECT_EQ(k1.replicas, 4u);
  EXPECT_EQ(k1.placement, (strs{"n1", "n2"}));
  EXPECT_EQ(k1.instance_names(), (strs{"k1#1", "k1#2", "k1#3", "k1#4"}));
  EXPECT_FALSE(k1.yaml.empty());
  EXPECT_TRUE(k1.spawn);
  ASSERT_EQ(res.topo.nodes.size(), 2u);
  EXPECT_EQ(node_names(res.topo.nodes), (strs{"n1", "n2"}));
  EXPECT_EQ(res.topo.nodes[0].host, "127.0.0.1");
  EXPECT_EQ(res.topo.nodes[0].port, 7001);
  EXPECT_EQ(res.topo.nodes[1].host, "localhost");
  EXPECT_EQ(res.topo.nodes[1].port, 7002);
  const auto& a1 = res.topo.agents.at(0);
  EXPECT_EQ(node_names(a1.nodes), (strs{"n1", "n2"}));
  // Loopback nodes need no protection; nothing uses TLS.
  EXPECT_FALSE(a1.tls().tls());
}

TEST_F(nodes_config, agent_nodes_are_those_its_sinks_are_placed_on) {
  // n2 is placed on by nobody; n1 twice (two sinks), listed once.
  auto text = topology_with(two_nodes, "        placement: [n1]\n") +
              "      k2:\n"
              "        type: \"null\"\n"
              "        channel: c1\n"
              "        replicas: 2\n"
              "        placement: [n1]\n";
  auto res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  ASSERT_EQ(res.topo.agents.size(), 1u);
  EXPECT_EQ(node_names(res.topo.agents[0].nodes), strs{"n1"});
  EXPECT_EQ(node_names(res.topo.nodes), (strs{"n1", "n2"}));
}

TEST_F(nodes_config, local_replicas_need_no_nodes) {
  auto res = load(topology_with("", "        replicas: 3\n"));
  ASSERT_EQ(errors_of(res.errors), strs{});
  const auto& k1 = sink_k1(res);
  EXPECT_EQ(k1.replicas, 3u);
  EXPECT_TRUE(k1.placement.empty());
  EXPECT_EQ(k1.instance_names(), (strs{"k1#1", "k1#2", "k1#3"}));
  // Not placed: nothing to send to a node.
  EXPECT_TRUE(k1.yaml.empty());
  EXPECT_TRUE(res.topo.agents.at(0).nodes.empty());
}

TEST_F(nodes_config, one_replica_is_the_sink_itself) {
  for (auto lines : {"", "        replicas: 1\n"}) {
    SCOPED_TRACE(lines);
    auto res = load(topology_with("", lines));
    ASSERT_EQ(errors_of(res.errors), strs{});
    const auto& k1 = sink_k1(res);
    EXPECT_EQ(k1.replicas, 1u);
    EXPECT_EQ(k1.instance_names(), strs{"k1"});
  }
  // One replica may be placed too.
  auto res = load(topology_with(two_nodes, "        placement: [n2]\n"));
  ASSERT_EQ(errors_of(res.errors), strs{});
  EXPECT_EQ(sink_k1(res).instance_names(), strs{"k1"});
  EXPECT_EQ(sink_k1(res).placement, strs{"n2"});
  EXPECT_FALSE(sink_k1(res).yaml.empty());
}

// -- replicas -----------------------------------------------------------------

TEST_F(nodes_config, replicas_bounds) {
  for (auto n : {"1", "256"})
    EXPECT_EQ(errors_of(topology_with("", std::string("        replicas: ") +
                                              n + "\n")),
              strs{})
        << n;
  expect_one_error(topology_with("", "        replicas: 0\n"),
                   k1_path + ".replicas", {"must be at least 1"});
  expect_one_error(topology_with("", "        replicas: 1000\n"),
                   k1_path + ".replicas", {"must be at most 256"});
  expect_one_error(topology_with("", "        replicas: 257\n"),
                   k1_path + ".replicas", {"must be at most 256"});
  expect_one_error(topology_with("", "        replicas: -1\n"),
                   k1_path + ".replicas", {"must be at least 1"});
  expect_one_error(topology_with("", "        replicas: many\n"),
                   k1_path + ".replicas", {"expected an integer"});
  // Placed too: still one error.
  expect_one_error(topology_with(two_nodes, "        replicas: 0\n"
                                            "        placement: [n1, n2]\n"),
                   k1_path + ".replicas", {"must be at least 1"});
}

// -- placement ----------------------------------------------------------------

TEST_F(nodes_config, placement_on_an_unknown_node) {
  // Far from every node: the known ones are listed.
  expect_one_error(topology_with(two_nodes, "        placement: [n1, zz9]\n"),
                   k1_path + ".placement[1]",
                   {"unknown node 'zz9'", "known: n1, n2"});
  // A near miss: a did-you-mean hint.
  auto nodes = "  node1: {host: 127.0.0.1, port: 7001}\n"
               "  node2: {host: 127.0.0.1, port: 7002}\n";
  expect_one_error(topology_with(nodes, "        placement: [node2, nod1]\n"),
                   k1_path + ".placement[1]",
                   {"unknown node 'nod1'", "did you mean 'node1'?"});
  // Without `nodes:` every name is unknown, and there is nothing to list.
  auto errors = load(topology_with("", "        placement: [n1]\n")).errors;
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors_of(errors));
  EXPECT_EQ(errors[0].path, k1_path + ".placement[0]");
  EXPECT_EQ(errors[0].message, "unknown node 'n1'");
}

TEST_F(nodes_config, placement_lists_a_node_twice) {
  expect_one_error(
      topology_with(two_nodes, "        placement: [n1, n2, n1]\n"),
      k1_path + ".placement[2]", {"node 'n1'", "listed twice"});
}

TEST_F(nodes_config, placement_names_no_node) {
  expect_one_error(topology_with(two_nodes, "        placement: []\n"),
                   k1_path + ".placement", {"must name at least one node"});
  expect_one_error(topology_with(two_nodes, "        placement:\n"),
                   k1_path + ".placement", {"must name at least one node"});
}

TEST_F(nodes_config, placement_of_a_single_name) {
  // A single name is a list of one.
  auto res = load(topology_with(two_nodes, "        placement: n1\n"));
  ASSERT_EQ(errors_of(res.errors), strs{});
  EXPECT_EQ(sink_k1(res).placement, strs{"n1"});
}

// BUG (runtime/config/topology.cpp, load_placement): a placement that is no
// list of names, or whose only items are no names, is reported twice: the
// reader's error and then "must name at least one node", a follow-up about
// a list that was not empty (the sources' `channels` check suppresses it).
TEST_F(nodes_config, placement_that_is_no_list) {
  expect_one_error(topology_with(two_nodes, "        placement: {n1: 1}\n"),
                   k1_path + ".placement", {"expected a list of strings"});
  expect_one_error(topology_with(two_nodes, "        placement: [[n1]]\n"),
                   k1_path + ".placement[0]", {"expected a string"});
}

// BUG (runtime/config/topology.cpp, load_placement): after an item that is no
// name, the index in the path of later items' errors is the one among the
// good items, not the item's in the file: the duplicate `n1` below is
// `placement[2]`, but is reported as `placement[1]`.
TEST_F(nodes_config, placement_error_after_a_bad_item) {
  auto errors =
      load(topology_with(two_nodes, "        placement: [[x], n1, n1]\n"))
          .errors;
  ASSERT_EQ(errors.size(), 2u) << testing::PrintToString(errors_of(errors));
  // Errors are in file order: find each by its message.
  const config_error* bad = nullptr;
  const config_error* twice = nullptr;
  for (const auto& e : errors)
    (e.message == "expected a string" ? bad : twice) = &e;
  ASSERT_TRUE(bad && twice) << testing::PrintToString(errors_of(errors));
  EXPECT_EQ(bad->path, k1_path + ".placement[0]");
  EXPECT_EQ(twice->message, "node 'n1' is listed twice");
  // The item's own index, or (as for a source's channels) the list.
  EXPECT_TRUE(twice->path == k1_path + ".placement[2]" ||
              twice->path == k1_path + ".placement")
      << twice->to_string();
}

TEST_F(nodes_config, embedded_kafka_cannot_be_placed) {
  expect_one_error(
      topology_with(two_nodes, "        placement: [n1]\n", "embedded"),
      k1_path + ".placement", {"embedded", "placement"});
  // In the agent's process it is fine, replicated or not.
  EXPECT_EQ(errors_of(topology_with(two_nodes, "", "embedded")), strs{});
  EXPECT_EQ(
      errors_of(topology_with(two_nodes, "        replicas: 2\n", "embedded")),
      strs{});
}

// -- nodes --------------------------------------------------------------------

TEST_F(nodes_config, remote_node_without_tls_or_insecure) {
  auto remote = "  n1: {host: 10.1.2.3, port: 7001}\n";
  expect_one_error(
      topology_with(remote, "        placement: [n1]\n"), "nodes.n1.host",
      {"'10.1.2.3'", "not a loopback address", "tls", "insecure: true"});
  // Whether or not a sink is placed on it.
  expect_one_error(topology_with(remote, ""), "nodes.n1.host",
                   {"not a loopback address"});
  auto insecure = "  n1: {host: 10.1.2.3, port: 7001, insecure: true}\n";
  EXPECT_EQ(errors_of(topology_with(insecure, "        placement: [n1]\n")),
            strs{});
  auto res = load(topology_with(insecure, "        placement: [n1]\n"));
  ASSERT_EQ(res.topo.nodes.size(), 1u);
  EXPECT_TRUE(res.topo.nodes[0].security.insecure);
  EXPECT_FALSE(res.topo.nodes[0].security.tls());
  // `insecure: false` is no protection.
  expect_one_error(
      topology_with("  n1: {host: 10.1.2.3, port: 7001, insecure: false}\n",
                    ""),
      "nodes.n1.host", {"not a loopback address"});
}

TEST_F(nodes_config, remote_node_with_tls) {
  auto text = topology_with(edit(tls_node(), "127.0.0.1", "10.1.2.3"),
                            "        placement: [n1]\n");
  auto res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  ASSERT_EQ(res.topo.nodes.size(), 1u);
  EXPECT_EQ(res.topo.nodes[0].security, identity());
}

TEST_F(nodes_config, node_needs_host_and_port) {
  expect_one_error(topology_with("  n1: {host: 127.0.0.1}\n", ""), "nodes.n1",
                   {"missing required key 'port'"});
  expect_one_error(topology_with("  n1: {port: 7001}\n", ""), "nodes.n1",
                   {"missing required key 'host'"});
}

TEST_F(nodes_config, node_port_bounds) {
  expect_one_error(topology_with("  n1: {host: 127.0.0.1, port: 70000}\n", ""),
                   "nodes.n1.port", {"must be at most 65535"});
  expect_one_error(topology_with("  n1: {host: 127.0.0.1, port: 0}\n", ""),
                   "nodes.n1.port", {"must be at least 1"});
  EXPECT_EQ(
      errors_of(topology_with("  n1: {host: 127.0.0.1, port: 65535}\n", "")),
      strs{});
}

TEST_F(nodes_config, node_with_an_unknown_key) {
  expect_one_error(
      topology_with("  n1: {host: 127.0.0.1, port: 7001, prot: 1}\n", ""),
      "nodes.n1", {"unknown key 'prot'", "did you mean 'port'?"});
}

TEST_F(nodes_config, nodes_that_are_no_mapping) {
  expect_one_error("nodes: [n1]\n" + topology_with("", ""), "nodes",
                   {"expected a mapping of nodes"});
  expect_one_error(topology_with("  n1: 127.0.0.1\n", ""), "nodes.n1",
                   {"expected a mapping"});
}

// BUG (runtime/config/topology.cpp, load_nodes): a node entry that is no
// mapping is left out of the nodes, so a sink placed on it gets a follow-up
// error "unknown node 'n1'" (without even a list of the known ones) besides the
// one at the node itself.
TEST_F(nodes_config, placement_on_a_broken_node) {
  expect_one_error(
      topology_with("  n1: 127.0.0.1\n", "        placement: [n1]\n"),
      "nodes.n1", {"expected a mapping"});
}

// -- tls ----------------------------------------------------------------------

/// One process has one TLS identity: an agent's hop ends and the nodes its
/// sinks are placed on must agree.
TEST_F(nodes_config, one_tls_identity_with_the_nodes) {
  auto text =
      topology_with(tls_node("other-cert.pem"), "        placement: [n1]\n",
                    "'127.0.0.1:9092'", tls_hop_source());
  expect_one_error(text, "nodes.n1.tls",
                   {"agents.a1.sources.h1.tls", "one TLS identity"});
  // The same files everywhere.
  text = topology_with(tls_node(), "        placement: [n1]\n",
                       "'127.0.0.1:9092'", tls_hop_source());
  auto res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  ASSERT_EQ(res.topo.agents.size(), 1u);
  EXPECT_EQ(res.topo.agents[0].tls(), identity());
  // A node nobody places a sink on is no part of the agent's identity.
  text = topology_with(tls_node("other-cert.pem"), "", "'127.0.0.1:9092'",
                       tls_hop_source());
  res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  EXPECT_EQ(res.topo.agents[0].tls(), identity());
}

TEST_F(nodes_config, tls_of_the_nodes_alone) {
  // No hop end of the agent uses TLS: its nodes' identity is the agent's.
  auto text = topology_with(tls_node(), "        placement: [n1]\n");
  auto res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  ASSERT_EQ(res.topo.agents.size(), 1u);
  EXPECT_EQ(res.topo.agents[0].tls(), identity());
  // Two nodes of one agent with different identities.
  auto nodes = tls_node() +
               "  n2:\n"
               "    host: 127.0.0.1\n"
               "    port: 7002\n"
               "    tls: " +
               tls_map("other-cert.pem") + "\n";
  expect_one_error(topology_with(nodes, "        placement: [n1, n2]\n"),
                   "nodes.n2.tls", {"nodes.n1.tls", "one TLS identity"});
}

TEST_F(nodes_config, node_tls_file_that_does_not_exist) {
  auto text =
      topology_with(edit(tls_node(), file("ca.pem"), file("no-ca.pem")), "");
  expect_one_error(text, "nodes.n1.tls.ca_file",
                   {"cannot read", file("no-ca.pem")});
  expect_one_error(topology_with("  n1: {host: 127.0.0.1, port: 7001, tls: " +
                                     tls_map() + ", insecure: true}\n",
                                 ""),
                   "nodes.n1.insecure", {"tls", "choose one"});
}

// -- the YAML sent to nodes ---------------------------------------------------

TEST_F(nodes_config, environment_is_expanded_for_the_node) {
  ASSERT_EQ(::setenv("FLUMEN_TEST_TOPIC", "abc", 1), 0);
  auto text = edit(placed, "topic: t", "topic: ${FLUMEN_TEST_TOPIC}");
  auto res = load(text);
  ::unsetenv("FLUMEN_TEST_TOPIC");
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  const auto& yaml = sink_k1(res).yaml;
  EXPECT_NE(yaml.find("abc"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("${"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("FLUMEN_TEST_TOPIC"), std::string::npos) << yaml;
  // The node reads the topic the agent meant, in its own environment.
  auto node = YAML::Load(yaml);
  EXPECT_EQ(node["topic"].as<std::string>(), "abc");
  EXPECT_EQ(node["type"].as<std::string>(), "kafka");
  EXPECT_EQ(node["bootstrap_servers"].as<std::string>(), "127.0.0.1:9092");
}

TEST_F(nodes_config, environment_defaults_are_expanded_for_the_node) {
  ::unsetenv("FLUMEN_TEST_UNSET_TOPIC");
  auto text =
      edit(placed, "topic: t", "topic: ${FLUMEN_TEST_UNSET_TOPIC:-dflt}");
  auto res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  const auto& yaml = sink_k1(res).yaml;
  EXPECT_EQ(YAML::Load(yaml)["topic"].as<std::string>(), "dflt") << yaml;
  EXPECT_EQ(yaml.find("${"), std::string::npos) << yaml;
  auto out = load_placed_sink(yaml, k1_path, builtin());
  EXPECT_EQ(errors_of(out.errors), strs{}) << yaml;
}

// BUG (runtime/config/topology.cpp, expanded_yaml / load_placed_sink): the YAML
// sent to a node is expanded with the agent's environment, and the node's
// option_reader expands it again with its own. A value that contains `${`
// after the agent's expansion is expanded twice: here the agent validates
// key_header `h${FLUMEN_TEST_UNSET}`, and the node rejects it
// ("environment variable 'FLUMEN_TEST_UNSET' is not set"), or, were that
// set on the node, would use another header than the agent meant.
TEST_F(nodes_config, environment_is_expanded_once) {
  ASSERT_EQ(::setenv("FLUMEN_TEST_HEADER", "h${FLUMEN_TEST_UNSET}", 1), 0);
  ::unsetenv("FLUMEN_TEST_UNSET");
  auto text = edit(placed, "topic: t",
                   "topic: t\n        key_header: ${FLUMEN_TEST_HEADER}");
  auto res = load(text);
  ::unsetenv("FLUMEN_TEST_HEADER");
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  const auto& yaml = sink_k1(res).yaml;
  auto out = load_placed_sink(yaml, k1_path, builtin());
  EXPECT_EQ(errors_of(out.errors), strs{}) << yaml;
  EXPECT_TRUE(out.spawn);
}

TEST_F(nodes_config, placed_yaml_loads_on_a_node) {
  auto res = load(placed);
  ASSERT_EQ(errors_of(res.errors), strs{});
  auto yaml = sink_k1(res).yaml;
  auto out = load_placed_sink(yaml, k1_path, builtin());
  EXPECT_EQ(errors_of(out.errors), strs{}) << yaml;
  EXPECT_TRUE(out.spawn);
}

TEST_F(nodes_config, placed_yaml_with_a_quoted_null_type) {
  // `type: "null"` must stay a string on its way to the node.
  auto text = edit(placed, "type: kafka", "type: \"null\"");
  text = edit(text, "        bootstrap_servers: '127.0.0.1:9092'\n", "");
  text = edit(text, "        topic: t\n", "");
  auto res = load(text);
  ASSERT_EQ(errors_of(res.errors), strs{}) << text;
  auto yaml = sink_k1(res).yaml;
  auto out = load_placed_sink(yaml, k1_path, builtin());
  EXPECT_EQ(errors_of(out.errors), strs{}) << yaml;
  EXPECT_TRUE(out.spawn);
}

TEST_F(nodes_config, placed_yaml_with_an_unknown_key) {
  auto res = load(placed);
  ASSERT_EQ(errors_of(res.errors), strs{});
  auto yaml = sink_k1(res).yaml + "\nbogus: 1\n";
  auto out = load_placed_sink(yaml, k1_path, builtin());
  ASSERT_EQ(out.errors.size(), 1u)
      << testing::PrintToString(errors_of(out.errors));
  // Unknown keys are reported at their mapping.
  EXPECT_EQ(out.errors[0].path, k1_path);
  EXPECT_NE(out.errors[0].message.find("unknown key 'bogus'"),
            std::string::npos)
      << out.errors[0].to_string();
  EXPECT_FALSE(out.spawn);
}

TEST_F(nodes_config, placed_yaml_of_an_unknown_type) {
  auto out = load_placed_sink("type: nope\nchannel: c1\n", k1_path, builtin());
  ASSERT_EQ(out.errors.size(), 1u)
      << testing::PrintToString(errors_of(out.errors));
  EXPECT_EQ(out.errors[0].path, k1_path + ".type");
  EXPECT_TRUE(contains_all(out.errors[0].message, {"unknown sink type 'nope'"}))
      << out.errors[0].to_string();
  EXPECT_FALSE(out.spawn);
  // Without a type.
  out = load_placed_sink("channel: c1\n", k1_path, builtin());
  ASSERT_EQ(out.errors.size(), 1u)
      << testing::PrintToString(errors_of(out.errors));
  EXPECT_NE(out.errors[0].message.find("missing required key 'type'"),
            std::string::npos)
      << out.errors[0].to_string();
  EXPECT_FALSE(out.spawn);
}

TEST_F(nodes_config, placed_yaml_that_is_malformed) {
  for (const auto& text :
       strs{"{", "type: [kafka", "a: b: c", "key: 'unterminated", "- [}\n",
            std::string("\0\xff\xfe", 3), "type: kafka\n  bad indent: x\n"}) {
    SCOPED_TRACE(text);
    placed_sink out;
    EXPECT_NO_THROW(out = load_placed_sink(text, k1_path, builtin()));
    EXPECT_FALSE(out.errors.empty());
    EXPECT_FALSE(out.spawn);
    for (const auto& e : out.errors)
      EXPECT_EQ(e.path.rfind(k1_path, 0), 0u) << e.to_string();
  }
  // Well-formed YAML that is no mapping.
  for (const auto& text : strs{"", "kafka", "[type, kafka]", "~"}) {
    SCOPED_TRACE(text);
    placed_sink out;
    EXPECT_NO_THROW(out = load_placed_sink(text, k1_path, builtin()));
    ASSERT_EQ(out.errors.size(), 1u)
        << testing::PrintToString(errors_of(out.errors));
    EXPECT_EQ(out.errors[0].path, k1_path);
    EXPECT_NE(out.errors[0].message.find("expected a mapping"),
              std::string::npos)
        << out.errors[0].to_string();
    EXPECT_FALSE(out.spawn);
  }
}
