#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/config.hpp"
#include "runtime/event.hpp"

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

  uint64_t dropped() const { return dropped_; }
  uint64_t truncated() const { return truncated_; }

private:
  void end_line(batch& out);

  std::size_t max_;
  overlong_policy policy_;
  std::string line_;
  bool overflow_ = false;
  bool split_ = false; ///< pieces of the current line were emitted already
  uint64_t dropped_ = 0;
  uint64_t truncated_ = 0;
};

} // namespace flumen::sources

namespace flumen {
class source_pump;
} // namespace flumen

namespace flumen::sources {

/// Hands `pending` to the pump in batches of at most `batch_size`: every
/// full batch, and with `all` the rest too. Returns false when the pump is
/// torn down.
bool emit_batches(batch& pending, std::size_t batch_size, source_pump& pump,
                  bool all);

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
