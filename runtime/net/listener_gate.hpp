#pragma once

// The listener gate: every socket CAF's middleman accepts (a hop source's
// port, a node's) is checked here before CAF sees a byte of it
// (runtime/README.md, "Listener gate invariants").
//
// CAF 0.17 trusts its peers: it reads a 32-byte BASP header, then sizes its
// read buffer to the payload length the header announces (4 GiB at most)
// before reading it; it times out no connection that has not sent a whole
// header; it accepts sockets without limit; and a client handshake with no
// payload makes it dereference a null pointer. The gate sits between CAF
// and the socket (runtime/net/listener_gate_hooks.cpp wraps the `accept`,
// `recv` and `close` calls CAF's libraries make, tls_audit.cpp their
// `SSL_read`): it follows each accepted BASP stream without copying it and
// fails the read that completes a header CAF must not act on, counts
// accepted sockets per listener, and shuts down sockets whose handshake did
// not finish in time. No CAF here.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace flumen {

struct component_metrics;

namespace listener_gate {

/// What one listener lets its peers do.
struct limits {
  /// Who listens, in log lines: `a1.sources.r1`, `node n1`.
  std::string name;
  /// The largest BASP payload accepted after the handshake. CAF carries
  /// every message between two processes over one connection, whichever
  /// port it was made to, so the process applies the largest of its
  /// listeners' bounds to all of them.
  std::size_t max_message_bytes = 64u << 20;
  /// Accepted sockets open at once.
  std::size_t max_connections = 64;
  /// From accept to the end of the peer's BASP client handshake (TLS
  /// handshake included).
  std::chrono::milliseconds handshake_timeout{10000};
  /// Each refusal adds one to its `connection_failures` (may be null).
  std::shared_ptr<component_metrics> metrics;
};

/// A listener known to the gate; it forgets it when the last copy goes.
class registration {
public:
  virtual ~registration() = default;
  /// The port the listener got (when it asked for 0).
  virtual void set_port(uint16_t port) = 0;
};

/// Announces a listener before CAF publishes on `port` (0: a free one;
/// then call `set_port` with the one it got).
std::shared_ptr<registration> add(limits l, uint16_t port);

/// The bound of a hop source's messages: a batch's payload of at most
/// `max_batch_bytes` before compression, the growth compression can add
/// (lz4 and zstd at most 1/255 and 1/256), its frame header, and the CAF
/// message around it (atoms, sender id, sequence number: 1 MiB is ample).
std::size_t hop_message_bytes(std::size_t max_batch_bytes);

/// The gate's accepted sockets open now, and its refusals since start.
std::size_t open_sockets();
uint64_t refusals();

/// Follows one accepted BASP stream (what the peer sends to a listener)
/// header by header without copying payloads, and says at the first header
/// CAF must not act on why the stream must be refused. Pure: no I/O.
class basp_stream {
public:
  /// A BASP header's size on the wire.
  static constexpr std::size_t header_bytes = 32;
  /// The most a client handshake's payload (the peer's node id: a few
  /// dozen bytes) may announce.
  static constexpr std::size_t max_handshake_bytes = 64 * 1024;

  /// Takes the next `n` bytes the peer sent. Returns an empty string, or
  /// the reason to refuse the stream (then every later call returns it
  /// too). `max_message_bytes` bounds the payload of every message after
  /// the handshake.
  std::string feed(const unsigned char* data, std::size_t n,
                   std::size_t max_message_bytes);

  /// The peer's first message, its client handshake, arrived whole.
  bool handshake_done() const { return handshake_done_; }

  /// Whole headers accepted so far.
  uint64_t headers() const { return headers_; }

private:
  std::string check_header(std::size_t max_message_bytes);

  unsigned char header_[header_bytes] = {};
  std::size_t have_ = 0;      ///< bytes of the current header so far
  uint64_t payload_left_ = 0; ///< payload bytes still to come
  bool in_handshake_ = false; ///< the payload is the client handshake's
  bool handshake_done_ = false;
  uint64_t headers_ = 0;
  std::string refused_;
};

namespace hooks {

// Called by the wrappers of runtime/net/listener_gate_hooks.cpp and
// tls_audit.cpp; nothing else should.

/// How an accepted socket carries BASP: CAF's plain sockets are read with
/// `recv`, its OpenSSL sessions with `SSL_read` (OpenSSL reads the socket
/// itself). Both kinds are accepted by the same code of libcaf_io, so the
/// first read says which one a socket is.
enum class transport : uint8_t { unknown, plain, tls };

/// CAF accepted `fd`: true to hand it to CAF, false when refused (the
/// caller closes it at once). Logs and counts refusals.
bool admit(int fd);

/// The gate's state of an accepted socket; nullptr for any other
/// descriptor (two loads, no lock).
struct conn;
conn* find(int fd);

/// True when reads of kind `t` carry `c`'s BASP stream (the first read of
/// a socket decides).
bool claim(conn& c, transport t);

/// The peer's socket sent `n` bytes (already in `data`): false when the
/// stream is refused (logged, counted, socket shut down): the caller fails
/// the read. Also false for a socket the gate refused before.
bool inspect(conn& c, const void* data, std::size_t n);

/// The peer's address as the gate saw it when it accepted the socket.
const std::string& peer(const conn& c);

/// The gate refused the socket (or timed it out): reads must fail.
bool refused(const conn& c);

/// `fd` is about to be closed: forget it (before the descriptor's number
/// can be given out again).
void forget(int fd);

} // namespace hooks

} // namespace listener_gate

} // namespace flumen
