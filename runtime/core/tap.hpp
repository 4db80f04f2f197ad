#pragma once

// Tap points (README "Operations", `flumen tap`): every component's metrics
// carry one, and the places where events pass a component (a source's
// router after its interceptors, a channel's accepted put, a sink's take)
// offer their batch to it. Nobody tapping costs one relaxed atomic load per
// batch; a tapper gets formatted copies in a bounded queue of its own, and
// what does not fit is counted as missed, never waited for.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen {

/// One tapper's queue of formatted events (one line each, no newline).
class tap_queue {
public:
  /// At most `capacity` lines wait; `max_body` bytes of each body are shown.
  explicit tap_queue(std::size_t capacity = 1000, std::size_t max_body = 200);

  /// Formats and queues the events that fit, labelled `component`; counts
  /// the rest as missed. Holds the queue's mutex for the batch only.
  void push(std::string_view component, const batch& events);

  /// Moves up to `max` queued lines to `out`; returns how many.
  std::size_t pop(std::vector<std::string>& out, std::size_t max);

  /// Events skipped because the queue was full, since the last call.
  uint64_t take_missed();

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

private:
  const std::size_t capacity_;
  const std::size_t max_body_;
  mutable std::mutex mtx_;
  std::deque<std::string> lines_;
  uint64_t missed_ = 0;
};

/// Where a component's events can be tapped.
class tap_point {
public:
  /// True while someone taps (a relaxed load: a tapper that just came may
  /// miss a batch or two, which is what a sample allows).
  bool tapped() const { return tappers_.load(std::memory_order_relaxed) != 0; }

  /// Tappers subscribed now.
  int tappers() const { return tappers_.load(std::memory_order_relaxed); }

  /// The hook on the hot path: one relaxed load when nobody taps.
  void offer(const batch& events) {
    if (tapped()) [[unlikely]]
      publish(events);
  }

  /// Adds `q`, labelling its lines `component` (e.g. `k1#0`).
  void subscribe(std::shared_ptr<tap_queue> q, std::string component);
  /// Removes `q` (a no-op when it is not subscribed).
  void unsubscribe(const std::shared_ptr<tap_queue>& q);

  /// Batches that took the slow path (someone tapped): for tests.
  uint64_t published() const {
    return published_.load(std::memory_order_relaxed);
  }

private:
  void publish(const batch& events);

  std::atomic<int> tappers_{0};
  std::atomic<uint64_t> published_{0};
  mutable std::mutex mtx_;
  std::vector<std::pair<std::shared_ptr<tap_queue>, std::string>> queues_;
};

/// `COMPONENT {key=value, ...} "body"`: headers and body with `\\`, `"`,
/// control bytes and bytes that are not valid UTF-8 escaped (`\n`, `\t`,
/// `\xNN`), so one event is one line whatever it holds; a body longer than
/// `max_body` bytes is cut there and marked `...(+N bytes)`, and headers
/// are shown up to 512 bytes (then `...`).
std::string format_tap_line(std::string_view component, const event& e,
                            std::size_t max_body = 200);

} // namespace flumen
