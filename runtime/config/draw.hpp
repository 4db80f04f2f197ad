#pragma once

// `flumen graph`: a loaded topology drawn for Graphviz or Mermaid. Pure:
// nothing is tried or run.

#include <string>

#include "runtime/config/topology.hpp"

namespace flumen {

/// The topology drawn in Graphviz DOT: each agent a cluster of its
/// components; a hop sink's link to the source of the file that listens
/// where it sends (dashed, labelled with the address); the nodes of
/// `nodes:` as boxes, with an edge from each placed sink to each node it
/// has replicas on (bold, labelled with the replicas). With `agent` (an
/// agent of `topo`), only that agent, the agents it has hops to or from,
/// those hops, and its sinks' nodes.
std::string to_dot(const topology& topo, const std::string& agent = {});

/// The same as a Mermaid flowchart (hops `-.->`, placement `==>`).
std::string to_mermaid(const topology& topo, const std::string& agent = {});

} // namespace flumen
