#include "actors/sinks/avro_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "runtime/avro/netty.hpp"
#include "runtime/avro/rpc.hpp"
#include "runtime/libs/openssl.hpp"

namespace flumen::sinks {

namespace avro_sink_families {
const own_family_spec calls_failed{
    "avro_calls_failed",
    "Calls answered FAILED or with an error, timed out or cut with their "
    "connection: rolled back and sent again."};
const own_family_spec connections{
    "avro_connections",
    "Connections made to the receiver (a new one after each failure and "
    "each reset_connection_interval)."};
} // namespace avro_sink_families

namespace {

using steady = std::chrono::steady_clock;
constexpr std::size_t read_chunk = 64 * 1024;
/// The largest answer the sink reads.
constexpr std::size_t max_answer_bytes = 1 << 20;

struct pending_call {
  std::string payload;
  avro_client::result_fn done;
  steady::time_point deadline{};
  bool with_handshake = false;
};

std::string ssl_reason(const char* what) {
  auto code = ERR_get_error();
  if (code == 0) return what;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return std::string{what} + ": " + buf;
}

bool numeric_host(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

} // namespace

struct avro_client::impl {
  avro_sink_config cfg;
  std::shared_ptr<component_metrics> m;
  std::shared_ptr<SSL_CTX> ctx;
  int wake = -1;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mtx;
  std::deque<pending_call> incoming;

  // The thread's own.
  std::deque<pending_call> waiting;
  std::map<int32_t, pending_call> inflight;
  int fd = -1;
  SSL* ssl = nullptr;
  bool connecting = false;
  bool tls_handshaking = false;
  bool established = false;   ///< Avro's handshake answered
  bool handshake_out = false; ///< a call with the handshake is out
  bool send_protocol = false; ///< the receiver answered NONE
  int32_t serial = 0;
  steady::time_point connect_deadline{}, connected_at{};
  std::string out;
  std::string raw, plain;
  std::unique_ptr<avro::inflater> inf;
  std::unique_ptr<avro::deflater> def;
  std::unique_ptr<avro::netty_decoder> dec;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(read_chunk);
  std::string last_error;

  void run();
  void start_connect();
  void close_conn(const std::string& why);
  void fail_all(const std::string& why);
  void send_ready();
  void send(pending_call c);
  void flush();
  void read();
  void handle(avro::netty_message msg);
  bool ready() const { return fd >= 0 && !connecting && !tls_handshaking; }
};

avro_client::avro_client(const avro_sink_config& cfg,
                         std::shared_ptr<component_metrics> metrics)
    : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.cfg = cfg;
  d.m = std::move(metrics);
  if (cfg.security.tls()) {
    auto* raw = SSL_CTX_new(TLS_client_method());
    if (!raw) throw std::runtime_error(ssl_reason("TLS: no context"));
    d.ctx.reset(raw, SSL_CTX_free);
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
    auto& sec = cfg.security;
    if (!sec.passphrase.empty()) {
      SSL_CTX_set_default_passwd_cb_userdata(
          raw, const_cast<char*>(d.cfg.security.passphrase.c_str()));
    }
    if (SSL_CTX_load_verify_locations(raw, sec.ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error(
          ssl_reason(("TLS: ca_file " + sec.ca_file).c_str()));
    if (SSL_CTX_use_certificate_chain_file(raw, sec.certificate.c_str()) != 1)
      throw std::runtime_error(
          ssl_reason(("TLS: certificate " + sec.certificate).c_str()));
    if (SSL_CTX_use_PrivateKey_file(raw, sec.key.c_str(), SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_check_private_key(raw) != 1)
      throw std::runtime_error(ssl_reason(("TLS: key " + sec.key).c_str()));
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  }
  d.wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d.wake < 0)
    throw std::runtime_error(std::string{"eventfd: "} + std::strerror(errno));
  d.thread = std::thread([&d] {
    try {
      d.run();
    } catch (const std::exception& e) {
      spdlog::error("{}: the connection thread stopped: {}", d.m->name,
                    e.what());
    }
    d.close_conn("the sink is stopping");
    d.fail_all("the sink is stopping");
  });
}

avro_client::~avro_client() {
  auto& d = *impl_;
  d.stop = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(d.wake, &one, sizeof(one));
  if (d.thread.joinable()) d.thread.join();
  std::deque<pending_call> left;
  {
    std::lock_guard<std::mutex> guard{d.mtx};
    left.swap(d.incoming);
  }
  for (auto& c : left)
    c.done("the sink is stopping");
  ::close(d.wake);
}

void avro_client::call(const batch& events, result_fn done) {
  pending_call c;
  avro::writer w{c.payload};
  avro::write_call(w, avro::message::append_batch, events, 0, events.size());
  c.done = std::move(done);
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->incoming.push_back(std::move(c));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(impl_->wake, &one, sizeof(one));
}

void avro_client::impl::run() {
  while (!stop) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      while (!incoming.empty()) {
        waiting.push_back(std::move(incoming.front()));
        incoming.pop_front();
      }
    }
    auto now = steady::now();
    if (fd < 0 && !waiting.empty()) start_connect();
    if (ready()) send_ready();
    pollfd fds[2] = {{wake, POLLIN, 0}, {-1, 0, 0}};
    if (fd >= 0) {
      short ev = POLLIN;
      if (connecting || !out.empty() ||
          (ssl && tls_handshaking && SSL_want_write(ssl)))
        ev |= POLLOUT;
      if (connecting) ev = POLLOUT;
      fds[1] = {fd, ev, 0};
    }
    // Wake for the nearest deadline, at least every 250 ms.
    auto until = now + std::chrono::milliseconds{250};
    if (connecting || tls_handshaking)
      until = std::min(until, connect_deadline);
    for (auto& [s, c] : inflight)
      until = std::min(until, c.deadline);
    auto ms = std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - now)
                   .count() +
               1);
    int rc = ::poll(fds, 2, static_cast<int>(ms));
    if (rc < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      [[maybe_unused]] auto r = ::read(wake, &n, sizeof(n));
    }
    if (fd >= 0 && fds[1].revents) {
      if (connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          close_conn(std::string{"cannot connect: "} + std::strerror(err));
          continue;
        }
        connecting = false;
        if (ssl) tls_handshaking = true;
      }
      if (fd >= 0 && tls_handshaking) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1) {
          tls_handshaking = false;
        } else {
          auto e = SSL_get_error(ssl, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            close_conn(ssl_reason("TLS handshake failed"));
            continue;
          }
        }
      }
      if (ready()) {
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) read();
        if (fd >= 0 && !out.empty()) flush();
      }
    }
    if (fd >= 0 && ssl && ready() && SSL_pending(ssl) > 0) read();
    now = steady::now();
    if (fd >= 0 && (connecting || tls_handshaking) && now >= connect_deadline) {
      close_conn("no connection within connect_timeout (" +
                 std::to_string(cfg.connect_timeout.count()) + " ms)");
      continue;
    }
    bool overdue = false;
    for (auto& [s, c] : inflight)
      overdue = overdue || now >= c.deadline;
    if (overdue)
      close_conn("no answer within request_timeout (" +
                 std::to_string(cfg.request_timeout.count()) + " ms)");
    if (fd >= 0 && ready() && inflight.empty() &&
        cfg.reset_connection_interval.count() > 0 &&
        now - connected_at >= cfg.reset_connection_interval)
      close_conn({}); // a quiet reset: nothing was out
  }
}

void avro_client::impl::start_connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(cfg.port);
  if (int rc = ::getaddrinfo(cfg.hostname.c_str(), port.c_str(), &hints, &res);
      rc != 0 || !res) {
    fail_all("cannot resolve " + cfg.hostname + ": " + gai_strerror(rc));
    return;
  }
  fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    fail_all(std::string{"cannot open a socket: "} + std::strerror(errno));
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    close_conn(std::string{"cannot connect: "} + std::strerror(errno));
    return;
  }
  ++m->own(avro_sink_families::connections);
  connecting = true;
  connect_deadline = steady::now() + cfg.connect_timeout;
  connected_at = steady::now();
  serial = 0;
  established = handshake_out = send_protocol = false;
  // Answers are small (a status, a handshake with a protocol text of at
  // most 64 KiB): a receiver cannot make the sink hold more than this.
  avro::frame_limits lim;
  lim.max_frames = 64;
  lim.max_frame_bytes = max_answer_bytes;
  lim.max_message_bytes = max_answer_bytes;
  dec = std::make_unique<avro::netty_decoder>(lim);
  if (cfg.deflate) {
    inf = std::make_unique<avro::inflater>();
    def = std::make_unique<avro::deflater>(cfg.compression_level);
  }
  if (ctx) {
    ssl = SSL_new(ctx.get());
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
      close_conn(ssl_reason("TLS: cannot start a session"));
      return;
    }
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // The receiver's certificate must name the host the sink was told.
    if (numeric_host(cfg.hostname)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), cfg.hostname.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, cfg.hostname.c_str());
      SSL_set1_host(ssl, cfg.hostname.c_str());
    }
    SSL_set_connect_state(ssl);
  }
}

void avro_client::impl::close_conn(const std::string& why) {
  if (ssl) {
    SSL_free(ssl);
    ssl = nullptr;
  }
  if (fd >= 0) ::close(fd);
  fd = -1;
  connecting = tls_handshaking = false;
  established = handshake_out = false;
  out.clear();
  raw.clear();
  plain.clear();
  inf.reset();
  def.reset();
  dec.reset();
  if (!why.empty()) fail_all(why);
}

// Every call out or waiting fails: the driver rolls them back and backs off
// before it sends again, so a receiver that is down is not hammered.
void avro_client::impl::fail_all(const std::string& why) {
  if (!inflight.empty() || !waiting.empty()) {
    if (why != last_error)
      spdlog::warn("{}: {}:{}: {}", m->name, cfg.hostname, cfg.port, why);
    last_error = why;
  }
  for (auto& [s, c] : inflight) {
    ++m->own(avro_sink_families::calls_failed);
    c.done(why);
  }
  inflight.clear();
  for (auto& c : waiting) {
    ++m->own(avro_sink_families::calls_failed);
    c.done(why);
  }
  waiting.clear();
}

void avro_client::impl::send_ready() {
  if (!established) {
    // The first call carries the handshake; the others wait for its answer.
    if (!handshake_out && !waiting.empty()) {
      auto c = std::move(waiting.front());
      waiting.pop_front();
      c.with_handshake = true;
      handshake_out = true;
      send(std::move(c));
    }
    return;
  }
  while (inflight.size() < cfg.max_inflight && !waiting.empty()) {
    auto c = std::move(waiting.front());
    waiting.pop_front();
    c.with_handshake = false;
    send(std::move(c));
  }
}

void avro_client::impl::send(pending_call c) {
  std::string payload;
  if (c.with_handshake) {
    avro::handshake_request h;
    h.client_hash = avro::flume_hash();
    h.server_hash = avro::flume_hash();
    if (send_protocol) h.client_protocol = std::string{avro::flume_protocol()};
    avro::writer w{payload};
    avro::write_handshake_request(w, h);
  }
  payload += c.payload;
  auto s = ++serial;
  if (def) {
    std::string framed;
    avro::netty_encode(framed, s, payload);
    def->deflate(framed, out);
  } else {
    avro::netty_encode(out, s, payload);
  }
  c.deadline = steady::now() + cfg.request_timeout;
  inflight.emplace(s, std::move(c));
  flush();
}

void avro_client::impl::flush() {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n;
    if (ssl) {
      ERR_clear_error();
      int r = SSL_write(
          ssl, out.data() + done,
          static_cast<int>(std::min<std::size_t>(out.size() - done, INT_MAX)));
      if (r <= 0) {
        auto e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
        out.erase(0, done);
        return close_conn(ssl_reason("TLS write failed"));
      }
      n = r;
    } else {
      n = ::send(fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0) {
        out.erase(0, done);
        return close_conn(std::string{"connection lost: "} +
                          std::strerror(errno));
      }
    }
    done += static_cast<std::size_t>(n);
  }
  out.erase(0, done);
}

void avro_client::impl::read() {
  ssize_t n;
  if (ssl) {
    ERR_clear_error();
    int r = SSL_read(ssl, buf.get(), static_cast<int>(read_chunk));
    if (r <= 0) {
      auto e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      return close_conn(e == SSL_ERROR_ZERO_RETURN
                            ? "the receiver closed the connection"
                            : ssl_reason("TLS read failed"));
    }
    n = r;
  } else {
    n = ::read(fd, buf.get(), read_chunk);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    if (n <= 0)
      return close_conn(n == 0 ? "the receiver closed the connection"
                               : std::string{"connection lost: "} +
                                     std::strerror(errno));
  }
  std::string_view in{buf.get(), static_cast<std::size_t>(n)};
  std::string inflated;
  if (inf) {
    while (!in.empty()) {
      auto before = in.size();
      if (!inf->inflate(in, inflated, read_chunk))
        return close_conn("bad zlib stream from the receiver: " + inf->error());
      if (in.size() == before && inflated.empty()) break;
      std::string_view rest = inflated;
      while (!rest.empty() && fd >= 0) {
        rest.remove_prefix(dec->feed(rest));
        if (dec->failed())
          return close_conn("bad framing from the receiver: " + dec->error());
        if (dec->ready()) handle(dec->take());
      }
      if (fd < 0) return;
      inflated.clear();
    }
    return;
  }
  while (!in.empty() && fd >= 0) {
    in.remove_prefix(dec->feed(in));
    if (dec->failed())
      return close_conn("bad framing from the receiver: " + dec->error());
    if (dec->ready()) handle(dec->take());
  }
}

void avro_client::impl::handle(avro::netty_message msg) {
  auto it = inflight.find(msg.serial);
  if (it == inflight.end())
    return close_conn("an answer to no call (serial " +
                      std::to_string(msg.serial) + ")");
  avro::limits lim;
  lim.max_value_bytes = max_answer_bytes;
  lim.max_items = 1024;
  avro::reader r{msg.payload, lim};
  try {
    if (it->second.with_handshake) {
      auto h = avro::read_handshake_response(r);
      handshake_out = false;
      if (h.match == avro::handshake_match::none) {
        if (send_protocol)
          return close_conn("the receiver refused AvroSourceProtocol in the "
                            "handshake");
        // It does not know our hash: the call again, with our protocol.
        send_protocol = true;
        auto c = std::move(it->second);
        inflight.erase(it);
        waiting.push_front(std::move(c));
        return;
      }
      established = true;
    }
    auto res = avro::read_call_response(r);
    auto c = std::move(it->second);
    inflight.erase(it);
    if (!res.error && res.result == avro::status::ok) {
      last_error.clear();
      return c.done({});
    }
    ++m->own(avro_sink_families::calls_failed);
    c.done(res.error ? "the receiver answered an error: " + res.error_text
           : res.result == avro::status::failed
               ? std::string{"the receiver answered FAILED"}
               : std::string{"the receiver answered UNKNOWN"});
  } catch (const avro::decode_error& e) {
    close_conn(std::string{"an answer that is no Avro RPC response: "} +
               e.what());
  }
}

} // namespace flumen::sinks
