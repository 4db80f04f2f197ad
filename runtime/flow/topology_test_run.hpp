#pragma once

// Runs a `tests:` case (runtime/config/topology_tests.hpp): its input
// events through the source's interceptors and channel selector, as the
// source's router would (route_eval.hpp), and compares what each channel
// gets with what the case expects. No actor, source or sink runs.

#include <string>
#include <vector>

#include "runtime/config/topology.hpp"

namespace flumen {

struct topology_test_result {
  bool passed = false;
  /// Why it failed, one line each (indented lines list what a channel
  /// got); empty when it passed.
  std::vector<std::string> report;
};

/// Runs `t` against `topo` (the topology its source is in). Each input
/// event goes through one instance of the chain alone, in order, so the
/// events a filter removes are known by name.
topology_test_result run_topology_test(const topology& topo,
                                       const topology_test& t);

} // namespace flumen
