#pragma once

// Sinks scaled across nodes (DESIGN.md, "Across processes and machines").
//
// On a node (`flumen node`): the actor type "flumen.sink", spawned by agents
// with CAF's remote spawn. Each one parses the sink it is sent, starts it
// with the agent's channel (a remote actor) as its channel, and lives and
// dies with it: a replica whose agent is gone stops (its sink watches its
// channel), a replica the agent ends ends its sink, and a replica whose
// placement actor (below) ended stops too: it is spawned with that actor's
// handle and watches it, so a spawn that completes after the placement gave
// up waiting for it runs nothing unsupervised.
//
// In an agent: one "placement" actor per replica placed on nodes stands in
// for it under the agent's supervisor. It picks a node (replica i starts on
// the i-th node of its placement, skipping nodes that failed lately),
// connects, says hello, remote-spawns the replica and watches both the node
// and the replica. A node that is lost (down, or silent past its keepalive)
// ends the placement actor with the reason, so the supervisor starts it
// again after its backoff, on a node that is still there, or in the agent's
// own process when none is left. The channel rolls back what the lost
// replica held (it watches every taker; a hung one is revoked explicitly,
// `(rollback_atom, actor_addr)`) and refuses its commits from then on: a
// transaction id is never used twice in a channel's life, so it acts as the
// lease's epoch, and a revoked taker may take nothing more.
//
// A replica's counters live on its node (the node's registry, its --http).
// The replica reports them to its placement actor every second, once more
// after its sink stopped at a stop (before the stop's answer) and when its
// sink ended; the placement actor adds them to what the agent's metrics for
// the replica held when it started (`fold_replica`), so they never go back
// when a replica moves or restarts. A replica lost with its node (killed,
// hung) loses what it did since its last report on the agent's side.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "runtime/config/registry.hpp"
#include "runtime/config/topology.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

/// What a node's replicas share: the component types it can run and its
/// metrics. Must outlive the node's actor system.
struct node_context {
  std::string name; ///< how the node calls itself in logs (`host:port`)
  const registry* types = nullptr;
  metrics_registry* metrics = nullptr;
  /// Replica hosts running here (for a graceful stop of the node); each
  /// takes itself off when it ends.
  std::mutex mtx;
  std::vector<caf::actor> replicas;
};

/// Registers the "flumen.sink" actor type with a node's config. `ctx` must
/// outlive the actor system.
void add_replica_host(caf::actor_system_config& cfg, node_context& ctx);

/// Spawns the actor a node publishes: it answers an agent's hello
/// `(hello_atom, uint32_t version, std::string agent)` with `(ok_atom,
/// uint32_t version, std::string node)` or a version error.
caf::actor spawn_node_door(caf::actor_system& sys, node_context& ctx);

/// When each node of an agent last failed (shared by its placement actors,
/// so one replica's loss of a node steers the others' restarts away).
class node_health {
public:
  using clock = std::chrono::steady_clock;
  /// A node that failed is skipped this long.
  explicit node_health(
      std::chrono::milliseconds avoid_for = std::chrono::seconds{5})
      : avoid_for_(avoid_for) {}

  void failed(const std::string& node) {
    std::lock_guard guard{mtx_};
    failed_at_[node] = clock::now();
  }
  void ok(const std::string& node) {
    std::lock_guard guard{mtx_};
    failed_at_.erase(node);
  }
  bool usable(const std::string& node) const {
    std::lock_guard guard{mtx_};
    auto i = failed_at_.find(node);
    return i == failed_at_.end() || clock::now() - i->second >= avoid_for_;
  }

private:
  std::chrono::milliseconds avoid_for_;
  mutable std::mutex mtx_;
  std::map<std::string, clock::time_point> failed_at_;
};

/// One replica of a sink placed on nodes.
struct placement_spec {
  std::string agent;
  std::string instance;         ///< `k1#2`
  std::size_t index = 0;        ///< 0-based: starts on placement[index % size]
  std::string yaml;             ///< the sink's mapping (component_spec::yaml)
  std::vector<node_spec> nodes; ///< in placement order
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds spawn_timeout{10000};
  /// A node that does not answer a keepalive within this is lost: its
  /// replica's leases are revoked in the channel (rolled back; its late
  /// commits refused) and it moves. Shorter than CAF's connection timeout
  /// (5 s), so a pause that the connection survives still ends its leases.
  std::chrono::milliseconds keepalive_timeout{3000};
  /// How often the replica reports its counters to the agent (also once
  /// at its stop, before the stop's answer, and when its sink ends). 100 ms
  /// to an hour.
  std::chrono::milliseconds report_interval{1000};
};

/// Spawns the stand-in of one placed replica (see above). `local` starts
/// the sink in this process when no node is left. Answers `(stop_atom) ->
/// ok_atom` once the replica stopped.
caf::actor spawn_placement(caf::actor_system& sys, placement_spec spec,
                           spawn_fn local, wiring w,
                           std::shared_ptr<node_health> health);

} // namespace flumen
