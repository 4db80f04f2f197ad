#pragma once

// Time as a source's reader thread sees it. Actors do not use this: they
// read their actor system's clock (`self->clock().now()`) and wait with
// `delayed_send`, which CAF's test coordinator turns into virtual time
// (tests/support/virtual_time.hpp). A reader thread does blocking I/O in
// poll(2) and cannot run on that coordinator, so it reads the time and
// waits (in poll(2), or for its source actor) through a `clock` in its
// config: the real one in production, a manual one in tests
// (tests/support/manual_clock.hpp), which moves time forward without
// sleeping and tells when the reader waits with nothing left to do.

#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace flumen {

/// Where a reader thread reads the time and waits.
class clock {
public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~clock() = default;

  /// The current time.
  virtual time_point now() = 0;

  /// Waits as poll(2) does on `fds` until one is ready or `deadline`
  /// passed (`time_point::max()`: no deadline); returns what poll(2)
  /// returns, 0 when nothing was ready.
  virtual int poll(pollfd* fds, nfds_t n, time_point deadline) = 0;

  /// Blocks on `cv` (with `lock` held) until `ready()` holds, as
  /// std::condition_variable::wait does: a reader waiting for its source
  /// actor (a full window, a batch to be accepted).
  virtual void wait(std::unique_lock<std::mutex>& lock,
                    std::condition_variable& cv,
                    const std::function<bool()>& ready) = 0;
};

/// The real clock: std::chrono::steady_clock and poll(2), its timeout
/// rounded up to whole milliseconds (rounded down, the last millisecond
/// before a deadline would be spent in polls that return at once). One
/// instance, shared.
std::shared_ptr<clock> real_clock();

} // namespace flumen
