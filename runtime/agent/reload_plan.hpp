#pragma once

// What a reload changes, decided from the two specs alone (pure; no actor
// runs). agent::reload carries the plan out (runtime/agent/agent.cpp).

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/config/topology.hpp"

namespace flumen {

/// What a reload does to one component.
enum class reload_action {
  keep,    ///< unchanged: keeps running (a channel keeps its events)
  reroute, ///< a source whose channels or interceptors changed, or one of
           ///< whose channels is replaced: keeps running, new route
  restart, ///< changed: a new instance replaces the old. A channel's new
           ///< instance starts beside the old, which drains into its old
           ///< sinks; what a memory channel still holds at the timeout
           ///< moves into the new one
  add,     ///< only in the new spec
  remove,  ///< only in the old spec: stopped (a channel drains first)
};

/// "kept", "rerouted", "restarted", "added", "removed".
const char* to_string(reload_action a);

struct reload_plan {
  /// Why the reload is refused (nothing changes); empty when it goes on.
  std::string refused;
  /// Per component name of the old and the new spec, what happens to it.
  std::map<std::string, reload_action> channels, sources, sinks;
  /// Channels to start, in the new spec's order (added, restarted).
  std::vector<std::string> channels_to_start;
  /// Old channels to drain and end, upstream first (removed, restarted).
  std::vector<std::string> channels_to_drain;

  /// Components of the new spec that keep running (kept and rerouted).
  std::size_t kept() const;
  /// The action for `name` of `kind` ("channels", "sources", "sinks");
  /// keep when unknown.
  reload_action of(const std::map<std::string, reload_action>& kind,
                   const std::string& name) const;
};

/// Decides what reloading `old` to `next` does. `durable(name)` tells
/// whether old channel `name` keeps events on disk: such a channel cannot
/// change while it runs (its directory is in use), so a change to it is
/// refused. What cannot change in a running process is refused too (the
/// TLS identity).
reload_plan plan_reload(const agent_spec& old, const agent_spec& next,
                        const std::function<bool(const std::string&)>& durable);

/// The channels of `spec`, ordered so that every channel comes after the
/// channels whose sinks write into it (dead-letter edges): the order a
/// stop and a reload drain them in.
std::vector<std::string> channel_stop_order(const agent_spec& spec);

/// The component of `xs` named `name`; null when none.
const component_spec* find_spec(const std::vector<component_spec>& xs,
                                const std::string& name);

/// The nodes a sink is placed on, as configured (a change moves its
/// replicas, so it restarts the sink).
std::string placement_of(const agent_spec& a, const component_spec& k);

} // namespace flumen
