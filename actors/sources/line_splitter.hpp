#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/core/event.hpp"

namespace flumen::sources {

/// What happens to a line longer than `max_line_length`.
enum class overlong_policy {
  truncate, ///< keep the first max_line_length bytes (Flume's netcat)
  drop,     ///< drop the whole line, counted
  split,    ///< emit it as several events of at most max_line_length
};

/// Reads `max_line_length` and `overlong_policy` (shared by line sources).
overlong_policy parse_overlong_policy(option_reader& r);

/// Cuts a byte stream into one event per line ('\n', with a '\r' before it
/// removed). Keeps the partial last line between calls.
class line_splitter {
public:
  line_splitter(std::size_t max_line_length, overlong_policy policy)
      : max_(max_line_length == 0 ? 1 : max_line_length), policy_(policy) {}

  /// Appends every line completed by `data` to `out`.
  void feed(const char* data, std::size_t n, batch& out);

  /// End of input: a partial last line becomes an event too.
  void finish(batch& out);

  /// True in the middle of a line: bytes of it were fed, its end was not.
  bool in_line() const { return !line_.empty() || overflow_ || split_; }

  /// Where each line dropped from now on was (the size of `out` when it
  /// ended), appended to `marks` (none: not recorded).
  void record_drops(std::vector<std::size_t>* marks) { marks_ = marks; }

  /// Over-long lines dropped (policy `drop`) so far.
  uint64_t dropped() const { return dropped_; }
  /// Over-long lines truncated (policy `truncate`) so far.
  uint64_t truncated() const { return truncated_; }
  /// The longest line kept whole, in bytes.
  std::size_t max_line_length() const { return max_; }

  /// What was dropped and truncated since the last call (so a source can
  /// add it to its counters without counting anything twice).
  struct counts {
    uint64_t dropped = 0;
    uint64_t truncated = 0;
  };
  counts take_counts();

private:
  void end_line(batch& out);

  std::size_t max_;
  overlong_policy policy_;
  std::string line_;
  bool overflow_ = false;
  bool split_ = false; ///< pieces of the current line were emitted already
  std::vector<std::size_t>* marks_ = nullptr;
  uint64_t dropped_ = 0;
  uint64_t truncated_ = 0;
  uint64_t dropped_taken_ = 0;
  uint64_t truncated_taken_ = 0;
};

} // namespace flumen::sources

namespace flumen {
class source_pump;
struct component_metrics;
} // namespace flumen

namespace flumen::sources {

/// Adds what `lines` dropped and truncated since the last call to the
/// source's `events_dropped` and `events_truncated`, and warns the first
/// time a source (its metrics) drops or truncates a line: loss or change by
/// policy is never silent.
void count_overlong(line_splitter& lines, component_metrics& m);

/// A line source's batch is also cut at this many body bytes, so its window
/// (`max_inflight` batches) is bounded in bytes whatever the line length.
constexpr std::size_t max_batch_bytes = 1 << 20;

/// Hands `pending` to the pump in batches of at most `batch_size` events
/// and `max_batch_bytes` bytes (at least one event): every full batch, and
/// with `all` the rest too. Returns false when the pump is
/// torn down; then every event of `pending` was handed to `emit` (which
/// counts what it could not deliver as undelivered) and `pending` is empty.
/// `last_number`, when given, gets the number of each batch handed over
/// (source_pump::emit_numbered), so a reader can wait for it to be
/// accepted.
bool emit_batches(batch& pending, std::size_t batch_size, source_pump& pump,
                  bool all, uint64_t* last_number = nullptr);

/// Milliseconds until `deadline` for poll(2): 1000 when there is none.
int poll_timeout(std::chrono::steady_clock::time_point deadline);

/// Reads lines from `fd` and emits them in batches of at most `batch_size`
/// (a partial batch after `batch_timeout`), until end of input (returns
/// true, partial last line included) or a stop (returns false, everything
/// read so far emitted).
bool pump_lines(int fd, line_splitter& lines, source_pump& pump,
                std::size_t batch_size,
                std::chrono::milliseconds batch_timeout);

} // namespace flumen::sources
