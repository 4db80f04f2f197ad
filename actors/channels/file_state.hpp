#pragma once

// The file channel actor's state and the records it keeps about puts and
// transactions (actors/channels/file.cpp is the actor). Internal to the
// file channel.

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/channels/file.hpp"
#include "actors/channels/file_queue.hpp"
#include "actors/channels/filelog/queue_parts.hpp"
#include "actors/channels/filelog/tools.hpp"
#include "actors/channels/takers.hpp"
#include "runtime/flow/protocol.hpp"

namespace flumen::channels::file_detail {

using written_atom = caf::atom_constant<caf::atom("written")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using refill_atom = caf::atom_constant<caf::atom("refill")>;
using space_atom = caf::atom_constant<caf::atom("space")>;

struct file_txn {
  caf::actor_addr owner;
  /// When it was opened, on the actor system's clock.
  std::chrono::steady_clock::time_point opened{};
  caf::message reply; ///< (txn_id, batch) as sent to the taker
  std::vector<uint64_t> seqs;
  std::size_t bytes = 0;
};

/// The answer of a put, once each of its parts is in the log (a put larger
/// than a record is written in parts).
struct put_answer {
  caf::response_promise rp;
  std::size_t parts = 1;
  std::size_t started = 0; ///< parts handed to the journal
  bool answered = false;
  caf::actor_addr owner; ///< its sender, watched
  bool orphan = false;   ///< its sender died
  /// A put with a hold (protocol.hpp): its number for put_expired_atom,
  /// refused then if no part of it was handed to the journal; 0: held as
  /// long as it takes.
  uint64_t expiry = 0;
  /// Answers when the last part is in.
  void part_done() {
    if (--parts == 0 && !answered) {
      answered = true;
      rp.deliver(ok_atom::value);
    }
  }
  void refuse(caf::error err) {
    if (answered) return;
    answered = true;
    rp.deliver(std::move(err));
  }
};

/// A put (or part of one) waiting for room in the channel.
struct held_put {
  std::shared_ptr<put_answer> answer;
  batch events;
  std::size_t bytes = 0;
};

/// A put the journal is writing (or will write again after a failure).
struct writing_put {
  std::shared_ptr<put_answer> answer;
  std::size_t count = 0;
  std::size_t bytes = 0;
  unsigned failures = 0;
};

/// A record not yet wholly committed: its numbers, how many of them are
/// still open, and its size on disk.
struct record_span {
  uint64_t first = 0;
  uint64_t end = 0;
  uint64_t open = 0;
  std::size_t size = 0;
};

/// Why the channel is degraded, by cause (any set: degraded, the first
/// reason shown).
struct trouble {
  std::string writing; ///< appends fail (retried)
  std::string reading; ///< the backlog cannot be read back now (retried)
  std::string space;   ///< puts are held for want of disk space
};

/// Carries the journal's word on disk space (from its thread) to the
/// channel, which may not exist yet when the journal first speaks.
class space_relay {
public:
  void set(caf::actor_addr addr) {
    std::lock_guard guard{mtx_};
    addr_ = std::move(addr);
    if (auto hdl = caf::actor_cast<caf::actor>(addr_))
      caf::anon_send(hdl, space_atom::value, last_);
  }
  void tell(const std::string& why) {
    std::lock_guard guard{mtx_};
    last_ = why;
    if (auto hdl = caf::actor_cast<caf::actor>(addr_))
      caf::anon_send(hdl, space_atom::value, why);
  }

private:
  std::mutex mtx_;
  caf::actor_addr addr_;
  std::string last_;
};

/// What the actor starts with: the directory opened by spawn_file.
struct opened {
  filelog::opened_directory dir;
  std::unique_ptr<filelog::journal> journal;
};

struct file_state {
  file_config cfg;
  std::shared_ptr<component_metrics> metrics;
  /// Its own gauge `events_held` (file.cpp): events of puts waiting for
  /// room, whose senders have no answer yet.
  std::atomic<uint64_t>* events_held = nullptr;
  // Destroyed in reverse: the journal (which writes what is queued and
  // stores the committed position) before the lock is let go.
  std::unique_ptr<filelog::dir_lock> lock;
  std::unique_ptr<filelog::journal> journal;
  std::optional<filelog::disk_backlog> backlog;
  filelog::commit_window window;
  memory_runs queue; ///< in memory, ordered by number
  std::size_t taken_events = 0;
  std::size_t taken_bytes = 0;
  std::unordered_map<txn_id, file_txn> open;
  std::deque<held_put> held;
  std::unordered_map<uint64_t, writing_put> writing;
  std::size_t writing_events = 0;
  std::size_t writing_bytes = 0;
  takers takes; ///< held takes, watched takers
  /// When stale transactions were last looked for.
  std::chrono::steady_clock::time_point stale_check{};
  std::deque<record_span> records; ///< by number
  std::size_t log_bytes = 0;       ///< sizes of `records` with open events
  trouble why;
  /// Closed (close_atom): puts are refused; close_waiters hear once every
  /// put the channel held is answered.
  bool closed = false;
  std::vector<caf::response_promise> close_waiters;
  unsigned read_failures = 0;
  bool refill_pending = false; ///< a refill_atom is on its way
  txn_id next_txn = 1;
  uint64_t next_put = 1;
  uint64_t next_expiry = 1;

  static inline const char* name = "file_channel";

  /// Events the channel holds or is writing.
  std::size_t used() const { return window.open() + writing_events; }
  std::size_t used_bytes() const { return log_bytes + writing_bytes; }
  std::size_t in_memory() const { return queue.size() + taken_events; }
  std::size_t memory_bytes() const { return queue.bytes() + taken_bytes; }

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
    if (events_held) {
      uint64_t n = 0;
      for (auto& hp : held)
        n += hp.events.size();
      events_held->store(n, std::memory_order_relaxed);
    }
  }
};

using file_actor = caf::stateful_actor<file_state>;

} // namespace flumen::channels::file_detail
