#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/config/selector.hpp"
#include "runtime/config/sink_group.hpp"
#include "runtime/config/topology_tests.hpp"

namespace flumen {

/// One parsed component of an agent.
struct component_spec {
  std::string name; ///< e.g. `k1`
  std::string type; ///< registry type, e.g. `kafka`
  std::string path; ///< key path, e.g. `agents.a1.sinks.k1`
  location where;
  spawn_fn spawn;
  /// Sources: the channels its events are put to, and how each event's
  /// are chosen (`selector`; by default all, every one required).
  std::vector<std::string> channels;
  selector_spec selector;
  /// Sources: interceptors in order, and their type names.
  std::vector<interceptor_fn> interceptors;
  std::vector<std::string> interceptor_types;
  /// Sinks: the one channel taken from.
  std::string channel;
  /// Sinks: the `sink_groups` entry it belongs to (empty: none).
  std::string group;
  /// Sinks: where events go that can never be delivered (may be empty).
  std::string dead_letter_channel;
  /// What the component's parser stated (limits, batch size, listen port).
  component_facts facts;
  /// Sinks: how many instances take from the channel (`replicas`), and the
  /// nodes they run on (`placement`; empty: in the agent's process).
  std::size_t replicas = 1;
  std::vector<std::string> placement;
  /// The component's mapping as YAML, environment variables expanded
  /// (a source's without `channels` and `interceptors`): a reload restarts
  /// the component when this differs.
  std::string config;
  /// Sources: the `interceptors` list as YAML (a reload changes them in
  /// the source's router when this differs).
  std::string interceptors_config;
  /// Sinks placed on nodes: the component's mapping as YAML, environment
  /// variables expanded, for the node to parse (load_placed_sink).
  std::string yaml;

  /// Sinks: the names of its instances: `k1`, or `k1#1` ... `k1#N` with
  /// replicas (each has its own metrics, `a1.sinks.k1#2`).
  std::vector<std::string> instance_names() const {
    if (replicas <= 1) return {name};
    std::vector<std::string> out;
    for (std::size_t i = 1; i <= replicas; ++i)
      out.push_back(name + "#" + std::to_string(i));
    return out;
  }
};

/// A `nodes:` entry: a `flumen node` process sinks may be placed on.
struct node_spec {
  std::string name;
  std::string host;
  uint16_t port = 0;
  link_security security;
  location where;
};

/// What an agent does when a component is past its restart limit.
enum class failure_policy { keep_running, exit };

/// An agent's `supervision:` settings (restart intensity and what a
/// component that exceeded it means for the agent).
struct supervision_settings {
  /// At most this many restarts of one component within `restart_window`;
  /// one more failure marks the component failed.
  std::size_t max_restarts = 10;
  std::chrono::milliseconds restart_window{60000};
  /// `keep_running` (the rest of the agent goes on) or `exit` (the agent
  /// stops with a non-zero code).
  failure_policy on_component_failure = failure_policy::keep_running;
};

/// An agent's `http:` endpoint (metrics, health).
struct http_spec {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< 0: any free port (logged)
  location bind_at;  ///< where `bind` and `port` are written (for errors)
  location port_at;

  friend bool operator==(const http_spec& a, const http_spec& b) {
    return a.bind == b.bind && a.port == b.port;
  }
};

/// One agent: its components by kind, in file order.
struct agent_spec {
  std::string name;
  location where;
  supervision_settings supervision;
  std::vector<component_spec> sources;
  std::vector<component_spec> channels;
  std::vector<component_spec> sinks;
  /// The nodes its sinks are placed on.
  std::vector<node_spec> nodes;
  /// `sink_groups:`: sinks that share a channel by a processor.
  std::vector<sink_group_spec> sink_groups;
  /// `http:`: serve /metrics, /metrics.json, /health, /ready (off when
  /// absent).
  std::optional<http_spec> http;

  const component_spec* find_channel(const std::string& name) const;
  /// The TLS identity of the agent's links (validation makes every
  /// component's agree); none when no link uses TLS.
  link_security tls() const;
};

/// A parsed, validated topology file.
struct topology {
  std::string file;
  std::vector<agent_spec> agents;
  std::vector<node_spec> nodes;
  /// `tests:`: cases for `flumen test` (read only when the agents are
  /// valid; `run` ignores them).
  std::vector<topology_test> tests;

  const agent_spec* find(const std::string& name) const;
};

/// A topology and every problem found while loading it. The topology is
/// usable only when `errors` is empty.
struct load_result {
  topology topo;
  error_list errors;
  /// What runs, but likely not as meant (a channel no selector entry
  /// uses): printed by `validate`, logged by `run`.
  error_list warnings;
};

/// Which agents' listening addresses are tried on this machine (a `bind`
/// must be an address of the machine the agent runs on, and a file may
/// describe agents of several machines).
struct probe_scope {
  bool all = true;   ///< every agent (`flumen validate FILE`)
  std::string agent; ///< only this one, when `all` is false; empty: none
};

/// A topology file's text, or why it can't be read (then `text` is empty).
struct topology_text {
  std::string text;
  std::string error;
};

/// Reads a topology file as load_topology does: only a regular file of at
/// most 4 MiB, looked at before it is opened, so a FIFO or /dev/zero is
/// refused and never waited on.
topology_text read_topology_file(const std::string& file);

/// Reads, parses and validates a topology file. Never throws: an unreadable
/// file or malformed YAML is a located error too.
load_result load_topology(const std::string& file, const registry& reg,
                          const probe_scope& probe = {});

/// Same, from text (`file` only names it in errors).
load_result load_topology_text(const std::string& text, const std::string& file,
                               const registry& reg,
                               const probe_scope& probe = {});

/// A line of a Flume agent properties file (`a1.sources = r1`): where it
/// is (1-based) and its text.
struct flume_line {
  int number = 0;
  int column = 0;
  std::string text;
};

/// The first line naming Flume components (`a1.sources = r1`,
/// `a1.channels.c1.type = memory`) when `text` is a Java properties file
/// (its first line that is no comment is `dotted.key = value`); nullopt for
/// anything else, a YAML topology included. `load_topology` reports such a
/// file as what it is.
std::optional<flume_line> flume_properties_line(std::string_view text);

/// The error for `--agent NAME` when `topo` has no agent of that name:
/// `FILE:LINE:COL: agents: no agent named 'colector' (did you mean
/// 'collector'?)`, located at the agent it suggests (else at the first, and
/// naming them all); nullopt when there is one.
std::optional<config_error> missing_agent(const topology& topo,
                                          const std::string& name);

/// Parses a sink placed on a node from the YAML an agent sent
/// (component_spec::yaml); `path` names it in errors. The spawn function, or
/// the errors.
struct placed_sink {
  spawn_fn spawn;
  error_list errors;
};
placed_sink load_placed_sink(const std::string& yaml, const std::string& path,
                             const registry& reg);

} // namespace flumen
