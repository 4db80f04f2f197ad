#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "runtime/metrics.hpp"

namespace flumen {

/// Exponential backoff between restarts: `first`, doubling, capped at
/// `cap`; a failure after `quiet` without one starts again at `first`.
/// Pure: the caller passes the time, so tests need no clock.
class backoff_policy {
public:
  using clock = std::chrono::steady_clock;

  backoff_policy(
      std::chrono::milliseconds first = std::chrono::milliseconds{100},
      std::chrono::milliseconds cap = std::chrono::seconds{30},
      std::chrono::milliseconds quiet = std::chrono::seconds{60})
      : first_(first), cap_(cap), quiet_(quiet), next_(first) {}

  /// The delay before restarting after a failure at `now`.
  std::chrono::milliseconds on_failure(clock::time_point now);

private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds quiet_;
  std::chrono::milliseconds next_;
  clock::time_point last_failure_{};
  bool failed_before_ = false;
};

/// Restart intensity: more than `max_restarts` failures of one component
/// within `window` and it is not restarted again but marked failed.
struct restart_limit {
  std::size_t max_restarts = 10;
  std::chrono::milliseconds window{60000};
};

/// One supervised component: how to start it (again).
struct child_spec {
  std::string name; ///< e.g. `a1.sinks.k1`
  std::function<caf::actor()> start;
  std::shared_ptr<component_metrics> metrics;
};

/// Spawns a supervisor that starts every child, watches it, and restarts
/// one that goes down for any reason but a normal exit, after the backoff,
/// until the restart limit is exceeded: then the child's state is `failed`.
/// A sink's open transactions roll back in its channel when it goes down,
/// so a restart loses nothing.
///   (caf::get_atom, std::string name) -> (caf::actor)   current instance
///   (stop_atom)                       -> (ok_atom)      no more restarts
caf::actor spawn_supervisor(caf::actor_system& sys,
                            std::vector<child_spec> children,
                            backoff_policy policy = backoff_policy{},
                            restart_limit limit = restart_limit{});

} // namespace flumen
