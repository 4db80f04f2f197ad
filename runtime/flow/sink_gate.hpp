#pragma once

// A sink group's processor (Flume's failover and load_balance sink
// processors) as a gate the group's sink drivers ask before each take:
// each sink keeps its own driver, thread and transactions; the gate only
// says who may take from the shared channel now.

#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>

#include "runtime/config/sink_group.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

/// The gate's word to a member waiting for its turn: ask again.
using gate_atom = caf::atom_constant<caf::atom("gate")>;

class sink_gate {
public:
  using clock = std::chrono::steady_clock;

  explicit sink_gate(sink_group_spec spec);

  /// Member `i`'s metrics (its state says whether it can work); also where
  /// the gate shows `group_active` and `group_penalty_ms`.
  void attach(std::size_t i, std::shared_ptr<component_metrics> m);

  /// Whether member `i` may take a batch now. When not, `waiter` hears
  /// `(gate_atom)` when that may have changed, and `recheck` says when to
  /// ask again at the latest (a penalty ends, a member's state changes).
  bool may_take(std::size_t i, clock::time_point now, caf::actor waiter,
                std::chrono::milliseconds& recheck);
  /// Member `i`'s take was answered with `events` events (load_balance:
  /// the next take may go out, and the turn moves on).
  void took(std::size_t i, std::size_t events);
  /// Member `i` delivered a batch: its failures are forgotten.
  void succeeded(std::size_t i, clock::time_point now);
  /// Member `i` failed a batch (its events went back to the channel): it
  /// is passed over for its penalty (failover; load_balance with backoff).
  void failed(std::size_t i, clock::time_point now);

  /// How many times member `i` asked (whether its sink consults the gate).
  uint64_t asks(std::size_t i) const;

  /// The index of the sink named `name`; npos when it is no member.
  std::size_t member(const std::string& name) const;
  const sink_group_spec& spec() const { return spec_; }

private:
  struct member_state {
    std::shared_ptr<component_metrics> metrics;
    std::atomic<uint64_t>* active = nullptr;
    std::atomic<uint64_t>* penalty_ms = nullptr;
    unsigned failures = 0;
    clock::time_point penalized_until{};
    clock::time_point last_ask{};
    bool waiting = false;
    uint64_t asks = 0;
    caf::actor waiter;
  };

  bool can_work(const member_state& m) const;
  bool available(std::size_t i, clock::time_point now);
  void penalize(member_state& m, clock::time_point now,
                std::chrono::milliseconds cap);
  void wake_all();
  void publish(clock::time_point now);

  sink_group_spec spec_;
  mutable std::mutex mtx_;
  std::vector<member_state> members_;
  /// Failover: members by priority, highest first.
  std::vector<std::size_t> order_;
  /// Load balance: whose turn it is, and who is taking now (one take at a
  /// time, so the turns hold).
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t turn_ = 0;
  std::size_t taking_ = npos;
  clock::time_point taking_since_{};
  std::minstd_rand rng_{std::random_device{}()};
};

} // namespace flumen
