#include "actors/sources/avro_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "actors/sources/netcat_io.hpp"
#include "actors/sources/socket_names.hpp"
#include "actors/sources/tls_session.hpp"
#include "runtime/avro/netty.hpp"

namespace flumen::sources {

namespace avro_families {
const own_family_spec requests_ok{
    "avro_requests_ok", "Avro calls answered OK (their events accepted)."};
const own_family_spec requests_failed{
    "avro_requests_failed",
    "Avro calls answered FAILED: a channel stayed full for hold_timeout (the "
    "client sends them again)."};
const own_family_spec requests_rejected{
    "avro_requests_rejected",
    "Avro messages that were no AvroSourceProtocol call, answered with an "
    "Avro error."};
const own_family_spec events_refused{
    "avro_events_refused",
    "Events of calls answered FAILED or with an error: none taken, the client "
    "holds them (counted in events_dropped too)."};
const own_family_spec connections_refused{
    "avro_connections_refused",
    "Connections closed at once for their address (ip_filter)."};
} // namespace avro_families

namespace {

using steady = std::chrono::steady_clock;
constexpr std::size_t read_chunk = 64 * 1024;
/// Answers written and not taken by a client beyond which it is not read.
constexpr std::size_t max_unsent = 1 << 20;

/// At most 10 warnings of a kind per 10 s, the next one saying how many
/// were held back: a flood of bad peers cannot flood the log.
struct log_limiter {
  steady::time_point window{};
  int lines = 0;
  uint64_t held = 0;
  template <class F>
  void operator()(F&& log) {
    auto now = steady::now();
    if (now - window >= std::chrono::seconds{10}) window = now, lines = 0;
    if (lines >= 10) {
      ++held;
      return;
    }
    ++lines;
    log(std::exchange(held, 0));
  }
};

/// What a limited log line adds: how many like it were held back.
std::string more(uint64_t held) {
  return held == 0 ? std::string{}
                   : " (" + std::to_string(held) + " more since the last line)";
}

struct connection {
  int fd = -1;
  uint64_t id = 0;
  std::string peer;
  std::unique_ptr<tls_session> tls;
  std::unique_ptr<avro::inflater> inf;
  std::unique_ptr<avro::deflater> def;
  avro::netty_decoder dec;
  std::string raw;   ///< compressed bytes not yet inflated
  std::string plain; ///< bytes not yet framed, from plain_pos
  std::size_t plain_pos = 0;
  std::string out;          ///< bytes to write
  bool established = false; ///< Avro's handshake done
  bool waiting = false;     ///< a call is handed over, not answered
  bool closing = false;     ///< close once `out` is written
  steady::time_point accepted, last_read;
  std::optional<steady::time_point> message_started;
  /// A closing connection whose last answer is not taken by then is
  /// dropped anyway.
  std::optional<steady::time_point> drop_at;

  explicit connection(avro::frame_limits lim) : dec(lim) {}
  ~connection() {
    tls.reset();
    if (fd >= 0) ::close(fd);
  }
};

} // namespace

struct avro_server::impl {
  avro_source_config cfg;
  std::shared_ptr<component_metrics> m;
  call_fn on_call;
  failure_fn on_failure;
  avro::ip_filter filter;
  avro::handshake_table table;
  tls_context tls;
  int listener = -1;
  int wake = -1;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> accepting{true};
  std::atomic<std::size_t> busy{0};
  std::mutex mtx;
  struct reply {
    uint64_t connection;
    int32_t serial;
    std::string payload;
  };
  std::deque<reply> replies;
  std::map<uint64_t, std::unique_ptr<connection>> conns;
  uint64_t next_id = 0;
  /// After a failed accept (out of descriptors or memory) the listener is
  /// left out of poll until then: it stays readable, and polling it again
  /// at once would spin.
  steady::time_point accept_resume{};
  std::chrono::milliseconds accept_backoff{0};
  log_limiter framing_log, call_log, refused_log, timeout_log, accept_log;
  std::vector<pollfd> fds;
  std::vector<uint64_t> owners;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(read_chunk);

  std::atomic<uint64_t>& own(const own_family_spec& f) { return m->own(f); }

  void run();
  void accept_clients();
  void serve(connection& c, short revents);
  void process(connection& c);
  void handle(connection& c, avro::netty_message msg);
  void send(connection& c, int32_t serial, std::string_view payload);
  void flush(connection& c);
  void fail(connection& c, const std::string& why, log_limiter& lim);
  void expire(steady::time_point now);
  void apply_replies();
  void close_done();
  void close_all();
};

avro_server::avro_server(const avro_source_config& cfg,
                         std::shared_ptr<component_metrics> metrics,
                         call_fn on_call, failure_fn on_failure)
    : impl_(std::make_unique<impl>()) {
  impl_->on_failure = std::move(on_failure);
  impl_->cfg = cfg;
  impl_->m = std::move(metrics);
  impl_->on_call = std::move(on_call);
  impl_->filter = avro::ip_filter{cfg.ip_filter};
}

void avro_server::start() {
  auto& d = *impl_;
  if (d.cfg.tls.enabled()) d.tls = make_tls_server_context(d.cfg.tls);
  d.listener = listen_on(d.cfg.bind, d.cfg.port);
  sockaddr_storage sa{};
  socklen_t len = sizeof(sa);
  ::getsockname(d.listener, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
  d.wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d.wake < 0) {
    ::close(d.listener);
    throw std::runtime_error(std::string{"eventfd: "} + std::strerror(errno));
  }
  d.thread = std::thread([&d] {
    try {
      d.run();
    } catch (const std::exception& e) {
      spdlog::error("{}: the server stopped: {}", d.m->name, e.what());
      // The source goes down with it, so its supervisor restarts both.
      if (d.on_failure) d.on_failure(e.what());
    }
    d.close_all();
  });
}

avro_server::~avro_server() {
  auto& d = *impl_;
  d.stop = true;
  if (d.wake >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(d.wake, &one, sizeof(one));
  }
  if (d.thread.joinable()) d.thread.join();
  if (d.listener >= 0) ::close(d.listener);
  if (d.wake >= 0) ::close(d.wake);
}

void avro_server::answer(const std::shared_ptr<avro_call>& call, avro::status s,
                         std::string error) {
  auto& d = *impl_;
  std::string payload = std::move(call->prefix);
  avro::writer w{payload};
  if (error.empty())
    avro::write_status_response(w, s);
  else
    avro::write_error_response(w, error);
  {
    std::lock_guard<std::mutex> guard{d.mtx};
    d.replies.push_back({call->connection, call->serial, std::move(payload)});
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(d.wake, &one, sizeof(one));
}

void avro_server::stop_accepting() {
  impl_->accepting = false;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(impl_->wake, &one, sizeof(one));
}

std::size_t avro_server::busy() const {
  return impl_->busy.load();
}

void avro_server::impl::run() {
  while (!stop) {
    auto now = steady::now();
    fds.clear();
    owners.clear();
    fds.push_back({wake, POLLIN, 0});
    bool listening =
        accepting && conns.size() < cfg.max_connections && now >= accept_resume;
    fds.push_back({listening ? listener : -1, POLLIN, 0});
    bool buffered = false;
    for (auto& [id, c] : conns) {
      short ev = 0;
      if (c->tls && c->tls->handshaking()) {
        ev = c->tls->wants_write() ? POLLOUT : POLLIN;
      } else {
        if (!c->waiting && !c->closing && c->out.size() < max_unsent)
          ev |= POLLIN;
        if (!c->out.empty() || (c->tls && c->tls->wants_write())) ev |= POLLOUT;
        buffered = buffered || (c->tls && c->tls->buffered() && !c->waiting);
      }
      fds.push_back({c->fd, ev, 0});
      owners.push_back(id);
    }
    auto wait_ms = 250;
    if (accept_resume > now)
      wait_ms = static_cast<int>(std::min<int64_t>(
          wait_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                       accept_resume - now)
                           .count() +
                       1));
    int rc = ::poll(fds.data(), fds.size(), buffered ? 0 : wait_ms);
    if (rc < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      [[maybe_unused]] auto r = ::read(wake, &n, sizeof(n));
    }
    apply_replies();
    if (fds[1].revents & (POLLIN | POLLERR)) accept_clients();
    for (std::size_t i = 0; i < owners.size(); ++i) {
      auto it = conns.find(owners[i]);
      if (it == conns.end()) continue;
      auto& c = *it->second;
      auto rev = fds[i + 2].revents;
      if (rev == 0 && !(c.tls && c.tls->buffered())) continue;
      try {
        serve(c, rev);
      } catch (const std::exception& e) {
        // Out of memory for one client's message or session: that client
        // goes, the others stay.
        fail(c, std::string{"cannot serve it: "} + e.what(), framing_log);
        c.out.clear();
      }
    }
    now = steady::now();
    expire(now);
    close_done();
    m->connections_open.store(conns.size(), std::memory_order_relaxed);
  }
}

void avro_server::impl::apply_replies() {
  std::deque<reply> todo;
  {
    std::lock_guard<std::mutex> guard{mtx};
    todo.swap(replies);
  }
  for (auto& r : todo) {
    busy.fetch_sub(1);
    auto it = conns.find(r.connection);
    if (it == conns.end()) continue; // gone: its client sends again
    auto& c = *it->second;
    c.waiting = false;
    send(c, r.serial, r.payload);
    // What it sent behind the call is read now.
    if (!c.closing) process(c);
  }
}

void avro_server::impl::accept_clients() {
  while (conns.size() < cfg.max_connections) {
    sockaddr_storage sa{};
    socklen_t len = sizeof(sa);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&sa), &len,
                       SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      auto err = errno;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // Out of descriptors or memory: the client waits in the backlog,
      // and the listener is left alone for a while, doubling to 1 s.
      ++m->connection_failures;
      accept_backoff =
          accept_backoff.count() == 0
              ? std::chrono::milliseconds{100}
              : std::min(2 * accept_backoff, std::chrono::milliseconds{1000});
      accept_resume = steady::now() + accept_backoff;
      accept_log([&](uint64_t held) {
        spdlog::warn("{}: cannot accept a client: {} ({} connections open; "
                     "retrying in {} ms){}",
                     m->name, std::strerror(err), conns.size(),
                     accept_backoff.count(), more(held));
      });
      return;
    }
    accept_backoff = std::chrono::milliseconds{0};
    // As Avro's NettyServer (childOption TCP_NODELAY): an answer goes out
    // at once, not held for the ACK of the last one.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa.ss_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&sa)->sin_addr, host,
                sizeof(host));
    else if (sa.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&sa)->sin6_addr,
                host, sizeof(host));
    if (!filter.allows(reinterpret_cast<sockaddr*>(&sa))) {
      ::close(fd);
      ++own(avro_families::connections_refused);
      refused_log([&](uint64_t held) {
        spdlog::warn("{}: refused a connection from {} (ip_filter){}", m->name,
                     host, more(held));
      });
      continue;
    }
    avro::frame_limits lim;
    lim.max_frames = cfg.max_frames;
    lim.max_frame_bytes = cfg.max_message_bytes;
    lim.max_message_bytes = cfg.max_message_bytes;
    auto c = std::make_unique<connection>(lim);
    c->fd = fd;
    c->id = ++next_id;
    c->peer = host;
    c->accepted = c->last_read = steady::now();
    try {
      if (tls) c->tls = std::make_unique<tls_session>(tls, fd);
      if (cfg.deflate) {
        c->inf = std::make_unique<avro::inflater>();
        c->def = std::make_unique<avro::deflater>(6);
      }
    } catch (const std::exception& e) {
      ++m->connection_failures;
      spdlog::warn("{}: dropping a client: {}", m->name, e.what());
      continue; // ~connection closes it
    }
    conns.emplace(c->id, std::move(c));
  }
}

void avro_server::impl::serve(connection& c, short revents) {
  if (c.tls && c.tls->handshaking()) {
    auto step = c.tls->handshake();
    if (step == tls_session::step::failed) {
      // The agent's TLS audit logs who and why (runtime/net/tls_audit.cpp).
      ++m->connection_failures;
      c.closing = true;
      c.out.clear();
      return;
    }
    if (step == tls_session::step::again) return;
  }
  if (revents & POLLOUT) flush(c);
  if (c.closing || c.waiting) return;
  if (!(revents & (POLLIN | POLLHUP | POLLERR)) &&
      !(c.tls && c.tls->buffered()))
    return;
  ssize_t n = c.tls ? c.tls->receive(buf.get(), read_chunk, false)
                    : ::read(c.fd, buf.get(), read_chunk);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0) {
    // Gone. A message it was in the middle of was not answered: it sends
    // it again.
    if (c.tls && c.tls->failed())
      fail(c, "TLS: " + c.tls->error(), framing_log);
    else if (c.dec.in_message() || !c.plain.empty() || !c.raw.empty())
      fail(c, "the connection closed in the middle of a message", framing_log);
    c.closing = true;
    c.out.clear();
    return;
  }
  c.last_read = steady::now();
  if (c.inf)
    c.raw.append(buf.get(), static_cast<std::size_t>(n));
  else
    c.plain.assign(buf.get(), static_cast<std::size_t>(n)), c.plain_pos = 0;
  process(c);
}

void avro_server::impl::process(connection& c) {
  while (!c.waiting && !c.closing) {
    if (c.plain_pos == c.plain.size()) {
      c.plain.clear();
      c.plain_pos = 0;
      if (!c.inf || c.raw.empty()) break;
      std::string_view in = c.raw;
      // A step at a time: a deflate bomb never inflates beyond one chunk
      // ahead of the framing, which refuses what passes its bounds.
      if (!c.inf->inflate(in, c.plain, read_chunk))
        return fail(c, c.inf->error(), framing_log);
      auto used = c.raw.size() - in.size();
      c.raw.erase(0, used);
      if (c.plain.empty()) {
        if (used == 0) break; // needs more input
        continue;
      }
    }
    std::string_view rest{c.plain};
    rest.remove_prefix(c.plain_pos);
    c.plain_pos += c.dec.feed(rest);
    if (c.dec.failed()) return fail(c, c.dec.error(), framing_log);
    if (c.dec.in_message() && !c.message_started)
      c.message_started = steady::now();
    if (c.dec.ready()) {
      c.message_started.reset();
      handle(c, c.dec.take());
    }
  }
}

void avro_server::impl::handle(connection& c, avro::netty_message msg) {
  avro::limits lim;
  lim.max_value_bytes = cfg.max_message_bytes;
  lim.max_items = cfg.max_batch_events;
  avro::reader r{msg.payload, lim};
  std::string prefix;
  try {
    if (!c.established) {
      auto h = avro::read_handshake_request(r);
      bool established = false;
      std::string why;
      auto res = table.answer(h, established, why);
      avro::writer w{prefix};
      avro::write_handshake_response(w, res);
      if (!established) {
        // Java's Responder answers the handshake alone; the client sends
        // again with its protocol.
        send(c, msg.serial, prefix);
        if (!why.empty()) {
          ++own(avro_families::requests_rejected);
          fail(c, "its protocol is not Flume's AvroSourceProtocol: " + why,
               call_log);
        }
        return;
      }
      c.established = true;
    }
    auto call = avro::read_call(r);
    if (call.msg == avro::message::ping) return send(c, msg.serial, prefix);
    auto n = call.events.size();
    m->events_received.fetch_add(n, std::memory_order_relaxed);
    if (n == 0) {
      avro::writer w{prefix};
      avro::write_status_response(w, avro::status::ok);
      ++own(avro_families::requests_ok);
      return send(c, msg.serial, prefix);
    }
    auto handed = std::make_shared<avro_call>();
    handed->events = std::move(call.events);
    handed->connection = c.id;
    handed->serial = msg.serial;
    handed->prefix = std::move(prefix);
    c.waiting = true;
    busy.fetch_add(1);
    on_call(std::move(handed));
  } catch (const avro::decode_error& e) {
    // Framed, but no call of the protocol: answered with an Avro error as
    // Java's Responder does; the framing is intact, the connection stays
    // (unless its handshake could not be read).
    ++own(avro_families::requests_rejected);
    std::string what = e.what();
    call_log([&](uint64_t held) {
      spdlog::warn("{}: a message from {} is no AvroSourceProtocol call, "
                   "answered with an error: {}{}",
                   m->name, c.peer, what, more(held));
    });
    avro::writer w{prefix};
    avro::write_error_response(w, "flumen: " + what);
    send(c, msg.serial, prefix);
    if (!c.established) {
      ++m->connection_failures;
      c.closing = true;
    }
  }
}

void avro_server::impl::send(connection& c, int32_t serial,
                             std::string_view payload) {
  if (!c.def) {
    avro::netty_encode(c.out, serial, payload);
  } else {
    std::string framed;
    avro::netty_encode(framed, serial, payload);
    c.def->deflate(framed, c.out);
  }
  flush(c);
}

void avro_server::impl::flush(connection& c) {
  if (c.tls && c.tls->handshaking()) return;
  std::size_t done = 0;
  while (done < c.out.size()) {
    auto n = c.tls ? c.tls->send(c.out.data() + done, c.out.size() - done)
                   : ::send(c.fd, c.out.data() + done, c.out.size() - done,
                            MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      // Gone: an answer it did not get makes it send again.
      c.closing = true;
      c.out.clear();
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  c.out.erase(0, done);
}

void avro_server::impl::fail(connection& c, const std::string& why,
                             log_limiter& lim) {
  ++m->connection_failures;
  lim([&](uint64_t held) {
    spdlog::warn("{}: closing a connection from {}: {}{}", m->name, c.peer, why,
                 more(held));
  });
  c.closing = true;
}

void avro_server::impl::expire(steady::time_point now) {
  for (auto& [id, c] : conns) {
    if (c->closing || c->waiting) continue;
    const char* why = nullptr;
    if ((!c->established || (c->tls && c->tls->handshaking())) &&
        now - c->accepted >= cfg.handshake_timeout)
      why = "no handshake within handshake_timeout";
    else if (c->message_started &&
             now - *c->message_started >= cfg.handshake_timeout)
      why = "a message not complete within handshake_timeout";
    else if (cfg.idle_timeout.count() > 0 &&
             now - c->last_read >= cfg.idle_timeout && c->out.empty())
      why = nullptr, c->closing = true; // idle: closed quietly, not a failure
    if (why) {
      fail(*c, why, timeout_log);
      c->out.clear();
    }
  }
}

void avro_server::impl::close_done() {
  auto now = steady::now();
  for (auto it = conns.begin(); it != conns.end();) {
    auto& c = *it->second;
    if (c.closing && !c.out.empty() && !c.drop_at)
      c.drop_at = now + std::chrono::seconds{2};
    if (c.closing && (c.out.empty() || now >= *c.drop_at)) {
      it = conns.erase(it);
      // The descriptor freed may be what a failed accept was missing.
      accept_resume = steady::time_point{};
    } else
      ++it;
  }
}

void avro_server::impl::close_all() {
  conns.clear();
  m->connections_open.store(0, std::memory_order_relaxed);
}

} // namespace flumen::sources
