#include "actors/channels/filelog/seq_ranges.hpp"

#include <algorithm>

namespace flumen::filelog {

namespace {

/// The first range that ends after `seq`.
auto first_ending_after(const std::vector<seq_range>& ranges, uint64_t seq) {
  return std::upper_bound(
      ranges.begin(), ranges.end(), seq,
      [](uint64_t s, const seq_range& r) { return s < r.to; });
}

} // namespace

bool committed_set::contains(uint64_t seq) const {
  if (seq < below) return true;
  auto i = first_ending_after(ranges, seq);
  return i != ranges.end() && i->from <= seq;
}

bool committed_set::covers(uint64_t from, uint64_t to) const {
  return open_in(from, to) == 0;
}

uint64_t committed_set::open_in(uint64_t from, uint64_t to) const {
  from = std::max(from, below);
  if (from >= to) return 0;
  uint64_t open = to - from;
  for (auto i = first_ending_after(ranges, from);
       i != ranges.end() && i->from < to; ++i)
    open -= std::min(i->to, to) - std::max(i->from, from);
  return open;
}

committed_set committed_set::largest(std::size_t n) const {
  if (ranges.size() <= n) return *this;
  std::vector<seq_range> keep = ranges;
  std::nth_element(keep.begin(), keep.begin() + static_cast<long>(n),
                   keep.end(), [](const seq_range& a, const seq_range& b) {
                     return a.size() > b.size();
                   });
  keep.resize(n);
  std::sort(
      keep.begin(), keep.end(),
      [](const seq_range& a, const seq_range& b) { return a.from < b.from; });
  return committed_set{below, std::move(keep)};
}

} // namespace flumen::filelog
