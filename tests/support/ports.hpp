#pragma once

// Loopback ports for tests. A port from the kernel's ephemeral range
// (32768-60999 here) can be taken at any moment as the local end of some
// outgoing connection (the tests make thousands): bound to port 0, closed
// and handed to a listener, it races them. So a port a test gives to a
// listener it does not create itself comes from below that range, as
// tests/e2e/common.sh's free_port does; a socket the test listens on itself
// is bound to port 0 and kept (listen_loopback).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <utility>

namespace flumen::test {

/// The first port of the kernel's ephemeral range.
inline uint16_t ephemeral_floor() {
  std::ifstream in{"/proc/sys/net/ipv4/ip_local_port_range"};
  unsigned low = 0, high = 0;
  if (in >> low >> high && low > 1024 && low <= 65535)
    return static_cast<uint16_t>(low);
  return 32768;
}

/// True when a TCP listener could bind 127.0.0.1:`port` now.
inline bool bindable(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

/// A loopback port below the ephemeral range that nothing listens on now
/// and this process has not handed out before (another process picks
/// from 12,000 at random too: a clash is unlikely, and is caught by the
/// bind check unless both pick at the same instant). 0 when none is found.
inline uint16_t free_port() {
  static std::mutex mtx;
  static std::set<uint16_t> given;
  static std::mt19937 rng{std::random_device{}() ^
                          static_cast<unsigned>(::getpid())};
  std::lock_guard guard{mtx};
  auto high = std::min<unsigned>(ephemeral_floor(), 32768);
  auto low = high > 12000 + 1024 ? high - 12000 : 1025u;
  std::uniform_int_distribution<unsigned> pick{low, high - 1};
  for (int i = 0; i < 200; ++i) {
    auto p = static_cast<uint16_t>(pick(rng));
    if (given.count(p) || !bindable(p)) continue;
    given.insert(p);
    return p;
  }
  return 0;
}

/// A TCP socket listening on 127.0.0.1 (port 0: one the kernel picks) and
/// its port; closed with the object. For a listener the test is itself.
class loopback_listener {
public:
  explicit loopback_listener(uint16_t port = 0, int backlog = 16) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, backlog) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close();
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  loopback_listener(const loopback_listener&) = delete;
  loopback_listener& operator=(const loopback_listener&) = delete;
  ~loopback_listener() { close(); }

  /// False when it could not listen.
  explicit operator bool() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

} // namespace flumen::test
