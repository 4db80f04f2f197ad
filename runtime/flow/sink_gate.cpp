#include "runtime/flow/sink_gate.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "runtime/flow/protocol.hpp"

namespace flumen {

namespace {

const own_family_spec group_active{
    "group_active",
    "A sink group's member that takes now: the failover's active sink, a "
    "load_balance's available ones (1), or not (0).",
    true};
const own_family_spec group_penalty_ms{
    "group_penalty_ms",
    "Milliseconds a sink group's member is still passed over after failing "
    "(0: none).",
    true};

/// A member that asked this long ago and has not since is not waiting for
/// its turn any more (it re-asks every recheck_cap while it is).
constexpr auto stale_ask = std::chrono::seconds{2};
constexpr auto recheck_cap = std::chrono::milliseconds{500};
constexpr auto first_penalty = std::chrono::milliseconds{1000};
/// A take longer than this (a channel holds an empty one for its
/// keep_alive) means its member is gone: the others go on.
constexpr auto stale_take = std::chrono::seconds{5};

} // namespace

sink_gate::sink_gate(sink_group_spec spec)
    : spec_(std::move(spec)), members_(spec_.sinks.size()) {
  for (std::size_t i = 0; i < members_.size(); ++i)
    order_.push_back(i);
  // Highest priority first; equal ones (the loader refuses them) in file
  // order.
  std::stable_sort(order_.begin(), order_.end(), [&](auto x, auto y) {
    return spec_.priority.size() == members_.size() &&
           spec_.priority[x] > spec_.priority[y];
  });
}

void sink_gate::attach(std::size_t i, std::shared_ptr<component_metrics> m) {
  std::lock_guard guard{mtx_};
  if (i >= members_.size()) return;
  auto& x = members_[i];
  x.metrics = std::move(m);
  x.active = &x.metrics->own(group_active);
  x.penalty_ms = &x.metrics->own(group_penalty_ms);
}

std::size_t sink_gate::member(const std::string& name) const {
  auto it = std::find(spec_.sinks.begin(), spec_.sinks.end(), name);
  return it == spec_.sinks.end()
             ? std::string::npos
             : static_cast<std::size_t>(it - spec_.sinks.begin());
}

uint64_t sink_gate::asks(std::size_t i) const {
  std::lock_guard guard{mtx_};
  return i < members_.size() ? members_[i].asks : 0;
}

bool sink_gate::can_work(const member_state& m) const {
  if (!m.metrics) return false; // not started yet
  switch (m.metrics->current_state()) {
  case component_state::connecting:  // no destination reached
  case component_state::backing_off: // restarting
  case component_state::failed:
  case component_state::stopped:
    return false;
  default:
    return true;
  }
}

void sink_gate::penalize(member_state& m, clock::time_point now,
                         std::chrono::milliseconds cap) {
  ++m.failures;
  auto shift = std::min(m.failures - 1, 20u);
  auto d = std::min(cap, first_penalty * (int64_t{1} << shift));
  m.penalized_until = now + d;
}

bool sink_gate::available(std::size_t i, clock::time_point now) {
  auto& m = members_[i];
  if (!can_work(m)) return false;
  bool penalties =
      spec_.type == sink_group_spec::kind::failover || spec_.backoff;
  if (!penalties) return true;
  if (now < m.penalized_until) return false;
  // Degraded (e.g. every broker down) before it failed a batch here: the
  // same as a failure; after its penalty it may try again.
  if (m.metrics->current_state() == component_state::degraded &&
      m.failures == 0) {
    penalize(m, now,
             spec_.type == sink_group_spec::kind::failover ? spec_.max_penalty
                                                           : spec_.max_backoff);
    return false;
  }
  return true;
}

void sink_gate::wake_all() {
  for (auto& m : members_)
    if (m.waiting && m.waiter) {
      caf::anon_send(m.waiter, gate_atom::value);
      m.waiter = nullptr;
    }
}

void sink_gate::publish(clock::time_point now) {
  auto active = members_.size();
  for (auto j : order_)
    if (can_work(members_[j]) && now >= members_[j].penalized_until) {
      active = j;
      break;
    }
  for (std::size_t j = 0; j < members_.size(); ++j) {
    auto& m = members_[j];
    if (!m.active) continue;
    bool on = spec_.type == sink_group_spec::kind::failover
                  ? j == active
                  : can_work(m) && now >= m.penalized_until;
    m.active->store(on ? 1 : 0, std::memory_order_relaxed);
    auto left = m.penalized_until > now
                    ? std::chrono::duration_cast<std::chrono::milliseconds>(
                          m.penalized_until - now)
                          .count()
                    : 0;
    m.penalty_ms->store(static_cast<uint64_t>(left), std::memory_order_relaxed);
  }
}

bool sink_gate::may_take(std::size_t i, clock::time_point now,
                         caf::actor waiter,
                         std::chrono::milliseconds& recheck) {
  std::lock_guard guard{mtx_};
  if (i >= members_.size()) return true;
  auto& me = members_[i];
  me.last_ask = now;
  ++me.asks;
  bool allowed = false;
  std::size_t active = members_.size();
  if (spec_.type == sink_group_spec::kind::failover) {
    for (auto j : order_)
      if (available(j, now)) {
        active = j;
        break;
      }
    allowed = active == i;
  } else if (available(i, now) && (taking_ == npos || taking_ == i ||
                                   now - taking_since_ >= stale_take)) {
    // One take at a time in the group: the first member from the turn on
    // that is here to take: i, unless one before it is waiting for its
    // turn (and still able to take). A member busy elsewhere (its window
    // full, backing off) is not asking, and is skipped.
    for (std::size_t k = 0; k < members_.size(); ++k) {
      auto j = (turn_ + k) % members_.size();
      if (j == i) {
        allowed = true;
        break;
      }
      auto& other = members_[j];
      if (other.waiting && now - other.last_ask < stale_ask &&
          available(j, now))
        break;
    }
  }
  publish(now);
  if (allowed) {
    me.waiting = false;
    me.waiter = nullptr;
    if (spec_.type == sink_group_spec::kind::load_balance) {
      taking_ = i;
      taking_since_ = now;
    }
    return true;
  }
  me.waiting = true;
  me.waiter = std::move(waiter);
  recheck = recheck_cap;
  for (auto& m : members_)
    if (m.penalized_until > now)
      recheck = std::min(recheck,
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             m.penalized_until - now) +
                             std::chrono::milliseconds{1});
  return false;
}

void sink_gate::took(std::size_t i, std::size_t events) {
  std::lock_guard guard{mtx_};
  if (spec_.type != sink_group_spec::kind::load_balance || members_.empty())
    return;
  if (taking_ == i) taking_ = npos;
  // The turn moves on, after an empty take too (a channel that held the
  // take for its keep_alive had nothing: the next one waits its turn).
  (void)events;
  turn_ = spec_.random ? rng_() % members_.size() : (i + 1) % members_.size();
  wake_all();
}

void sink_gate::succeeded(std::size_t i, clock::time_point now) {
  std::lock_guard guard{mtx_};
  if (i >= members_.size()) return;
  auto& m = members_[i];
  if (m.failures == 0) return;
  m.failures = 0;
  m.penalized_until = {};
  publish(now);
  wake_all();
}

void sink_gate::failed(std::size_t i, clock::time_point now) {
  std::lock_guard guard{mtx_};
  if (i >= members_.size()) return;
  if (taking_ == i) taking_ = npos;
  if (spec_.type == sink_group_spec::kind::failover)
    penalize(members_[i], now, spec_.max_penalty);
  else if (spec_.backoff)
    penalize(members_[i], now, spec_.max_backoff);
  publish(now);
  wake_all();
}

} // namespace flumen
