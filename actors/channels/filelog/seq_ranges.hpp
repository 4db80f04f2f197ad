#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace flumen::filelog {

/// Event numbers [from, to).
struct seq_range {
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t size() const { return to - from; }
  friend bool operator==(const seq_range&, const seq_range&) = default;
};

/// Which event numbers are committed: everything below `below`, and the
/// ranges above it (sorted, disjoint, none touching another or `below`).
/// A subset of what is really committed is always safe to keep: it means
/// more events delivered again after a restart, never fewer.
struct committed_set {
  uint64_t below = 0;
  std::vector<seq_range> ranges;

  bool contains(uint64_t seq) const;
  /// Every number of [from, to) is committed (true when empty).
  bool covers(uint64_t from, uint64_t to) const;
  /// How many numbers of [from, to) are not committed.
  uint64_t open_in(uint64_t from, uint64_t to) const;
  /// One past the highest number it says is committed.
  uint64_t end() const { return ranges.empty() ? below : ranges.back().to; }

  /// At most `n` ranges: the largest ones, in order (the rest is dropped:
  /// a subset).
  committed_set largest(std::size_t n) const;

  friend bool operator==(const committed_set&, const committed_set&) = default;
};

} // namespace flumen::filelog
