#pragma once

#include <algorithm>
#include <chrono>

namespace flumen {

/// The one backoff policy of flumen (supervisor restarts, sink retries, exec
/// restarts): `first`, doubling, capped at `cap`; a failure after `quiet`
/// without one, or a `reset()`, starts again at `first`. Pure: the caller
/// passes the time, so tests need no clock.
class backoff_policy {
public:
  using clock = std::chrono::steady_clock;

  /// `floor`: a doubled delay is at least this (so a `first` of 0 still
  /// backs off).
  backoff_policy(
      std::chrono::milliseconds first = std::chrono::milliseconds{100},
      std::chrono::milliseconds cap = std::chrono::seconds{30},
      std::chrono::milliseconds quiet = std::chrono::seconds{60},
      std::chrono::milliseconds floor = std::chrono::milliseconds{0})
      : first_(first), cap_(cap), quiet_(quiet), floor_(floor), next_(first) {}

  /// The delay before trying again after a failure at `now`.
  std::chrono::milliseconds on_failure(clock::time_point now) {
    if (!failed_before_ || now - last_failure_ >= quiet_) next_ = first_;
    failed_before_ = true;
    last_failure_ = now;
    auto delay = next_;
    next_ = std::min(std::max(next_ * 2, floor_), cap_);
    return delay;
  }

  /// A success: the next failure waits `first` again.
  void reset() {
    failed_before_ = false;
    next_ = first_;
  }

  /// The delay the next failure would get (for logs).
  std::chrono::milliseconds peek() const { return next_; }

private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds quiet_;
  std::chrono::milliseconds floor_;
  std::chrono::milliseconds next_;
  clock::time_point last_failure_{};
  bool failed_before_ = false;
};

} // namespace flumen
