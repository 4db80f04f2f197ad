#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/scoped_actor.hpp>

#include "runtime/config/topology.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/flow/supervisor.hpp"

namespace flumen {

/// What an agent did not deliver, by cause (its final summary line).
struct loss_report {
  uint64_t dropped = 0;       ///< by policy: over-long lines, refused events
  uint64_t dead_lettered = 0; ///< sent to a dead-letter channel
  uint64_t truncated = 0;     ///< delivered, but cut to max_line_length
  uint64_t undelivered = 0;   ///< read by a source, never accepted
  uint64_t in_channels = 0;   ///< still in memory channels: lost at exit
  uint64_t damaged = 0;       ///< lost with damaged file channel log
  /// Removed by interceptors (a filter), by design: not a loss, so not
  /// part of clean().
  uint64_t filtered = 0;
  /// Still in durable (file) channels: not lost, delivered after the next
  /// start. Not a loss, so not part of clean().
  uint64_t kept = 0;

  bool clean() const {
    return dropped + dead_lettered + truncated + undelivered + in_channels +
               damaged ==
           0;
  }
};

/// What a reload did (or why it did nothing).
struct reload_report {
  bool applied = false;
  /// Why nothing changed (when not applied).
  std::string error;
  /// `kept 5 components; restarted sinks.k1; added channels.c2; removed
  /// ...` in words.
  std::vector<std::string> changes;
};

class route_table;
class sink_gate;
struct route;
class node_health;

/// One running agent: its channels, one router per source, and a
/// supervisor that starts (and restarts) its sources and sinks.
class agent {
public:
  agent(caf::actor_system& sys, const agent_spec& spec,
        metrics_registry& metrics);
  /// Kills whatever still runs (call `stop` first for a graceful end).
  ~agent();

  agent(const agent&) = delete;
  agent& operator=(const agent&) = delete;

  /// Spawns every component.
  void start();

  /// True when every source reached the end of its input (stdin closed,
  /// seq count made, exec command exited without restart).
  bool sources_done() const;

  /// Components past their restart limit (state `failed`).
  std::vector<std::string> failed_components() const;

  /// The agent's supervision settings.
  const supervision_settings& supervision() const { return spec_.supervision; }

  /// Graceful stop within `timeout` (the whole of it): sources stop and
  /// hand over what they read; then, upstream first, each memory channel
  /// drains into its sinks and its sinks settle and stop (a durable channel
  /// is drained only with `drain_durable`; otherwise it keeps its events
  /// for the next start). Returns the
  /// number of events still in memory channels afterwards (undelivered).
  uint64_t stop(std::chrono::milliseconds timeout, bool drain_durable = false);

  /// Changes the running agent to `next` (same name, validated), restarting
  /// only what changed (docs/operations.md, "Reload"): unchanged components
  /// keep running and unchanged channels keep their events; a source whose only
  /// change is its channels or interceptors keeps running with a new
  /// route; a removed or changed memory channel is drained into its old
  /// sinks first; a changed sink is stopped (what it took and could not
  /// settle within 5 s rolls back into its channel) and started anew.
  /// Bounded by `timeout`. Refused, changing nothing, for what cannot
  /// change while running (the TLS identity; a file channel's options).
  reload_report reload(const agent_spec& next,
                       std::chrono::milliseconds timeout,
                       std::function<bool()> cut_short = {});

  /// Counts of everything not delivered as read, for the final line.
  loss_report losses() const;

  /// The current instance of a source or sink (`sources.r1`, `sinks.k1`),
  /// or a channel (`channels.c1`); null when unknown or restarting.
  caf::actor component(const std::string& kind_and_name) const;

  /// One line per component with its state and counters.
  std::vector<std::string> summary() const;

  const std::string& name() const { return spec_.name; }

private:
  struct live_channel {
    caf::actor actor;
    std::shared_ptr<component_metrics> metrics;
  };

  std::string metric_name(const std::string& kind,
                          const std::string& name) const;
  /// The metrics of a component that starts: its old set when it has the
  /// same type (a restart by a reload counts on), else a fresh one.
  std::shared_ptr<component_metrics> metrics_for(const std::string& kind,
                                                 const std::string& name,
                                                 const std::string& type);
  /// Spawns channel `c` (throws when it can't start).
  live_channel spawn_channel(const component_spec& c,
                             std::shared_ptr<component_metrics> m);
  /// The current channel actors source `s` puts to.
  std::vector<caf::actor> channels_of(const component_spec& s) const;
  /// Source `s`'s route: its channels, interceptors and selector.
  route route_of(const component_spec& s) const;
  /// How the supervisor starts source `s` (of `spec`) and sink `k`.
  child_spec source_child(const agent_spec& spec, const component_spec& s,
                          std::shared_ptr<route_table> route,
                          std::shared_ptr<component_metrics> m);
  std::vector<child_spec> sink_children(const agent_spec& spec,
                                        const component_spec& k);
  /// Takes a child out of supervision and stops it: `stop` within `grace`,
  /// then ended, and waited for (a second at most). Null when not running.
  void retire_and_stop(const std::vector<std::string>& names,
                       std::chrono::milliseconds grace);
  /// A changed memory channel whose old sinks could not drain it in time:
  /// moves what it still holds into its successor of the same name (whose
  /// sinks start first, named in `started_early`), within 10 s.
  void move_leftovers(caf::scoped_actor& self, const live_channel& from,
                      const std::string& name, const agent_spec& next,
                      std::set<std::string>& started_early);
  /// What a stop still waits for, in one line (empty: nothing).
  std::string stop_progress() const;
  /// Closes `channels` (close_atom: puts they hold for room go back to
  /// their senders; later ones are refused), each within `wait`.
  void close_all(caf::scoped_actor& self,
                 const std::vector<caf::actor>& channels,
                 std::chrono::milliseconds wait);
  /// Closes every channel of the agent (at a stop whose sources hang on
  /// full channels).
  void close_channels(caf::scoped_actor& self, std::chrono::milliseconds wait);
  /// Adds what `m` did not deliver to the agent's totals and drops it from
  /// the registry (a component a reload removed).
  void fold_metrics(const std::shared_ptr<component_metrics>& m);

  caf::actor_system& sys_;
  agent_spec spec_;
  metrics_registry& metrics_;
  std::map<std::string, live_channel> channels_;
  /// Per source: where its router puts.
  std::map<std::string, std::shared_ptr<route_table>> routes_;
  /// Sink groups' gates by group name: kept while the group's entry is
  /// unchanged (a reload), made anew when it changes.
  std::map<std::string, std::shared_ptr<sink_gate>> gates_;
  std::shared_ptr<node_health> health_;
  caf::actor supervisor_;
  /// Losses of components a reload removed.
  loss_report retired_;
};

/// How fast a link between processes gives up on a silent peer.
struct link_timing {
  /// Every link sends a heartbeat this often...
  std::chrono::milliseconds heartbeat{1000};
  /// ...and one that heard nothing for this long is closed: its peer is
  /// down for every monitor. A message counts only once all of it arrived,
  /// so a hop sink cuts its messages to cross within a quarter of this at
  /// the rate it measures (hop_flow.hpp).
  std::chrono::milliseconds timeout{5000};
};

/// The actor system settings flumen uses (protocol types, middleman,
/// heartbeats, TLS identity, scheduler threads). One process has one TLS
/// identity: `tls` is every TLS endpoint's.
void configure_actor_system(caf::actor_system_config& cfg,
                            const link_security& tls = {},
                            const link_timing& timing = {});

} // namespace flumen
