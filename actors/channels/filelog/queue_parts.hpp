#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "actors/channels/filelog/log_dir.hpp"
#include "actors/channels/filelog/seq_ranges.hpp"
#include "runtime/core/event.hpp"

namespace flumen::filelog {

/// Which numbered events are done (committed), from the committed position
/// on: the position moves over the done prefix. Sinks may commit out of
/// order; only the oldest event still open holds the position back, and
/// what is done above it is kept as ranges (their number grows with the
/// holes, not with the events: one transaction that never settles costs
/// one range).
class commit_window {
public:
  explicit commit_window(uint64_t committed = 0)
      : base_(committed), end_(committed) {}

  /// Numbers [first, first + n) are live. Numbers between end() and
  /// `first` were never used (a failed append): done at once. Numbers
  /// below end() are ignored.
  void add(uint64_t first, std::size_t n);

  /// Numbers [first, first + n) were given to an append that failed: done
  /// (never live). Those below end() are ignored.
  void skip(uint64_t first, std::size_t n) { add(first + n, 0); }

  /// Marks `seq` done; false when it is not live (never added, or done).
  bool done(uint64_t seq) { return done_run(seq, 1) == 1; }

  /// Marks [first, first + n) done; returns how many of them were live.
  std::size_t done_run(uint64_t first, std::size_t n);

  /// Everything below is done.
  uint64_t committed() const { return base_; }
  /// One past the newest number added.
  uint64_t end() const { return end_; }
  /// Live numbers not done yet.
  std::size_t open() const {
    return static_cast<std::size_t>(end_ - base_ - done_total_);
  }
  /// What is done: the position and (at most `max_ranges` of, the lowest)
  /// the ranges above it.
  committed_set snapshot(std::size_t max_ranges = 4096) const;

private:
  /// Makes [lo, hi) done (merged with its neighbours); returns how many of
  /// them were done before.
  uint64_t mark(uint64_t lo, uint64_t hi);
  void advance();

  uint64_t base_;
  uint64_t end_;
  std::map<uint64_t, uint64_t> done_; ///< from -> to, above base_
  uint64_t done_total_ = 0;
};

/// Events of the log that are not in memory: references to records (or
/// their tails), oldest first, read back in order as room frees. After a
/// restart it holds what recovery found; while it is not empty, new puts
/// are added behind it, so the channel's order is the log's.
class disk_backlog {
public:
  /// The recovered segments and records (the recovery is kept: its
  /// segment list resolves the references).
  explicit disk_backlog(recovery r);

  /// A record appended by the journal that does not fit in memory.
  void push(const std::string& segment, std::size_t offset, std::size_t size,
            uint64_t seq, uint32_t count);

  bool empty() const { return refs_.empty(); }
  std::size_t events() const { return events_; }

  /// What load() did.
  struct loaded {
    std::size_t events = 0; ///< appended to `out`
    /// Set: the next record could not be read now (EMFILE, ENOMEM, EIO):
    /// it stays first, to be read again later; nothing was skipped.
    int error = 0;
  };

  /// Reads whole records, oldest first, while the events read stay within
  /// `max_events` and `max_bytes` (event_bytes), one record at least when
  /// `out` is empty. Appends each event to `out` and its number to `seqs`
  /// (events the ack state already names committed are left out). A record
  /// proven damaged since (bad checksum, cut short, its file gone) is
  /// skipped and its uncommitted numbers go to `lost`; one that cannot be
  /// read for now ends the load with its error.
  loaded load(std::size_t max_events, std::size_t max_bytes, batch& out,
              std::vector<uint64_t>& seqs, std::vector<uint64_t>& lost);

private:
  struct item {
    record_ref ref;
    uint64_t from = 0; ///< its first event not yet committed
  };
  recovery rec_;
  std::deque<item> refs_;
  std::size_t events_ = 0;
};

} // namespace flumen::filelog
