#pragma once

// The netcat server's socket helpers, and what its `ack_every_event` owes
// clients: an "OK" per line once the batch holding the line was accepted
// by the channels (Flume's netcat answers each line after its put).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "actors/sources/stream_decoder.hpp"

namespace flumen::sources {

/// A non-blocking listening TCP socket on `host`:`port` (the backlog as
/// deep as the kernel allows); throws when it can't be had.
int listen_on(const std::string& host, uint16_t port);

/// Who is at the other end of `fd`, numerically, and the local port.
peer_info peer_of(int fd);

/// Connections waiting in a listening socket's accept queue (Linux reports
/// it in TCP_INFO's `tcpi_unacked`); `fallback` when unknown.
std::size_t accept_queue_length(int listener, std::size_t fallback);

/// How much a reader asks one read for: about what completes the batch it
/// fills, the rest of `batch_size` in lines of the length seen lately, and
/// one line more. A read that size leaves just over a whole batch pending,
/// which emit_batches hands over as the vector itself instead of moving
/// each line into a batch of its own (15 % of a reader at 100 B lines:
/// bench/README.md, part 13, tenth pass).
class read_sizer {
public:
  /// The least it asks for (tiny lines do not make tiny reads).
  static constexpr std::size_t least = 4096;

  /// At most `most` (and `least` only when `most` allows it); `most` until
  /// a line was seen, or when `pending` already holds a batch.
  std::size_t want(std::size_t pending, std::size_t batch_size,
                   std::size_t most) const {
    if (events_ == 0 || pending >= batch_size) return most;
    auto line = bytes_ / events_ + 1;
    auto lines = batch_size - pending + 1;
    return std::min(most, std::max(least, lines * line));
  }

  /// A read of `bytes` made `events`; halved now and then, so the length
  /// follows lines that change.
  void note(std::size_t bytes, std::size_t events) {
    bytes_ += bytes;
    events_ += events;
    if (events_ >= (1u << 16)) {
      bytes_ /= 2;
      events_ /= 2;
    }
  }

private:
  uint64_t bytes_ = 0;
  uint64_t events_ = 0;
};

/// Which client each event of a reader's pending batch came from, in
/// order, so that once the first `n` are accepted each client gets its
/// "OK"s, and a line it dropped its "FAILED" where the line was. Events
/// appended without being recorded (none today) belong to nobody and are
/// answered to nobody.
class ack_ledger {
public:
  /// What `handed` answers: `count` events of client `id`, or (`failed`)
  /// one line of its that was dropped.
  struct run {
    uint64_t id = 0;
    std::size_t count = 0;
    bool failed = false;
    friend bool operator==(const run&, const run&) = default;
  };
  /// Events [`before`, `after`) of the pending batch came from client `id`.
  void appended(uint64_t id, std::size_t before, std::size_t after);
  /// A line of client `id` was dropped after the first `at` pending
  /// events (those before it are recorded as its, from `before`).
  void failed(uint64_t id, std::size_t before, std::size_t at);
  /// The first `n` pending events were handed over: who they came from,
  /// as runs in order, with the dropped lines among them and right after
  /// them; the rest stays.
  std::vector<run> handed(std::size_t n);
  /// The pending batch is gone (the source torn down): nothing is owed.
  void clear() { runs_.clear(), total_ = 0; }
  /// Events recorded and not handed over.
  std::size_t size() const { return total_; }

private:
  std::deque<run> runs_;
  std::size_t total_ = 0;
};

/// An unanswered client may hold this many bytes of "OK"s unsent (16 K
/// lines); beyond, its reader stops reading it until it reads them, as
/// Flume's blocking write stops its handler.
constexpr std::size_t max_unsent_acks = 48 * 1024;

/// The answer to a line dropped for its length (Flume's wording; Flume
/// also closes the connection, flumen reads on).
std::string failed_answer(std::size_t max_line_length);

/// Adds `n` "OK\n" to `out` and sends what the socket takes now
/// (non-blocking). False when the client is gone (the write failed).
bool send_acks(int fd, std::string& out, std::size_t n);

} // namespace flumen::sources
