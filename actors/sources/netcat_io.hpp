#pragma once

// The netcat server's socket helpers, and what its `ack_every_event` owes
// clients: an "OK" per line once the batch holding the line was accepted
// by the channels (Flume's netcat answers each line after its put).

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
