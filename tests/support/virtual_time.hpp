#pragma once

// Actor tests on virtual time. CAF's test coordinator runs every actor on
// the test's own thread, one message at a time, only when the test says
// so (`run`), and its clock stands still until the test moves it
// (`advance`): a delayed message (a restart backoff, a channel's
// keep_alive, a sink's retry) is delivered exactly when virtual time
// reaches it. "Nothing happens" is then a statement, not a short real
// window: every actor ran until none had a message left, time moved on
// past what matters, and still nothing.
//
// Only actors: a source's reader thread (or anything else that sends from
// another thread) does not belong on it (its queue is the test thread's);
// those use tests/support/manual_clock.hpp.

#include <chrono>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <gtest/gtest.h>

#include "runtime/flow/protocol.hpp"

namespace flumen::test {

/// An actor system on CAF's test coordinator, with flumen's message types
/// (no middleman: nothing crosses processes on virtual time).
struct virtual_time_config : caf::actor_system_config {
  virtual_time_config() {
    flumen::add_message_types(*this);
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// A fresh actor system on virtual time per test.
class virtual_time_test : public ::testing::Test {
protected:
  virtual_time_test()
      : sched(
            dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    // Far from the clock's epoch, as a real steady clock is.
    sched.clock().current_time += std::chrono::hours{1};
  }

  ~virtual_time_test() override {
    for (auto& a : tracked_)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    run();
  }

  /// Actors passed through `track` are killed when the test ends.
  caf::actor track(caf::actor a) {
    tracked_.push_back(a);
    return a;
  }

  /// Runs every actor until none has a message left; time stands still.
  /// Returns how many messages were handled.
  std::size_t run() { return sched.run(); }

  /// Moves virtual time `d` on: each delayed message due meanwhile is
  /// delivered at its own time, in order, and every actor runs after each.
  void advance(caf::timespan d) {
    auto& clk = sched.clock();
    auto until = clk.now() + d;
    run();
    while (!clk.schedule().empty() && clk.schedule().begin()->first <= until) {
      clk.trigger_timeout();
      run();
    }
    clk.current_time = until;
    run();
  }

  /// Virtual time now.
  caf::actor_clock::time_point now() { return sched.clock().now(); }

  /// When the next delayed message is due (none: `time_point::max()`).
  caf::actor_clock::time_point next_due() {
    auto& s = sched.clock().schedule();
    return s.empty() ? caf::actor_clock::time_point::max() : s.begin()->first;
  }

  /// Runs the actors and moves time on to each delayed message in turn
  /// until `pred()` holds or `timeout` of virtual time passed; returns
  /// `pred()`. The virtual `wait_until`.
  template <class Pred>
  bool
  wait_until(Pred pred,
             std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    auto until = now() + timeout;
    for (;;) {
      run();
      if (pred()) return true;
      auto due = next_due();
      if (due > until) break;
      advance(due - now());
    }
    advance(until - now());
    return pred();
  }

  /// Receives the answer to request `mid` of `who` with `handlers` if one
  /// is there after the actors ran (and after time moved on up to
  /// `timeout`, delayed message by delayed message); false when none came.
  template <class... Handlers>
  bool answer(caf::scoped_actor& who, caf::message_id mid,
              std::chrono::milliseconds timeout, Handlers... handlers) {
    auto until = now() + timeout;
    for (;;) {
      run();
      bool got = true;
      caf::blocking_actor::accept_one_cond rc;
      who->varargs_receive(
          rc, mid, handlers...,
          caf::after(std::chrono::seconds{0}) >> [&] { got = false; });
      if (got) return true;
      auto due = next_due();
      if (due > until) break;
      advance(due - now());
    }
    advance(until - now());
    bool got = true;
    caf::blocking_actor::accept_one_cond rc;
    who->varargs_receive(
        rc, mid, handlers...,
        caf::after(std::chrono::seconds{0}) >> [&] { got = false; });
    return got;
  }

  /// Receives one ordinary message of `who` with `handlers` (the answer to
  /// a `send`, a down message) if one comes within `timeout` of virtual
  /// time; false when none did.
  template <class... Handlers>
  bool receive_within(caf::scoped_actor& who, std::chrono::milliseconds timeout,
                      Handlers... handlers) {
    return answer(who, caf::make_message_id(), timeout, handlers...);
  }

  virtual_time_config cfg_;
  caf::actor_system sys{cfg_};
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self{sys, true};

private:
  std::vector<caf::actor> tracked_;
};

} // namespace flumen::test
