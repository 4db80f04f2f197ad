#pragma once

// What the two ends of a hop keep besides the batches (runtime/dist/hop.hpp):
// the receiver's record of which event numbers a sender got accepted, and the
// sender's estimate of what its link carries. No CAF, no clock of its own
// (time is passed in): both are unit-tested on their own.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>

namespace flumen::hop {

/// The event numbers a receiver accepted from one sender, so a batch sent
/// again after a lost answer is acknowledged without being put twice.
/// Numbers below `below()` are settled: accepted, or given up by the sender,
/// which says so in its hello (`settled_below`); above it, accepted numbers
/// are kept as disjoint ranges, at most `max_ranges` of them. Beyond that
/// the lowest range is forgotten: a batch of it sent again would be put
/// again (a duplicate, never a loss).
class accepted_numbers {
public:
  explicit accepted_numbers(std::size_t max_ranges = 256)
      : max_ranges_(max_ranges < 1 ? 1 : max_ranges) {}

  /// The sender will never send a number below `n` again (it settled them
  /// all): they count as accepted, and what was kept of them is dropped.
  void settled_below(uint64_t n);

  /// True when every number of [first, first + count) was accepted.
  bool has(uint64_t first, uint64_t count) const;

  /// [first, first + count) was accepted.
  void add(uint64_t first, uint64_t count);

  /// Every number below this is settled.
  uint64_t below() const { return below_; }
  /// Ranges kept above below(): the state's size.
  std::size_t ranges() const { return ranges_.size(); }
  /// Ranges dropped to stay within max_ranges.
  uint64_t forgotten() const { return forgotten_; }

private:
  /// Takes ranges that start at below_ into it.
  void absorb();

  std::size_t max_ranges_;
  uint64_t below_ = 1;                  ///< senders number their events from 1
  std::map<uint64_t, uint64_t> ranges_; ///< first -> end (exclusive)
  uint64_t forgotten_ = 0;
};

/// What a sender's link carries, measured, and what follows from it: the
/// largest message and the bytes in flight. CAF closes a link that
/// delivered no whole message for its connection timeout, and a message
/// counts only once all of it arrived, so a message must cross well within
/// that timeout (a quarter of it), and what waits in front of a request must
/// cross within a quarter of the request's timeout.
///
/// The rate is bytes answered over the time something was in flight (at
/// least `min_span` of it per sample, so answers released together after a
/// hold are not taken for a fast link): time a full receiver held a batch
/// counts, so the estimate errs low, which only makes messages smaller. A
/// loss (a link closed or a request timed out with something in flight)
/// halves it. Before the first sample a message is `first_message` bytes.
class link_estimate {
public:
  using clock = std::chrono::steady_clock;

  /// Smallest message bound: a slower link can't carry much in any case.
  static constexpr std::size_t min_message = 16 * 1024;
  /// Message bound before anything was measured.
  static constexpr std::size_t first_message = 256 * 1024;
  static constexpr clock::duration min_span = std::chrono::milliseconds{200};

  link_estimate(clock::duration link_timeout, clock::duration request_timeout)
      : link_timeout_(link_timeout), request_timeout_(request_timeout) {}

  /// A request of `bytes` left.
  void on_send(clock::time_point now, std::size_t bytes);
  /// The request of `bytes` was answered (`acked`: accepted; otherwise
  /// "busy" or an error) or given up.
  void on_answer(clock::time_point now, std::size_t bytes, bool acked);
  /// The link was lost or a request timed out while in flight.
  void on_loss(clock::time_point now);

  /// Bytes per second; 0 before the first sample.
  double rate() const { return rate_; }
  /// Bytes of requests in flight.
  std::size_t in_flight() const { return in_flight_; }
  /// The largest message's bytes.
  std::size_t message_bytes() const;
  /// Bytes to keep in flight (one message at least).
  std::size_t window_bytes() const;

private:
  void advance(clock::time_point now);

  clock::duration link_timeout_;
  clock::duration request_timeout_;
  double rate_ = 0;
  std::size_t unmeasured_ = first_message;
  std::size_t in_flight_ = 0;
  clock::time_point last_{};
  clock::duration busy_{};   ///< in flight since the last sample
  std::size_t answered_ = 0; ///< bytes acknowledged since the last sample
};

} // namespace flumen::hop
