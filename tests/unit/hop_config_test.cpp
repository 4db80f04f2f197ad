// Validation of the hop source and sink options and of their link security
// (runtime/config/link_security.hpp), through the loader with the builtin
// types. Here and not in config_tests: the hop parsers live in flumen_actors.

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

/// A valid loopback chain: edge -> hop -> collector. Tests change it with
/// `edit`.
const std::string chain = R"(agents:
  edge:
    sources:
      gen: {type: seq, count: 10, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      out:
        type: hop
        channel: c1
        host: 127.0.0.1
        port: 4545
  collector:
    sources:
      h1:
        type: hop
        bind: 127.0.0.1
        port: 4545
        channels: [c2]
    channels:
      c2: {type: memory}
    sinks:
      drop: {type: "null", channel: c2}
)";

/// Lines added to the sink `out` (at its option indentation).
std::string sink_with(const std::string& lines) {
  return edit(chain, "        port: 4545\n  collector:",
              "        port: 4545\n" + lines + "  collector:");
}

/// Lines added to the source `h1`.
std::string source_with(const std::string& lines) {
  return edit(chain, "        channels: [c2]\n",
              "        channels: [c2]\n" + lines);
}

/// `text` loaded with the builtin types.
load_result load(const std::string& text) {
  registry reg;
  register_builtin(reg);
  return load_topology_text(text, "t.yaml", reg);
}

strs errors_of(const std::string& text) {
  strs out;
  for (const auto& e : load(text).errors)
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
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors_of(text));
  EXPECT_EQ(errors[0].path, path) << errors[0].to_string();
  EXPECT_EQ(errors[0].where.file, "t.yaml");
  EXPECT_GT(errors[0].where.line, 0);
  EXPECT_TRUE(contains_all(errors[0].message, parts)) << errors[0].to_string();
}

/// PEM files that exist (validation only checks they are readable).
class hop_config : public ::testing::Test {
protected:
  void SetUp() override {
    for (auto name : {"ca.pem", "cert.pem", "key.pem", "other-cert.pem"})
      std::ofstream{dir_ / name} << "-----BEGIN PLACEHOLDER-----\n";
  }

  std::string file(const std::string& name) const {
    return (dir_ / name).string();
  }

  /// A `tls:` line with these files (at option indentation).
  std::string tls(const std::string& cert = "cert.pem",
                  const std::string& ca = "ca.pem") const {
    return "        tls: {certificate: " + file(cert) +
           ", key: " + file("key.pem") + ", ca_file: " + file(ca) + "}\n";
  }

  temp_dir dir_{"flumen-hop-config"};
};

} // namespace

// -- valid --------------------------------------------------------------------

TEST_F(hop_config, loopback_chain_validates) {
  auto res = load(chain);
  EXPECT_EQ(errors_of(chain), strs{});
  ASSERT_EQ(res.topo.agents.size(), 2u);
  // Other loopback spellings need no protection either.
  for (auto host : {"localhost", "::1", "127.1.2.3"}) {
    SCOPED_TRACE(host);
    EXPECT_EQ(errors_of(edit(chain, "host: 127.0.0.1",
                             std::string("host: '") + host + "'")),
              strs{});
  }
  EXPECT_EQ(errors_of(edit(chain, "bind: 127.0.0.1", "bind: localhost")),
            strs{});
}

TEST_F(hop_config, every_option_validates) {
  auto text = sink_with("        batch_size: 500\n"
                        "        max_inflight: 8\n"
                        "        connect_timeout: 5s\n"
                        "        request_timeout: 10s\n"
                        "        compression: zstd\n");
  text = edit(text, "        channels: [c2]\n",
              "        channels: [c2]\n"
              "        max_connections: 16\n"
              "        max_batch_bytes: 8MB\n"
              "        max_hold: 2s\n");
  EXPECT_EQ(errors_of(text), strs{});
  for (auto c : {"none", "lz4", "zstd"})
    EXPECT_EQ(
        errors_of(sink_with(std::string("        compression: ") + c + "\n")),
        strs{})
        << c;
}

TEST_F(hop_config, insecure_allows_a_wildcard_bind) {
  auto text = edit(chain, "bind: 127.0.0.1", "bind: 0.0.0.0");
  EXPECT_EQ(errors_of(edit(text, "        channels: [c2]\n",
                           "        channels: [c2]\n        insecure: true\n")),
            strs{});
}

TEST_F(hop_config, insecure_allows_a_remote_host) {
  auto text = edit(chain, "host: 127.0.0.1", "host: 10.1.2.3");
  EXPECT_EQ(errors_of(edit(text, "        port: 4545\n  collector:",
                           "        port: 4545\n        insecure: true\n"
                           "  collector:")),
            strs{});
}

TEST_F(hop_config, tls_allows_remote_ends) {
  auto text = edit(chain, "host: 127.0.0.1", "host: 10.1.2.3");
  text = edit(text, "bind: 127.0.0.1", "bind: 0.0.0.0");
  text = edit(text, "        port: 4545\n  collector:",
              "        port: 4545\n" + tls() + "  collector:");
  text = edit(text, "        channels: [c2]\n",
              "        channels: [c2]\n" + tls());
  EXPECT_EQ(errors_of(text), strs{});
  auto res = load(text);
  ASSERT_EQ(res.topo.agents.size(), 2u);
}

// -- unprotected remote ends --------------------------------------------------

TEST_F(hop_config, wildcard_bind_without_tls_or_insecure) {
  expect_one_error(edit(chain, "bind: 127.0.0.1", "bind: 0.0.0.0"),
                   "agents.collector.sources.h1.bind",
                   {"'0.0.0.0'", "loopback", "tls", "insecure: true"});
}

TEST_F(hop_config, remote_host_without_tls_or_insecure) {
  expect_one_error(edit(chain, "host: 127.0.0.1", "host: 10.1.2.3"),
                   "agents.edge.sinks.out.host",
                   {"'10.1.2.3'", "loopback", "tls", "insecure: true"});
  // `insecure: false` is no protection either.
  auto text = edit(chain, "host: 127.0.0.1", "host: 10.1.2.3");
  expect_one_error(edit(text, "        port: 4545\n  collector:",
                        "        port: 4545\n        insecure: false\n"
                        "  collector:"),
                   "agents.edge.sinks.out.host", {"loopback"});
}

// -- tls ----------------------------------------------------------------------

TEST_F(hop_config, tls_without_ca_file) {
  expect_one_error(sink_with("        tls: {certificate: " + file("cert.pem") +
                             ", key: " + file("key.pem") + "}\n"),
                   "agents.edge.sinks.out.tls",
                   {"missing required key 'ca_file'"});
}

TEST_F(hop_config, tls_without_certificate_or_key) {
  expect_one_error(source_with("        tls: {key: " + file("key.pem") +
                               ", ca_file: " + file("ca.pem") + "}\n"),
                   "agents.collector.sources.h1.tls",
                   {"missing required key 'certificate'"});
  expect_one_error(
      source_with("        tls: {certificate: " + file("cert.pem") +
                  ", ca_file: " + file("ca.pem") + "}\n"),
      "agents.collector.sources.h1.tls", {"missing required key 'key'"});
}

TEST_F(hop_config, tls_file_that_does_not_exist) {
  auto missing = file("no-such-ca.pem");
  expect_one_error(sink_with(tls("cert.pem", "no-such-ca.pem")),
                   "agents.edge.sinks.out.tls.ca_file",
                   {"cannot read", missing});
  expect_one_error(source_with(tls("no-such-cert.pem")),
                   "agents.collector.sources.h1.tls.certificate",
                   {"cannot read", file("no-such-cert.pem")});
}

TEST_F(hop_config, tls_that_is_no_mapping) {
  expect_one_error(source_with("        tls: true\n"),
                   "agents.collector.sources.h1.tls", {"expected a mapping"});
}

TEST_F(hop_config, tls_with_an_unknown_key) {
  auto errors =
      errors_of(sink_with("        tls: {certificate: " + file("cert.pem") +
                          ", key: " + file("key.pem") +
                          ", ca_file: " + file("ca.pem") + ", cipher: x}\n"));
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("cipher"), std::string::npos) << errors[0];
}

TEST_F(hop_config, tls_and_insecure_together) {
  expect_one_error(sink_with(tls() + "        insecure: true\n"),
                   "agents.edge.sinks.out.insecure", {"tls", "choose one"});
  expect_one_error(source_with(tls() + "        insecure: true\n"),
                   "agents.collector.sources.h1.insecure",
                   {"tls", "choose one"});
}

/// One process has one TLS identity: an agent's hop ends must agree.
TEST_F(hop_config, one_tls_identity_per_agent) {
  // A relay: a hop source and a hop sink in one agent.
  auto relay = [&](const std::string& source_tls, const std::string& sink_tls) {
    return chain + R"(  relay:
    sources:
      in:
        type: hop
        bind: 0.0.0.0
        port: 4546
        channels: [c3]
)" + source_tls +
           R"(    channels:
      c3: {type: memory}
    sinks:
      fwd:
        type: hop
        channel: c3
        host: 10.1.2.3
        port: 4545
)" + sink_tls;
  };
  EXPECT_EQ(errors_of(relay(tls(), tls())), strs{});
  expect_one_error(relay(tls(), tls("other-cert.pem")),
                   "agents.relay.sinks.fwd.tls",
                   {"agents.relay.sources.in", "one TLS identity"});
  // Another CA is another identity too.
  std::ofstream{dir_ / "other-ca.pem"} << "x\n";
  expect_one_error(relay(tls(), tls("cert.pem", "other-ca.pem")),
                   "agents.relay.sinks.fwd.tls", {"one TLS identity"});
  // Different agents may have different identities.
  auto text = edit(chain, "        port: 4545\n  collector:",
                   "        port: 4545\n" + tls() + "  collector:");
  text = edit(text, "        channels: [c2]\n",
              "        channels: [c2]\n" + tls("other-cert.pem"));
  EXPECT_EQ(errors_of(text), strs{});
}

// -- other options
// --------------------------------------------------------------

TEST_F(hop_config, unknown_compression) {
  expect_one_error(sink_with("        compression: gzip\n"),
                   "agents.edge.sinks.out.compression",
                   {"must be one of", "none", "lz4", "zstd"});
}

TEST_F(hop_config, sink_needs_host_and_port) {
  auto errors = errors_of(edit(chain, "        host: 127.0.0.1\n", ""));
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  EXPECT_TRUE(contains_all(
      errors[0], {"agents.edge.sinks.out", "missing required key 'host'"}))
      << errors[0];
  errors = errors_of(
      edit(chain, "        port: 4545\n  collector:", "  collector:"));
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("missing required key 'port'"), std::string::npos)
      << errors[0];
}

TEST_F(hop_config, max_batch_bytes_bounds) {
  auto with = [&](const std::string& v) {
    return source_with("        max_batch_bytes: " + v + "\n");
  };
  EXPECT_EQ(errors_of(with("1KB")), strs{});
  EXPECT_EQ(errors_of(with("1GB")), strs{});
  expect_one_error(with("512"), "agents.collector.sources.h1.max_batch_bytes",
                   {"between 1KB and 1GB"});
  expect_one_error(with("2GB"), "agents.collector.sources.h1.max_batch_bytes",
                   {"between 1KB and 1GB"});
}

TEST_F(hop_config, handshake_timeout_bounds) {
  auto with = [&](const std::string& v) {
    return source_with("        handshake_timeout: " + v + "\n");
  };
  EXPECT_EQ(errors_of(with("100ms")), strs{});
  EXPECT_EQ(errors_of(with("10m")), strs{});
  expect_one_error(with("50ms"),
                   "agents.collector.sources.h1.handshake_timeout",
                   {"between 100ms and 10m"});
  expect_one_error(with("1h"), "agents.collector.sources.h1.handshake_timeout",
                   {"between 100ms and 10m"});
}

// -- link_security ------------------------------------------------------------

TEST(link_security, loopback_addresses) {
  for (auto h : {"localhost", "127.0.0.1", "127.255.0.9", "::1"})
    EXPECT_TRUE(loopback_address(h)) << h;
  for (auto h : {"0.0.0.0", "::", "10.1.2.3", "128.0.0.1", "126.0.0.1",
                 "example.com", "localhost.example.com", ""})
    EXPECT_FALSE(loopback_address(h)) << h;
}
