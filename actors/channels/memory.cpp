#include "actors/channels/memory.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/channels/takers.hpp"
#include "runtime/flow/protocol.hpp"

namespace flumen::channels {

/// The options of the `memory` channel (docs/reference/channels/memory.md shows
/// them, generated).
const option_list& memory_options() {
  static const option_list table = {
      {.name = "capacity",
       .kind = option_kind::count,
       .doc = "events held, counting events taken by a sink and not yet "
              "committed"},
      {.name = "byte_capacity",
       .kind = option_kind::size,
       .doc =
           "bytes held, taken ones included: each event counts its body,"
           " its header keys and values, and 64 bytes for itself and for"
           " each header (what holding it costs; "
           "`memory_channel.byte_capacity_holds_a_put_until_bytes_are_freed`)"
           " (one event larger than it is let in alone when the channel "
           "is empty); `0`: no byte bound (and bytes are not counted)"},
      {.name = "transaction_capacity",
       .kind = option_kind::count,
       .def = "`10000`, or `capacity` if smaller",
       .doc = "most events in one put or take; a stated value must not "
              "exceed `capacity` "
              "(`parse_memory_test.default_transaction_capacity_fits_the_"
              "capacity`,"
              " "
              "`parse_memory_test.transaction_capacity_above_capacity_is_an_"
              "error`)."
              " Large, so that bytes (`batch_bytes`, `byte_capacity`) bound"
              " a transaction rather than a count: at 100 B records, 10,000"
              " instead of 1,000 raised the Kafka rate by about a sixth "
              "([bench/README.md](../../../bench/README.md))"},
      {.name = "keep_alive",
       .kind = option_kind::duration,
       .doc = "how long an empty take waits for events before it is "
              "answered empty"},
      {.name = "transaction_timeout",
       .kind = option_kind::duration,
       .type = "duration: `0` or at least `1s`",
       .doc =
           "a sink holding a transaction open longer (stuck on a dead "
           "peer) is revoked, as a lost node's replica is: its events go"
           " back to the head for the channel's other sinks (or its own "
           "restart), its late commit is refused, and it takes nothing "
           "more (the sink ends and the supervisor restarts it). `0`: "
           "never. Longer than librdkafka's default `message.timeout.ms`"
           " (5 min), after which a Kafka sink rolls back by itself "
           "(`memory_channel.a_transaction_held_past_its_timeout_is_revoked`)"},
  };
  return table;
}

memory_config parse_memory(option_reader& r) {
  option_scope scope{r, memory_options()};
  memory_config cfg;
  cfg.capacity = r.count("capacity", cfg.capacity);
  cfg.byte_capacity = r.bytes("byte_capacity", cfg.byte_capacity);
  // Not stated, it fits whatever capacity is.
  cfg.transaction_capacity = r.count(
      "transaction_capacity", std::min(cfg.transaction_capacity, cfg.capacity));
  cfg.keep_alive = r.duration("keep_alive", cfg.keep_alive);
  cfg.transaction_timeout =
      r.duration("transaction_timeout", cfg.transaction_timeout);
  if (cfg.transaction_timeout.count() != 0 &&
      cfg.transaction_timeout < std::chrono::seconds{1}) {
    r.invalid("transaction_timeout", "must be 0 (never) or at least 1s");
    cfg.transaction_timeout = std::chrono::milliseconds{600000};
  }
  if (r.parsed({"capacity", "transaction_capacity"}) &&
      cfg.transaction_capacity > cfg.capacity)
    r.error("transaction_capacity",
            "must not exceed capacity (" + std::to_string(cfg.capacity) + ")");
  auto& f = r.facts();
  f.capacity = cfg.capacity;
  f.transaction_capacity = cfg.transaction_capacity;
  return cfg;
}

namespace {

struct transaction {
  caf::actor_addr owner;
  /// The reply `(txn_id, batch)` as sent to the taker. CAF messages are
  /// copy-on-write and takers read the batch as const, so keeping it for a
  /// rollback costs a reference count, not a copy of the events.
  caf::message reply;
  std::size_t count = 0;
  std::size_t bytes = 0;
  /// Where its events belong in the queue: the transaction that first took
  /// its first event (smaller is older).
  txn_id order = 0;
  /// When it was opened, on the actor system's clock.
  std::chrono::steady_clock::time_point opened{};
};

/// A put waiting for room. It is admitted in pieces as room frees up (a put
/// never fails for its size); the sender hears back once all of it is in.
struct pending_put {
  caf::response_promise rp;
  batch events;
  std::size_t next = 0;  ///< events[next..] are not admitted yet
  caf::actor_addr owner; ///< its sender, watched
  bool orphan = false;   ///< its sender died
  /// A put with a hold (protocol.hpp): its number for put_expired_atom,
  /// refused then if none of it went in; 0: held as long as it takes.
  uint64_t expiry = 0;
};

struct memory_state {
  memory_config cfg;
  std::shared_ptr<component_metrics> metrics;
  std::deque<event> queue;
  /// Rolled-back runs at the head of `queue`, oldest first: (order, events
  /// of the run still queued).
  std::deque<std::pair<txn_id, std::size_t>> returned;
  std::size_t queue_bytes = 0;
  std::size_t taken_events = 0;
  std::size_t taken_bytes = 0;
  std::unordered_map<txn_id, transaction> open;
  std::deque<pending_put> puts;
  /// Closed (close_atom): puts are refused, the channel drains.
  bool closed = false;
  takers takes; ///< held takes, watched takers
  /// When stale transactions were last looked for.
  std::chrono::steady_clock::time_point stale_check{};
  txn_id next_txn = 1;
  uint64_t next_expiry = 1;

  static inline const char* name = "memory_channel";

  std::size_t used() const { return queue.size() + taken_events; }
  std::size_t used_bytes() const { return queue_bytes + taken_bytes; }

  bool fits(std::size_t n, std::size_t bytes) const {
    return used() + n <= cfg.capacity &&
           (cfg.byte_capacity == 0 ||
            used_bytes() + bytes <= cfg.byte_capacity);
  }

  void publish() {
    metrics->channel_size.store(used(), std::memory_order_relaxed);
    metrics->channel_bytes.store(used_bytes(), std::memory_order_relaxed);
    metrics->open_transactions.store(open.size(), std::memory_order_relaxed);
  }

  void enqueue(batch&& events, std::size_t bytes) {
    metrics->events_put.fetch_add(events.size(), std::memory_order_relaxed);
    metrics->tap.offer(events);
    for (auto& e : events)
      queue.emplace_back(std::move(e));
    queue_bytes += bytes;
  }
};

using memory_actor = caf::stateful_actor<memory_state>;

// Moves up to `max` events from the head of the queue into a new
// transaction owned by `owner`; returns the reply for the taker.
caf::message open_txn(memory_actor* self, const caf::actor_addr& owner,
                      std::size_t max, std::size_t max_bytes) {
  auto& st = self->state;
  auto n = std::min({max, st.cfg.transaction_capacity, st.queue.size()});
  // A transaction goes back (if it does) as one run with one place in the
  // order. So it may not span a boundary where an open transaction's events
  // belong: between two returned runs whose orders enclose that
  // transaction's order, or between the last run and fresh events while a
  // transaction newer than that run is open. (A fresh event once jumped
  // ahead of a whole window of rolled-back batches this way.)
  if (!st.returned.empty()) {
    std::size_t allowed = 0;
    for (std::size_t i = 0; i < st.returned.size(); ++i) {
      allowed += st.returned[i].second;
      auto lo = st.returned[i].first;
      bool last = i + 1 == st.returned.size();
      auto hi = last ? 0 : st.returned[i + 1].first;
      bool blocked = std::any_of(st.open.begin(), st.open.end(), [&](auto& o) {
        return o.second.order > lo && (last || o.second.order < hi);
      });
      if (blocked) {
        n = std::min(n, allowed);
        break;
      }
    }
  }
  auto id = st.next_txn++;
  transaction t;
  t.owner = owner;
  t.order = st.returned.empty() ? id : st.returned.front().first;
  batch events;
  events.reserve(n);
  bool count_bytes = st.cfg.byte_capacity != 0 || max_bytes != 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (count_bytes) {
      auto b = event_bytes(st.queue.front());
      // The taker's byte bound, but one event at least.
      if (max_bytes != 0 && i > 0 && t.bytes + b > max_bytes) {
        n = i;
        break;
      }
      t.bytes += b;
    }
    events.emplace_back(std::move(st.queue.front()));
    st.queue.pop_front();
  }
  t.count = n;
  // Bytes held count only when the channel is bounded by them.
  if (st.cfg.byte_capacity == 0) t.bytes = 0;
  st.queue_bytes -= t.bytes;
  for (auto left = n; left > 0 && !st.returned.empty();) {
    auto& run = st.returned.front();
    auto k = std::min(left, run.second);
    run.second -= k;
    left -= k;
    if (run.second == 0) st.returned.pop_front();
  }
  st.taken_events += n;
  st.taken_bytes += t.bytes;
  st.metrics->events_taken.fetch_add(n, std::memory_order_relaxed);
  t.reply = caf::make_message(id, std::move(events));
  t.opened = self->clock().now();
  auto reply = t.reply;
  st.open.emplace(id, std::move(t));
  st.takes.watch(self, owner);
  return reply;
}

// Answers waiting takers while events are queued.
void serve_takes(memory_actor* self) {
  auto& st = self->state;
  st.takes.serve(
      self, [&] { return !st.queue.empty(); }, open_txn);
}

// Admits waiting puts, in order, as far as they fit: a put larger than the
// room left (or than the whole channel) goes in piece by piece as sinks
// commit. One event larger than byte_capacity is let in alone when the
// channel holds nothing, so no put is ever refused for its size.
void admit_puts(memory_actor* self) {
  auto& st = self->state;
  while (!st.puts.empty()) {
    auto& pp = st.puts.front();
    std::size_t bytes = 0;
    auto first = pp.next;
    auto end = pp.events.size();
    while (pp.next < end && st.used() + (pp.next - first) < st.cfg.capacity) {
      std::size_t b = 0;
      if (st.cfg.byte_capacity != 0) {
        b = event_bytes(pp.events[pp.next]);
        bool alone = st.used() == 0 && pp.next == first;
        if (!alone && st.used_bytes() + bytes + b > st.cfg.byte_capacity) break;
      }
      bytes += b;
      ++pp.next;
    }
    if (pp.next > first)
      st.enqueue(move_range(pp.events, first, pp.next), bytes);
    if (pp.next < end) return; // the rest waits for room
    pp.rp.deliver(ok_atom::value);
    st.puts.pop_front();
  }
}

/// Takes no more puts (from `only`, when set: the channel stays open for
/// others): a put not begun goes back to its sender with its events
/// (closed_error); one partly in goes in whole, past the capacity if need
/// be, so no put is ever half in a closed channel.
void close_channel(memory_actor* self, const caf::actor_addr& only = {}) {
  auto& st = self->state;
  if (only) {
    // A reload routed this sender elsewhere: its puts waiting for room go
    // back to it, to be put where its route leads now.
    std::deque<pending_put> keep;
    for (auto& pp : st.puts) {
      if (pp.owner == only && pp.next == 0)
        pp.rp.deliver(closed_error(st.metrics->name + " is no longer on "
                                                      "this source's route",
                                   std::move(pp.events)));
      else
        keep.push_back(std::move(pp));
    }
    st.puts.swap(keep);
    return;
  }
  st.closed = true;
  for (auto& pp : st.puts) {
    if (pp.next == 0 && (pp.orphan || has_ended(pp.owner))) {
      // Nobody to hand them back to: read, never accepted, counted here.
      spdlog::warn("{}: closed with a put of {} events whose sender is gone; "
                   "counted as never accepted",
                   st.metrics->name, pp.events.size());
      st.metrics->events_undelivered.fetch_add(pp.events.size(),
                                               std::memory_order_relaxed);
      continue;
    }
    if (pp.next == 0) {
      pp.rp.deliver(
          closed_error(st.metrics->name + " is closed", std::move(pp.events)));
      continue;
    }
    auto rest = move_range(pp.events, pp.next, pp.events.size());
    auto bytes = st.cfg.byte_capacity != 0 ? event_bytes(rest) : 0;
    st.enqueue(std::move(rest), bytes);
    pp.rp.deliver(ok_atom::value);
  }
  st.puts.clear();
}

void settle(memory_actor* self) {
  admit_puts(self);
  serve_takes(self);
  self->state.publish();
}

// Returns a transaction's events to the head of the queue, in order. Older
// events already back stay ahead of them, so the head keeps the oldest
// events whatever order rollbacks come in.
void roll_back(memory_actor* self, transaction&& t) {
  auto& st = self->state;
  auto n = t.count;
  st.taken_events -= n;
  st.taken_bytes -= t.bytes;
  std::size_t pos = 0;
  auto run = st.returned.begin();
  for (; run != st.returned.end() && run->first < t.order; ++run)
    pos += run->second;
  if (n > 0) st.returned.insert(run, {t.order, n});
  // Rare path: copy the events back (the taker may still hold them).
  auto& events = t.reply.get_as<batch>(1);
  st.queue.insert(st.queue.begin() + static_cast<std::ptrdiff_t>(pos),
                  events.begin(), events.end());
  st.queue_bytes += t.bytes;
  st.metrics->events_rolled_back.fetch_add(n, std::memory_order_relaxed);
}

// Commits transaction `id`; the events named in `put_back` (indices into
// it) go back to the head in their order, ahead of anything taken later.
caf::result<ok_atom> commit(memory_actor* self, txn_id id,
                            const std::vector<uint32_t>& put_back) {
  auto& st = self->state;
  auto i = st.open.find(id);
  if (i == st.open.end()) {
    log_refused_commit(self, st.metrics->name, id);
    return make_error(errc::unknown_transaction,
                      "commit of unknown transaction " + std::to_string(id));
  }
  auto& t = i->second;
  transaction back;
  if (!put_back.empty()) {
    auto& events = t.reply.get_as<batch>(1);
    batch again;
    again.reserve(put_back.size());
    for (auto index : put_back)
      if (index < events.size()) again.push_back(events[index]);
    back.order = t.order;
    back.count = again.size();
    if (st.cfg.byte_capacity != 0) back.bytes = event_bytes(again);
    back.reply = caf::make_message(id, std::move(again));
  }
  st.metrics->events_committed.fetch_add(t.count - back.count,
                                         std::memory_order_relaxed);
  st.taken_events -= t.count - back.count;
  st.taken_bytes -= t.bytes - std::min(t.bytes, back.bytes);
  st.open.erase(i);
  if (back.count > 0) roll_back(self, std::move(back));
  settle(self);
  return ok_atom::value;
}

std::pair<std::size_t, std::size_t>
roll_back_taker(memory_actor* self, const caf::actor_addr& taker);

caf::result<txn_id, batch> take(memory_actor* self, uint32_t max,
                                std::size_t max_bytes) {
  auto& st = self->state;
  revoke_stale(self, st.open, st.takes, st.cfg.transaction_timeout,
               st.metrics->name, st.stale_check, roll_back_taker);
  auto r = st.takes.take(self, max, max_bytes, !st.queue.empty(),
                         st.cfg.keep_alive, open_txn);
  st.publish();
  return r;
}

/// Rolls back every transaction `taker` holds, newest first.
std::pair<std::size_t, std::size_t>
roll_back_taker(memory_actor* self, const caf::actor_addr& taker) {
  return roll_back_owner(
      self, self->state.open, taker,
      [](memory_actor* s, transaction t) { roll_back(s, std::move(t)); },
      [](const transaction& t) { return t.count; });
}

caf::behavior memory_channel(memory_actor* self, memory_config cfg,
                             std::shared_ptr<component_metrics> metrics) {
  auto& st = self->state;
  st.cfg = cfg;
  st.metrics = std::move(metrics);
  st.metrics->channel_capacity.store(cfg.capacity);
  st.metrics->set_state(component_state::running);
  // A stray message or error is no reason for a channel to die with its
  // events.
  tolerate_strays(self, st.metrics->name);
  fail_on_exceptions(self, st.metrics, component_state::failed);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    st.takes.down(dm.source);
    // A taker died: its transactions go back, in txn order (the order the
    // events were taken), so the head of the queue keeps the oldest events.
    auto [txns, events] = roll_back_taker(self, dm.source);
    log_lost_leases(self, st.metrics->name, dm, txns, events);
    // A sender that died while its put waited for room: the put still goes
    // in as room frees (its events are counted nowhere else), unless the
    // channel closes first.
    for (auto& pp : st.puts)
      if (pp.owner == dm.source) pp.orphan = true;
    settle(self);
  });
  // A put: the same with or without a receipt (a source wired straight
  // to the channel; nothing is filtered on the way).
  auto put = [self](batch& events,
                    std::optional<caf::timespan> hold) -> caf::result<ok_atom> {
    auto& st = self->state;
    if (events.empty()) return ok_atom::value;
    if (st.closed)
      return closed_error(st.metrics->name + " is closed", std::move(events));
    // Bytes are counted only when bounded: walking every header of every
    // event twice is a fifth of the channel's cost.
    if (st.puts.empty() && events.size() <= st.cfg.capacity) {
      auto bytes = st.cfg.byte_capacity != 0 ? event_bytes(events) : 0;
      if (st.fits(events.size(), bytes)) {
        st.enqueue(std::move(events), bytes);
        serve_takes(self);
        st.publish();
        return ok_atom::value;
      }
    }
    // No room (or larger than the channel): hold the answer back while
    // it goes in piece by piece; this is what paces the sender.
    auto owner = caf::actor_cast<caf::actor_addr>(self->current_sender());
    auto rp = self->make_response_promise();
    st.puts.push_back(pending_put{rp, std::move(events), 0, owner});
    if (hold) {
      // One timer per put that has to wait, none for one that goes in.
      auto id = st.next_expiry++;
      st.puts.back().expiry = id;
      self->delayed_send(self, *hold, put_expired_atom::value, id);
    }
    st.takes.watch(self, owner);
    settle(self);
    return caf::delegated<ok_atom>{};
  };
  return {
      [put](put_atom, batch& events) { return put(events, std::nullopt); },
      [put](put_atom, batch& events, caf::timespan hold) {
        return put(events, hold);
      },
      [put](put_atom, batch& events, std::shared_ptr<put_receipt>&,
            caf::timespan hold) { return put(events, hold); },
      [self](put_expired_atom, uint64_t id) {
        // Its hold is over: refused if none of it went in (the sender's
        // client is told to send it again); begun, it goes in whole.
        auto& st = self->state;
        auto i = std::find_if(st.puts.begin(), st.puts.end(),
                              [id](auto& pp) { return pp.expiry == id; });
        if (i == st.puts.end() || i->next > 0) return;
        i->rp.deliver(make_error(errc::channel_full, st.metrics->name +
                                                         " stayed full for the "
                                                         "put's hold time"));
        st.puts.erase(i);
        settle(self);
      },
      [self, put](try_put_atom, batch& events) -> caf::result<ok_atom> {
        // In now, or refused: never held (an optional channel's part).
        auto& st = self->state;
        auto bytes = st.cfg.byte_capacity != 0 ? event_bytes(events) : 0;
        if (!st.closed && !events.empty() &&
            (!st.puts.empty() || !st.fits(events.size(), bytes)))
          return make_error(errc::channel_full, st.metrics->name + " is full");
        return put(events, std::nullopt);
      },
      [put](put_atom, batch& events, std::shared_ptr<put_receipt>&) {
        return put(events, std::nullopt);
      },
      [self](close_atom) {
        close_channel(self);
        settle(self);
        return ok_atom::value;
      },
      [self](close_atom, const caf::actor_addr& sender) {
        close_channel(self, sender);
        settle(self);
        return ok_atom::value;
      },
      [self](take_atom, uint32_t max) { return take(self, max, 0); },
      [self](take_atom, uint32_t max, uint64_t max_bytes) {
        return take(self, max, static_cast<std::size_t>(max_bytes));
      },
      [self](tick_atom, uint64_t) {
        // The keep-alive timer: held takes that timed out are answered
        // empty, so their sinks can check for a stop and come back.
        self->state.takes.expire_due(self);
      },
      [self](commit_atom, txn_id id) { return commit(self, id, {}); },
      [self](commit_atom, txn_id id, const std::vector<uint32_t>& put_back) {
        return commit(self, id, put_back);
      },
      [self](get_atom, txn_id id) -> caf::result<batch> {
        auto& st = self->state;
        auto i = st.open.find(id);
        if (i == st.open.end())
          return make_error(errc::unknown_transaction,
                            "no open transaction " + std::to_string(id));
        return i->second.reply.get_as<batch>(1);
      },
      [self](rollback_atom, const caf::actor_addr& taker) {
        // Revoke: the taker was cut off (its node hangs): what it holds
        // goes back now, and it may take or commit nothing more.
        auto& st = self->state;
        revoke_taker(st.takes, st.metrics->name, taker,
                     [&] { return roll_back_taker(self, taker); });
        settle(self);
      },
      [self](rollback_atom, txn_id id) -> caf::result<ok_atom> {
        auto& st = self->state;
        auto i = st.open.find(id);
        if (i == st.open.end())
          return make_error(errc::unknown_transaction,
                            "rollback of unknown transaction " +
                                std::to_string(id));
        roll_back(self, std::move(i->second));
        st.open.erase(i);
        settle(self);
        return ok_atom::value;
      },
  };
}

} // namespace

caf::actor spawn_memory(caf::actor_system& sys, const memory_config& cfg,
                        const wiring& w) {
  return sys.spawn(memory_channel, cfg, w.metrics);
}

} // namespace flumen::channels
