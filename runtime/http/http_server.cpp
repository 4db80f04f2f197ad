#include "runtime/http/http_server.hpp"

#include "runtime/http/http_head.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

namespace flumen {

namespace {

using clock_type = std::chrono::steady_clock;

// How long a connection that was answered with an error may keep sending
// what it was sending (read and thrown away), and how much of it: closing
// with unread input makes the kernel send a reset, which can destroy the
// error response before the client reads it.
constexpr auto linger_time = std::chrono::seconds{2};
constexpr std::size_t linger_bytes = 1 << 20;
// A stream is asked for more only while less than this waits to be sent.
constexpr std::size_t stream_backlog = 64 << 10;

const char* reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

} // namespace

struct http_server::impl {
  enum class phase { reading, writing, streaming, lingering };

  struct conn {
    int fd = -1;
    phase ph = phase::reading;
    bool dead = false;
    bool peer_closed = false;
    std::string in;
    std::string out;
    std::size_t out_pos = 0;
    /// reading: since it waits for a request; writing: since the response
    /// began; streaming: last progress; lingering: since it began.
    clock_type::time_point since;
    std::size_t requests = 0;
    bool close_after = false;
    bool linger_after = false;
    std::function<bool(std::string&)> stream;
    bool stream_done = false;
    std::size_t discarded = 0;
    uint32_t interest = 0;

    std::size_t pending() const { return out.size() - out_pos; }
  };

  http_limits limits;
  std::unordered_map<std::string, http_handler> routes;
  std::vector<std::pair<std::string, http_handler>> prefixes;
  http_handler missing;

  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  int reserve_fd = -1; // closed to accept (and shed) when out of descriptors
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> open{0};

  std::unordered_map<conn*, std::unique_ptr<conn>> conns;
  std::vector<std::unique_ptr<conn>> graveyard; // closed during one round
  std::size_t pending_out = 0;
  std::size_t streams = 0;

  // Markers for epoll's data pointer: the listener and the wake-up fd.
  char listen_mark = 0;
  char wake_mark = 0;

  explicit impl(http_limits l) : limits(l) {
    missing = [](const http_request& req) {
      return http_response{404,
                           "text/plain; charset=utf-8",
                           "no such path: " + req.path + "\n",
                           {}};
    };
  }

  ~impl() { close_fds(); }

  void close_fds() {
    for (int* fd : {&listen_fd, &epoll_fd, &wake_fd, &reserve_fd})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
  }

  void set_interest(conn& c, uint32_t ev) {
    if (c.interest == ev) return;
    epoll_event e{};
    e.events = ev;
    e.data.ptr = &c;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &e);
    c.interest = ev;
  }

  void close_conn(conn& c) {
    if (c.dead) return;
    c.dead = true;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    pending_out -= c.pending();
    if (c.ph == phase::streaming) --streams;
    c.out.clear();
    c.out_pos = 0;
    auto it = conns.find(&c);
    graveyard.push_back(std::move(it->second));
    conns.erase(it);
    open.store(conns.size(), std::memory_order_relaxed);
  }

  // Frees the connections closed this round, streams included (their
  // destructors end the taps on this thread).
  void bury() { graveyard.clear(); }

  // Makes room for a new connection: one that is lingering, else the one
  // that has waited longest for its request. False when all are answering.
  bool evict_one() {
    conn* victim = nullptr;
    for (auto& [p, c] : conns) {
      if (c->ph == phase::lingering) {
        victim = p;
        break;
      }
      if (c->ph == phase::reading && (!victim || c->since < victim->since))
        victim = p;
    }
    if (!victim) return false;
    close_conn(*victim);
    return true;
  }

  void refuse(int fd) {
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
    [[maybe_unused]] auto n = ::send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
    ::close(fd);
  }

  void accept_some() {
    for (int i = 0; i < 256; ++i) {
      int fd =
          ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          if (evict_one()) continue;
          // Nothing of ours to give up: take the connection with the
          // reserve descriptor and close it, or the listener stays
          // readable and the loop spins.
          if (reserve_fd >= 0) {
            ::close(reserve_fd);
            reserve_fd = -1;
            int shed = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (shed >= 0) ::close(shed);
            reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          }
        }
        return; // EAGAIN, or nothing more to do now
      }
      if (conns.size() >= limits.max_connections && !evict_one()) {
        refuse(fd);
        continue;
      }
      auto c = std::make_unique<conn>();
      c->fd = fd;
      c->since = clock_type::now();
      c->interest = EPOLLIN;
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.ptr = c.get();
      if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &e) != 0) {
        ::close(fd);
        continue;
      }
      conns.emplace(c.get(), std::move(c));
      open.store(conns.size(), std::memory_order_relaxed);
    }
  }

  void queue_out(conn& c, std::string_view data) {
    c.out.append(data);
    pending_out += data.size();
  }

  void start_response(conn& c, int status, const std::string& content_type,
                      const std::string& body, bool head_only, bool keep_alive,
                      bool chunked) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " +
                    reason_phrase(status) +
                    "\r\nContent-Type: " + content_type + "\r\n";
    if (status == 405) h += "Allow: GET, HEAD\r\n";
    if (chunked)
      h += "Transfer-Encoding: chunked\r\nCache-Control: no-store\r\n";
    else
      h += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    h += keep_alive ? "Connection: keep-alive\r\n\r\n"
                    : "Connection: close\r\n\r\n";
    queue_out(c, h);
    if (!head_only && !chunked) queue_out(c, body);
    c.close_after = !keep_alive;
    c.ph = chunked ? phase::streaming : phase::writing;
    if (chunked) ++streams;
    c.since = clock_type::now();
    flush(c);
  }

  // An error answer: the connection closes after it, lingering.
  void fail(conn& c, int status, const std::string& why) {
    c.linger_after = true;
    start_response(c, status, "text/plain; charset=utf-8", why + "\n", false,
                   false, false);
  }

  void handle_readable(conn& c) {
    char buf[4096];
    for (int i = 0; i < 16 && !c.dead; ++i) {
      auto n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(c);
        break;
      }
      if (n == 0) {
        c.peer_closed = true;
        break;
      }
      if (c.ph == phase::reading) {
        c.in.append(buf, static_cast<std::size_t>(n));
        // Enough to decide: more than a head may hold is refused without
        // reading the rest.
        if (c.in.size() > limits.max_head_bytes) break;
      } else {
        // Lingering, or input while answering: thrown away, bounded.
        c.discarded += static_cast<std::size_t>(n);
        if (c.discarded > linger_bytes) {
          close_conn(c);
          return;
        }
      }
    }
    if (c.dead) return;
    if (c.ph == phase::reading) parse(c);
    if (c.dead) return;
    if (c.peer_closed) {
      // The client is gone (or will send no more): a response in flight is
      // still written; anything else ends here.
      if (c.ph == phase::writing)
        c.close_after = true;
      else
        close_conn(c);
    }
  }

  void parse(conn& c) {
    auto end = http_head_end(c.in);
    if (end == std::string::npos) {
      if (c.in.size() > limits.max_head_bytes)
        fail(c, 431,
             "request head over " + std::to_string(limits.max_head_bytes) +
                 " bytes");
      return;
    }
    if (end > limits.max_head_bytes) {
      fail(c, 431,
           "request head over " + std::to_string(limits.max_head_bytes) +
               " bytes");
      return;
    }
    std::string head = c.in.substr(0, end);
    c.in.erase(0, end);
    ++c.requests;
    auto parsed = parse_http_head(head);
    if (parsed.status != 0) {
      fail(c, parsed.status, parsed.error);
      return;
    }
    if (pending_out > limits.max_pending_output) {
      fail(c, 503, "busy: too many responses waiting to be read");
      return;
    }
    bool keep_alive = parsed.keep_alive;
    if (c.requests >= limits.max_requests || c.peer_closed) keep_alive = false;
    auto& req = parsed.request;
    const auto& method = req.method;
    http_response res;
    try {
      res = dispatch(req);
    } catch (const std::exception& ex) {
      spdlog::warn("http: {} {}: {}", req.method, req.path, ex.what());
      res = http_response{500,
                          "text/plain; charset=utf-8",
                          std::string{"internal error: "} + ex.what() + "\n",
                          {}};
    }
    bool head_only = method == "HEAD";
    if (res.stream && !head_only) {
      // A stream ends with the connection: its end is the chunked
      // terminator, and nothing else is served on it meanwhile.
      c.stream = std::move(res.stream);
      start_response(c, res.status, res.content_type, {}, false, false, true);
      return;
    }
    start_response(c, res.status, res.content_type, res.body, head_only,
                   keep_alive, false);
  }

  http_response dispatch(const http_request& req) {
    if (auto it = routes.find(req.path); it != routes.end())
      return it->second(req);
    for (auto& [prefix, h] : prefixes)
      if (req.path.starts_with(prefix)) return h(req);
    return missing(req);
  }

  // Writes what is pending; moves on when all of it is out.
  void flush(conn& c) {
    while (c.pending() > 0) {
      auto n =
          ::send(c.fd, c.out.data() + c.out_pos, c.pending(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close_conn(c);
        return;
      }
      c.out_pos += static_cast<std::size_t>(n);
      pending_out -= static_cast<std::size_t>(n);
      if (c.ph == phase::streaming) c.since = clock_type::now();
    }
    if (c.pending() > 0) {
      set_interest(c, c.ph == phase::streaming ? EPOLLIN | EPOLLRDHUP | EPOLLOUT
                                               : EPOLLOUT);
      return;
    }
    c.out.clear();
    c.out_pos = 0;
    if (c.ph == phase::streaming) {
      if (c.stream_done)
        close_conn(c);
      else
        set_interest(c, EPOLLIN | EPOLLRDHUP);
      return;
    }
    if (c.ph != phase::writing) return;
    if (c.close_after) {
      if (!c.linger_after || c.peer_closed) {
        close_conn(c);
        return;
      }
      ::shutdown(c.fd, SHUT_WR);
      c.ph = phase::lingering;
      c.since = clock_type::now();
      set_interest(c, EPOLLIN);
      return;
    }
    c.ph = phase::reading;
    c.since = clock_type::now();
    set_interest(c, EPOLLIN);
    if (!c.in.empty()) parse(c); // a pipelined request
  }

  void pump_streams() {
    std::vector<conn*> ready;
    for (auto& [p, c] : conns)
      if (c->ph == phase::streaming && !c->stream_done &&
          c->pending() < stream_backlog)
        ready.push_back(p);
    for (auto* c : ready) {
      if (c->dead) continue;
      std::string chunk;
      bool more = true;
      try {
        more = c->stream(chunk);
      } catch (const std::exception& ex) {
        spdlog::warn("http: a stream failed: {}", ex.what());
        close_conn(*c);
        continue;
      }
      if (!chunk.empty()) {
        if (c->pending() == 0) c->since = clock_type::now();
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
        queue_out(*c, size);
        queue_out(*c, chunk);
        queue_out(*c, "\r\n");
      }
      if (!more) {
        queue_out(*c, "0\r\n\r\n");
        c->stream_done = true;
        c->stream = nullptr; // ends its tap now, not when the client reads
      }
      if (c->pending() > 0) flush(*c);
    }
  }

  void check_deadlines(clock_type::time_point now) {
    std::vector<conn*> expired;
    for (auto& [p, c] : conns) {
      auto age = now - c->since;
      switch (c->ph) {
      case phase::reading:
        if (age > (c->requests == 0 || !c->in.empty() ? limits.head_timeout
                                                      : limits.idle_timeout))
          expired.push_back(p);
        break;
      case phase::writing:
        if (age > limits.write_timeout) expired.push_back(p);
        break;
      case phase::streaming:
        // A stream may wait long for something to send; it is only held
        // to the client taking what it was sent.
        if (c->pending() > 0 && age > limits.write_timeout)
          expired.push_back(p);
        break;
      case phase::lingering:
        if (age > linger_time) expired.push_back(p);
        break;
      }
    }
    for (auto* c : expired) {
      if (c->ph == phase::reading && !c->in.empty())
        fail(*c, 408,
             "request head not received within " +
                 std::to_string(limits.head_timeout.count()) + " ms");
      else
        close_conn(*c);
    }
  }

  void run() {
    std::vector<epoll_event> events(256);
    auto last_check = clock_type::now();
    while (!stopping.load()) {
      int timeout = streams > 0 ? 20 : conns.empty() ? -1 : 100;
      int n = ::epoll_wait(epoll_fd, events.data(),
                           static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) {
        spdlog::error("http: epoll_wait: {}", std::strerror(errno));
        break;
      }
      for (int i = 0; i < n; ++i) {
        auto* p = events[i].data.ptr;
        auto ev = events[i].events;
        if (p == &listen_mark) {
          accept_some();
          continue;
        }
        if (p == &wake_mark) continue;
        auto& c = *static_cast<conn*>(p);
        if (c.dead) continue; // closed earlier this round
        if (ev & (EPOLLIN | EPOLLRDHUP)) handle_readable(c);
        if (!c.dead && (ev & EPOLLOUT)) flush(c);
        if (!c.dead && (ev & (EPOLLERR | EPOLLHUP))) close_conn(c);
      }
      if (streams > 0) pump_streams();
      auto now = clock_type::now();
      if (now - last_check >= std::chrono::milliseconds{100}) {
        last_check = now;
        check_deadlines(now);
      }
      bury();
    }
    while (!conns.empty())
      close_conn(*conns.begin()->second);
    bury();
  }
};

http_server::http_server(http_limits limits)
    : impl_(std::make_unique<impl>(limits)) {}

http_server::~http_server() {
  stop();
}

void http_server::route(std::string path, http_handler h) {
  impl_->routes[std::move(path)] = std::move(h);
}

void http_server::route_prefix(std::string prefix, http_handler h) {
  impl_->prefixes.emplace_back(std::move(prefix), std::move(h));
}

void http_server::not_found(http_handler h) {
  impl_->missing = std::move(h);
}

uint16_t http_server::start(const std::string& host, uint16_t port) {
  auto& d = *impl_;
  auto where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                             service.c_str(), &hints, &res);
      rc != 0)
    throw std::runtime_error("cannot listen on " + where +
                             " for HTTP: " + ::gai_strerror(rc));
  std::string why = "no address";
  for (auto* ai = res; ai; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 ai->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        ::listen(fd, 511) == 0) {
      d.listen_fd = fd;
      break;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (d.listen_fd < 0)
    throw std::runtime_error("cannot listen on " + where + " for HTTP: " + why);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(d.listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t bound = ss.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  // Connections stay well below the descriptor limit: the sources need
  // descriptors too.
  if (rlimit rl{};
      ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    d.limits.max_connections = std::min<std::size_t>(
        d.limits.max_connections, std::max<std::size_t>(16, rl.rlim_cur / 4));
  d.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  d.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  d.reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (d.epoll_fd < 0 || d.wake_fd < 0) {
    why = std::strerror(errno);
    d.close_fds();
    throw std::runtime_error("cannot serve HTTP: " + why);
  }
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.ptr = &d.listen_mark;
  ::epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, d.listen_fd, &e);
  e.data.ptr = &d.wake_mark;
  ::epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, d.wake_fd, &e);
  d.stopping = false;
  d.thread = std::thread{[&d] { d.run(); }};
  return bound;
}

void http_server::stop() {
  auto& d = *impl_;
  if (!d.thread.joinable()) return;
  d.stopping = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(d.wake_fd, &one, sizeof one);
  d.thread.join();
  d.close_fds();
}

std::size_t http_server::connections() const {
  return impl_->open.load(std::memory_order_relaxed);
}

} // namespace flumen
