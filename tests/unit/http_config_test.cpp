// Validation of the http source's options through the loader with the
// builtin types.

#include <cstdlib>
#include <filesystem>
#include <fstream>
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
      web:
        type: http
        bind: 127.0.0.1
        port: 8080
        channels: [c1]
    channels:
      c1: {type: memory}
    sinks:
      drop: {type: "null", channel: c1}
)";

std::string with(const std::string& lines) {
  return edit(agent, "        channels: [c1]\n",
              "        channels: [c1]\n" + lines);
}

strs errors_of(const std::string& text) {
  registry reg;
  register_builtin(reg);
  strs out;
  for (const auto& e : load_topology_text(text, "t.yaml", reg).errors)
    out.push_back(e.path + ": " + e.message);
  return out;
}

namespace fs = std::filesystem;

class http_config : public ::testing::Test {
protected:
  // Real certificates (tests/e2e/mkcerts.sh): validation loads them as the
  // source would.
  void SetUp() override {
    auto cmd = std::string{"bash "} + FLUMEN_SOURCE_DIR +
               "/tests/e2e/mkcerts.sh " + dir_.path().string() + " srv";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    fs::rename(dir_.path() / "srv-ca.pem", dir_.path() / "ca.pem");
    fs::rename(dir_.path() / "srv.pem", dir_.path() / "cert.pem");
    fs::rename(dir_.path() / "srv.key", dir_.path() / "key.pem");
  }
  std::string file(const std::string& name) const {
    return (dir_ / name).string();
  }
  temp_dir dir_{"flumen-http-config"};
};

bool one_error_saying(const strs& errors, const std::string& path,
                      const strs& parts) {
  if (errors.size() != 1) return false;
  if (errors[0].rfind(path + ": ", 0) != 0) return false;
  for (auto& p : parts)
    if (errors[0].find(p) == std::string::npos) return false;
  return true;
}

} // namespace

TEST_F(http_config, every_option_validates) {
  auto text = with("        path: /events\n"
                   "        handler: lines\n"
                   "        max_body_bytes: 2MB\n"
                   "        max_events: 500\n"
                   "        max_buffered_bytes: 16MB\n"
                   "        hold_timeout: 1s\n"
                   "        retry_after: 5s\n"
                   "        max_connections: 64\n"
                   "        request_timeout: 10s\n");
  EXPECT_EQ(errors_of(text), strs{});
}

TEST_F(http_config, a_wildcard_bind_needs_tls_or_insecure) {
  auto wild = edit(agent, "bind: 127.0.0.1", "bind: 0.0.0.0");
  auto e = errors_of(wild);
  EXPECT_TRUE(
      one_error_saying(e, "agents.a1.sources.web.bind",
                       {"'0.0.0.0'", "loopback", "tls", "insecure: true"}))
      << testing::PrintToString(e);
  EXPECT_EQ(errors_of(edit(wild, "        channels: [c1]\n",
                           "        channels: [c1]\n        insecure: true\n")),
            strs{});
  auto tls = "        tls: {certificate: " + file("cert.pem") +
             ", key: " + file("key.pem") + "}\n";
  EXPECT_EQ(errors_of(edit(wild, "        channels: [c1]\n",
                           "        channels: [c1]\n" + tls)),
            strs{});
}

TEST_F(http_config, tls_options_are_checked) {
  auto e = errors_of(with("        tls: {certificate: " + file("cert.pem") +
                          ", key: " + file("key.pem") +
                          ", client_certificates: required}\n"));
  EXPECT_TRUE(one_error_saying(
      e, "agents.a1.sources.web.tls.client_certificates", {"ca_file"}))
      << testing::PrintToString(e);
  // A key of another certificate: loaded as the source would, refused.
  e = errors_of(with("        tls: {certificate: " + file("cert.pem") +
                     ", key: " + file("srv-ca.key") + "}\n"));
  EXPECT_TRUE(
      one_error_saying(e, "agents.a1.sources.web.tls", {"does not match"}))
      << testing::PrintToString(e);
  e = errors_of(with("        tls: {certificate: " + file("nope.pem") +
                     ", key: " + file("key.pem") + "}\n"));
  EXPECT_TRUE(one_error_saying(e, "agents.a1.sources.web.tls.certificate",
                               {"cannot read"}))
      << testing::PrintToString(e);
  e = errors_of(with("        insecure: true\n        tls: {certificate: " +
                     file("cert.pem") + ", key: " + file("key.pem") + "}\n"));
  EXPECT_TRUE(
      one_error_saying(e, "agents.a1.sources.web.insecure", {"choose one"}))
      << testing::PrintToString(e);
  EXPECT_EQ(errors_of(with("        tls: {certificate: " + file("cert.pem") +
                           ", key: " + file("key.pem") +
                           ", ca_file: " + file("ca.pem") +
                           ", client_certificates: optional}\n")),
            strs{});
}

TEST_F(http_config, bounds_are_located_errors) {
  EXPECT_TRUE(one_error_saying(
      errors_of(with("        max_body_bytes: 1GB\n"
                     "        max_buffered_bytes: 64MB\n")),
      "agents.a1.sources.web.max_buffered_bytes", {"at least max_body_bytes"}));
  EXPECT_TRUE(one_error_saying(errors_of(with("        path: events\n")),
                               "agents.a1.sources.web.path", {"'/'"}));
  EXPECT_TRUE(
      one_error_saying(errors_of(with("        request_timeout: 10ms\n")),
                       "agents.a1.sources.web.request_timeout", {"100ms"}));
  EXPECT_TRUE(one_error_saying(errors_of(with("        handler: xml\n")),
                               "agents.a1.sources.web.handler", {"json"}));
  EXPECT_TRUE(one_error_saying(errors_of(with("        retry_after: 0s\n")),
                               "agents.a1.sources.web.retry_after", {"1s"}));
}
