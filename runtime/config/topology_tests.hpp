#pragma once

// `tests:` of a topology file (or of a tests file beside it): test cases
// for a source's interceptors and channel selector, run by `flumen test`
// in process, without starting sources or sinks. See
// docs/reference/testing.md.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "runtime/config/config.hpp"
#include "runtime/core/event.hpp"

namespace flumen {

struct topology;

/// What one event a channel gets must be: every condition given holds.
struct event_expectation {
  location where;
  std::optional<std::string> body;         ///< `body`: equals
  std::optional<std::string> body_matches; ///< `body_matches`: RE2, found
  /// `headers`: each header is there with this value.
  std::vector<std::pair<std::string, std::string>> headers;
  /// `headers_match`: each header is there and RE2 finds the pattern in it.
  std::vector<std::pair<std::string, std::string>> headers_match;
  /// `absent`: none of these headers is there.
  std::vector<std::string> absent;
};

/// One test case: events into a source's interceptor chain and selector,
/// and what each of its channels must get.
struct topology_test {
  std::string name;
  location where;
  std::string agent;  ///< the source's agent
  std::string source; ///< the source whose chain and selector run
  std::vector<event> input;
  /// Channel -> the events it gets, in order. Every channel of the source
  /// is here: one the case does not name must get none.
  std::vector<std::pair<std::string, std::vector<event_expectation>>> expect;
  /// Where each channel's list is written (in step with `expect`; the
  /// case's own location for a channel it does not name).
  std::vector<location> expect_at;
  /// `filtered`: the input events that reach no channel (an interceptor
  /// removed them, or the selector sends them nowhere), as they were put
  /// in, in order. Not checked when the case does not say.
  std::optional<std::vector<event_expectation>> filtered;
  /// `filtered: N` (a count rather than a list).
  std::optional<std::size_t> filtered_count;
  location filtered_at;
};

/// The most test cases one file may have, and input events one case may
/// have (the file's bounds on YAML nodes apply as well).
inline constexpr std::size_t max_topology_tests = 10000;
inline constexpr std::size_t max_test_events = 10000;

/// Reads `tests:` (`node`, a sequence) against `topo`'s agents, sources
/// and channels: located errors into `errors` for anything that cannot
/// run (an unknown source or channel, a pattern RE2 refuses, an unknown
/// key). `file` names the file `node` is from.
std::vector<topology_test> load_topology_tests(const YAML::Node& node,
                                               const topology& topo,
                                               const std::string& file,
                                               error_list& errors);

/// What an event shows in a test's report: `body "x", headers {k: "v"}`,
/// bytes that are not printable escaped.
std::string describe_event(const event& e);

/// Why `e` fails `x`, one reason per condition that does not hold; empty
/// when it passes.
std::vector<std::string> mismatches(const event_expectation& x, const event& e);

} // namespace flumen
