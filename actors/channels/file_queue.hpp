#pragma once

// The file channel's in-memory prefix (actors/channels/file.cpp): events
// that are in the log and also in memory, ready to be taken, in the log's
// order. Kept as runs of consecutively numbered events, each run as it came
// (a put's batch, a read of the log), so that a put goes in and a take of a
// whole run comes out without touching each event: a queue of single
// events moved each event twice and allocated a node per eight of them
// (bench/README.md, part 13, ninth pass). Internal to the file channel.

#include <cstdint>
#include <deque>
#include <iterator>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::channels::file_detail {

class memory_runs {
public:
  /// Events held.
  std::size_t size() const { return size_; }
  /// Their event_bytes.
  std::size_t bytes() const { return bytes_; }
  bool empty() const { return size_ == 0; }

  /// Appends `events`, numbered `first`, `first + 1`, ...; `bytes` is their
  /// event_bytes. Numbers ascend across pushes.
  void push(uint64_t first, batch&& events, std::size_t bytes) {
    if (events.empty()) return;
    size_ += events.size();
    bytes_ += bytes;
    runs_.push_back(run{first, std::move(events), 0, bytes});
  }

  /// Appends `events`, numbered `seqs` (ascending, with gaps where the log
  /// holds events no longer open).
  void push(const std::vector<uint64_t>& seqs, batch&& events) {
    for (std::size_t i = 0; i < events.size();) {
      auto j = i + 1;
      while (j < events.size() && seqs[j] == seqs[j - 1] + 1)
        ++j;
      auto part = move_range(events, i, j);
      auto bytes = event_bytes(part);
      push(seqs[i], std::move(part), bytes);
      i = j;
    }
  }

  /// Moves events from the front into `out` (empty), their numbers into
  /// `seqs`: at most `max`, and beyond the first at most `max_bytes` of
  /// event_bytes in all (0: no bound). Returns their event_bytes. A whole
  /// run that fits is moved as one vector when it comes first.
  std::size_t take(std::size_t max, std::size_t max_bytes, batch& out,
                   std::vector<uint64_t>& seqs) {
    std::size_t taken = 0;
    while (out.size() < max && !runs_.empty()) {
      auto& r = runs_.front();
      auto left = r.events.size() - r.next;
      bool whole = left <= max - out.size() &&
                   (max_bytes == 0 || taken + r.bytes <= max_bytes);
      if (whole) {
        auto begin = r.events.begin() + static_cast<std::ptrdiff_t>(r.next);
        if (out.empty() && r.next == 0)
          out = std::move(r.events);
        else
          out.insert(out.end(), std::make_move_iterator(begin),
                     std::make_move_iterator(r.events.end()));
        for (std::size_t i = 0; i < left; ++i)
          seqs.push_back(r.first + r.next + i);
        taken += r.bytes;
        size_ -= left;
        bytes_ -= r.bytes;
        runs_.pop_front();
        continue;
      }
      while (r.next < r.events.size() && out.size() < max) {
        auto& e = r.events[r.next];
        auto b = event_bytes(e);
        if (max_bytes != 0 && !out.empty() && taken + b > max_bytes)
          return taken;
        taken += b;
        seqs.push_back(r.first + r.next);
        out.push_back(std::move(e));
        ++r.next;
        r.bytes -= b;
        --size_;
        bytes_ -= b;
      }
      if (r.next == r.events.size()) runs_.pop_front();
    }
    return taken;
  }

  /// Puts back `events[i]`, numbered `seqs[i]`, for each i of `which`
  /// (ascending), in the log's order among those held (a rollback).
  void put_back(const batch& events, const std::vector<uint64_t>& seqs,
                const std::vector<std::size_t>& which) {
    if (which.empty()) return;
    std::vector<uint64_t> all_seqs;
    batch all;
    all_seqs.reserve(size_ + which.size());
    all.reserve(size_ + which.size());
    auto w = which.begin();
    auto add_back_below = [&](uint64_t seq) {
      for (; w != which.end() && seqs[*w] < seq; ++w) {
        all_seqs.push_back(seqs[*w]);
        all.push_back(events[*w]);
      }
    };
    for (auto& r : runs_)
      for (auto i = r.next; i < r.events.size(); ++i) {
        add_back_below(r.first + i);
        all_seqs.push_back(r.first + i);
        all.push_back(std::move(r.events[i]));
      }
    add_back_below(UINT64_MAX);
    runs_.clear();
    size_ = 0;
    bytes_ = 0;
    push(all_seqs, std::move(all));
  }

private:
  struct run {
    uint64_t first = 0; ///< the number of events[0]
    batch events;
    std::size_t next = 0;  ///< events before it are taken (moved from)
    std::size_t bytes = 0; ///< event_bytes of events[next..]
  };
  std::deque<run> runs_;
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;
};

} // namespace flumen::channels::file_detail
