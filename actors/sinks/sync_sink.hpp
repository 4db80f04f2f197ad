#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/fwd.hpp>

#include "runtime/config/registry.hpp"
#include "runtime/core/event.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen::sinks {

/// Delivers one batch synchronously; returns an error text when it could
/// not (the batch is then rolled back and retried after a backoff).
using deliver_fn = std::function<std::optional<std::string>(const batch&)>;

/// A sink whose delivery is a plain function call (null, logger,
/// file_roll), run by the sink driver with a window of one batch on the
/// sink's own thread (so it may block). A failed batch rolls back and is
/// retried after a backoff. Answers `stop_atom` after its current
/// transaction is settled, and then calls `on_stop` (flush, close) and
/// quits. `blocking: false` (a delivery that never blocks, like null's)
/// runs it on CAF's scheduler instead of a thread of its own.
/// Everything the wiring says is the driver's: its channel, metrics, and
/// a sink group's gate (a sink that made a wiring of its own lost its
/// group).
caf::actor spawn_sync_sink(caf::actor_system& sys, deliver_fn deliver,
                           const wiring& w, std::size_t batch_size,
                           std::function<void()> on_stop = {},
                           bool blocking = true);

} // namespace flumen::sinks
