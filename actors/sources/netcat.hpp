#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "actors/sources/line_splitter.hpp"
#include "runtime/config.hpp"
#include "runtime/registry.hpp"

namespace flumen::sources {

/// Options of the `netcat` source (see README, "netcat source").
struct netcat_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< required
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_line_length = 8192;
  overlong_policy policy = overlong_policy::truncate;
  std::size_t max_connections = 1024;
  std::size_t max_inflight = 4;
};

netcat_config parse_netcat(option_reader& r);

/// A TCP server taking one event per line from any number of clients. When
/// the channel pushes back it stops reading its sockets.
caf::actor spawn_netcat(caf::actor_system& sys, const netcat_config& cfg,
                        const wiring& w);

} // namespace flumen::sources
