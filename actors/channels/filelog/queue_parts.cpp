#include "actors/channels/filelog/queue_parts.hpp"

#include <algorithm>

namespace flumen::filelog {

void commit_window::add(uint64_t first, std::size_t n) {
  if (first + n <= end()) return;
  if (first < end()) {
    n -= static_cast<std::size_t>(end() - first);
    first = end();
  }
  // Skipped numbers: done.
  marks_.insert(marks_.end(), static_cast<std::size_t>(first - end()), 1);
  marks_.insert(marks_.end(), n, 0);
  open_ += n;
  advance();
}

bool commit_window::done(uint64_t seq) {
  if (seq < base_ || seq >= end()) return false;
  auto& m = marks_[static_cast<std::size_t>(seq - base_)];
  if (m) return false;
  m = 1;
  --open_;
  advance();
  return true;
}

void commit_window::advance() {
  while (!marks_.empty() && marks_.front()) {
    marks_.pop_front();
    ++base_;
  }
}

disk_backlog::disk_backlog(recovery r) : rec_(std::move(r)) {
  for (auto& ref : rec_.pending) {
    auto from = std::max(ref.seq, rec_.committed);
    refs_.push_back({ref, from});
    events_ += static_cast<std::size_t>(ref.seq + ref.count - from);
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

std::size_t disk_backlog::load(std::size_t max_events, std::size_t max_bytes,
                               batch& out, std::vector<uint64_t>& seqs,
                               std::vector<uint64_t>& lost) {
  std::size_t loaded = 0, bytes = 0;
  while (!refs_.empty()) {
    auto& it = refs_.front();
    auto n = static_cast<std::size_t>(it.ref.seq + it.ref.count - it.from);
    if (loaded + n > max_events && !(out.empty() && loaded == 0)) break;
    batch events;
    if (!read_record(rec_, it.ref, it.from, events) || events.size() != n) {
      for (uint64_t s = it.from; s < it.ref.seq + it.ref.count; ++s)
        lost.push_back(s);
    } else {
      auto b = event_bytes(events);
      if (bytes + b > max_bytes && !(out.empty() && loaded == 0)) break;
      bytes += b;
      for (std::size_t i = 0; i < events.size(); ++i) {
        seqs.push_back(it.from + i);
        out.push_back(std::move(events[i]));
      }
      loaded += n;
    }
    events_ -= n;
    refs_.pop_front();
  }
  return loaded;
}

} // namespace flumen::filelog
