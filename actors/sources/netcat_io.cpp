#include "actors/sources/netcat_io.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "actors/sources/socket_names.hpp"

namespace flumen::sources {

int listen_on(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res))
    throw std::runtime_error("cannot resolve " + host + ": " +
                             ::gai_strerror(rc));
  std::string last_error = "no address";
  for (auto ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    // The backlog is where clients wait while the source is at
    // max_connections or out of descriptors: as deep as the kernel allows
    // (net.core.somaxconn).
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        ::listen(fd, SOMAXCONN) == 0) {
      ::freeaddrinfo(res);
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      return fd;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw std::runtime_error("cannot listen on " + host + ":" + service + ": " +
                           last_error);
}

peer_info peer_of(int fd) {
  peer_info p{};
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    p.ip = numeric_host(addr, len);
  len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    if (addr.ss_family == AF_INET)
      p.local_port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    else if (addr.ss_family == AF_INET6)
      p.local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return p;
}

std::size_t accept_queue_length(int listener, std::size_t fallback) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return fallback;
  return info.tcpi_unacked;
}

void ack_ledger::appended(uint64_t id, std::size_t before, std::size_t after) {
  // Events appended meanwhile without a record: nobody's (id 0).
  if (before > total_) {
    runs_.push_back({0, before - total_, false});
    total_ = before;
  }
  if (after <= total_) return;
  auto n = after - total_;
  if (!runs_.empty() && runs_.back().id == id && !runs_.back().failed)
    runs_.back().count += n;
  else
    runs_.push_back({id, n, false});
  total_ = after;
}

void ack_ledger::failed(uint64_t id, std::size_t before, std::size_t at) {
  appended(id, before, at);
  runs_.push_back({id, 0, true});
}

std::vector<ack_ledger::run> ack_ledger::handed(std::size_t n) {
  std::vector<run> out;
  while (!runs_.empty()) {
    auto& r = runs_.front();
    // A dropped line is answered once every event before it was: with the
    // last of them, or at once when there was none.
    if (r.failed) {
      out.push_back(r);
      runs_.pop_front();
      continue;
    }
    if (n == 0) break;
    auto take = std::min(n, r.count);
    out.push_back({r.id, take, false});
    r.count -= take;
    n -= take;
    total_ -= take;
    if (r.count == 0) runs_.pop_front();
  }
  return out;
}

std::string failed_answer(std::size_t max_line_length) {
  return "FAILED: Event exceeds the maximum length (" +
         std::to_string(max_line_length) + " bytes, without the newline)\n";
}

bool send_acks(int fd, std::string& out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    out += "OK\n";
  while (!out.empty()) {
    auto w = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (w <= 0) {
      out.clear();
      return false;
    }
    out.erase(0, static_cast<std::size_t>(w));
  }
  return true;
}

} // namespace flumen::sources
