// `tests:` of a topology (flumen test): reading cases with located errors,
// running them through the built-in interceptors and selectors, and the
// report of a case that fails. The Flume User Guide's selector and
// interceptor examples (tests/data/flume_guide.yaml) pass as the guide
// says.

#include <gtest/gtest.h>

#include "actors/builtin.hpp"
#include "runtime/config/topology.hpp"
#include "runtime/flow/topology_test_run.hpp"

using namespace flumen;
using strs = std::vector<std::string>;

namespace {

registry builtins() {
  registry reg;
  register_builtin(reg);
  return reg;
}

load_result load_file(const std::string& relative) {
  return load_topology(std::string{FLUMEN_SOURCE_DIR} + "/" + relative,
                       builtins(), probe_scope{false, ""});
}

load_result load_text(const std::string& text) {
  return load_topology_text(text, "t.yaml", builtins(), probe_scope{false, ""});
}

strs strings(const error_list& errors) {
  strs out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

/// One agent: stdin -> (regex_extractor of `kind`, a filter of `drop`) ->
/// multiplexing on `kind`: a -> c1, b -> c2 (optional c3), else c3.
std::string agent(const std::string& tests) {
  return R"(agents:
  a1:
    sources:
      r1:
        type: stdin
        channels: [c1, c2, c3]
        interceptors:
          - {type: regex_extractor, regex: '^(\w+)', serializers: [{name: kind}]}
          - {type: regex_filter, regex: '^drop', exclude_events: true}
        selector:
          type: multiplexing
          header: kind
          mapping: {a: [c1], b: [c2]}
          optional: {b: [c3]}
          default: [c3]
    channels: {c1: {type: memory}, c2: {type: memory}, c3: {type: memory}}
    sinks:
      k1: {type: "null", channel: c1}
      k2: {type: "null", channel: c2}
      k3: {type: "null", channel: c3}
tests:
)" + tests;
}

std::vector<topology_test_result> run_all(const load_result& r) {
  std::vector<topology_test_result> out;
  for (auto& t : r.topo.tests)
    out.push_back(run_topology_test(r.topo, t));
  return out;
}

} // namespace

TEST(topology_tests, flume_guide_examples_do_what_the_guide_says) {
  auto r = load_file("tests/data/flume_guide.yaml");
  ASSERT_EQ(strings(r.errors), strs{});
  ASSERT_EQ(r.topo.tests.size(), 10u);
  for (auto& t : r.topo.tests) {
    auto res = run_topology_test(r.topo, t);
    EXPECT_TRUE(res.passed) << t.name << ":\n"
                            << testing::PrintToString(res.report);
  }
}

TEST(topology_tests, the_routing_examples_cases_pass) {
  auto r = load_file("topologies/routing.yaml");
  ASSERT_EQ(strings(r.errors), strs{});
  ASSERT_EQ(r.topo.tests.size(), 3u);
  for (auto& res : run_all(r))
    EXPECT_TRUE(res.passed) << testing::PrintToString(res.report);
}

TEST(topology_tests, a_case_that_holds_passes) {
  auto r = load_text(agent(R"(  - name: all of it
    input: [a 1, {body: b 2, headers: {h: v}}, c 3, drop 4]
    expect:
      c1: [{body: a 1, headers: {kind: a}, absent: [h]}]
      c2: [{body_matches: '^b', headers: {h: v}, headers_match: {kind: '^b$'}}]
      c3: [b 2, c 3]
    filtered: [drop 4]
)"));
  ASSERT_EQ(strings(r.errors), strs{});
  ASSERT_EQ(r.topo.tests.size(), 1u);
  EXPECT_EQ(r.topo.tests[0].agent, "a1");
  EXPECT_EQ(r.topo.tests[0].source, "r1");
  auto res = run_all(r);
  EXPECT_TRUE(res[0].passed) << testing::PrintToString(res[0].report);
}

TEST(topology_tests, a_failing_case_says_what_differs_and_where) {
  auto r = load_text(agent(R"(  - name: wrong
    input: [a 1, b 2, drop 3]
    expect:
      c1: [{body: a 2, headers: {kind: b}, absent: [kind]}, a 9]
      c2: [{body_matches: '^x', headers_match: {kind: '^z', nope: '.'}}]
    filtered: 2
)"));
  ASSERT_EQ(strings(r.errors), strs{});
  auto res = run_all(r);
  ASSERT_FALSE(res[0].passed);
  EXPECT_EQ(
      res[0].report,
      (strs{
          "c1 (t.yaml:25:7): expected 2 events, got 1 event",
          R"(  [0] (t.yaml:25:12): body: expected "a 2", got "a 1")",
          R"(  [0] (t.yaml:25:12): header kind: expected "b", got "a")",
          R"(  [0] (t.yaml:25:12): header kind: expected absent, got "a")",
          "  [1] (t.yaml:25:61): expected an event, got none",
          "  c1 got:",
          R"(    [0] body "a 1", headers {kind: "a"})",
          "c2 (t.yaml:26:7): expected 1 event, got 1 event",
          R"(  [0] (t.yaml:26:12): body: "b 2" does not match /^x/)",
          R"(  [0] (t.yaml:26:12): header kind: "b" does not match /^z/)",
          "  [0] (t.yaml:26:12): header nope: expected to match /./, "
          "but it is not there",
          "  c2 got:",
          R"(    [0] body "b 2", headers {kind: "b"})",
          // The case does not name c3: it must get nothing.
          "c3 (t.yaml:22:5): expected 0 events, got 1 event",
          R"(  [0]: not expected: body "b 2", headers {kind: "b"})",
          "  c3 got:",
          R"(    [0] body "b 2", headers {kind: "b"})",
          "filtered (t.yaml:27:15): expected 2 events, got 1 event",
          "  filtered got:",
          R"(    [0] body "drop 3")",
      }));
}

TEST(topology_tests, bytes_that_cannot_be_printed_are_escaped_in_a_report) {
  event e;
  e.body = std::string{"a\"b\\\n\t\x01\xff", 8};
  e.headers.insert_or_assign("k", "v\x7f");
  EXPECT_EQ(describe_event(e), R"(body "a\"b\\\n\t\x01)" + std::string{"\xff"} +
                                   R"(", headers {k: "v\x7f"})");
}

TEST(topology_tests, an_event_the_selector_sends_nowhere_is_filtered) {
  auto text = agent("");
  // No default: an unmapped kind goes nowhere.
  std::string line = "          default: [c3]\n";
  text.replace(text.find(line), line.size(), "");
  text += R"(  - name: nowhere
    input: [z 1, a 2]
    expect: {c1: [a 2]}
    filtered: [z 1]
)";
  auto r = load_text(text);
  ASSERT_EQ(strings(r.errors), strs{});
  auto res = run_all(r);
  EXPECT_TRUE(res[0].passed) << testing::PrintToString(res[0].report);
}

TEST(topology_tests, what_cannot_run_is_refused_where_written) {
  auto r = load_text(agent(R"(  - name: errors
    source: r2
    input: [a]
  - input: {a: b}
    expect: {c9: [], c1: 3}
    filtered: -1
    extra: 1
  - name: patterns
    input: [{body: a, headers: [x]}, [a]]
    expect:
      c1: [{body_matches: '(', headers_match: {k: '[z'}}, {body: }]
      c2: [{bodies: a}]
  - not a case
)"));
  EXPECT_EQ(
      strings(r.errors),
      (strs{
          "t.yaml:23:13: tests[0].source: no source 'r2' (did you mean "
          "'r1'?)",
          "t.yaml:25:5: tests[1]: missing required key 'name'",
          "t.yaml:25:12: tests[1].input: expected a list of events",
          "t.yaml:26:14: tests[1].expect: 'c9' is not a channel of source "
          "'r1' (did you mean 'c1'?)",
          "t.yaml:26:26: tests[1].expect.c1: expected a list of events (an "
          "empty one: [])",
          "t.yaml:27:15: tests[1].filtered: expected a count of events, or a "
          "list of the events (as put in) that reach no channel",
          "t.yaml:28:5: tests[1]: unknown key 'extra' (known: name, source, "
          "input, expect, filtered)",
          "t.yaml:30:32: tests[2].input[0].headers: expected a mapping of "
          "header names to values",
          "t.yaml:30:38: tests[2].input[1]: expected an event: a body (a "
          "string) or a mapping with body and headers",
          "t.yaml:32:27: tests[2].expect.c1[0].body_matches: bad pattern: "
          "missing ): (",
          "t.yaml:32:51: tests[2].expect.c1[0].headers_match.k: bad pattern: "
          "missing ]: [z",
          "t.yaml:32:60: tests[2].expect.c1[1].body: expected a string (an "
          "empty one is written '')",
          "t.yaml:33:13: tests[2].expect.c2[0]: unknown key 'bodies' (known: "
          "body, body_matches, headers, headers_match, absent)",
          "t.yaml:34:5: tests[3]: expected a test case: a mapping with name, "
          "source, input and expect",
      }));
}

TEST(topology_tests, a_source_of_several_agents_must_be_named_with_its_agent) {
  auto text = agent("  - {name: which, input: [a]}\n");
  auto second =
      text.substr(text.find("  a1:"), text.find("tests:") - text.find("  a1:"));
  second.replace(2, 2, "a2");
  text.insert(text.find("tests:"), second);
  auto r = load_text(text);
  EXPECT_EQ(strings(r.errors),
            (strs{"t.yaml:41:5: tests[0]: missing required key 'source' (the "
                  "file has 2 sources; say which one the case is for)"}));
  text.replace(text.find("{name: which,"), 13, "{name: which, source: r1,");
  r = load_text(text);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "'r1' names a source of several agents: "
                                 "write one of a1.r1, a2.r1");
  text.replace(text.find("source: r1,"), 11, "source: a2.r1,");
  r = load_text(text);
  ASSERT_EQ(strings(r.errors), strs{});
  EXPECT_EQ(r.topo.tests[0].agent, "a2");
}

TEST(topology_tests,
     a_broken_agent_is_reported_without_second_errors_from_tests) {
  auto text = agent("  - {name: x, source: r1, input: [a]}\n");
  text.replace(text.find("type: stdin"), 11, "type: stdinn");
  auto r = load_text(text);
  ASSERT_EQ(r.errors.size(), 1u) << testing::PrintToString(strings(r.errors));
  EXPECT_NE(r.errors[0].message.find("unknown source type 'stdinn'"),
            std::string::npos);
}
