#include "actors/sources/netcat.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <stdexcept>

#include <caf/actor.hpp>
#include <spdlog/spdlog.h>

#include "runtime/source_pump.hpp"

namespace flumen::sources {

netcat_config parse_netcat(option_reader& r) {
  netcat_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0, 0, 65535));
  if (!r.has("port")) r.error("missing required key 'port'");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length = r.count("max_line_length", cfg.max_line_length);
  cfg.policy = parse_overlong_policy(r);
  cfg.max_connections = r.count("max_connections", cfg.max_connections);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 1024);
  return cfg;
}

namespace {

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int x) : fd(x) {}
  fd_guard(fd_guard&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  fd_guard& operator=(fd_guard&&) = delete;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

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
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        ::listen(fd, 128) == 0) {
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

struct client {
  fd_guard fd;
  line_splitter lines;
};

void run_netcat(const netcat_config& cfg, source_pump& pump) {
  using clock = std::chrono::steady_clock;
  fd_guard listener{listen_on(cfg.bind, cfg.port)};
  spdlog::info("{}: listening on {}:{}", pump.metrics().name, cfg.bind,
               cfg.port);
  auto& m = pump.metrics();
  std::list<client> clients;
  batch pending;
  auto first_at = clock::time_point::max();
  // Hands over full batches; blocks while the channel pushes back.
  auto flush = [&](bool all) {
    if (!emit_batches(pending, cfg.batch_size, pump, all)) return false;
    if (pending.empty()) first_at = clock::time_point::max();
    return true;
  };
  std::vector<pollfd> fds;
  std::vector<client*> owners;
  char buf[65536];
  while (!pump.stopping() && !pump.aborted()) {
    fds.clear();
    owners.clear();
    fds.push_back({pump.wake_fd(), POLLIN, 0});
    fds.push_back({listener.fd, POLLIN, 0});
    for (auto& c : clients) {
      fds.push_back({c.fd.fd, POLLIN, 0});
      owners.push_back(&c);
    }
    auto deadline = first_at == clock::time_point::max()
                        ? first_at
                        : first_at + cfg.batch_timeout;
    int rc = ::poll(fds.data(), fds.size(), poll_timeout(deadline));
    if (rc < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    if (fds[1].revents & POLLIN) {
      for (;;) {
        int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) break;
        if (clients.size() >= cfg.max_connections) {
          spdlog::warn("{}: max_connections ({}) reached, refusing a client",
                       m.name, cfg.max_connections);
          m.connection_failures.fetch_add(1, std::memory_order_relaxed);
          ::close(fd);
          continue;
        }
        clients.push_back(client{
            fd_guard{fd}, line_splitter{cfg.max_line_length, cfg.policy}});
        m.connections_open.fetch_add(1, std::memory_order_relaxed);
      }
    }
    auto before = pending.size();
    for (std::size_t i = 0; i < owners.size(); ++i) {
      auto& pfd = fds[i + 2];
      if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto* c = owners[i];
      auto n = ::read(c->fd.fd, buf, sizeof(buf));
      auto dropped = c->lines.dropped();
      if (n > 0) {
        c->lines.feed(buf, static_cast<std::size_t>(n), pending);
      } else if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      } else {
        // EOF or error: the partial last line still counts.
        c->lines.finish(pending);
      }
      m.events_dropped.fetch_add(c->lines.dropped() - dropped,
                                 std::memory_order_relaxed);
      if (n > 0) continue;
      m.connections_open.fetch_sub(1, std::memory_order_relaxed);
      clients.remove_if([c](const client& x) { return &x == c; });
    }
    if (before == 0 && !pending.empty()) first_at = clock::now();
    bool timed_out = first_at != clock::time_point::max() &&
                     clock::now() >= first_at + cfg.batch_timeout;
    if (!flush(timed_out)) return;
  }
  // Graceful stop: stop accepting and reading, hand over what we hold.
  flush(true);
}

} // namespace

caf::actor spawn_netcat(caf::actor_system& sys, const netcat_config& cfg,
                        const wiring& w) {
  return spawn_source(
      sys, [cfg](source_pump& pump) { run_netcat(cfg, pump); }, w.downstream,
      w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
