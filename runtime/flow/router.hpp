#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "runtime/config/registry.hpp"
#include "runtime/config/selector.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

/// Where a source's events go: its channels, its interceptors and its
/// channel selector.
struct route {
  std::vector<caf::actor> channels;
  std::vector<interceptor_fn> interceptors;
  /// Which channels each event goes to; its names are `names`' (in step
  /// with `channels`). Plain (the default): every channel, required.
  selector_spec selector;
  std::vector<std::string> names;
  /// The channels' metrics, in step with `channels` (may be empty): an
  /// optional channel's failed puts are counted there (`optional_failed`).
  std::vector<std::shared_ptr<component_metrics>> channel_metrics;
};

/// What a source's router puts to (a `route`). Shared by the agent, which
/// changes it on a reload, and by every router the source gets (a restart
/// makes a new one). A router adopts a new version before its next batch,
/// or at once on `(tick_atom)`.
class route_table {
public:
  route_table(std::vector<caf::actor> channels,
              std::vector<interceptor_fn> interceptors);
  explicit route_table(route r);

  struct snapshot : route {
    uint64_t version = 0;
  };

  /// Replaces the route; the next batch of every router goes the new way.
  void set(route r);
  void set(std::vector<caf::actor> channels,
           std::vector<interceptor_fn> interceptors);
  snapshot get() const;
  /// The source's current router (it registers itself when it starts), for
  /// the `tick` that makes a change take effect now.
  void set_router(caf::actor_addr router);
  caf::actor_addr router() const;
  /// Cheap: one atomic load per batch.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

private:
  mutable std::mutex mtx_;
  snapshot current_;
  caf::actor_addr router_;
  std::atomic<uint64_t> version_{0};
};

/// Spawns the stage between one source and its channels: it runs the
/// source's interceptors (fused into this one actor) on each batch, then
/// puts each event to the channels its selector chooses and answers `ok`
/// once every required channel accepted its part (Flume's required
/// channels). An optional channel's put never holds or fails the batch:
/// one put at a time per optional channel; a part that finds one still
/// pending, or fails, is counted in that channel's `optional_failed`. An
/// event the selector sends nowhere (multiplexing, an unmapped value, no
/// default) is counted `filtered`. Back-pressure passes through: a
/// full channel holds its answer, so the router holds the source's.
///   (put_atom, batch) -> (ok_atom)
///   (tick_atom)       -> (ok_atom)   adopts the table's version now: every
///                                    batch after it goes the new way, every
///                                    batch before it was already passed on
caf::actor spawn_router(caf::actor_system& sys,
                        std::shared_ptr<route_table> routes,
                        std::shared_ptr<component_metrics> metrics);

/// A router with a fixed table.
caf::actor spawn_router(caf::actor_system& sys,
                        std::vector<caf::actor> channels,
                        std::vector<interceptor_fn> interceptors,
                        std::shared_ptr<component_metrics> metrics);

} // namespace flumen
