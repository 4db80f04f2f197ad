#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `netcat_udp` source (Flume's netcatudp): an event per
/// datagram.
struct netcat_udp_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< required
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_inflight = 4;
  std::size_t receive_buffer = 0;
  /// Bytes of a datagram kept (a longer one is cut, counted truncated).
  std::size_t max_line_length = 65507;
  /// The header set to the sender's `ip:port` (Flume's remoteAddress);
  /// empty: none.
  std::string remote_address_header = "REMOTE_ADDRESS";
};

const option_list& netcat_udp_options();
netcat_udp_config parse_netcat_udp(option_reader& r);
caf::actor spawn_netcat_udp(caf::actor_system& sys,
                            const netcat_udp_config& cfg, const wiring& w);

} // namespace flumen::sources
