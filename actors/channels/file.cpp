#include "actors/channels/file.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/channels/filelog/queue_parts.hpp"
#include "actors/channels/filelog/tools.hpp"
#include "actors/channels/takers.hpp"
#include "runtime/protocol.hpp"

namespace flumen::channels {

file_config parse_file(option_reader& r) {
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
  if (r.has("fsync_interval") && cfg.fsync != filelog::fsync_policy::interval)
    r.error("fsync_interval",
            "applies only to `fsync: interval` (fsync is " + fsync + ")");
  cfg.fsync_interval = r.duration("fsync_interval", cfg.fsync_interval);
  if (cfg.fsync_interval.count() <= 0) {
    r.error("fsync_interval", "must be positive");
    cfg.fsync_interval = std::chrono::milliseconds{1000};
  }
  cfg.keep_alive = r.duration("keep_alive", cfg.keep_alive);
  if (cfg.transaction_capacity > cfg.capacity)
    r.error("transaction_capacity",
            "must not exceed capacity (" + std::to_string(cfg.capacity) + ")");
  if (cfg.max_file_size < 4096) {
    r.error("max_file_size", "must be at least 4KB");
    cfg.max_file_size = 4096;
  }
  if (cfg.byte_capacity != 0 && cfg.byte_capacity < 2 * cfg.max_file_size)
    r.error("byte_capacity",
            "must be 0 (no bound) or at least twice max_file_size (" +
                std::to_string(cfg.max_file_size) +
                " bytes): segments are freed whole");
  cfg.memory_events = 8 * cfg.transaction_capacity;
  auto& f = r.facts();
  f.capacity = cfg.capacity;
  f.transaction_capacity = cfg.transaction_capacity;
  f.byte_capacity = cfg.byte_capacity;
  f.directory = cfg.directory;
  return cfg;
}

namespace {

using written_atom = caf::atom_constant<caf::atom("written")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// An event and its number in the log.
struct entry {
  uint64_t seq;
  event ev;
};

struct file_txn {
  caf::actor_addr owner;
  caf::message reply; ///< (txn_id, batch) as sent to the taker
  std::vector<uint64_t> seqs;
  std::size_t bytes = 0;
};

/// A put waiting for room in the channel.
struct held_put {
  caf::response_promise rp;
  batch events;
  std::size_t bytes = 0;
};

/// A put the journal is writing (or will write again after a failure).
struct writing_put {
  caf::response_promise rp;
  std::size_t count = 0;
  std::size_t bytes = 0;
  unsigned failures = 0;
};

/// A record not yet wholly committed: its end and its size on disk.
struct record_span {
  uint64_t end = 0;
  std::size_t size = 0;
};

/// What the actor starts with: the directory opened by spawn_file.
struct opened {
  filelog::opened_directory dir;
  std::unique_ptr<filelog::journal> journal;
};

struct file_state {
  file_config cfg;
  std::shared_ptr<component_metrics> metrics;
  // Destroyed in reverse: the journal (which writes what is queued and
  // stores the committed position) before the lock is let go.
  std::unique_ptr<filelog::dir_lock> lock;
  std::unique_ptr<filelog::journal> journal;
  std::optional<filelog::disk_backlog> backlog;
  filelog::commit_window window;
  std::deque<entry> queue; ///< in memory, ordered by number
  std::size_t queue_bytes = 0;
  std::size_t taken_events = 0;
  std::size_t taken_bytes = 0;
  std::unordered_map<txn_id, file_txn> open;
  std::deque<held_put> held;
  std::unordered_map<uint64_t, writing_put> writing;
  std::size_t writing_events = 0;
  std::size_t writing_bytes = 0;
  takers takes; ///< held takes, watched takers
  std::deque<record_span> records;
  std::size_t log_bytes = 0; ///< sizes of `records`
  txn_id next_txn = 1;
  uint64_t next_put = 1;

  static inline const char* name = "file_channel";

  /// Events the channel holds or is writing.
  std::size_t used() const { return window.open() + writing_events; }
  std::size_t used_bytes() const { return log_bytes + writing_bytes; }
  std::size_t in_memory() const { return queue.size() + taken_events; }
  std::size_t memory_bytes() const { return queue_bytes + taken_bytes; }

  bool fits(std::size_t n, std::size_t bytes) const {
    // Alone in an empty channel, anything goes in: never refused for size.
    if (used() == 0) return true;
    return used() + n <= cfg.capacity &&
           (cfg.byte_capacity == 0 ||
            used_bytes() + bytes <= cfg.byte_capacity);
  }

  bool memory_room(std::size_t n, std::size_t bytes) const {
    return in_memory() + n <= cfg.memory_events &&
           memory_bytes() + bytes <= cfg.memory_bytes;
  }

  void publish() {
    metrics->channel_size.store(window.open(), std::memory_order_relaxed);
    metrics->channel_bytes.store(log_bytes, std::memory_order_relaxed);
    metrics->open_transactions.store(open.size(), std::memory_order_relaxed);
  }
};

using file_actor = caf::stateful_actor<file_state>;

/// Drops records wholly below the committed position from the byte count
/// and tells the journal (which stores it and frees whole segments).
void advance_committed(file_actor* self) {
  auto& st = self->state;
  auto committed = st.window.committed();
  while (!st.records.empty() && st.records.front().end <= committed) {
    st.log_bytes -= st.records.front().size;
    st.records.pop_front();
  }
  st.journal->commit_below(committed);
}

/// Reads the log's next events back from disk while memory has room.
void refill(file_actor* self) {
  auto& st = self->state;
  if (!st.backlog || st.backlog->empty()) return;
  bool changed = false;
  while (!st.backlog->empty() && st.memory_room(1, 1)) {
    batch events;
    std::vector<uint64_t> seqs, lost;
    st.backlog->load(st.cfg.memory_events - st.in_memory(),
                     st.cfg.memory_bytes - st.memory_bytes(), events, seqs,
                     lost);
    for (std::size_t i = 0; i < events.size(); ++i) {
      st.queue_bytes += event_bytes(events[i]);
      st.queue.push_back(entry{seqs[i], std::move(events[i])});
    }
    if (!lost.empty()) {
      // Damaged since recovery read it: skipped, as recovery would.
      uint64_t records = 0, prev = 0;
      for (auto s : lost) {
        if (records == 0 || s != prev + 1) ++records;
        prev = s;
        st.window.done(s);
      }
      st.metrics->corrupt_records.fetch_add(records, std::memory_order_relaxed);
      spdlog::error("{}: {} events of {} records in {} no longer read back "
                    "(damaged since the start); skipped",
                    st.metrics->name, lost.size(), records, st.cfg.directory);
      changed = true;
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
  events.reserve(n);
  t.seqs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto b = event_bytes(st.queue.front().ev);
    if (max_bytes != 0 && i > 0 && t.bytes + b > max_bytes) break;
    t.bytes += b;
    t.seqs.push_back(st.queue.front().seq);
    events.emplace_back(std::move(st.queue.front().ev));
    st.queue.pop_front();
  }
  st.queue_bytes -= t.bytes;
  st.taken_events += events.size();
  st.taken_bytes += t.bytes;
  st.metrics->events_taken.fetch_add(events.size(), std::memory_order_relaxed);
  t.reply = caf::make_message(id, std::move(events));
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
                         std::move(r.segment), static_cast<uint64_t>(r.offset),
                         static_cast<uint64_t>(r.size), std::move(ev));
      });
}

/// Starts writing held puts, in order, while the channel has room.
void admit_puts(file_actor* self) {
  auto& st = self->state;
  while (!st.held.empty() &&
         st.fits(st.held.front().events.size(), st.held.front().bytes)) {
    auto hp = std::move(st.held.front());
    st.held.pop_front();
    auto id = st.next_put++;
    st.writing.emplace(id, writing_put{hp.rp, hp.events.size(), hp.bytes, 0});
    st.writing_events += hp.events.size();
    st.writing_bytes += hp.bytes;
    write(self, id, std::move(hp.events));
  }
}

void settle(file_actor* self) {
  refill(self);
  admit_puts(self);
  serve_takes(self);
  self->state.publish();
}

/// Puts `events` (numbered `seqs`, ascending) back into the memory queue,
/// in the log's order.
void put_back(file_actor* self, const batch& events,
              const std::vector<uint64_t>& seqs,
              const std::vector<std::size_t>& which) {
  auto& st = self->state;
  if (which.empty()) return;
  std::deque<entry> merged;
  auto q = st.queue.begin();
  for (auto i : which) {
    while (q != st.queue.end() && q->seq < seqs[i])
      merged.push_back(std::move(*q++));
    st.queue_bytes += event_bytes(events[i]);
    merged.push_back(entry{seqs[i], events[i]});
  }
  std::move(q, st.queue.end(), std::back_inserter(merged));
  st.queue.swap(merged);
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
  std::size_t b = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (b < back.size() && back[b] == i) {
      ++b;
      continue;
    }
    st.window.done(t.seqs[i]);
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

caf::result<txn_id, batch> take(file_actor* self, uint32_t max,
                                std::size_t max_bytes) {
  auto& st = self->state;
  auto r = st.takes.take(self, max, max_bytes, !st.queue.empty(),
                         st.cfg.keep_alive, open_txn);
  st.publish();
  return r;
}

void written(file_actor* self, uint64_t id, int err, uint64_t seq,
             const std::string& segment, uint64_t offset, uint64_t size,
             batch& events) {
  auto& st = self->state;
  auto it = st.writing.find(id);
  if (it == st.writing.end()) return;
  auto& wp = it->second;
  if (err != 0) {
    // Not in the log (the journal sealed that segment and moves to a new
    // one): written again after a pause; the put's sender waits meanwhile,
    // so nothing is lost and its source is held back.
    ++wp.failures;
    st.metrics->write_errors.fetch_add(1, std::memory_order_relaxed);
    auto why = "cannot write to " + st.cfg.directory + ": " +
               std::strerror(err) + "; retrying";
    if (wp.failures == 1 || wp.failures % 50 == 0)
      spdlog::error("{}: {} (put of {} events, attempt {})", st.metrics->name,
                    why, wp.count, wp.failures);
    st.metrics->set_state(component_state::degraded, why);
    auto delay = std::chrono::milliseconds{
        std::min<int64_t>(5000, int64_t{50} << std::min(wp.failures, 7u))};
    self->delayed_send(self, delay, retry_atom::value, id, std::move(events));
    return;
  }
  if (st.metrics->current_state() == component_state::degraded)
    st.metrics->set_state(component_state::running);
  auto n = wp.count;
  st.window.add(seq, n);
  st.records.push_back(record_span{seq + n, static_cast<std::size_t>(size)});
  st.log_bytes += size;
  st.writing_events -= n;
  st.writing_bytes -= wp.bytes;
  auto rp = wp.rp;
  st.metrics->events_put.fetch_add(n, std::memory_order_relaxed);
  st.metrics->tap.offer(events);
  // Kept in memory when it can be, in the log's order: only while nothing
  // is waiting on disk ahead of it.
  if ((!st.backlog || st.backlog->empty()) && st.memory_room(n, wp.bytes)) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      st.queue_bytes += event_bytes(events[i]);
      st.queue.push_back(entry{seq + i, std::move(events[i])});
    }
  } else {
    st.backlog->push(segment, static_cast<std::size_t>(offset),
                     static_cast<std::size_t>(size), seq,
                     static_cast<uint32_t>(n));
  }
  st.writing.erase(it);
  rp.deliver(ok_atom::value);
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
  st.lock = std::move(start->dir.lock);
  st.journal = std::move(start->journal);
  auto& rec = start->dir.recovered;
  st.window = filelog::commit_window{rec.committed};
  for (auto& ref : rec.pending) {
    st.window.add(ref.seq, ref.count);
    st.records.push_back(record_span{ref.seq + ref.count, ref.size});
    st.log_bytes += ref.size;
  }
  // Numbers past the last record (a failed append's) are done too.
  st.window.add(rec.next_seq, 0);
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
    settle(self);
  });
  return {
      [self](put_atom, batch& events) -> caf::result<ok_atom> {
        auto& st = self->state;
        if (events.empty()) return ok_atom::value;
        auto rp = self->make_response_promise();
        auto bytes = event_bytes(events);
        st.held.push_back(held_put{rp, std::move(events), bytes});
        admit_puts(self);
        st.publish();
        return caf::delegated<ok_atom>{};
      },
      [self](written_atom, uint64_t id, int err, uint64_t seq,
             const std::string& segment, uint64_t offset, uint64_t size,
             batch& events) {
        written(self, id, err, seq, segment, offset, size, events);
      },
      [self](retry_atom, uint64_t id, batch& events) {
        if (self->state.writing.count(id) != 0)
          write(self, id, std::move(events));
      },
      [self](take_atom, uint32_t max) { return take(self, max, 0); },
      [self](take_atom, uint32_t max, uint64_t max_bytes) {
        return take(self, max, static_cast<std::size_t>(max_bytes));
      },
      [self](tick_atom, uint64_t take_id) {
        // A held take timed out: answered empty, so the sink can check
        // for a stop and come back.
        self->state.takes.expire(take_id);
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
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto start = std::make_shared<opened>();
  start->dir = filelog::open_directory(cfg.directory);
  auto& rec = start->dir.recovered;
  for (auto& d : rec.damages) {
    // Logged with file and offset, counted; never a reason not to start.
    spdlog::warn("{}: {} in {} at offset {} ({} bytes){}", w.metrics->name,
                 filelog::to_string(d.what), d.path, d.offset, d.bytes,
                 d.what == filelog::damage::kind::torn_tail ? ", truncated"
                                                            : ", skipped");
    if (d.what == filelog::damage::kind::corrupt_record)
      w.metrics->corrupt_records.fetch_add(1, std::memory_order_relaxed);
    if (d.what != filelog::damage::kind::torn_tail)
      w.metrics->damaged_bytes.fetch_add(d.bytes, std::memory_order_relaxed);
  }
  filelog::journal_options jo;
  jo.dir = cfg.directory;
  jo.name = w.metrics ? w.metrics->name : std::string{};
  jo.max_file_size = cfg.max_file_size;
  jo.fsync = cfg.fsync;
  jo.fsync_interval = cfg.fsync_interval;
  jo.min_free_space = cfg.min_free_space;
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
               rec.pending.size(), rec.pending_bytes, rec.committed,
               rec.records_read, rec.bytes_read);
  // Detached: it reads the log back from disk (blocking) as room frees.
  return sys.spawn<caf::detached>(file_channel, cfg, w.metrics,
                                  std::move(start));
}

} // namespace flumen::channels
