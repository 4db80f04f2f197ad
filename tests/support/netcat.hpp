#pragma once

// A TCP client of a loopback listener (a netcat source, an agent's netcat
// port) for tests: connects once the listener is up, writes whole texts,
// reads what the listener answers.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "tests/support/wait.hpp"

namespace flumen::test {

class tcp_client {
public:
  /// Connects to 127.0.0.1:`port`, trying again for `patience` while the
  /// listener starts. `sndbuf` > 0 caps the kernel's send buffer (no
  /// megabytes of autotuning between the test and a listener that pushes
  /// back).
  explicit tcp_client(uint16_t port, int sndbuf = 0,
                      std::chrono::milliseconds patience = std::chrono::seconds{
                          5}) {
    wait_until(
        [&] {
          fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          if (sndbuf > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
          sockaddr_in addr{};
          addr.sin_family = AF_INET;
          addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          addr.sin_port = htons(port);
          if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr),
                        sizeof(addr)) == 0)
            return true;
          ::close(fd_);
          fd_ = -1;
          return false;
        },
        patience);
  }
  tcp_client(const tcp_client&) = delete;
  tcp_client& operator=(const tcp_client&) = delete;
  ~tcp_client() { close(); }

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  /// Blocking write of all of `text`.
  bool write(const std::string& text) {
    const char* p = text.data();
    auto left = text.size();
    while (left > 0) {
      auto n = ::send(fd_, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return true;
  }

  /// What the listener sends, until `n` bytes came, the connection ended
  /// or `within` passed (fewer bytes then).
  std::string read_answers(std::size_t n, std::chrono::milliseconds within) {
    std::string out;
    char buf[256];
    auto deadline = std::chrono::steady_clock::now() + within;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      auto got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) break;
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// The socket, for the caller to close; the client lets go of it.
  int release() { return std::exchange(fd_, -1); }

private:
  int fd_ = -1;
};

/// A socket connected to loopback `port`, trying again for `patience`
/// while the listener starts; -1 if it never accepts.
inline int connect_to(uint16_t port,
                      std::chrono::milliseconds patience = std::chrono::seconds{
                          2}) {
  tcp_client c{port, 0, patience};
  return c.release();
}

} // namespace flumen::test
