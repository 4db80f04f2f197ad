#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "actors/channels/filelog/log_dir.hpp"
#include "runtime/event.hpp"

namespace flumen::filelog {

/// Which numbered events are done (committed), from the committed position
/// on: the position moves over the done prefix. Sinks may commit out of
/// order; only the oldest event still open holds the position back. A
/// byte per event between the position and the newest number.
class commit_window {
public:
  explicit commit_window(uint64_t committed = 0) : base_(committed) {}

  /// Numbers [first, first + n) are live. Numbers between end() and
  /// `first` were never used (a failed append): done at once. Numbers
  /// below end() are ignored.
  void add(uint64_t first, std::size_t n);

  /// Marks `seq` done; false when it is not live (never added, or done).
  bool done(uint64_t seq);

  /// Everything below is done.
  uint64_t committed() const { return base_; }
  /// One past the newest number added.
  uint64_t end() const { return base_ + marks_.size(); }
  /// Live numbers not done yet.
  std::size_t open() const { return open_; }

private:
  void advance();

  uint64_t base_;
  std::deque<uint8_t> marks_; ///< 1: done, for base_ + i
  std::size_t open_ = 0;
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

  /// Reads whole records, oldest first, while the events read stay within
  /// `max_events` and `max_bytes` (event_bytes), one record at least when
  /// `out` is empty. Appends each event to `out` and its number to `seqs`.
  /// A record that no longer reads back (damaged since) is skipped and its
  /// numbers go to `lost`. Returns the events read.
  std::size_t load(std::size_t max_events, std::size_t max_bytes, batch& out,
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
