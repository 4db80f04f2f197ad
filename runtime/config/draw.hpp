#pragma once

// `flumen graph`: a loaded topology drawn for Graphviz or Mermaid. Pure:
// nothing is tried or run.

#include <string>

#include "runtime/config/topology.hpp"

namespace flumen {

/// The topology drawn in Graphviz DOT.
std::string to_dot(const topology& topo);

/// The topology drawn as a Mermaid flowchart.
std::string to_mermaid(const topology& topo);

} // namespace flumen
