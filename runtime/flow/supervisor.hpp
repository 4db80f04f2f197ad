#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "runtime/core/backoff.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

/// Restart intensity: a component that fails more than `max_restarts`
/// times in a row, without running `window` in between, is not restarted
/// again but marked failed. With the default backoff (100 ms doubling to
/// 30 s) and these defaults a component that can never start is failed
/// after about 81 s.
struct restart_limit {
  std::size_t max_restarts = 10;
  std::chrono::milliseconds window{60000};
};

/// One supervised component: how to start it (again). `start` may throw or
/// return a null actor: a failed start, counted and backed off like a crash.
struct child_spec {
  std::string name; ///< e.g. `a1.sinks.k1`
  std::function<caf::actor()> start;
  std::shared_ptr<component_metrics> metrics;
};

/// An actor that is watched but not restarted (a channel): when it goes
/// down for any reason but a normal exit, its state becomes `failed` with
/// the reason, and the log says so.
struct watched_spec {
  caf::actor actor;
  std::shared_ptr<component_metrics> metrics;
};

/// Reload: more children and watched actors for a running supervisor.
struct adoption {
  std::vector<child_spec> children;
  std::vector<watched_spec> watched;
};

using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;

/// Spawns a supervisor that starts every child, watches it, and restarts
/// one that goes down for any reason but a normal exit, after the backoff,
/// until the restart limit is exceeded: then the child's state is `failed`
/// (with the last reason). A sink's open transactions roll back in its
/// channel when it goes down, so a restart loses nothing.
///   (caf::get_atom, std::string name) -> (caf::actor)   current instance
///   (stop_atom)                       -> (ok_atom)      no more restarts
///   (adopt_atom, shared_ptr<adoption>)-> (ok_atom)      starts and watches
///                                                       them too
///   (retire_atom, std::string name)   -> (caf::actor)   never restarts the
///                                       child again (a reload stops it);
///                                       its current instance, maybe null
///   (retire_atom, caf::actor channel) -> (ok_atom)      stops watching it
caf::actor spawn_supervisor(caf::actor_system& sys,
                            std::vector<child_spec> children,
                            backoff_policy policy = backoff_policy{},
                            restart_limit limit = restart_limit{},
                            std::vector<watched_spec> watched = {});

} // namespace flumen

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::adoption>)
