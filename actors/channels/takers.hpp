#pragma once

// What the memory and file channels share on the taking side: takes that
// wait (up to keep_alive) while the channel is empty, and the takers they
// watch so that a dead taker's transactions go back.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/flow/protocol.hpp"

namespace flumen::channels {

/// Logs what a channel did when a taker on another node went down with
/// open transactions (its leases): they went back to the head, and they
/// can no longer be committed (a transaction id is never used again).
inline void log_lost_leases(caf::scheduled_actor* self, const std::string& name,
                            const caf::down_msg& dm, std::size_t txns,
                            std::size_t events) {
  if (txns == 0 || dm.source.node() == self->node()) return;
  spdlog::warn("{}: a taker on another process went down ({}): its {} "
               "transactions ({} events) were rolled back; a late commit of "
               "them is refused",
               name, self->system().render(dm.reason), txns, events);
}

/// Rolls back every open transaction of `owner` (in `open`, a map of txn
/// id to transaction with an `owner` member), newest first, through
/// `back(self, txn)`; returns how many and how many events (`count(txn)`).
template <class Self, class Open, class Back, class Count>
std::pair<std::size_t, std::size_t>
roll_back_owner(Self* self, Open& open, const caf::actor_addr& owner, Back back,
                Count count) {
  std::vector<txn_id> ids;
  for (auto& [id, t] : open)
    if (t.owner == owner) ids.push_back(id);
  std::sort(ids.rbegin(), ids.rend());
  std::size_t events = 0;
  for (auto id : ids) {
    auto i = open.find(id);
    auto t = std::move(i->second);
    open.erase(i);
    events += count(t);
    back(self, std::move(t));
  }
  return {ids.size(), events};
}

/// Revokes `taker` (see takers::revoke): `roll_back()` rolls back what it
/// holds and returns (transactions, events), which are logged.
template <class Takers, class RollBack>
void revoke_taker(Takers& takes, const std::string& name,
                  const caf::actor_addr& taker, RollBack roll_back) {
  takes.revoke(taker);
  auto [txns, events] = roll_back();
  spdlog::warn("{}: revoked the leases of a lost taker: {} transactions ({} "
               "events) rolled back; its late commits are refused",
               name, txns, events);
}

/// True when `who` has ended (its down message may not have arrived yet).
inline bool has_ended(const caf::actor_addr& who) {
  auto ptr = caf::actor_cast<caf::strong_actor_ptr>(who);
  return !ptr || ptr->get()->getf(caf::abstract_actor::is_terminated_flag);
}

/// Revokes (see takers::revoke) every taker holding a transaction of
/// `open` (a map of txn id to transactions with `owner` and `opened`)
/// opened more than `timeout` ago: what it holds goes back now, for another
/// sink (or its own restart) to deliver, and its late commit is refused. A
/// sink stuck on a dead peer pins nothing for longer than that. Called as
/// takers come and go (at most once a second: `last` is when it last
/// looked), not by a timer: a timer would hold the channel alive after it
/// ends.
/// Times are the actor system's clock (virtual on CAF's test
/// coordinator).
template <class Self, class Open, class Takers, class RollBack>
void revoke_stale(Self* self, Open& open, Takers& takes,
                  std::chrono::milliseconds timeout, const std::string& name,
                  std::chrono::steady_clock::time_point& last,
                  RollBack roll_back) {
  auto now = self->clock().now();
  if (timeout.count() == 0 || open.empty() ||
      now - last < std::chrono::seconds{1})
    return;
  last = now;
  std::set<caf::actor_addr> stale;
  for (auto& [id, t] : open)
    if (now - t.opened > timeout) stale.insert(t.owner);
  for (auto& who : stale) {
    spdlog::warn("{}: a taker held a transaction open longer than "
                 "transaction_timeout ({} ms)",
                 name, timeout.count());
    revoke_taker(takes, name, who, [&] { return roll_back(self, who); });
  }
}

/// Logs a refused commit from another process (a lease rolled back after
/// its node was lost, committed late).
inline void log_refused_commit(caf::scheduled_actor* self,
                               const std::string& name, uint64_t id) {
  auto sender = self->current_sender();
  if (!sender || sender->node() == self->node()) return;
  spdlog::warn("{}: refused the commit of transaction {} from another "
               "process: it is no longer open (rolled back when its taker "
               "was lost)",
               name, id);
}

struct pending_take {
  caf::response_promise rp;
  caf::actor_addr owner;
  std::size_t max = 0;
  std::size_t max_bytes = 0; ///< 0: no byte bound
  /// When its keep_alive passes (the actor system's clock).
  caf::actor_clock::time_point due{};
};

/// The takers of a channel. `Self` is the channel actor; `Open(self, owner,
/// max, max_bytes)` moves events into a new transaction and returns the
/// reply `(txn_id, batch)`.
class takers {
public:
  /// Watches `who` (once): the channel gets a down message when it dies.
  template <class Self>
  void watch(Self* self, const caf::actor_addr& who) {
    if (who && watched_.insert(who).second) self->monitor(who);
  }

  /// A take: answered at once when `has_events`, else held until events
  /// come (serve) or `keep_alive` passes (expire: answered empty).
  template <class Self, class Open>
  caf::result<txn_id, batch>
  take(Self* self, uint32_t max, std::size_t max_bytes, bool has_events,
       std::chrono::milliseconds keep_alive, Open open) {
    auto owner = caf::actor_cast<caf::actor_addr>(self->current_sender());
    // A take without a sender (as CAF may hand over from a link that is
    // gone: runtime/README.md, hop invariant 10): its batch would reach no
    // one and sit in a transaction until transaction_timeout.
    if (!owner)
      return make_error(errc::unknown_transaction, "a take without a sender");
    if (revoked_.count(owner))
      return make_error(errc::unknown_transaction,
                        "this taker's transactions were revoked (its node "
                        "was lost, or it held one past "
                        "transaction_timeout)");
    auto rp = self->make_response_promise();
    auto n = max == 0 ? 1 : static_cast<std::size_t>(max);
    if (has_events) {
      rp.deliver(open(self, owner, n, max_bytes));
      return caf::delegated<txn_id, batch>{};
    }
    held_.push_back(pending_take{rp, owner, n, max_bytes,
                                 self->clock().now() + keep_alive});
    watch(self, owner);
    arm(self);
    return caf::delegated<txn_id, batch>{};
  }

  /// Answers held takes, oldest first, while `has_events()`.
  template <class Self, class HasEvents, class Open>
  void serve(Self* self, HasEvents has_events, Open open) {
    while (!held_.empty() && has_events()) {
      auto pt = std::move(held_.front());
      held_.pop_front();
      pt.rp.deliver(open(self, pt.owner, pt.max, pt.max_bytes));
    }
  }

  /// The keep-alive timer fired: every held take whose keep_alive passed
  /// is answered empty, so its sink can look for a stop and come back; the
  /// timer is set again for the next one still held.
  template <class Self>
  void expire_due(Self* self) {
    armed_ = false;
    auto now = self->clock().now();
    std::erase_if(held_, [&](pending_take& pt) {
      if (pt.due > now) return false;
      pt.rp.deliver(txn_id{0}, batch{});
      return true;
    });
    arm(self);
  }

  /// `who` died: forgets it and its held takes.
  void down(const caf::actor_addr& who) {
    watched_.erase(who);
    std::erase_if(held_,
                  [&](const pending_take& pt) { return pt.owner == who; });
  }

  /// `who` is cut off (its node hung): its held takes are dropped and it
  /// may take nothing more. Its transactions are the channel's to roll
  /// back; their ids are never used again, so its late commits are refused.
  void revoke(const caf::actor_addr& who) {
    down(who);
    revoked_.insert(who);
  }

private:
  /// One timer for all held takes, set for the first of them to pass its
  /// keep_alive, not one per take: a timer is an entry in CAF's clock and a
  /// wakeup of its thread, and while a sink is faster than its source
  /// nearly every take is held (3,000 of the 22,000 context switches of a
  /// hop's two agents per 2M lines of 100 B: bench/README.md, part 13).
  template <class Self>
  void arm(Self* self) {
    if (armed_ || held_.empty()) return;
    auto first =
        std::min_element(held_.begin(), held_.end(),
                         [](auto& a, auto& b) { return a.due < b.due; });
    auto left = std::max(first->due - self->clock().now(),
                         caf::actor_clock::duration_type{0});
    armed_ = true;
    // The message keeps its old shape (tick_atom, id): the id is unused,
    // the handler (expire_due) looks at every held take.
    self->delayed_send(self, left, tick_atom::value, uint64_t{0});
  }

  bool armed_ = false; ///< the keep-alive timer is set
  std::set<caf::actor_addr> revoked_;
  std::deque<pending_take> held_;
  std::set<caf::actor_addr> watched_;
};

} // namespace flumen::channels
