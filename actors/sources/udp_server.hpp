#pragma once

// A UDP source's server: one socket, recvmmsg(2) reads of up to 64
// datagrams, batches cut by size and time, the kernel's drops counted.
// What a datagram becomes is its decoder's: syslog_udp parses a syslog
// message, netcat_udp takes the datagram as a body.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "runtime/config/config.hpp"
#include "runtime/config/options.hpp"
#include "runtime/core/event.hpp"

namespace flumen {
class source_pump;
struct component_metrics;
} // namespace flumen

namespace flumen::sources {

/// What the UDP sources share: where they listen, how they batch, their
/// window and socket buffer (the options of udp_server_options()).
struct udp_server_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< required
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_inflight = 4;
  /// SO_RCVBUF (0: the kernel's default).
  std::size_t receive_buffer = 0;
  /// The most bytes of a datagram kept; a longer one is cut (`cut`).
  std::size_t max_datagram = 65535;
  /// What the listening log line says of the decoding.
  std::string describe;
};

/// Who sent a datagram.
struct datagram_from {
  const sockaddr_storage* addr;
  socklen_t len;
  /// Numeric `ip` (empty when it can't be told).
  std::string ip() const;
  /// Numeric `ip:port` (`[ip]:port` for IPv6).
  std::string ip_port() const;
};

class datagram_decoder {
public:
  virtual ~datagram_decoder() = default;
  /// Appends what datagram `bytes` (cut: it was longer than
  /// max_datagram) becomes to `out`; `now_ms` is when it was read.
  virtual void read(std::string_view bytes, bool cut, const datagram_from& from,
                    int64_t now_ms, batch& out) = 0;
  /// Adds what it cut since the last call to `m`'s counters.
  virtual void count(component_metrics& m) = 0;
};

/// The options of `udp_server_config`, in their reference page's order:
/// `bind`, `port`, `batch_size`, `batch_timeout`, `max_inflight`,
/// `receive_buffer`.
std::span<const option_spec> udp_server_options();

/// Reads them into `cfg` (not `max_datagram` or `describe`, which are
/// each source's), and states the batch size and the UDP port in `r`'s
/// facts.
void parse_udp_server(option_reader& r, udp_server_config& cfg);

/// Serves until the pump stops (then reads what the socket holds and
/// hands everything over) or is torn down. Throws when it cannot bind.
void serve_udp(const udp_server_config& cfg, datagram_decoder& decoder,
               source_pump& pump);

} // namespace flumen::sources
