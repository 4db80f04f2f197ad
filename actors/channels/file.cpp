#include "actors/channels/file.hpp"
#include "actors/channels/file_state.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/channels/filelog/queue_parts.hpp"
#include "actors/channels/filelog/tools.hpp"
#include "actors/channels/takers.hpp"
#include "runtime/flow/protocol.hpp"

namespace flumen::channels {

file_config parse_file(option_reader& r) {
  option_scope scope{r, file_options()};
  file_config cfg;
  cfg.directory = r.required_str("directory");
  cfg.capacity = r.count("capacity", cfg.capacity);
  cfg.byte_capacity = r.bytes("byte_capacity", cfg.byte_capacity);
  cfg.transaction_capacity = r.count(
      "transaction_capacity", std::min(cfg.transaction_capacity, cfg.capacity));
  cfg.max_file_size = r.bytes("max_file_size", cfg.max_file_size);
  cfg.min_free_space = r.bytes("min_free_space", cfg.min_free_space);
  auto fsync = r.choice("fsync", "batch", {"batch", "interval", "never"});
  cfg.fsync = fsync == "interval" ? filelog::fsync_policy::interval
              : fsync == "never"  ? filelog::fsync_policy::never
                                  : filelog::fsync_policy::batch;
  if (r.has("fsync_interval") && r.parsed({"fsync"}) &&
      cfg.fsync != filelog::fsync_policy::interval)
    r.error("fsync_interval",
            "applies only to `fsync: interval` (fsync is " + fsync + ")");
  cfg.fsync_interval = r.duration("fsync_interval", cfg.fsync_interval);
  if (cfg.fsync_interval.count() <= 0) {
    r.invalid("fsync_interval", "must be positive");
    cfg.fsync_interval = std::chrono::milliseconds{1000};
  }
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
  if (cfg.max_file_size < 4096) {
    r.invalid("max_file_size", "must be at least 4KB");
    cfg.max_file_size = 4096;
  }
  if (r.parsed({"byte_capacity", "max_file_size"}) && cfg.byte_capacity != 0 &&
      cfg.byte_capacity < 2 * cfg.max_file_size)
    r.error("byte_capacity",
            "must be 0 (no bound) or at least twice max_file_size (" +
                std::to_string(cfg.max_file_size) +
                " bytes): segments are freed whole");
  cfg.memory_events = 8 * cfg.transaction_capacity;
  auto& f = r.facts();
  f.capacity = cfg.capacity;
  f.transaction_capacity = cfg.transaction_capacity;
  f.directory = cfg.directory;
  return cfg;
}

namespace {

// The file channel's own metric families, beside a channel's (damage is
// counted in events too: the final line names it as lost).
const own_family_spec corrupt_records{
    "corrupt_records",
    "File channel records skipped for damage (a bad checksum, or found "
    "damaged when read back), recovery included."};
const own_family_spec damaged_bytes{
    "damaged_bytes",
    "File channel bytes of log given up (corrupt or cut off)."};
const own_family_spec damaged_events{
    "damaged_events",
    "File channel uncommitted events lost with damaged log: lost, and said so "
    "in the final line."};
const own_family_spec events_held{
    "events_held",
    "File channel events of puts waiting for room (their senders are held "
    "back, unanswered).",
    true};
const own_family_spec write_errors{
    "write_errors",
    "File channel appends or syncs that failed (the put was retried)."};

using namespace file_detail;

/// Shows the first trouble as `degraded`, or `running` when none is left.
void update_state(file_actor* self) {
  auto& st = self->state;
  auto& w = st.why;
  auto& reason = !w.writing.empty()   ? w.writing
                 : !w.reading.empty() ? w.reading
                                      : w.space;
  auto now = st.metrics->current_state();
  if (!reason.empty())
    st.metrics->set_state(component_state::degraded, reason);
  else if (now == component_state::degraded)
    st.metrics->set_state(component_state::running);
}

/// Drops records with no open event from the byte count and tells the
/// journal what is committed (it stores it and frees whole segments).
void advance_committed(file_actor* self) {
  auto& st = self->state;
  while (!st.records.empty() && st.records.front().open == 0)
    st.records.pop_front();
  st.journal->commit(st.window.snapshot());
}

/// Marks [first, first + n) done in the window and in the records that
/// hold them; returns how many were open.
std::size_t mark_done(file_actor* self, uint64_t first, std::size_t n) {
  auto& st = self->state;
  auto& rs = st.records;
  // The first record that ends after `first`.
  auto it =
      std::partition_point(rs.begin(), rs.end(), [&](const record_span& r) {
        return r.end <= first;
      });
  std::size_t total = 0;
  auto end = first + n;
  auto pos = first;
  for (; it != rs.end() && it->first < end && pos < end; ++it) {
    if (it->first > pos) {
      // Numbers in no record (skipped by a failed append).
      total += st.window.done_run(pos, it->first - pos);
      pos = it->first;
    }
    auto upto = std::min(it->end, end);
    auto k = st.window.done_run(pos, upto - pos);
    total += k;
    if (k > 0 && (it->open -= k) == 0) st.log_bytes -= it->size;
    pos = upto;
  }
  if (pos < end) total += st.window.done_run(pos, end - pos);
  return total;
}

/// Marks the numbers in `seqs` done, run by run.
void mark_done(file_actor* self, const std::vector<uint64_t>& seqs) {
  for (std::size_t i = 0; i < seqs.size();) {
    auto j = i + 1;
    while (j < seqs.size() && seqs[j] == seqs[j - 1] + 1)
      ++j;
    mark_done(self, seqs[i], j - i);
    i = j;
  }
}

/// Reads the log's next events back from disk while memory has room. A
/// record that cannot be read for now (EMFILE, ENOMEM, EIO) is tried again
/// after a pause (50 ms doubling to 5 s) while the channel is `degraded`;
/// only a record proven damaged is skipped, its events counted lost.
void refill(file_actor* self) {
  auto& st = self->state;
  if (!st.backlog || st.backlog->empty() || st.refill_pending) return;
  bool changed = false;
  while (!st.backlog->empty() && st.memory_room(1, 1)) {
    batch events;
    std::vector<uint64_t> seqs, lost;
    auto got = st.backlog->load(st.cfg.memory_events - st.in_memory(),
                                st.cfg.memory_bytes - st.memory_bytes(), events,
                                seqs, lost);
    st.queue.push(seqs, std::move(events));
    if (!lost.empty()) {
      // Damaged since recovery read it: skipped, as recovery would, and
      // counted lost.
      uint64_t records = 0, prev = 0;
      for (auto s : lost) {
        if (records == 0 || s != prev + 1) ++records;
        prev = s;
      }
      mark_done(self, lost);
      st.metrics->own(corrupt_records)
          .fetch_add(records, std::memory_order_relaxed);
      st.metrics->own(damaged_events)
          .fetch_add(lost.size(), std::memory_order_relaxed);
      spdlog::error("{}: {} events of {} records in {} no longer read back "
                    "(damaged since the start); skipped and counted lost",
                    st.metrics->name, lost.size(), records, st.cfg.directory);
      changed = true;
    }
    if (got.error != 0) {
      ++st.read_failures;
      st.why.reading = "cannot read the log back from " + st.cfg.directory +
                       ": " + std::strerror(got.error) + "; retrying";
      if (st.read_failures == 1 || st.read_failures % 50 == 0)
        spdlog::error("{}: {} (attempt {}); {} events wait on disk",
                      st.metrics->name, st.why.reading, st.read_failures,
                      st.backlog->events());
      update_state(self);
      st.refill_pending = true;
      auto delay = std::chrono::milliseconds{std::min<int64_t>(
          5000, int64_t{50} << std::min(st.read_failures - 1, 7u))};
      self->delayed_send(self, delay, refill_atom::value);
      break;
    }
    if (st.read_failures > 0) {
      spdlog::info("{}: reading the log back from {} works again after {} "
                   "failed attempts",
                   st.metrics->name, st.cfg.directory, st.read_failures);
      st.read_failures = 0;
      st.why.reading.clear();
      update_state(self);
    }
    if (events.empty() && lost.empty()) break;
  }
  if (changed) advance_committed(self);
}

caf::message open_txn(file_actor* self, const caf::actor_addr& owner,
                      std::size_t max, std::size_t max_bytes) {
  auto& st = self->state;
  auto n = std::min({max, st.cfg.transaction_capacity, st.queue.size()});
  auto id = st.next_txn++;
  file_txn t;
  t.owner = owner;
  batch events;
  t.seqs.reserve(n);
  t.bytes = st.queue.take(n, max_bytes, events, t.seqs);
  st.taken_events += events.size();
  st.taken_bytes += t.bytes;
  st.metrics->events_taken.fetch_add(events.size(), std::memory_order_relaxed);
  t.reply = caf::make_message(id, std::move(events));
  t.opened = self->clock().now();
  auto reply = t.reply;
  st.open.emplace(id, std::move(t));
  st.takes.watch(self, owner);
  return reply;
}

void serve_takes(file_actor* self) {
  auto& st = self->state;
  st.takes.serve(
      self, [&] { return !st.queue.empty(); }, open_txn);
}

void write(file_actor* self, uint64_t id, batch&& events) {
  auto addr = self->address();
  self->state.journal->append(
      std::move(events), [addr, id](filelog::journal::result r, batch&& ev) {
        // On the journal's thread: back to the actor as a message.
        if (auto hdl = caf::actor_cast<caf::actor>(addr))
          caf::anon_send(hdl, written_atom::value, id, r.error.value(), r.seq,
                         r.taken, std::move(r.segment),
                         static_cast<uint64_t>(r.offset),
                         static_cast<uint64_t>(r.size), std::move(ev));
      });
}

/// Starts writing held puts, in order, while the channel has room.
void admit_puts(file_actor* self) {
  auto& st = self->state;
  // Closed: what is still held was begun (the rest went back), and goes
  // in whole.
  while (!st.held.empty() &&
         (st.closed ||
          st.fits(st.held.front().events.size(), st.held.front().bytes))) {
    auto hp = std::move(st.held.front());
    st.held.pop_front();
    ++hp.answer->started;
    auto id = st.next_put++;
    st.writing.emplace(id,
                       writing_put{hp.answer, hp.events.size(), hp.bytes, 0});
    st.writing_events += hp.events.size();
    st.writing_bytes += hp.bytes;
    write(self, id, std::move(hp.events));
  }
}

void settle(file_actor* self) {
  auto& st = self->state;
  refill(self);
  admit_puts(self);
  serve_takes(self);
  st.publish();
  if (!st.close_waiters.empty() && st.held.empty() && st.writing.empty()) {
    for (auto& rp : st.close_waiters)
      rp.deliver(ok_atom::value);
    st.close_waiters.clear();
  }
}

/// Takes no more puts (from `only`, when set: the channel stays open for
/// others): one not begun (no part of it written) goes back to its sender
/// with its events; one begun goes in whole.
void close_channel(file_actor* self, const caf::actor_addr& only = {}) {
  auto& st = self->state;
  if (!only) st.closed = true;
  std::deque<held_put> begun;
  // The refused puts' parts, gathered in order (a put's parts are held
  // one after another).
  for (auto i = st.held.begin(); i != st.held.end();) {
    if (i->answer->started > 0 || (only && i->answer->owner != only)) {
      begun.push_back(std::move(*i));
      ++i;
      continue;
    }
    auto answer = i->answer;
    batch events;
    for (; i != st.held.end() && i->answer == answer; ++i)
      std::move(i->events.begin(), i->events.end(), std::back_inserter(events));
    if (answer->orphan || has_ended(answer->owner)) {
      // Nobody to hand them back to: read, never accepted, counted here.
      spdlog::warn("{}: closed with a put of {} events whose sender is gone; "
                   "counted as never accepted",
                   st.metrics->name, events.size());
      st.metrics->events_undelivered.fetch_add(events.size(),
                                               std::memory_order_relaxed);
      answer->answered = true;
      continue;
    }
    answer->refuse(closed_error(
        st.metrics->name +
            (only ? " is no longer on this source's route" : " is closed"),
        std::move(events)));
  }
  st.held.swap(begun);
}

/// Puts `events` (numbered `seqs`, ascending) back into the memory queue,
/// in the log's order.
void put_back(file_actor* self, const batch& events,
              const std::vector<uint64_t>& seqs,
              const std::vector<std::size_t>& which) {
  auto& st = self->state;
  if (which.empty()) return;
  st.queue.put_back(events, seqs, which);
  st.metrics->events_rolled_back.fetch_add(which.size(),
                                           std::memory_order_relaxed);
}

/// Ends transaction `id`: events named in `back` go back to the queue, the
/// others are committed.
void finish_txn(file_actor* self, file_txn&& t,
                const std::vector<std::size_t>& back) {
  auto& st = self->state;
  auto& events = t.reply.get_as<batch>(1);
  st.taken_events -= events.size();
  st.taken_bytes -= t.bytes;
  if (back.empty()) {
    mark_done(self, t.seqs);
  } else {
    std::vector<uint64_t> done;
    done.reserve(events.size() - back.size());
    std::size_t b = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (b < back.size() && back[b] == i) {
        ++b;
        continue;
      }
      done.push_back(t.seqs[i]);
    }
    mark_done(self, done);
  }
  put_back(self, events, t.seqs, back);
  st.metrics->events_committed.fetch_add(events.size() - back.size(),
                                         std::memory_order_relaxed);
  if (back.size() < events.size()) advance_committed(self);
}

std::vector<std::size_t> all_of(const file_txn& t) {
  std::vector<std::size_t> v(t.seqs.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = i;
  return v;
}

/// Ends open transaction `id`: a commit (`back` names events that go back,
/// or none), or a rollback (`what` is "rollback": all of them go back).
caf::result<ok_atom> end_txn(file_actor* self, txn_id id, const char* what,
                             const std::vector<uint32_t>* back) {
  auto& st = self->state;
  auto i = st.open.find(id);
  if (i == st.open.end()) {
    log_refused_commit(self, st.metrics->name, id);
    return make_error(errc::unknown_transaction,
                      std::string{what} + " of unknown transaction " +
                          std::to_string(id));
  }
  auto t = std::move(i->second);
  st.open.erase(i);
  std::vector<std::size_t> which;
  if (std::string_view{what} == "rollback") {
    which = all_of(t);
  } else if (back) {
    for (auto x : *back)
      if (x < t.seqs.size()) which.push_back(x);
    std::sort(which.begin(), which.end());
    which.erase(std::unique(which.begin(), which.end()), which.end());
  }
  finish_txn(self, std::move(t), which);
  settle(self);
  return ok_atom::value;
}

std::pair<std::size_t, std::size_t>
roll_back_taker(file_actor* self, const caf::actor_addr& taker);

caf::result<txn_id, batch> take(file_actor* self, uint32_t max,
                                std::size_t max_bytes) {
  auto& st = self->state;
  revoke_stale(self, st.open, st.takes, st.cfg.transaction_timeout,
               st.metrics->name, st.stale_check, roll_back_taker);
  auto r = st.takes.take(self, max, max_bytes, !st.queue.empty(),
                         st.cfg.keep_alive, open_txn);
  st.publish();
  return r;
}

void written(file_actor* self, uint64_t id, int err, uint64_t seq,
             uint64_t taken, const std::string& segment, uint64_t offset,
             uint64_t size, batch& events) {
  auto& st = self->state;
  auto it = st.writing.find(id);
  if (it == st.writing.end()) return;
  auto& wp = it->second;
  if (err != 0) {
    // Not in the log (the journal sealed that segment and moves to a new
    // one): written again after a pause; the put's sender waits meanwhile,
    // so nothing is lost and its source is held back. The numbers the
    // failed append took are never used: done.
    if (taken > 0) {
      st.window.skip(seq, static_cast<std::size_t>(taken));
      advance_committed(self);
    }
    if (err == EFBIG) {
      // Can never be written (one event larger than a record may be):
      // the sender is told, nothing waits for ever.
      st.writing_events -= wp.count;
      st.writing_bytes -= wp.bytes;
      spdlog::error("{}: refused a put of {} events: an event is larger than "
                    "a record may be ({} bytes)",
                    st.metrics->name, wp.count, filelog::max_record_payload);
      wp.answer->refuse(make_error(
          errc::batch_too_large,
          st.metrics->name + ": an event is larger than a record may be (" +
              std::to_string(filelog::max_record_payload) + " bytes)"));
      st.writing.erase(it);
      settle(self);
      return;
    }
    ++wp.failures;
    st.metrics->own(write_errors).fetch_add(1, std::memory_order_relaxed);
    st.why.writing = "cannot write to " + st.cfg.directory + ": " +
                     std::strerror(err) + "; retrying";
    if (wp.failures == 1 || wp.failures % 50 == 0)
      spdlog::error("{}: {} (put of {} events, attempt {})", st.metrics->name,
                    st.why.writing, wp.count, wp.failures);
    update_state(self);
    auto delay = std::chrono::milliseconds{
        std::min<int64_t>(5000, int64_t{50} << std::min(wp.failures, 7u))};
    self->delayed_send(self, delay, retry_atom::value, id, std::move(events));
    return;
  }
  if (!st.why.writing.empty()) {
    st.why.writing.clear();
    update_state(self);
  }
  auto n = wp.count;
  st.window.add(seq, n);
  st.records.push_back(
      record_span{seq, seq + n, n, static_cast<std::size_t>(size)});
  st.log_bytes += size;
  st.writing_events -= n;
  st.writing_bytes -= wp.bytes;
  auto answer = wp.answer;
  st.metrics->events_put.fetch_add(n, std::memory_order_relaxed);
  st.metrics->tap.offer(events);
  // Kept in memory when it can be, in the log's order: only while nothing
  // is waiting on disk ahead of it.
  if ((!st.backlog || st.backlog->empty()) && st.memory_room(n, wp.bytes)) {
    st.queue.push(seq, std::move(events), wp.bytes);
  } else {
    st.backlog->push(segment, static_cast<std::size_t>(offset),
                     static_cast<std::size_t>(size), seq,
                     static_cast<uint32_t>(n));
  }
  st.writing.erase(it);
  answer->part_done();
  settle(self);
}

/// Rolls back every transaction `taker` holds.
std::pair<std::size_t, std::size_t>
roll_back_taker(file_actor* self, const caf::actor_addr& taker) {
  return roll_back_owner(
      self, self->state.open, taker,
      [](file_actor* s, file_txn t) {
        auto all = all_of(t);
        finish_txn(s, std::move(t), std::move(all));
      },
      [](const file_txn& t) { return all_of(t).size(); });
}

caf::behavior file_channel(file_actor* self, file_config cfg,
                           std::shared_ptr<component_metrics> metrics,
                           std::shared_ptr<opened> start) {
  auto& st = self->state;
  st.cfg = cfg;
  st.metrics = std::move(metrics);
  st.events_held = &st.metrics->own(events_held);
  st.lock = std::move(start->dir.lock);
  st.journal = std::move(start->journal);
  auto& rec = start->dir.recovered;
  st.window = filelog::commit_window{rec.committed.below};
  for (auto& ref : rec.pending) {
    st.window.add(ref.seq, ref.count);
    auto open = rec.committed.open_in(ref.seq, ref.seq + ref.count);
    st.records.push_back(
        record_span{ref.seq, ref.seq + ref.count, open, ref.size});
    st.log_bytes += ref.size;
  }
  // Numbers past the last record (a failed append's) are done too, and
  // so is what the ack state names committed above its position.
  st.window.add(rec.next_seq, 0);
  for (auto& r : rec.committed.ranges)
    st.window.done_run(r.from, r.to - r.from);
  st.backlog.emplace(std::move(rec));
  start.reset();
  advance_committed(self);
  st.metrics->durable = true;
  st.metrics->channel_capacity.store(cfg.capacity);
  st.metrics->set_state(component_state::running);
  settle(self);
  tolerate_strays(self, st.metrics->name);
  fail_on_exceptions(self, st.metrics, component_state::failed);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    st.takes.down(dm.source);
    auto [txns, events] = roll_back_taker(self, dm.source);
    log_lost_leases(self, st.metrics->name, dm, txns, events);
    // A sender that died while its put waited for room: the put still goes
    // in as room frees (its events are counted nowhere else), unless the
    // channel closes first.
    for (auto& hp : st.held)
      if (hp.answer->owner == dm.source) hp.answer->orphan = true;
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
    auto answer = std::make_shared<put_answer>();
    answer->rp = self->make_response_promise();
    answer->parts = 0;
    answer->owner = caf::actor_cast<caf::actor_addr>(self->current_sender());
    st.takes.watch(self, answer->owner);
    // One record per put, but no record over record_bytes: a larger
    // put goes in as several, answered once all are in.
    std::size_t i = 0;
    while (i < events.size()) {
      std::size_t j = i, bytes = 0;
      while (j < events.size() &&
             (j == i || bytes + event_bytes(events[j]) <= st.cfg.record_bytes))
        bytes += event_bytes(events[j++]);
      ++answer->parts;
      st.held.push_back(held_put{answer, move_range(events, i, j), bytes});
      i = j;
    }
    admit_puts(self);
    if (hold && answer->started == 0) {
      // One timer per put that has to wait, none for one that goes in.
      answer->expiry = st.next_expiry++;
      self->delayed_send(self, *hold, put_expired_atom::value, answer->expiry);
    }
    st.publish();
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
        // Its hold is over: refused if no part of it was handed to the
        // journal (the sender's client is told to send it again); begun,
        // it goes in whole.
        auto& st = self->state;
        std::shared_ptr<put_answer> answer;
        for (auto& hp : st.held)
          if (hp.answer->expiry == id) answer = hp.answer;
        if (!answer || answer->started > 0) return;
        std::erase_if(st.held,
                      [&](const held_put& hp) { return hp.answer == answer; });
        answer->refuse(make_error(errc::channel_full,
                                  st.metrics->name + " stayed full for the "
                                                     "put's hold time"));
        settle(self);
      },
      [self, put](try_put_atom, batch& events) -> caf::result<ok_atom> {
        // In now (answered once written, as any put), or refused: never
        // held for room or disk space (an optional channel's part).
        auto& st = self->state;
        if (!st.closed && !events.empty() &&
            (!st.held.empty() || !st.fits(events.size(), event_bytes(events))))
          return make_error(errc::channel_full, st.metrics->name + " is full");
        return put(events, std::nullopt);
      },
      [put](put_atom, batch& events, std::shared_ptr<put_receipt>&) {
        return put(events, std::nullopt);
      },
      [self](written_atom, uint64_t id, int err, uint64_t seq, uint64_t taken,
             const std::string& segment, uint64_t offset, uint64_t size,
             batch& events) {
        written(self, id, err, seq, taken, segment, offset, size, events);
      },
      [self](close_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        close_channel(self);
        if (st.held.empty() && st.writing.empty()) {
          settle(self);
          return ok_atom::value;
        }
        st.close_waiters.push_back(self->make_response_promise());
        settle(self);
        return caf::delegated<ok_atom>{};
      },
      [self](close_atom, const caf::actor_addr& sender) {
        close_channel(self, sender);
        settle(self);
        return ok_atom::value;
      },
      [self](refill_atom) {
        self->state.refill_pending = false;
        settle(self);
      },
      [self](space_atom, const std::string& why) {
        auto& st = self->state;
        st.why.space = why;
        update_state(self);
      },
      [self](retry_atom, uint64_t id, batch& events) {
        if (self->state.writing.count(id) != 0)
          write(self, id, std::move(events));
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
      [self](commit_atom, txn_id id) {
        return end_txn(self, id, "commit", nullptr);
      },
      [self](commit_atom, txn_id id, const std::vector<uint32_t>& back) {
        return end_txn(self, id, "commit", &back);
      },
      [self](get_atom, txn_id id) -> caf::result<batch> {
        auto& st = self->state;
        auto i = st.open.find(id);
        if (i == st.open.end())
          return make_error(errc::unknown_transaction,
                            "no open transaction " + std::to_string(id));
        return i->second.reply.get_as<batch>(1);
      },
      [self](rollback_atom, txn_id id) {
        return end_txn(self, id, "rollback", nullptr);
      },
      [self](rollback_atom, const caf::actor_addr& taker) {
        // Revoke: the taker was cut off (its node hangs): what it holds
        // goes back now, and it may take or commit nothing more.
        auto& st = self->state;
        revoke_taker(st.takes, st.metrics->name, taker,
                     [&] { return roll_back_taker(self, taker); });
        settle(self);
      },
  };
}

} // namespace

caf::actor spawn_file(caf::actor_system& sys, const file_config& cfg,
                      const wiring& w) {
  // Its own families, shown (at 0) from the start.
  for (auto& f : {corrupt_records, damaged_bytes, damaged_events, write_errors,
                  events_held})
    w.metrics->own(f);
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto start = std::make_shared<opened>();
  start->dir = filelog::open_directory(cfg.directory);
  auto& rec = start->dir.recovered;
  for (auto& d : rec.damages) {
    // Logged with file and offset, counted; never a reason not to start.
    auto lost = d.events > 0 ? "; " + std::to_string(d.events) +
                                   " uncommitted events lost with it"
                             : std::string{};
    auto level = d.events > 0 ? spdlog::level::err : spdlog::level::warn;
    spdlog::log(level, "{}: {} in {} at offset {} ({} bytes){}{}",
                w.metrics->name, filelog::to_string(d.what), d.path, d.offset,
                d.bytes,
                d.what == filelog::damage::kind::torn_tail ? ", truncated"
                                                           : ", skipped",
                lost);
    if (d.what == filelog::damage::kind::corrupt_record)
      w.metrics->own(corrupt_records).fetch_add(1, std::memory_order_relaxed);
    // A torn tail cuts off an append that was never answered, unless a
    // later segment says it was written: then its bytes count too.
    if (d.what != filelog::damage::kind::torn_tail || d.events > 0)
      w.metrics->own(damaged_bytes)
          .fetch_add(d.bytes, std::memory_order_relaxed);
    w.metrics->own(damaged_events)
        .fetch_add(d.events, std::memory_order_relaxed);
  }
  filelog::journal_options jo;
  jo.dir = cfg.directory;
  jo.name = w.metrics ? w.metrics->name : std::string{};
  jo.max_file_size = cfg.max_file_size;
  jo.fsync = cfg.fsync;
  jo.fsync_interval = cfg.fsync_interval;
  jo.min_free_space = cfg.min_free_space;
  // Puts held for want of space make the channel `degraded` with the
  // reason: the journal tells the actor (known once it is spawned, below).
  auto relay = std::make_shared<space_relay>();
  jo.on_space = [relay](const std::string& why) { relay->tell(why); };
  try {
    start->journal =
        std::make_unique<filelog::journal>(jo, rec.segments, rec.next_seq);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot write in channel directory " +
                             cfg.directory + ": " + e.what());
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0)
          .count();
  spdlog::info("{}: {} ready in {} ms: {} uncommitted events in {} records "
               "({} bytes) after position {}; read {} records, {} bytes",
               w.metrics->name, cfg.directory, ms, rec.pending_events,
               rec.pending.size(), rec.pending_bytes, rec.committed.below,
               rec.records_read, rec.bytes_read);
  // Shown before its actor first runs: an --exit-on-eof stop reads the
  // size, and a 0 there stopped an agent with its backlog undelivered.
  w.metrics->channel_size.store(rec.pending_events, std::memory_order_relaxed);
  w.metrics->channel_bytes.store(rec.pending_bytes, std::memory_order_relaxed);
  w.metrics->durable = true;
  // Detached: it reads the log back from disk (blocking) as room frees.
  auto hdl =
      sys.spawn<caf::detached>(file_channel, cfg, w.metrics, std::move(start));
  relay->set(hdl.address());
  return hdl;
}

} // namespace flumen::channels
