#include "actors/sources/http_listener.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/sources/http_library.hpp"

namespace flumen::sources {

namespace http_families {
const own_family_spec requests_ok{"http_requests_ok",
                                  "HTTP requests answered 200: every event "
                                  "accepted by the channels."};
const own_family_spec requests_busy{
    "http_requests_busy",
    "HTTP requests answered 503 with Retry-After: a channel stayed full for "
    "hold_timeout, max_buffered_bytes was reached or the agent stops (none "
    "of their events taken; the client may send them again)."};
const own_family_spec requests_rejected{
    "http_requests_rejected",
    "HTTP requests answered 4xx or 500: malformed, too large, wrong method or "
    "path, no client certificate, an interceptor that failed."};
const own_family_spec events_refused{
    "http_events_refused",
    "Events of requests answered 503 (counted in dropped too: the client "
    "holds them and may send them again)."};
const own_family_spec connections_timed_out{
    "http_connections_timed_out",
    "HTTP connections closed because they did not send a whole request "
    "within request_timeout (counted in connection_failures too)."};
} // namespace http_families

namespace {

using clock = std::chrono::steady_clock;

/// What the server knows of one connection (its socket context).
struct conn_rec {
  int fd = -1;
  clock::time_point since; ///< connected, or its last answer was sent
  /// A request handed over (waiting for its put) or being answered: not
  /// the client's time.
  bool exempt = false;
  bool timed_out = false;
  std::size_t served = 0; ///< requests answered on it
  int certificate = 0;    ///< 1: checked and fine, -1: refused
  std::string refused_why;
};

/// One request as it is read (libmicrohttpd's per-request context).
struct req_ctx {
  std::string body;
  std::size_t reserved = 0; ///< bytes of max_buffered_bytes held
  int refuse = 0;           ///< status decided while reading the body
  std::string refuse_text;
  std::shared_ptr<http_request> handed;
};

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void log_mhd(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string text{buf};
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  spdlog::debug("libmicrohttpd: {}", text);
}

} // namespace

struct http_listener::impl {
  http_config cfg;
  std::shared_ptr<component_metrics> metrics;
  request_fn on_request;
  /// libmicrohttpd and GnuTLS, set by start() (they are loaded then).
  const http_library* lib = nullptr;
  MHD_Daemon* daemon = nullptr;
  // libmicrohttpd keeps pointers to these for the daemon's life.
  std::string cert_pem, key_pem, ca_pem;
  std::string retry_after;
  mutable std::mutex mtx;
  std::unordered_set<conn_rec*> conns;
  std::unordered_set<std::shared_ptr<http_request>> waiting;
  std::size_t buffered = 0; ///< under mtx
  std::atomic<std::size_t> requests{0};
  std::atomic<bool> stopping{false};

  std::atomic<uint64_t>& own(const own_family_spec& f) {
    return metrics->own(f);
  }

  conn_rec* rec_of(MHD_Connection* c) const {
    auto* info =
        lib->MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? static_cast<conn_rec*>(info->socket_context) : nullptr;
  }

  /// Takes `n` more bytes of max_buffered_bytes for `ctx`; false when that
  /// would pass it.
  bool reserve(req_ctx& ctx, std::size_t n) {
    std::lock_guard guard{mtx};
    if (buffered + n > cfg.max_buffered_bytes) return false;
    buffered += n;
    ctx.reserved += n;
    return true;
  }
  void release(req_ctx& ctx) {
    std::lock_guard guard{mtx};
    buffered -= std::min(buffered, ctx.reserved);
    ctx.reserved = 0;
  }

  MHD_Result respond(MHD_Connection* c, unsigned status,
                     const std::string& text, bool close = false) {
    auto body = text + "\n";
    auto* r = lib->MHD_create_response_from_buffer(body.size(), body.data(),
                                                   MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    lib->MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                 "text/plain; charset=utf-8");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
      lib->MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                   retry_after.c_str());
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
      lib->MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    if (close || stopping.load())
      lib->MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    auto ret = lib->MHD_queue_response(c, status, r);
    lib->MHD_destroy_response(r);
    if (auto* rec = rec_of(c)) {
      std::lock_guard guard{mtx};
      rec->exempt = true; // the answer is ours to send now
    }
    if (status == MHD_HTTP_OK)
      ++own(http_families::requests_ok);
    else if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
      ++own(http_families::requests_busy);
    else
      ++own(http_families::requests_rejected);
    return ret;
  }

  /// The client's certificate, checked once per connection: "" when it
  /// may go on, else why not.
  std::string check_certificate(MHD_Connection* c, conn_rec* rec) {
    if (!cfg.tls.enabled() || cfg.tls.clients == client_certificates::none ||
        !rec)
      return {};
    if (rec->certificate == 1) return {};
    if (rec->certificate == -1) return rec->refused_why;
    auto* info =
        lib->MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    auto session =
        info ? static_cast<gnutls_session_t>(info->tls_session) : nullptr;
    std::string why;
    unsigned status = 0;
    int rc = session ? lib->gnutls_certificate_verify_peers2(session, &status)
                     : GNUTLS_E_INTERNAL_ERROR;
    if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND) {
      if (cfg.tls.clients == client_certificates::required)
        why = "a client certificate is required";
    } else if (rc != GNUTLS_E_SUCCESS) {
      why = std::string{"client certificate not checked: "} +
            lib->gnutls_strerror(rc);
    } else if (status != 0) {
      gnutls_datum_t text{};
      if (lib->gnutls_certificate_verification_status_print(
              status, GNUTLS_CRT_X509, &text, 0) == GNUTLS_E_SUCCESS) {
        why = std::string{"client certificate refused: "} +
              reinterpret_cast<const char*>(text.data);
        lib->free(text.data);
      } else {
        why = "client certificate refused";
      }
    }
    rec->certificate = why.empty() ? 1 : -1;
    rec->refused_why = why;
    if (!why.empty()) {
      spdlog::warn("{}: {}", metrics->name, why);
      ++metrics->connection_failures;
    }
    return why;
  }

  /// The head is in: what can be answered before any of the body is read.
  MHD_Result head(MHD_Connection* c, const char* url, const char* method,
                  req_ctx& ctx) {
    auto* rec = rec_of(c);
    if (auto why = check_certificate(c, rec); !why.empty())
      return respond(c, MHD_HTTP_FORBIDDEN, why, true);
    if (std::string_view{method} != MHD_HTTP_METHOD_POST)
      return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                     std::string{"method "} + method +
                         " not allowed: events are sent with POST");
    if (!cfg.path.empty() && cfg.path != url)
      return respond(c, MHD_HTTP_NOT_FOUND,
                     std::string{"no such path: "} + url +
                         " (events are posted to " + cfg.path + ")");
    if (stopping.load())
      return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the agent is stopping",
                     true);
    std::size_t announced = 0;
    if (auto* cl = lib->MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
      auto n = std::strtoull(cl, nullptr, 10);
      if (n > cfg.max_body_bytes)
        return respond(c, MHD_HTTP_PAYLOAD_TOO_LARGE,
                       "body of " + std::to_string(n) +
                           " bytes is over max_body_bytes (" +
                           std::to_string(cfg.max_body_bytes) + ")");
      announced = static_cast<std::size_t>(n);
    }
    if (!reserve(ctx, announced))
      return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                     "busy: max_buffered_bytes of bodies are waiting");
    ctx.body.reserve(announced);
    return MHD_YES;
  }

  /// A piece of the body: kept, or counted against the bounds and
  /// dropped once one is passed (the answer goes out when the body ends).
  void body_piece(req_ctx& ctx, const char* data, std::size_t n) {
    if (ctx.refuse != 0) return;
    if (ctx.body.size() + n > cfg.max_body_bytes) {
      ctx.refuse = MHD_HTTP_PAYLOAD_TOO_LARGE;
      ctx.refuse_text = "body over max_body_bytes (" +
                        std::to_string(cfg.max_body_bytes) + ")";
      std::string{}.swap(ctx.body);
      release(ctx);
      return;
    }
    auto need = ctx.body.size() + n;
    if (need > ctx.reserved && !reserve(ctx, need - ctx.reserved)) {
      ctx.refuse = MHD_HTTP_SERVICE_UNAVAILABLE;
      ctx.refuse_text = "busy: max_buffered_bytes of bodies are waiting";
      std::string{}.swap(ctx.body);
      release(ctx);
      return;
    }
    ctx.body.append(data, n);
  }

  /// The whole body is in: decoded and handed over, or answered.
  MHD_Result complete(MHD_Connection* c, req_ctx& ctx) {
    if (ctx.refuse != 0) return respond(c, ctx.refuse, ctx.refuse_text);
    if (stopping.load())
      return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the agent is stopping",
                     true);
    auto* ct = lib->MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_TYPE);
    auto decoded = decode_http_body(
        cfg.handler, ctx.body, ct ? std::string_view{ct} : "", cfg.max_events);
    std::string{}.swap(ctx.body);
    if (decoded.status != 200)
      return respond(c, static_cast<unsigned>(decoded.status), decoded.error);
    if (decoded.events.empty())
      return respond(c, MHD_HTTP_OK, "accepted 0 events");
    metrics->events_received.fetch_add(decoded.events.size(),
                                       std::memory_order_relaxed);
    auto req = std::make_shared<http_request>();
    req->events = std::move(decoded.events);
    req->connection = c;
    ctx.handed = req;
    {
      std::lock_guard guard{mtx};
      waiting.insert(req);
      if (auto* rec = rec_of(c)) rec->exempt = true;
    }
    // Suspended before it is handed over: the answer may come at once.
    lib->MHD_suspend_connection(c);
    on_request(req);
    return MHD_YES;
  }

  MHD_Result access(MHD_Connection* c, const char* url, const char* method,
                    const char* data, std::size_t* size, void** con_cls) {
    auto* ctx = static_cast<req_ctx*>(*con_cls);
    if (!ctx) {
      ctx = new req_ctx;
      *con_cls = ctx;
      ++requests;
      return head(c, url, method, *ctx);
    }
    if (ctx->handed) {
      // Resumed: its put was answered.
      int status = 0;
      std::string text;
      {
        std::lock_guard guard{mtx};
        status = ctx->handed->status;
        text = ctx->handed->text;
      }
      ctx->handed->events.clear();
      return respond(c, static_cast<unsigned>(status), text);
    }
    if (*size > 0) {
      body_piece(*ctx, data, *size);
      *size = 0;
      return MHD_YES;
    }
    return complete(c, *ctx);
  }

  void completed(MHD_Connection* c, void** con_cls,
                 MHD_RequestTerminationCode toe) {
    auto* ctx = static_cast<req_ctx*>(*con_cls);
    if (!ctx) return;
    *con_cls = nullptr;
    release(*ctx);
    delete ctx;
    --requests;
    if (auto* rec = rec_of(c)) {
      std::lock_guard guard{mtx};
      rec->exempt = false;
      rec->since = clock::now();
      if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) ++rec->served;
    }
    if (toe == MHD_REQUEST_TERMINATED_WITH_ERROR ||
        toe == MHD_REQUEST_TERMINATED_READ_ERROR ||
        toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT)
      ++metrics->connection_failures;
  }

  void connection(MHD_Connection* c, void** socket_context,
                  MHD_ConnectionNotificationCode code) {
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* rec = new conn_rec;
      auto* info =
          lib->MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      rec->fd = info ? info->connect_fd : -1;
      rec->since = clock::now();
      *socket_context = rec;
      std::lock_guard guard{mtx};
      conns.insert(rec);
      metrics->connections_open.store(conns.size(), std::memory_order_relaxed);
      return;
    }
    auto* rec = static_cast<conn_rec*>(*socket_context);
    if (!rec) return;
    {
      // Before libmicrohttpd closes the socket: expire_slow never shuts
      // down a descriptor that was closed (and maybe reused).
      std::lock_guard guard{mtx};
      conns.erase(rec);
      metrics->connections_open.store(conns.size(), std::memory_order_relaxed);
    }
    delete rec;
    *socket_context = nullptr;
  }
};

namespace {

MHD_Result on_access(void* cls, MHD_Connection* c, const char* url,
                     const char* method, const char*, const char* data,
                     size_t* size, void** con_cls) {
  return static_cast<http_listener::impl*>(cls)->access(c, url, method, data,
                                                        size, con_cls);
}

void on_completed(void* cls, MHD_Connection* c, void** con_cls,
                  MHD_RequestTerminationCode toe) {
  static_cast<http_listener::impl*>(cls)->completed(c, con_cls, toe);
}

void on_connection(void* cls, MHD_Connection* c, void** socket_context,
                   MHD_ConnectionNotificationCode code) {
  static_cast<http_listener::impl*>(cls)->connection(c, socket_context, code);
}

} // namespace

http_listener::http_listener(const http_config& cfg,
                             std::shared_ptr<component_metrics> metrics,
                             request_fn on_request)
    : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.cfg = cfg;
  d.metrics = std::move(metrics);
  d.on_request = std::move(on_request);
}

void http_listener::start() {
  auto& d = *impl_;
  auto& cfg = d.cfg;
  d.lib = &http_lib();
  d.retry_after = std::to_string(
      std::max<int64_t>(1, (cfg.retry_after.count() + 999) / 1000));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port_text = std::to_string(cfg.port);
  if (int rc =
          ::getaddrinfo(cfg.bind.c_str(), port_text.c_str(), &hints, &found);
      rc != 0)
    throw std::runtime_error("cannot resolve " + cfg.bind + ": " +
                             ::gai_strerror(rc));
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  bool v6 = found->ai_family == AF_INET6;
  ::freeaddrinfo(found);
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  if (cfg.tls.enabled()) {
    flags |= MHD_USE_TLS;
    d.cert_pem = read_file(cfg.tls.certificate);
    d.key_pem = read_file(cfg.tls.key);
    if (!cfg.tls.ca_file.empty()) d.ca_pem = read_file(cfg.tls.ca_file);
  }
  // The source's watchdog closes a connection at request_timeout and
  // counts a silent one; libmicrohttpd's own timeout (whole seconds) comes
  // 2 s later, a backstop for a client that reads no answer. Were they
  // equal, it could close a silent peer first, uncounted (seen under load).
  auto timeout_s =
      static_cast<unsigned>((cfg.request_timeout.count() + 999) / 1000 + 2);
  // Options in one array, so the TLS ones are there only with TLS.
  std::vector<MHD_OptionItem> opts = {
      {MHD_OPTION_SOCK_ADDR, 0, &addr},
      {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(cfg.max_connections),
       nullptr},
      // An idle (or silent) connection, a client that reads no answer.
      {MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, nullptr},
      // Request line, headers and the read buffer of one connection.
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&on_completed),
       &d},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&on_connection),
       &d},
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&log_mhd),
       nullptr},
  };
  if (cfg.tls.enabled()) {
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, d.cert_pem.data()});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, d.key_pem.data()});
    if (!cfg.tls.passphrase.empty())
      opts.push_back({MHD_OPTION_HTTPS_KEY_PASSWORD, 0,
                      const_cast<char*>(cfg.tls.passphrase.c_str())});
    if (!d.ca_pem.empty())
      opts.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, d.ca_pem.data()});
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  d.daemon =
      d.lib->MHD_start_daemon(flags, cfg.port, nullptr, nullptr, &on_access, &d,
                              MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
  if (!d.daemon)
    throw std::runtime_error(
        "cannot listen on " + cfg.bind + ":" + port_text +
        (errno != 0 ? std::string{": "} + std::strerror(errno) : ""));
  auto* info = d.lib->MHD_get_daemon_info(d.daemon, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : cfg.port;
}

http_listener::~http_listener() {
  auto& d = *impl_;
  d.stopping = true;
  {
    // Nothing may stay suspended when the server stops: each request
    // still waiting is answered (its client may send it again).
    std::unique_lock guard{d.mtx};
    auto left = std::move(d.waiting);
    d.waiting.clear();
    for (auto& req : left) {
      req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
      req->text = "the agent is stopping";
    }
    guard.unlock();
    for (auto& req : left)
      d.lib->MHD_resume_connection(
          static_cast<MHD_Connection*>(req->connection));
  }
  if (d.daemon) d.lib->MHD_stop_daemon(d.daemon);
}

void http_listener::answer(const std::shared_ptr<http_request>& req, int status,
                           std::string text) {
  auto& d = *impl_;
  {
    std::lock_guard guard{d.mtx};
    if (d.waiting.erase(req) == 0) return; // answered already
    req->status = status;
    req->text = std::move(text);
  }
  d.lib->MHD_resume_connection(static_cast<MHD_Connection*>(req->connection));
}

void http_listener::stop_accepting() {
  auto& d = *impl_;
  if (d.stopping.exchange(true) || !d.daemon) return;
  auto fd = d.lib->MHD_quiesce_daemon(d.daemon);
  if (fd >= 0) ::close(fd);
}

std::size_t http_listener::busy() const {
  return impl_->requests.load();
}

void http_listener::expire_slow() {
  auto& d = *impl_;
  auto now = clock::now();
  std::lock_guard guard{d.mtx};
  for (auto* rec : d.conns) {
    if (rec->exempt || rec->timed_out || rec->fd < 0) continue;
    if (now - rec->since < d.cfg.request_timeout) continue;
    rec->timed_out = true;
    // libmicrohttpd sees the end of the stream and closes it; the
    // descriptor stays its own until then (it is still in `conns`).
    ::shutdown(rec->fd, SHUT_RDWR);
    if (rec->served == 0) {
      // Connected and never sent a whole request: a slow or silent peer.
      ++d.metrics->connection_failures;
      ++d.own(http_families::connections_timed_out);
    }
  }
}

} // namespace flumen::sources
