#pragma once

// The one sink driver (DESIGN.md, "The edges"): take -> deliver -> settle
// for every sink, with a window of batches in flight (1 for synchronous
// sinks), settled in the order they were taken, and one backoff policy.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>

#include "runtime/config/config.hpp"
#include "runtime/core/event.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

struct wiring;

/// One event a destination refuses for good.
struct rejection {
  uint32_t index = 0; ///< in the batch as taken
  std::string reason;
  /// Headers a dead letter gets besides `flumen.error`, `flumen.sink` and
  /// `flumen.time` (e.g. the Kafka sink's `flumen.topic`).
  std::vector<std::pair<std::string, std::string>> headers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rejection& x) {
  return f(x.index, x.reason, x.headers);
}

/// How one batch went. Indices refer to the batch as it was taken.
struct delivery_report {
  /// Events that failed for a passing reason: they, and every event after
  /// the first of them (order), go back to the head of the channel and are
  /// retried after a backoff.
  std::vector<uint32_t> retry;
  /// Events that can never be delivered, each with the reason: handled by
  /// the sink's `on_permanent_error`.
  std::vector<rejection> rejected;
  /// Why `retry` failed (logged; the sink's state says `degraded` with it).
  std::string reason;
  /// The sink cannot go on (a fatal client error): everything it holds rolls
  /// back and it quits with `reason`, so its supervisor starts a new one.
  bool fatal = false;

  /// Every one of `n` events failed for a passing reason.
  static delivery_report all_failed(std::size_t n, std::string why);
  /// The sink must restart.
  static delivery_report fatal_error(std::string why);

  bool ok() const { return retry.empty() && rejected.empty() && !fatal; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_report& x) {
  return f(x.retry, x.rejected, x.reason, x.fatal);
}

/// Keeps a taken batch alive: the channel's reply, shared (never copied).
using batch_owner = std::shared_ptr<const void>;

/// Reports the outcome of one `deliver` call; callable once, from any
/// thread.
using delivery_done = std::function<void(delivery_report)>;

/// What a sink type does; the driver does the rest. A backend lives on the
/// sink's own thread (the driver is a detached actor unless
/// `sink_driver_config::blocking` is false), so `deliver` and `stop` may
/// block without stalling CAF's scheduler.
class sink_backend {
public:
  virtual ~sink_backend() = default;

  /// Most batches delivered at once (1 for synchronous sinks).
  virtual std::size_t window() const { return 1; }

  /// Delivers `events`; calls `done` exactly once, now or later, from any
  /// thread. `events` stays valid (and unchanged) while a copy of `owner`
  /// is held, so a backend may refer to the bytes instead of copying them
  /// (the Kafka sink hands them to librdkafka as they are); a null `owner`
  /// means `events` is only valid during the call.
  virtual void deliver(const batch& events, delivery_done done,
                       const batch_owner& owner) = 0;

  /// Called once when the sink stops after its window is settled: flush
  /// and release what it holds.
  virtual void stop() {}
};

/// How many bytes to keep in flight: four times what the destination
/// settles in one round trip (its bandwidth-delay product), measured, within
/// [floor, cap]. While the window limits the rate, the rate measured is the
/// window per round trip, so the target grows each time it is measured
/// until the destination, not the window, is the limit.
class window_estimate {
public:
  using clock = std::chrono::steady_clock;

  void on_report(clock::duration rtt) {
    auto s = std::chrono::duration<double>(rtt).count();
    rtt_ = rtt_ == 0 ? s : 0.8 * rtt_ + 0.2 * s;
  }

  void on_settled(std::size_t bytes, clock::time_point now) {
    if (since_ == clock::time_point{}) {
      since_ = now; // the bytes settled after this one make the rate
      return;
    }
    bytes_ += bytes;
    auto elapsed = std::chrono::duration<double>(now - since_).count();
    if (elapsed < 0.05) return;
    auto sample = static_cast<double>(bytes_) / elapsed;
    rate_ = rate_ == 0 ? sample : 0.7 * rate_ + 0.3 * sample;
    bytes_ = 0;
    since_ = now;
  }

  std::size_t target(std::size_t floor, std::size_t cap) const {
    auto bdp = std::min(factor * rate_ * rtt_, static_cast<double>(cap));
    return std::clamp(static_cast<std::size_t>(bdp), std::min(floor, cap), cap);
  }

private:
  /// Twice the round trip's worth was not enough: a longer queue at the
  /// cluster also raises its rate (10 KB records: 4x moved 200 MB in 0.65 s
  /// where 2x took 0.8 to 1.05 s).
  static constexpr double factor = 4.0;
  double rtt_ = 0;  ///< seconds, smoothed
  double rate_ = 0; ///< bytes per second, smoothed
  clock::time_point since_{};
  std::size_t bytes_ = 0;
};

/// What the driver needs to know besides the backend.
struct sink_driver_config {
  std::size_t batch_size = 1000;
  /// Most bytes (event_bytes) per take, one event at least; 0: no bound.
  std::size_t batch_bytes = 0;
  /// Most bytes in flight (taken, not settled); 0: bounded by the window's
  /// count of batches only. Within it the driver keeps about four times what
  /// the destination acknowledges in one round trip in flight (its measured
  /// rate x its measured round trip), so a fast, near destination holds
  /// little and a far one gets the window it needs.
  std::size_t max_inflight_bytes = 0;
  /// `drop` (counted, logged), `dead_letter` (put to the wiring's dead-letter
  /// channel with headers saying why) or `fail` (roll back and quit).
  permanent_error_policy on_permanent_error = permanent_error_policy::drop;
  /// Retry backoff after a failed batch (±20 % jitter is added).
  std::chrono::milliseconds backoff_first{100};
  std::chrono::milliseconds backoff_cap{30000};
  /// False only for a backend that never blocks (the null and hop sinks):
  /// the sink then runs on CAF's scheduler, which is cheaper per message.
  /// Every other sink gets a thread of its own.
  bool blocking = true;
};

/// Gives the backend a way to stop the sink from any thread (e.g. a fatal
/// error seen outside a delivery).
class sink_context {
public:
  virtual ~sink_context() = default;
  /// The sink quits with `why`; its transactions roll back.
  virtual void fail(std::string why) = 0;
};

/// Makes the backend, inside the sink's actor. A throw is a failed start:
/// the actor quits with the exception's text, for the supervisor.
using backend_factory =
    std::function<std::unique_ptr<sink_backend>(sink_context&)>;

/// Bounds every take of this process's sinks to `bytes` (event_bytes; one
/// event at least; 0: no bound beyond each sink's own `batch_bytes`). A
/// `flumen node` sets it below its listener's message bound, so the answer
/// to a replica's take always fits through the node's listener gate.
void set_take_bytes_bound(std::size_t bytes);

/// Spawns a sink: takes up to `batch_size` events from `w.channel` while
/// fewer than `window()` batches are in flight, hands each to the backend,
/// and settles them in the order taken, each in one message to the channel:
/// a commit that names the events to put back (at the head, in order). When
/// a batch had events to retry, every later batch in flight rolls back too,
/// so a partition's order survives a retry (reading a partition and keeping
/// each event's last copy gives the order they were taken in). Answers
/// `(stop_atom) -> ok_atom` once its window is settled and the backend
/// stopped.
caf::actor spawn_sink_driver(caf::actor_system& sys, backend_factory make,
                             sink_driver_config cfg, const wiring& w);

} // namespace flumen
