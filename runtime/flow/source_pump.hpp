#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include <caf/fwd.hpp>

#include "runtime/core/clock.hpp"
#include "runtime/core/event.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

/// The bridge between a source's reader thread (blocking I/O: sockets,
/// pipes, files) and the actor world. The reader builds batches and calls
/// `emit`, which blocks while `max_inflight` batches are unanswered: a
/// reader that is blocked reads nothing, so a TCP client is pushed back by
/// the kernel. The source actor puts each batch downstream and returns the
/// window slot when the batch was accepted.
class source_pump {
public:
  /// The reader waits (a full window, `wait_accepted`, `sleep_for`) on
  /// `time` (null: the real clock).
  explicit source_pump(std::size_t max_inflight,
                       std::shared_ptr<clock> time = nullptr);
  ~source_pump();

  source_pump(const source_pump&) = delete;
  source_pump& operator=(const source_pump&) = delete;

  /// Hands a batch to the source actor. Blocks while the window is full.
  /// Counts the events as received. Returns false when the source is being
  /// torn down: the batch then counts as undelivered (nothing accepted
  /// before is lost); a graceful stop still lets batches through.
  bool emit(batch&& events);

  /// True once a graceful stop was asked: the reader should flush what it
  /// holds, call `emit` a last time and return.
  bool stopping() const { return stopping_.load(); }

  /// True when the source actor is gone: `emit` won't block any more.
  bool aborted() const { return aborted_.load(); }

  /// A file descriptor that becomes readable on stop or abort, for readers
  /// that wait in poll(2).
  int wake_fd() const { return wake_fd_; }

  /// Sleeps up to `d`; returns early (false) on stop or abort.
  bool sleep_for(std::chrono::milliseconds d);

  /// The clock the pump waits on (the reader's).
  clock& time() { return *time_; }

  component_metrics& metrics() { return *metrics_; }

  /// Events handed to the source actor so far (emit returned true).
  uint64_t emitted() const { return emitted_.load(); }

  /// Like `emit`; returns the batch's number (1, 2, ... in emit order), or
  /// 0 when it was not handed over. For readers that record how far their
  /// input was accepted (e.g. a file position).
  uint64_t emit_numbered(batch&& events);

  /// Every batch numbered below this was accepted downstream (batches may
  /// be accepted out of order; this is the accepted prefix).
  uint64_t accepted_below() const { return accepted_below_.load(); }

  /// Blocks until every batch numbered up to `number` was accepted (or
  /// dropped by policy: an interceptor failed on it, counted); false when
  /// the source is torn down first (a put that fails tears it down).
  bool wait_accepted(uint64_t number);

  /// True when `emit` would not block now: fewer than `max_inflight`
  /// batches are unanswered. (Only the reader emits, so it stays true until
  /// it emits.) A reader that must keep serving its input while the window
  /// is full (the kafka source keeps polling its consumer group) asks this
  /// instead of blocking.
  bool has_room();

  /// Blocks until `has_room()` or `deadline` (on the real clock) passed;
  /// returns `has_room()`.
  bool wait_room_until(std::chrono::steady_clock::time_point deadline);

  /// True when batch `number` was accepted (or dropped by policy), in any
  /// order: the kafka source keeps a watermark per partition.
  bool is_accepted(uint64_t number);

  /// Counts acceptances: changes whenever some batch was accepted (a reader
  /// looks at its batches again only then).
  uint64_t acceptances() const { return acceptances_.load(); }

  /// Blocks until every batch in `numbers` was accepted, `deadline` (on the
  /// real clock) passed or the source is torn down; true when all were.
  bool wait_accepted_until(const std::vector<uint64_t>& numbers,
                           std::chrono::steady_clock::time_point deadline);

  /// Blocks until no batch is unanswered (accepted, or refused and
  /// counted) or the source is torn down; false then.
  bool wait_idle();

  // -- used by the source actor --------------------------------------------

  void bind(caf::actor self, std::shared_ptr<component_metrics> metrics);
  void release();
  /// Batch `number` was accepted downstream.
  void accepted(uint64_t number);
  void request_stop();
  void abort();
  /// The reader thread is returning: joining it now takes no time.
  void reader_exited() { reader_exited_ = true; }
  bool has_reader_exited() const { return reader_exited_.load(); }

private:
  void wake();

  std::size_t max_inflight_;
  std::shared_ptr<clock> time_;
  std::size_t inflight_ = 0;
  std::atomic<uint64_t> emitted_{0};
  uint64_t batches_emitted_ = 0;
  std::atomic<uint64_t> accepted_below_{1};
  std::set<uint64_t> accepted_ahead_; ///< accepted, above the prefix
  std::atomic<uint64_t> acceptances_{0};
  std::mutex mtx_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> aborted_{false};
  std::atomic<bool> reader_exited_{false};
  int wake_fd_ = -1;
  std::unique_ptr<caf::actor> self_;
  std::shared_ptr<component_metrics> metrics_;
};

/// The body of a source: runs on its own thread, reads from outside and
/// emits batches until it returns (end of input, or a stop).
using reader_fn = std::function<void(source_pump&)>;

/// Spawns a source actor that runs `reader` on its own thread and puts what
/// it emits to `downstream`, at most `max_inflight` batches at a time. A
/// batch the channel refuses (too large for it, channel gone) is counted in
/// `events_dropped` and logged. Answers
/// `stop_atom` once the reader returned and every batch was accepted, and
/// `tick_atom` (ok) at once: a round trip. The
/// pump waits on `time` (null: the real clock), which should be the
/// reader's.
caf::actor spawn_source(caf::actor_system& sys, reader_fn reader,
                        caf::actor downstream,
                        std::shared_ptr<component_metrics> metrics,
                        std::size_t max_inflight = 4,
                        std::shared_ptr<clock> time = nullptr);

} // namespace flumen
