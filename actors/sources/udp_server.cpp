#include "actors/sources/udp_server.hpp"

#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/sources/line_splitter.hpp"
#include "actors/sources/socket_names.hpp"
#include "actors/sources/source_options.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int bind_udp(const std::string& host, uint16_t port, std::size_t rcvbuf) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res))
    throw std::runtime_error("cannot resolve " + host + ": " +
                             ::gai_strerror(rc));
  std::string last_error = "no address";
  for (auto ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family,
                      ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    if (rcvbuf > 0) {
      // As asked where allowed (CAP_NET_ADMIN), else within
      // net.core.rmem_max.
      int size = static_cast<int>(std::min<std::size_t>(rcvbuf, INT32_MAX));
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) !=
          0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw std::runtime_error("cannot listen on " + host + ":" + service +
                           "/udp: " + last_error);
}

/// Datagrams read per recvmmsg(2) call.
constexpr std::size_t datagrams_per_read = 64;

class udp_reader {
public:
  udp_reader(const udp_server_config& cfg, datagram_decoder& decoder,
             source_pump& pump)
      : cfg_(cfg), dec_(decoder), pump_(pump), m_(pump.metrics()),
        fd_(bind_udp(cfg.bind, cfg.port, cfg.receive_buffer)),
        // One byte over the limit tells a datagram that was longer (the
        // kernel cuts it and says so with MSG_TRUNC either way).
        slot_(cfg.max_datagram + 1), buf_(slot_ * datagrams_per_read) {}

  ~udp_reader() { ::close(fd_); }

  void run() {
    spdlog::info("{}: listening on {}/udp ({}; datagrams the kernel drops "
                 "while the channel pushes back are counted in `dropped`)",
                 m_.name, local_address(fd_), cfg_.describe);
    auto first_at = std::chrono::steady_clock::time_point::max();
    while (!pump_.stopping() && !pump_.aborted()) {
      auto deadline = first_at == std::chrono::steady_clock::time_point::max()
                          ? first_at
                          : first_at + cfg_.batch_timeout;
      pollfd fds[2] = {{fd_, POLLIN, 0}, {pump_.wake_fd(), POLLIN, 0}};
      int rc = ::poll(fds, 2, poll_timeout(deadline));
      if (rc < 0 && errno != EINTR)
        throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
      if (fds[0].revents & POLLIN) read_all(std::size_t{1} << 20);
      note_drops();
      if (!pending_.empty() &&
          first_at == std::chrono::steady_clock::time_point::max())
        first_at = std::chrono::steady_clock::now();
      bool timed_out = !pending_.empty() && std::chrono::steady_clock::now() >=
                                                first_at + cfg_.batch_timeout;
      if (!emit_batches(pending_, cfg_.batch_size, pump_, timed_out)) return;
      if (pending_.empty())
        first_at = std::chrono::steady_clock::time_point::max();
    }
    // A stop: what the socket holds arrived before it, and goes too.
    if (!pump_.aborted()) read_all(std::size_t{64} << 20);
    note_drops();
    emit_batches(pending_, cfg_.batch_size, pump_, true);
  }

private:
  /// Reads what is queued, up to `budget` bytes, into pending_.
  void read_all(std::size_t budget) {
    std::size_t bytes = 0;
    std::vector<mmsghdr> msgs(datagrams_per_read);
    std::vector<iovec> iov(datagrams_per_read);
    std::vector<sockaddr_storage> from(datagrams_per_read);
    while (bytes < budget) {
      for (std::size_t i = 0; i < datagrams_per_read; ++i) {
        iov[i] = {buf_.data() + i * slot_, slot_};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
      int n = ::recvmmsg(fd_, msgs.data(), datagrams_per_read, MSG_DONTWAIT,
                         nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        throw std::runtime_error(std::string{"recvmmsg: "} +
                                 std::strerror(errno));
      }
      if (n == 0) return;
      auto now = now_ms();
      for (int i = 0; i < n; ++i) {
        auto& h = msgs[static_cast<std::size_t>(i)].msg_hdr;
        auto len = std::min<std::size_t>(
            msgs[static_cast<std::size_t>(i)].msg_len, slot_);
        bytes += len;
        bool cut = (h.msg_flags & MSG_TRUNC) != 0 || len > cfg_.max_datagram;
        len = std::min(len, cfg_.max_datagram);
        dec_.read(
            {buf_.data() + static_cast<std::size_t>(i) * slot_, len}, cut,
            datagram_from{&from[static_cast<std::size_t>(i)], h.msg_namelen},
            now, pending_);
      }
      dec_.count(m_);
      if (static_cast<std::size_t>(n) < datagrams_per_read) return;
    }
  }

  /// The kernel's count of datagrams it dropped on this socket
  /// (SO_MEMINFO's SK_MEMINFO_DROPS: buffer full, or a bad checksum):
  /// what it grew by is counted received and dropped, a datagram that
  /// reached this machine and is lost (UDP cannot push back). Read after
  /// every wake and at the end: the count SO_RXQ_OVFL stamps on a
  /// datagram says nothing of drops after the last one read.
  void note_drops() {
    uint32_t info[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof(info);
    if (::getsockopt(fd_, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
        len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
      return;
    uint32_t total = info[SK_MEMINFO_DROPS];
    if (total <= drops_) return;
    uint64_t lost = total - drops_;
    drops_ = total;
    m_.events_received.fetch_add(lost, std::memory_order_relaxed);
    if (m_.events_dropped.fetch_add(lost, std::memory_order_relaxed) == 0)
      spdlog::warn("{}: the kernel dropped {} datagrams for want of socket "
                   "buffer room (the channel pushes back, or senders outrun "
                   "the source; UDP cannot be slowed). Counted in "
                   "`dropped`; raise receive_buffer, or use syslog_tcp",
                   m_.name, lost);
  }

  udp_server_config cfg_;
  datagram_decoder& dec_;
  source_pump& pump_;
  component_metrics& m_;
  int fd_;
  std::size_t slot_;
  std::vector<char> buf_;
  batch pending_;
  uint32_t drops_ = 0;
};

} // namespace

std::string datagram_from::ip() const {
  return numeric_host(*addr, len);
}

std::string datagram_from::ip_port() const {
  auto out = host_port(*addr, len);
  return out == "?" ? std::string{} : out;
}

std::span<const option_spec> udp_server_options() {
  static const option_spec table[] = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "UDP port; `0`: a free port the kernel chooses (logged)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per batch; when not stated, cut to the smallest "
              "`transaction_capacity` of its channels"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc = "a partial batch is sent after this"},
      max_inflight_option(
          "batches sent and not yet accepted; then the source stops reading "
          "and datagrams wait in the socket buffer"),
      {.name = "receive_buffer",
       .kind = option_kind::size,
       .min = 0,
       .max = std::size_t{1} << 30,
       .def = "the kernel's",
       .doc = "SO_RCVBUF: what may wait while the channel pushes back; "
              "beyond it the kernel drops datagrams, counted in `dropped`. "
              "Set as asked when the process may (CAP_NET_ADMIN), else "
              "capped by net.core.rmem_max"},
  };
  return table;
}

void parse_udp_server(option_reader& r, udp_server_config& cfg) {
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.receive_buffer =
      r.bytes("receive_buffer", cfg.receive_buffer, 0, std::size_t{1} << 30);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  listen_endpoint at{cfg.bind, cfg.port};
  at.proto = transport::udp;
  f.listens.push_back(at);
}

void serve_udp(const udp_server_config& cfg, datagram_decoder& decoder,
               source_pump& pump) {
  udp_reader reader{cfg, decoder, pump};
  reader.run();
}

} // namespace flumen::sources
