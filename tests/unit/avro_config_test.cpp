// Validation of the avro source's and sink's options through the loader
// with the builtin types: what cannot run is refused with its location.

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actors/builtin.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/config/topology.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/text_edit.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

const std::string agent = R"(agents:
  a1:
    sources:
      in:
        type: avro
        port: 4141
        channels: [c1]
    channels:
      c1: {type: memory}
    sinks:
      out:
        type: avro
        channel: c1
        hostname: 127.0.0.1
        port: 4545
)";

strs errors_of(const std::string& text) {
  registry reg;
  register_builtin(reg);
  strs out;
  for (const auto& e : load_topology_text(text, "t.yaml", reg).errors)
    out.push_back(e.path + ": " + e.message);
  return out;
}

std::string source(const std::string& lines) {
  return edit(agent, "        channels: [c1]\n",
              "        channels: [c1]\n" + lines);
}
std::string sink(const std::string& lines) {
  return edit(agent, "        port: 4545\n", "        port: 4545\n" + lines);
}

bool one_error_saying(const strs& errors, const std::string& path,
                      const strs& parts) {
  if (errors.size() != 1) return false;
  if (errors[0].rfind(path + ": ", 0) != 0) return false;
  for (auto& p : parts)
    if (errors[0].find(p) == std::string::npos) return false;
  return true;
}

namespace fs = std::filesystem;

class avro_config : public ::testing::Test {
protected:
  void SetUp() override {
    auto cmd = std::string{"bash "} + FLUMEN_SOURCE_DIR +
               "/tests/e2e/mkcerts.sh " + dir_.path().string() + " srv";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string tls() const {
    auto d = dir_.path().string();
    return "{certificate: " + d + "/srv.pem, key: " + d +
           "/srv.key, ca_file: " + d + "/srv-ca.pem}";
  }
  temp_dir dir_{"flumen-avro-config"};
};

} // namespace

TEST_F(avro_config, every_option_validates) {
  auto text = source("        max_connections: 16\n"
                     "        compression: deflate\n"
                     "        ip_filter: [allow:10.0.0.0/8, deny:*]\n"
                     "        hold_timeout: 5s\n"
                     "        handshake_timeout: 2s\n"
                     "        idle_timeout: 0\n"
                     "        max_message_bytes: 4MB\n"
                     "        max_frames: 1000\n"
                     "        max_batch_events: 500\n");
  text = edit(text, "        port: 4545\n",
              "        port: 4545\n"
              "        batch_size: 500\n"
              "        connect_timeout: 5s\n"
              "        request_timeout: 5s\n"
              "        reset_connection_interval: 60s\n"
              "        compression: deflate\n"
              "        compression_level: 9\n"
              "        max_inflight: 4\n");
  EXPECT_EQ(errors_of(text), strs{});
  auto secure = source("        bind: 0.0.0.0\n        tls: " + tls() + "\n");
  secure = edit(secure, "        port: 4545\n",
                "        port: 4545\n        tls: " + tls() + "\n");
  EXPECT_EQ(errors_of(secure), strs{});
}

TEST_F(avro_config, what_cannot_run_is_refused_where_it_is_said) {
  EXPECT_TRUE(one_error_saying(errors_of(source("        hold_timeout: 20s\n")),
                               "agents.a1.sources.in.hold_timeout",
                               {"19s", "20 s"}));
  EXPECT_TRUE(one_error_saying(
      errors_of(source("        ip_filter: [permit:1.2.3.4]\n")),
      "agents.a1.sources.in.ip_filter", {"permit:1.2.3.4"}));
  EXPECT_TRUE(one_error_saying(
      errors_of(source("        ip_filter: [allow:10.0.0.0/40]\n")),
      "agents.a1.sources.in.ip_filter", {"/40"}));
  EXPECT_TRUE(one_error_saying(errors_of(source("        bind: 0.0.0.0\n")),
                               "agents.a1.sources.in.bind",
                               {"loopback", "insecure: true"}));
  EXPECT_TRUE(one_error_saying(
      errors_of(
          source("        compression: deflate\n        tls: " + tls() + "\n")),
      "agents.a1.sources.in.compression", {"tls"}));
  EXPECT_TRUE(one_error_saying(
      errors_of(source("        insecure: true\n        tls: " + tls() + "\n")),
      "agents.a1.sources.in.insecure", {"tls together: choose one"}));
  auto missing_key =
      source("        tls: {certificate: " + dir_.path().string() +
             "/srv.pem, key: /nonexistent.key}\n");
  EXPECT_TRUE(one_error_saying(errors_of(missing_key),
                               "agents.a1.sources.in.tls.key",
                               {"/nonexistent.key"}))
      << testing::PrintToString(errors_of(missing_key));
  EXPECT_TRUE(one_error_saying(
      errors_of(edit(agent, "hostname: 127.0.0.1", "hostname: 10.1.1.1")),
      "agents.a1.sinks.out.hostname", {"insecure"}))
      << testing::PrintToString(errors_of(
             edit(agent, "hostname: 127.0.0.1", "hostname: 10.1.1.1")));
  EXPECT_TRUE(one_error_saying(
      errors_of(
          sink("        compression: deflate\n        tls: " + tls() + "\n")),
      "agents.a1.sinks.out.compression", {"tls"}));
  EXPECT_TRUE(
      one_error_saying(errors_of(sink("        request_timeout: 100ms\n")),
                       "agents.a1.sinks.out.request_timeout", {"200ms"}));
  EXPECT_TRUE(
      one_error_saying(errors_of(sink("        compression_level: 10\n")),
                       "agents.a1.sinks.out.compression_level", {}));
}
