#pragma once

// A clock for a source's reader threads (runtime/core/clock.hpp) that a
// test moves by hand, and that tells when the readers wait with nothing
// left to do. Time runs with the real clock unless frozen (`freeze`, until
// `resume`), so waits on conditions keep working; `advance` jumps ahead
// without sleeping. Freeze it where a test says "not before": then no real
// time passes for the reader between two statements of the test.
//
// Proving that nothing happens (no duplicate, no early close, no position
// saved) is then an ordered statement instead of a short real window that
// passes vacuously on a slow machine:
//   clock->advance(500ms);          // time the reader must act on
//   ASSERT_TRUE(clock->settle());   // it looked at everything since, and
//                                   // waits in poll(2) with nothing ready
//   EXPECT_EQ(got->size(), n);      // (once what it handed over arrived)
// `blocked()` is the same for a reader that waits for its source actor (a
// full window, a batch not yet accepted): it got that far, and no further.

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/core/clock.hpp"

namespace flumen::test {

class manual_clock final : public flumen::clock {
public:
  /// `frozen`: time moves only by `advance` (until `resume`).
  explicit manual_clock(bool frozen = false)
      : frozen_(frozen), anchor_(std::chrono::steady_clock::now()) {}

  time_point now() override {
    std::lock_guard guard{mtx_};
    return now_locked();
  }

  /// Jumps `d` ahead: every deadline up to the new time is due at once.
  void advance(duration d) {
    std::lock_guard guard{mtx_};
    base_ += d;
    ++generation_;
  }

  /// From now on time moves only by `advance`.
  void freeze() {
    std::lock_guard guard{mtx_};
    base_ = now_locked();
    frozen_ = true;
  }

  /// Time runs with the real clock again (from where it stands).
  void resume() {
    std::lock_guard guard{mtx_};
    base_ = now_locked();
    anchor_ = std::chrono::steady_clock::now();
    frozen_ = false;
    ++generation_;
  }

  /// True once `threads` reader threads wait in poll(2) with nothing ready
  /// and no deadline due, each having looked after this call began (so
  /// after everything the test did before it), and no other thread waits
  /// on this clock with something to do; false after `timeout`.
  bool settle(std::size_t threads = 1,
              std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return idle(kind::poll, threads, timeout);
  }

  /// True once `threads` reader threads wait for their source actor (a
  /// full window, a batch not yet accepted), each having found the
  /// condition false after this call began, and no other thread waits on
  /// this clock with something to do; false after `timeout`.
  bool blocked(std::size_t threads = 1,
               std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return idle(kind::cv, threads, timeout);
  }

  int poll(pollfd* fds, nfds_t n, time_point deadline) override {
    waiting w{*this, kind::poll};
    for (;;) {
      auto g = generation();
      auto left = deadline - now();
      if (left <= duration::zero()) return 0;
      // Short real slices: an `advance` is seen within one.
      auto ms = std::clamp<int64_t>(
          std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1,
          slice_ms);
      int rc = ::poll(fds, n, static_cast<int>(ms));
      if (rc != 0) return rc;
      if (deadline - now() > duration::zero()) w.idle_since(g);
    }
  }

  void wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
            const std::function<bool()>& ready) override {
    waiting w{*this, kind::cv};
    while (!ready()) {
      auto g = generation();
      cv.wait_for(lock, std::chrono::milliseconds{slice_ms});
      if (!ready()) w.idle_since(g);
    }
  }

private:
  enum class kind { poll, cv };
  static constexpr int64_t slice_ms = 2;

  struct waiter {
    kind what;
    uint64_t idle_generation = 0; ///< 0: has not found itself idle yet
  };

  /// Registers the calling thread as waiting while it lives.
  struct waiting {
    manual_clock& c;
    waiting(manual_clock& clock, kind what) : c(clock) {
      std::lock_guard guard{c.mtx_};
      c.waiters_[std::this_thread::get_id()] = waiter{what, 0};
    }
    ~waiting() {
      std::lock_guard guard{c.mtx_};
      c.waiters_.erase(std::this_thread::get_id());
    }
    /// It looked at generation `g` and found nothing to do.
    void idle_since(uint64_t g) {
      {
        std::lock_guard guard{c.mtx_};
        c.waiters_[std::this_thread::get_id()].idle_generation = g;
      }
      c.changed_.notify_all();
    }
  };

  time_point now_locked() const {
    auto elapsed =
        frozen_ ? duration::zero() : std::chrono::steady_clock::now() - anchor_;
    return base_ + elapsed;
  }

  uint64_t generation() {
    std::lock_guard guard{mtx_};
    return generation_;
  }

  /// At least `threads` threads wait as `what`, and none waits busy: each
  /// found nothing to do since generation `g` began.
  bool idle(kind what, std::size_t threads, std::chrono::milliseconds timeout) {
    std::unique_lock guard{mtx_};
    auto g = ++generation_;
    return changed_.wait_for(guard, timeout, [&] {
      std::size_t n = 0;
      for (auto& [_, w] : waiters_) {
        if (w.idle_generation < g) return false;
        if (w.what == what) ++n;
      }
      return n >= threads;
    });
  }

  bool frozen_;
  /// Time was `base_` when the real clock read `anchor_` (far from the
  /// epoch, like a real steady clock).
  time_point base_ = time_point{} + std::chrono::hours{1};
  std::chrono::steady_clock::time_point anchor_;
  std::mutex mtx_;
  std::condition_variable changed_;
  uint64_t generation_ = 1;
  std::map<std::thread::id, waiter> waiters_;
};

} // namespace flumen::test
