#pragma once

// Addresses of sockets as the sources log them and put them in headers:
// numeric, `host:port` (`[host]:port` for IPv6). Shared by the TCP server
// (netcat.cpp) and the UDP server (udp_server.cpp).

#include <sys/socket.h>

#include <string>

namespace flumen::sources {

/// The numeric host of `addr` (empty when it can't be told).
std::string numeric_host(const sockaddr_storage& addr, socklen_t len);

/// `host:port` of `addr`, numeric; `?` when it can't be told.
std::string host_port(const sockaddr_storage& addr, socklen_t len);

/// `host:port` a socket is bound to: with `port: 0`, the port the kernel
/// chose.
std::string local_address(int fd);

} // namespace flumen::sources
