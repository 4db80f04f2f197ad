#include "actors/channels/filelog/queue_parts.hpp"

#include <algorithm>

namespace flumen::filelog {

void commit_window::add(uint64_t first, std::size_t n) {
  if (first + n <= end_) return;
  if (first < end_) {
    n -= static_cast<std::size_t>(end_ - first);
    first = end_;
  }
  // Skipped numbers: done.
  if (first > end_) mark(end_, first);
  end_ = first + n;
  advance();
}

std::size_t commit_window::done_run(uint64_t first, std::size_t n) {
  auto lo = std::max(first, base_), hi = std::min(first + n, end_);
  if (lo >= hi) return 0;
  auto before = mark(lo, hi);
  advance();
  return static_cast<std::size_t>(hi - lo - before);
}

uint64_t commit_window::mark(uint64_t lo, uint64_t hi) {
  auto it = done_.upper_bound(lo);
  if (it != done_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= lo) it = prev;
  }
  uint64_t covered = 0, from = lo, to = hi;
  while (it != done_.end() && it->first <= hi) {
    auto a = std::max(it->first, lo), b = std::min(it->second, hi);
    if (a < b) covered += b - a;
    from = std::min(from, it->first);
    to = std::max(to, it->second);
    done_total_ -= it->second - it->first;
    it = done_.erase(it);
  }
  done_.emplace(from, to);
  done_total_ += to - from;
  return covered;
}

void commit_window::advance() {
  if (done_.empty() || done_.begin()->first != base_) return;
  base_ = done_.begin()->second;
  done_total_ -= base_ - done_.begin()->first;
  done_.erase(done_.begin());
}

committed_set commit_window::snapshot(std::size_t max_ranges) const {
  committed_set s{base_, {}};
  s.ranges.reserve(std::min(max_ranges, done_.size()));
  for (auto& [from, to] : done_) {
    if (s.ranges.size() == max_ranges) break;
    s.ranges.push_back({from, to});
  }
  return s;
}

disk_backlog::disk_backlog(recovery r) : rec_(std::move(r)) {
  for (auto& ref : rec_.pending) {
    auto from = std::max(ref.seq, rec_.committed.below);
    refs_.push_back({ref, from});
    events_ += static_cast<std::size_t>(
        rec_.committed.open_in(from, ref.seq + ref.count));
  }
}

void disk_backlog::push(const std::string& segment, std::size_t offset,
                        std::size_t size, uint64_t seq, uint32_t count) {
  std::size_t index = rec_.segments.size();
  for (std::size_t i = rec_.segments.size(); i-- > 0;)
    if (rec_.segments[i].path == segment) {
      index = i;
      break;
    }
  if (index == rec_.segments.size()) rec_.segments.push_back({segment, seq});
  refs_.push_back({record_ref{index, offset, size, seq, count}, seq});
  events_ += count;
}

disk_backlog::loaded disk_backlog::load(std::size_t max_events,
                                        std::size_t max_bytes, batch& out,
                                        std::vector<uint64_t>& seqs,
                                        std::vector<uint64_t>& lost) {
  loaded result;
  std::size_t bytes = 0;
  auto& done = rec_.committed;
  while (!refs_.empty()) {
    auto& it = refs_.front();
    auto end = it.ref.seq + it.ref.count;
    auto n = static_cast<std::size_t>(done.open_in(it.from, end));
    if (result.events + n > max_events && !(out.empty() && result.events == 0))
      break;
    batch events;
    int err = 0;
    auto status = read_record(rec_, it.ref, it.from, events, &err);
    if (status == read_status::unavailable) {
      result.error = err;
      break;
    }
    if (status == read_status::damaged || events.size() != end - it.from) {
      for (uint64_t s = it.from; s < end; ++s)
        if (!done.contains(s)) lost.push_back(s);
    } else {
      std::size_t b = 0;
      for (std::size_t i = 0; i < events.size(); ++i)
        if (!done.contains(it.from + i)) b += event_bytes(events[i]);
      if (bytes + b > max_bytes && !(out.empty() && result.events == 0)) break;
      bytes += b;
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (done.contains(it.from + i)) continue;
        seqs.push_back(it.from + i);
        out.push_back(std::move(events[i]));
      }
      result.events += n;
    }
    events_ -= n;
    refs_.pop_front();
  }
  return result;
}

} // namespace flumen::filelog
