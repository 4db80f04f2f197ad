#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "actors/sources/udp_server.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `netcat_udp` source (Flume's netcatudp): an event per
/// datagram.
struct netcat_udp_config {
  udp_server_config server; ///< bind, port, batching, window, buffer
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
