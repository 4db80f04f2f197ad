#include "actors/sources/socket_names.hpp"

#include <netdb.h>

namespace flumen::sources {

std::string numeric_host(const sockaddr_storage& addr, socklen_t len) {
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host,
                    sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0)
    return {};
  return host;
}

std::string host_port(const sockaddr_storage& addr, socklen_t len) {
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host,
                    sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "?";
  if (addr.ss_family == AF_INET6) return "[" + std::string{host} + "]:" + port;
  return std::string{host} + ":" + port;
}

std::string local_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return "?";
  return host_port(addr, len);
}

} // namespace flumen::sources
