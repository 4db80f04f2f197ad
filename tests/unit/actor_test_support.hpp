#pragma once

// Shared by the actor tests: a fresh actor system per test, configured like
// flumen's (or on virtual time), and blocking helpers for the channel
// protocol.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>

#include "actors/channels/memory.hpp"
#include "runtime/agent/agent.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/flow/protocol.hpp"
#include "tests/support/virtual_time.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/events.hpp"

namespace flumen::test {

using namespace std::chrono_literals;

/// An actor system config with flumen's settings (protocol types,
/// middleman, scheduler).
struct flumen_config : caf::actor_system_config {
  flumen_config() { configure_actor_system(*this); }
};

/// What a take answers: a transaction and its events.
struct taken {
  txn_id id = 0;
  batch events;
};

/// Blocking put; a default (empty) error means accepted.
inline caf::error put(caf::scoped_actor& self, const caf::actor& dst,
                      batch events, std::chrono::milliseconds timeout = 5s) {
  caf::error result;
  self->request(dst, timeout, put_atom::value, std::move(events))
      .receive([](ok_atom) {},
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Blocking take of at most `max` events.
inline caf::expected<taken> take(caf::scoped_actor& self,
                                 const caf::actor& channel, uint32_t max,
                                 std::chrono::milliseconds timeout = 5s) {
  caf::expected<taken> result{taken{}};
  self->request(channel, timeout, take_atom::value, max)
      .receive(
          [&](txn_id id, batch& events) {
            result = taken{id, std::move(events)};
          },
          [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Blocking commit; a default (empty) error means done.
inline caf::error commit(caf::scoped_actor& self, const caf::actor& channel,
                         txn_id id, std::chrono::milliseconds timeout = 5s) {
  caf::error result;
  self->request(channel, timeout, commit_atom::value, id)
      .receive([](ok_atom) {},
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Blocking rollback; a default (empty) error means done.
inline caf::error rollback(caf::scoped_actor& self, const caf::actor& channel,
                           txn_id id, std::chrono::milliseconds timeout = 5s) {
  caf::error result;
  self->request(channel, timeout, rollback_atom::value, id)
      .receive([](ok_atom) {},
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Takes and commits until `n` events arrived or `timeout` passed; returns
/// them in the order taken.
inline batch drain(caf::scoped_actor& self, const caf::actor& channel,
                   std::size_t n, std::chrono::milliseconds timeout = 20s,
                   uint32_t max = 1000) {
  batch out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto t = take(self, channel, max);
    if (!t || t->events.empty()) continue;
    for (auto& e : t->events)
      out.push_back(std::move(e));
    if (commit(self, channel, t->id)) break;
  }
  return out;
}

/// Waits up to `window` for an `ok` sent to `self` as an ordinary message
/// (the reply to an asynchronous `send`); true when it arrived.
inline bool ok_within(caf::scoped_actor& self,
                      std::chrono::milliseconds window) {
  bool got = false;
  self->receive([&](ok_atom) { got = true; }, caf::after(window) >> [] {});
  return got;
}

/// True when an `ok` sent to `self` as an ordinary message is already in its
/// mailbox (no waiting). After round trips that order it (`round_trip`),
/// false proves "not answered yet" by message order, not by a window.
inline bool ok_already(caf::scoped_actor& self) {
  return ok_within(self, std::chrono::milliseconds{0});
}

/// A request to `dst` answered after every message it got before, and
/// received: messages from one sender arrive in order, so whatever `dst`
/// sent to `self` while handling what it got before is in `self`'s mailbox
/// once this returns. A channel is asked `(get_atom, txn_id{0})` (an error
/// answers), a router or a source `tick_atom` (`tick`).
inline void round_trip(caf::scoped_actor& self, const caf::actor& dst,
                       bool tick = false) {
  if (tick)
    self->request(dst, std::chrono::seconds{5}, tick_atom::value)
        .receive([](ok_atom) {},
                 [](caf::error& err) { ADD_FAILURE() << to_string(err); });
  else
    self->request(dst, std::chrono::seconds{5}, get_atom::value, txn_id{0})
        .receive([](batch&) {}, [](caf::error&) {});
}

/// Waits until `counter` equals `value`; true when it did. A component
/// publishes some metrics just after the reply that caused them.
inline bool reaches(const std::atomic<uint64_t>& counter, uint64_t value,
                    std::chrono::milliseconds timeout = 5s) {
  return wait_until([&] { return counter.load() == value; }, timeout);
}

/// True when `err` is flumen's error `code`.
inline bool is(const caf::error& err, errc code) {
  return err.category() == caf::atom("flumen") &&
         err.code() == static_cast<uint8_t>(code);
}

/// Takes once from `channel`, sends `(txn_id, batch)` to `report` and then
/// stays alive holding its transaction (until killed).
inline caf::behavior holding_taker(caf::event_based_actor* self,
                                   caf::actor channel, uint32_t max,
                                   caf::actor report) {
  self->request(channel, caf::infinite, take_atom::value, max)
      .then([self, report](txn_id id, batch& events) {
        self->send(report, id, std::move(events));
      });
  return {[](tick_atom) {}};
}

/// What actor tests share whatever runs their actors (`Base`: real threads,
/// or virtual time): components' metrics and wiring, memory channels.
template <class Base>
class with_components : public Base {
protected:
  /// Metrics of component `kind.name` of agent `a1`.
  std::shared_ptr<component_metrics> metrics_of(const std::string& kind,
                                                const std::string& name,
                                                const std::string& type) {
    return registry_.get("a1." + kind + "." + name, kind, type);
  }

  wiring wire(const std::string& kind, const std::string& name,
              const std::string& type) {
    wiring w;
    w.agent = "a1";
    w.name = name;
    w.metrics = metrics_of(kind, name, type);
    return w;
  }

  /// A memory channel `name` with `cfg`; its metrics are `metrics_of(
  /// "channels", name, "memory")`.
  caf::actor channel(channels::memory_config cfg,
                     const std::string& name = "c1") {
    return this->track(channels::spawn_memory(
        this->sys, cfg, wire("channels", name, "memory")));
  }

  static channels::memory_config
  channel_config(std::size_t capacity, std::size_t transaction_capacity,
                 std::chrono::milliseconds keep_alive = 100ms) {
    channels::memory_config cfg;
    cfg.capacity = capacity;
    cfg.transaction_capacity = transaction_capacity;
    cfg.keep_alive = keep_alive;
    return cfg;
  }

  metrics_registry registry_;
};

/// A fresh actor system per test, on real threads. Actors passed through
/// `track` are killed when the test ends, so the system's destructor need
/// not wait for them.
class real_actors : public ::testing::Test {
protected:
  ~real_actors() override {
    for (auto& a : tracked_)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  }

  caf::actor track(caf::actor a) {
    tracked_.push_back(a);
    return a;
  }

  flumen_config cfg_;
  caf::actor_system sys{cfg_};
  caf::scoped_actor self{sys};

private:
  std::vector<caf::actor> tracked_;
};

/// Actor tests on real threads.
using actor_test = with_components<real_actors>;

/// Actor tests on virtual time (tests/support/virtual_time.hpp): the same
/// helpers as the free functions above, as members (which hide them), on
/// virtual time. A timeout is virtual time the actors run through: an
/// unanswered put, take or commit moves time on by its timeout, and
/// `ok_within(self, 200ms)` false means no answer though every actor ran
/// and 200 ms of virtual time passed.
class virtual_actor_test : public with_components<virtual_time_test> {
protected:
  caf::error put(caf::scoped_actor& who, const caf::actor& dst, batch events,
                 std::chrono::milliseconds timeout = 5s) {
    caf::error result = caf::make_error(caf::sec::request_timeout);
    auto h =
        who->request(dst, caf::infinite, put_atom::value, std::move(events));
    answer(
        who, h.id(), timeout, [&](ok_atom) { result = caf::error{}; },
        [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::expected<taken> take(caf::scoped_actor& who, const caf::actor& channel,
                            uint32_t max,
                            std::chrono::milliseconds timeout = 5s) {
    caf::expected<taken> result{caf::make_error(caf::sec::request_timeout)};
    auto h = who->request(channel, caf::infinite, take_atom::value, max);
    answer(
        who, h.id(), timeout,
        [&](txn_id id, batch& events) {
          result = taken{id, std::move(events)};
        },
        [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::error commit(caf::scoped_actor& who, const caf::actor& channel,
                    txn_id id, std::chrono::milliseconds timeout = 5s) {
    return request_ok(who, timeout, channel, commit_atom::value, id);
  }

  caf::error rollback(caf::scoped_actor& who, const caf::actor& channel,
                      txn_id id, std::chrono::milliseconds timeout = 5s) {
    return request_ok(who, timeout, channel, rollback_atom::value, id);
  }

  /// Takes and commits until `n` events arrived or `timeout` of virtual
  /// time passed.
  batch drain(caf::scoped_actor& who, const caf::actor& channel, std::size_t n,
              std::chrono::milliseconds timeout = 20s, uint32_t max = 1000) {
    batch out;
    auto until = now() + timeout;
    while (out.size() < n && now() < until) {
      auto t = take(who, channel, max);
      if (!t || t->events.empty()) continue;
      for (auto& e : t->events)
        out.push_back(std::move(e));
      if (commit(who, channel, t->id)) break;
    }
    return out;
  }

  /// An `ok` sent to `who` as an ordinary message (the answer to a
  /// `send`) within `window` of virtual time.
  bool ok_within(caf::scoped_actor& who, std::chrono::milliseconds window) {
    return receive_within(who, window, [](ok_atom) {});
  }

  /// `counter` equals `value` once the actors ran (and up to `timeout` of
  /// virtual time).
  bool reaches(const std::atomic<uint64_t>& counter, uint64_t value,
               std::chrono::milliseconds timeout = 5s) {
    return wait_until([&] { return counter.load() == value; }, timeout);
  }

  /// A request answered `ok` or an error; a default (empty) error means
  /// ok, `request_timeout` no answer within `timeout` of virtual time.
  template <class... Ts>
  caf::error request_ok(caf::scoped_actor& who,
                        std::chrono::milliseconds timeout,
                        const caf::actor& dst, Ts... xs) {
    caf::error result = caf::make_error(caf::sec::request_timeout);
    auto h = who->request(dst, caf::infinite, xs...);
    answer(
        who, h.id(), timeout, [&](ok_atom) { result = caf::error{}; },
        [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace flumen::test
