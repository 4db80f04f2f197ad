// A source's `selector:` as the loader reads and checks it: the issue's
// example, every error located, the unused-channel warning.

#include <gtest/gtest.h>

#include "runtime/config/topology.hpp"
#include "tests/support/fake_components.hpp"

using namespace flumen;
using namespace flumen::test;
using strs = std::vector<std::string>;

namespace {

std::string agent(const std::string& selector) {
  return R"(agents:
  a1:
    sources:
      r1:
        type: fake_src
        port: 44444
        channels: [c_eu, c_us, c_other, c_audit]
        selector:
)" + selector +
         R"(
    channels:
      c_eu: {type: mem}
      c_us: {type: mem}
      c_other: {type: mem}
      c_audit: {type: mem}
    sinks:
      k1: {type: snk, channel: c_eu, topic: t}
      k2: {type: snk, channel: c_us, topic: t}
      k3: {type: snk, channel: c_other, topic: t}
      k4: {type: snk, channel: c_audit, topic: t}
)";
}

const char* example = R"(          type: multiplexing
          header: region
          mapping: {eu: [c_eu], us: c_us}
          default: [c_other]
          optional: {eu: [c_audit]})";

load_result load(const std::string& selector) {
  return load_topology_text(agent(selector), "t.yaml", test_registry());
}

strs strings(const error_list& errors) {
  strs out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

strs errors_of(const std::string& selector) {
  return strings(load(selector).errors);
}

} // namespace

TEST(selector_config, reads_the_issues_example) {
  auto r = load(example);
  ASSERT_TRUE(r.errors.empty()) << strings(r.errors).front();
  EXPECT_TRUE(r.warnings.empty());
  auto& s = r.topo.agents.at(0).sources.at(0).selector;
  EXPECT_EQ(s.type, selector_spec::kind::multiplexing);
  EXPECT_EQ(s.header, "region");
  ASSERT_EQ(s.mapping.size(), 2u);
  EXPECT_EQ(s.mapping[0], (std::pair<std::string, strs>{"eu", {"c_eu"}}));
  EXPECT_EQ(s.mapping[1], (std::pair<std::string, strs>{"us", {"c_us"}}));
  EXPECT_EQ(s.default_channels, strs{"c_other"});
  EXPECT_EQ(s.optional.at(0),
            (std::pair<std::string, strs>{"eu", {"c_audit"}}));
}

TEST(selector_config, defaults_replicating_and_flumes_header) {
  auto r = load("          type: multiplexing\n          default: [c_eu]\n"
                "          mapping: {x: [c_us, c_other, c_audit]}");
  ASSERT_TRUE(r.errors.empty()) << strings(r.errors).front();
  EXPECT_EQ(r.topo.agents[0].sources[0].selector.header,
            "flume.selector.header");
  r = load("          optional: [c_audit]");
  ASSERT_TRUE(r.errors.empty()) << strings(r.errors).front();
  auto& s = r.topo.agents[0].sources[0].selector;
  EXPECT_EQ(s.type, selector_spec::kind::replicating);
  EXPECT_EQ(s.optional.at(0), (std::pair<std::string, strs>{"", {"c_audit"}}));
}

TEST(selector_config, a_channel_not_the_sources_is_refused_where_written) {
  EXPECT_EQ(errors_of(R"(          type: multiplexing
          header: region
          mapping: {eu: [c_eu, c_eux], us: c_us}
          default: [c_other]
          optional: {eu: [c_audit]})"),
            strs{"t.yaml:11:32: agents.a1.sources.r1.selector.mapping.eu[1]: "
                 "channel 'c_eux' is not one of this source's channels (c_eu, "
                 "c_us, c_other, c_audit)"});
  EXPECT_EQ(errors_of("          optional: [c_nope]"),
            strs{"t.yaml:9:22: agents.a1.sources.r1.selector.optional[0]: "
                 "channel 'c_nope' is not one of this source's channels "
                 "(c_eu, c_us, c_other, c_audit)"});
}

TEST(selector_config, a_value_mapped_twice_is_an_error) {
  EXPECT_EQ(errors_of(R"(          type: multiplexing
          mapping: {eu: [c_eu], eu: [c_us]}
          default: [c_other, c_audit])"),
            strs{"t.yaml:10:33: agents.a1.sources.r1.selector.mapping: "
                 "duplicate key 'eu'"});
}

TEST(selector_config, mistakes_are_located) {
  EXPECT_EQ(errors_of("          type: multiplexin"),
            strs{"t.yaml:9:17: agents.a1.sources.r1.selector.type: must be "
                 "one of: replicating, multiplexing (did you mean "
                 "'multiplexing'?)"});
  EXPECT_EQ(errors_of("          mapping: {eu: [c_eu]}"),
            strs{"t.yaml:9:20: agents.a1.sources.r1.selector.mapping: only a "
                 "multiplexing selector has 'mapping'"});
  EXPECT_EQ(errors_of("          type: multiplexing\n          header: region"),
            strs{"t.yaml:9:11: agents.a1.sources.r1.selector: a multiplexing "
                 "selector needs 'mapping' or 'default'"});
  EXPECT_EQ(
      errors_of("          type: multiplexing\n          mapping: {eu: []}\n"
                "          default: c_eu"),
      strs{"t.yaml:10:25: agents.a1.sources.r1.selector.mapping.eu: must "
           "name at least one channel"});
  EXPECT_EQ(errors_of("          type: multiplexing\n          default: c_eu\n"
                      "          headr: x"),
            strs{"t.yaml:11:11: agents.a1.sources.r1.selector: unknown key "
                 "'headr' (did you mean 'header'?)"});
  EXPECT_EQ(errors_of("          [c_eu]"),
            strs{"t.yaml:9:11: agents.a1.sources.r1.selector: expected a "
                 "mapping with 'type'"});
}

TEST(selector_config, a_channel_no_entry_uses_is_a_warning) {
  auto r =
      load("          type: multiplexing\n          header: region\n"
           "          mapping: {eu: [c_eu]}\n          default: [c_other]");
  EXPECT_TRUE(r.errors.empty()) << strings(r.errors).front();
  EXPECT_EQ(strings(r.warnings),
            (strs{"t.yaml:7:19: agents.a1.sources.r1.channels: channel 'c_us' "
                  "is in no mapping, default or optional list of the "
                  "multiplexing selector: it gets no events",
                  "t.yaml:7:19: agents.a1.sources.r1.channels: channel "
                  "'c_audit' is in no mapping, default or optional list of "
                  "the multiplexing selector: it gets no events"}));
}
