#include "actors/sources/syslog_sources.hpp"

#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/interceptors/date_format.hpp"
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

// -- options shared by both sources ------------------------------------

constexpr option_spec message_options[] = {
    {.name = "max_message_size",
     .kind = option_kind::size,
     .min = 64,
     .max = max_event_length,
     .doc = "bytes of one message kept (Flume's `eventSize`): a longer one "
            "is cut there, counted in `truncated` and marked "
            "`flume.syslog.status: Incomplete`; the rest of it is skipped, "
            "never buffered"},
    {.name = "format",
     .kind = option_kind::choice,
     .choices = "auto|rfc3164|rfc5424",
     .doc = "`auto`: RFC 5424 when the priority is followed by a version "
            "(`<34>1 `), RFC 3164 otherwise"},
    {.name = "keep_fields",
     .kind = option_kind::list,
     .type = "`none`, `all`, or a list of `priority`, `version`, "
             "`timestamp`, `hostname`",
     .def = "none",
     .doc = "header fields that also stay in the body (Flume's "
            "`keepFields`); by default the body is the message after them"},
    {.name = "timezone",
     .kind = option_kind::string,
     .doc = "the zone of RFC 3164 timestamps, which state none: `UTC`, "
            "`local` (this machine's, DST included) or an offset "
            "(`+02:00`)"},
    {.name = "structured",
     .kind = option_kind::boolean,
     .doc = "RFC 5424's APP-NAME, PROCID, MSGID and structured data as "
            "headers `syslog.app_name`, `syslog.proc_id`, `syslog.msg_id`, "
            "`syslog.sd.<id>.<param>` (beyond Flume)"},
    {.name = "client_ip_header",
     .kind = option_kind::string,
     .doc = "a header set to the sender's address (Flume's "
            "`clientIPHeader`); empty: none"},
};

void parse_message_options(option_reader& r, syslog_message_config& m) {
  auto& p = m.parse;
  p.max_message_size =
      r.bytes("max_message_size", p.max_message_size, 64, max_event_length);
  p.fmt = r.choice("format", p.fmt,
                   {{"auto", syslog::format::auto_detect},
                    {"rfc3164", syslog::format::rfc3164},
                    {"rfc5424", syslog::format::rfc5424}});
  if (r.has("keep_fields")) {
    auto list = r.string_list("keep_fields");
    for (auto& f : list) {
      if (f == "none" && list.size() == 1) continue;
      if (f == "all" && list.size() == 1) {
        p.keep = syslog::keep_fields::all();
      } else if (f == "priority") {
        p.keep.priority = true;
      } else if (f == "version") {
        p.keep.version = true;
      } else if (f == "timestamp") {
        p.keep.timestamp = true;
      } else if (f == "hostname") {
        p.keep.hostname = true;
      } else {
        r.invalid("keep_fields",
                  "'" + f +
                      "' is none of none, all (each alone), priority, "
                      "version, timestamp, hostname");
        break;
      }
    }
  }
  auto tz = r.str("timezone", "UTC");
  if (auto z = interceptors::date_zone::parse(tz))
    p.timezone = syslog::zone{z->local, z->offset_seconds};
  else if (r.parsed({"timezone"}))
    r.invalid("timezone", "expected `UTC`, `local` or an offset such as "
                          "`+02:00`, not '" +
                              tz + "'");
  p.structured = r.boolean("structured", p.structured);
  m.client_ip_header = r.str("client_ip_header", m.client_ip_header);
}

/// Adds the client header, counts a cut message; one event per message.
struct message_reader {
  const syslog_message_config& cfg;
  std::string ip;
  uint64_t truncated = 0;

  void read(std::string_view bytes, bool cut, int64_t now, batch& out) {
    event e;
    syslog::parse_message(bytes, cut, cfg.parse, now, e);
    if (auto s = e.headers.find(syslog::status_header);
        s != e.headers.end() && s->second == "Incomplete")
      ++truncated;
    if (!cfg.client_ip_header.empty() && !ip.empty())
      e.headers.insert_or_assign(cfg.client_ip_header, ip);
    out.push_back(std::move(e));
  }

  /// What was cut since the last call, into `truncated`; the first one
  /// warned about (a change by policy is never silent).
  void count(component_metrics& m) {
    if (truncated == 0) return;
    if (m.events_truncated.fetch_add(truncated, std::memory_order_relaxed) == 0)
      spdlog::warn("{}: a message longer than max_message_size ({} bytes) "
                   "was cut (flume.syslog.status: Incomplete); further ones "
                   "are counted in `truncated`",
                   m.name, cfg.parse.max_message_size);
    truncated = 0;
  }
};

// -- syslog_tcp ----------------------------------------------------------

class syslog_decoder final : public stream_decoder {
public:
  syslog_decoder(std::shared_ptr<const syslog_tcp_config> cfg,
                 const peer_info& peer)
      : cfg_(std::move(cfg)),
        framer_(cfg_->framing, cfg_->message.parse.max_message_size),
        reader_{cfg_->message, peer.ip} {}

  bool feed(const char* data, std::size_t n, batch& out) override {
    auto now = now_ms();
    return framer_.feed({data, n}, [&](const syslog::framer::message& m) {
      reader_.read(m.bytes, m.truncated, now, out);
    });
  }
  void finish(batch& out) override {
    auto now = now_ms();
    framer_.finish([&](const syslog::framer::message& m) {
      reader_.read(m.bytes, m.truncated, now, out);
    });
  }
  bool in_message() const override { return framer_.in_message(); }
  std::size_t through_end(const char* data, std::size_t n) const override {
    // LF framing ends at a newline; an octet-counted frame is fed whole.
    if (framer_.mode() != syslog::framing::lf) return std::string::npos;
    auto* nl = static_cast<const char*>(std::memchr(data, '\n', n));
    return nl ? static_cast<std::size_t>(nl - data) + 1 : std::string::npos;
  }
  void count(component_metrics& m) override { reader_.count(m); }
  std::string error() const override { return framer_.error(); }

private:
  std::shared_ptr<const syslog_tcp_config> cfg_; ///< reader_ refers to it
  syslog::framer framer_;
  message_reader reader_;
};

} // namespace

const option_list& syslog_tcp_options() {
  static const option_spec own[] = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port; `0`: a free port the kernel chooses (logged)"},
      {.name = "framing",
       .kind = option_kind::choice,
       .choices = "auto|octet_counting|lf",
       .doc = "RFC 6587: `octet_counting` (`LEN SP MSG`; a message may "
              "hold newlines), `lf` (a message per line), or `auto`: per "
              "connection, from its first byte (a digit: octet counting). "
              "A length that is no number closes the connection (counted "
              "in `connection_failures`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per batch; when not stated, cut to the smallest "
              "`transaction_capacity` of its channels"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc = "a partial batch is sent after this, or at once when a client "
              "closes its connection"},
      {.name = "max_connections",
       .kind = option_kind::count,
       .doc = "clients served at once; further ones wait in the listen "
              "backlog"},
      {.name = "idle_timeout",
       .kind = option_kind::duration,
       .doc = "a client that sent nothing for this long is closed (counted "
              "in `connection_failures`); `0`: never"},
      max_inflight_option(
          "batches sent and not yet accepted; then the source stops reading "
          "and TCP pushes back on the senders (Flume's syslog sources drop "
          "on a full channel; this never does)"),
      {.name = "readers",
       .kind = option_kind::count,
       .min = 1,
       .max = 64,
       .doc = "threads reading clients (a client stays with one, so its "
              "messages keep their order)"},
  };
  static const option_list table = options_of({own, message_options});
  return table;
}

syslog_tcp_config parse_syslog_tcp(option_reader& r) {
  option_scope scope{r, syslog_tcp_options()};
  syslog_tcp_config cfg;
  auto& s = cfg.server;
  s.bind = r.str("bind", s.bind);
  s.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.framing = r.choice("framing", cfg.framing,
                         {{"auto", syslog::framing::auto_detect},
                          {"octet_counting", syslog::framing::octet_counting},
                          {"lf", syslog::framing::lf}});
  s.batch_size = r.count("batch_size", s.batch_size);
  s.batch_timeout = r.duration("batch_timeout", s.batch_timeout);
  s.max_connections = r.count("max_connections", s.max_connections);
  s.idle_timeout = r.duration("idle_timeout", s.idle_timeout);
  s.max_inflight = r.count("max_inflight", s.max_inflight);
  s.readers = r.count("readers", s.readers);
  parse_message_options(r, cfg.message);
  s.max_line_length = cfg.message.parse.max_message_size;
  auto& f = r.facts();
  f.batch_size = s.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.max_event_bytes = cfg.message.parse.max_message_size;
  f.listens.push_back({s.bind, s.port});
  return cfg;
}

caf::actor spawn_syslog_tcp(caf::actor_system& sys,
                            const syslog_tcp_config& config, const wiring& w) {
  auto cfg = config;
  auto server = cfg.server;
  auto shared = std::make_shared<const syslog_tcp_config>(cfg);
  server.decoder = [shared](const peer_info& peer) {
    return std::make_unique<syslog_decoder>(shared, peer);
  };
  static constexpr const char* framings[] = {"auto", "octet_counting", "lf"};
  server.describe = "syslog, framing " +
                    std::string{framings[static_cast<int>(cfg.framing)]} +
                    ", messages up to " +
                    std::to_string(cfg.message.parse.max_message_size) +
                    " bytes, longer ones cut: max_message_size";
  return spawn_netcat(sys, server, w);
}

// -- syslog_udp ----------------------------------------------------------

namespace {

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

std::string numeric_host(const sockaddr_storage& addr, socklen_t len) {
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host,
                    sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0)
    return {};
  return host;
}

std::string bound_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host),
                    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "?";
  if (addr.ss_family == AF_INET6) return "[" + std::string{host} + "]:" + port;
  return std::string{host} + ":" + port;
}

/// Datagrams read per recvmmsg(2) call.
constexpr std::size_t datagrams_per_read = 64;

class udp_reader {
public:
  udp_reader(const syslog_udp_config& cfg, source_pump& pump)
      : cfg_(cfg), pump_(pump), m_(pump.metrics()),
        fd_(bind_udp(cfg.bind, cfg.port, cfg.receive_buffer)),
        // One byte over the limit tells a datagram that was longer (the
        // kernel cuts it and says so with MSG_TRUNC either way).
        slot_(cfg.message.parse.max_message_size + 1),
        buf_(slot_ * datagrams_per_read), reader_{cfg_.message, {}} {}

  ~udp_reader() { ::close(fd_); }

  void run() {
    spdlog::info("{}: listening on {}/udp (syslog, one message per datagram "
                 "of at most {} bytes, longer ones cut: max_message_size; "
                 "datagrams the kernel drops while the channel pushes back "
                 "are counted in `dropped`)",
                 m_.name, bound_address(fd_),
                 cfg_.message.parse.max_message_size);
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
        bool cut = (h.msg_flags & MSG_TRUNC) != 0 ||
                   len > cfg_.message.parse.max_message_size;
        len = std::min(len, cfg_.message.parse.max_message_size);
        if (!cfg_.message.client_ip_header.empty())
          reader_.ip =
              numeric_host(from[static_cast<std::size_t>(i)], h.msg_namelen);
        reader_.read({buf_.data() + static_cast<std::size_t>(i) * slot_, len},
                     cut, now, pending_);
      }
      reader_.count(m_);
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

  syslog_udp_config cfg_;
  source_pump& pump_;
  component_metrics& m_;
  int fd_;
  std::size_t slot_;
  std::vector<char> buf_;
  message_reader reader_;
  batch pending_;
  uint32_t drops_ = 0;
};

} // namespace

const option_list& syslog_udp_options() {
  static const option_spec own[] = {
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
  static const option_list table = options_of({own, message_options});
  return table;
}

syslog_udp_config parse_syslog_udp(option_reader& r) {
  option_scope scope{r, syslog_udp_options()};
  syslog_udp_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.receive_buffer =
      r.bytes("receive_buffer", cfg.receive_buffer, 0, std::size_t{1} << 30);
  parse_message_options(r, cfg.message);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.max_event_bytes = cfg.message.parse.max_message_size;
  listen_endpoint at{cfg.bind, cfg.port};
  at.proto = transport::udp;
  f.listens.push_back(at);
  return cfg;
}

caf::actor spawn_syslog_udp(caf::actor_system& sys,
                            const syslog_udp_config& config, const wiring& w) {
  auto cfg = adapt_batch(config, w);
  return spawn_source(
      sys,
      [cfg](source_pump& pump) {
        udp_reader reader{cfg, pump};
        reader.run();
      },
      w.downstream, w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
