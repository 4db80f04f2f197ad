#pragma once

#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "runtime/metrics.hpp"
#include "runtime/registry.hpp"

namespace flumen {

/// Spawns the stage between one source and its channels: it runs the
/// source's interceptors (fused into this one actor) on each batch, then
/// puts the batch to every channel and answers `ok` once all of them
/// accepted (Flume's required channels). Back-pressure passes through: a
/// full channel holds its answer, so the router holds the source's.
caf::actor spawn_router(caf::actor_system& sys,
                        std::vector<caf::actor> channels,
                        std::vector<interceptor_fn> interceptors,
                        std::shared_ptr<component_metrics> metrics);

} // namespace flumen
