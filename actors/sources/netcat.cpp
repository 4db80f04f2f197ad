#include "actors/sources/netcat.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <caf/actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/sources/socket_names.hpp"
#include "actors/sources/source_options.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

/// The options of the `netcat` source (docs/reference/sources/netcat.md shows
/// them, generated).
const option_list& netcat_options() {
  static const option_list table = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port; `0`: a free port the kernel chooses (logged: "
              "`listening on 127.0.0.1:PORT`: "
              "`source_test.netcat_on_port_0_logs_the_port_the_kernel_chose`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per batch; when not stated, cut to the smallest "
              "`transaction_capacity` of its channels; a stated value above"
              " it is a config error. Every line source also cuts a batch "
              "at 1 MiB of bodies (one line at least), so its window is "
              "bounded in bytes "
              "(`pump_lines_test.emit_batches_cuts_at_max_batch_bytes`)"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc =
           "a partial batch is sent after this, or at once when a client"
           " closes its connection "
           "(`source_test.netcat_hands_over_a_closing_clients_lines_at_once`)"},
      max_line_length_option(
          "bytes per line (logged at start); also what the source holds"
          " per client, whatever a client sends. Beyond `256MB` a "
          "located error: a file channel writes an event in one record "
          "of at most 1 GiB "
          "(`size_options.max_line_length_stops_at_256MB`)"),
      overlong_policy_option(
          "longer lines: `truncate` (keep the first bytes; counted in "
          "`truncated`), `drop` (counted in `dropped`), `split` "
          "(several events); the first of each is logged "
          "(`source_test.netcat_handles_overlong_lines_per_policy`)"),
      {.name = "max_connections",
       .kind = option_kind::count,
       .doc =
           "clients served at once; further clients wait in the listen "
           "backlog until one leaves (never refused: "
           "`source_test.netcat_at_max_connections_lets_a_new_client_wait`)"},
      {.name = "idle_timeout",
       .kind = option_kind::duration,
       .doc = "a client that sent nothing for this long is closed (counted "
              "in `connection_failures`; a partial line it sent is an "
              "event: "
              "`source_test.netcat_closes_a_client_that_sent_nothing_for_idle_"
              "timeout`);"
              " `0`: never. A client that stays connected and writes less "
              "often must reconnect. A client the channel holds back is not"
              " idle "
              "(`source_test.netcat_idle_timeout_spares_a_client_the_channel_"
              "holds_back`)"},
      max_inflight_option(
          "batches sent and not yet accepted (at most 4 MiB); then the "
          "source stops reading and TCP pushes back on the clients "
          "(`source_test.netcat_pushes_back_on_a_client_while_the_channel_"
          "is_full`)"),
      {.name = "readers",
       .kind = option_kind::count,
       .min = 1,
       .max = 64,
       .doc = "threads reading clients, sharing the listener and "
              "`max_connections`; a client stays with one, so its lines "
              "keep their order "
              "(`source_test.netcat_readers_share_the_clients`). On the "
              "2-core test machine a second thread made 8 clients slower "
              "([bench/README.md](../../../bench/README.md)); more may help"
              " where one thread is what limits a source"},
  };
  return table;
}

netcat_config parse_netcat(option_reader& r) {
  option_scope scope{r, netcat_options()};
  netcat_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length = r.bytes("max_line_length", cfg.max_line_length);
  cfg.policy = parse_overlong_policy(r);
  cfg.max_connections = r.count("max_connections", cfg.max_connections);
  cfg.idle_timeout = r.duration("idle_timeout", cfg.idle_timeout);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.readers = r.count("readers", cfg.readers);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.max_event_bytes = cfg.max_line_length;
  f.listens.push_back({cfg.bind, cfg.port});
  return cfg;
}

namespace {

using time_point = flumen::clock::time_point;

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int x) : fd(x) {}
  fd_guard(fd_guard&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  fd_guard& operator=(fd_guard&&) = delete;
  ~fd_guard() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
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

/// Who is at the other end of `fd`, numerically, and the local port.
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

/// Connections waiting in a listening socket's accept queue (Linux reports
/// it in TCP_INFO's `tcpi_unacked`); `fallback` when unknown.
std::size_t accept_queue_length(int listener, std::size_t fallback) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return fallback;
  return info.tcpi_unacked;
}

constexpr std::size_t read_size = 256 * 1024;

/// A client that had this much queued when the reader came is streaming.
constexpr std::size_t bulk_read = 16 * 1024;

/// A streaming client's socket then reports readable only once this much is
/// queued (SO_RCVLOWAT), so the reader wakes once per this many bytes
/// instead of once per write of the client (16 KB for nc: a wakeup and two
/// context switches each, about a fifth of the source's time at 10 KB lines).
/// What stays below it is read after `bulk_tail` without news; a client that
/// had less than `bulk_read` queued then goes back to waking the reader for
/// every byte.
constexpr int bulk_low_water = 128 * 1024;
constexpr std::chrono::milliseconds bulk_tail{2};

/// What a client may still hold in its own send buffer when its last write
/// returned (Linux's largest default, net.ipv4.tcp_wmem). A stop reads this
/// much beyond what was queued here, so a client that wrote and closed
/// loses nothing, and one that keeps sending cannot hold the stop up.
constexpr std::size_t stop_read_margin = 4 << 20;

/// At a stop, how long in all to wait for the rest of lines that clients
/// still connected are in the middle of.
constexpr std::chrono::milliseconds stop_line_wait{100};

constexpr std::chrono::milliseconds first_accept_backoff{100};
constexpr std::chrono::milliseconds max_accept_backoff{1000};

/// What the reader threads of one netcat source share: the listening
/// socket, the clients served (`max_connections` is the source's, not a
/// reader's), failed accepts (one warning per burst, whichever reader saw
/// it), and what the stop read, for one log line.
struct netcat_shared {
  /// One per port (`ports`; `port` alone otherwise).
  std::vector<fd_guard> listeners;
  std::atomic<std::size_t> clients{0};
  std::atomic<uint64_t> accept_failures{0};
  /// A reader failed (threw): the others stop too, so the source restarts.
  std::atomic<bool> failed{false};
  std::atomic<std::size_t> stop_bytes{0};
  std::atomic<std::size_t> stop_clients{0};
  std::atomic<uint64_t> unfinished{0};

  explicit netcat_shared(const netcat_config& cfg) {
    if (cfg.ports.empty())
      listeners.emplace_back(listen_on(cfg.bind, cfg.port));
    for (auto p : cfg.ports)
      listeners.emplace_back(listen_on(cfg.bind, p));
  }

  /// `host:port` of the listener (netcat has one).
  std::string addresses() const { return local_address(listeners.at(0).fd); }

  /// Takes a place among max_connections; false when none is left.
  bool reserve(std::size_t max) {
    if (clients.fetch_add(1) < max) return true;
    clients.fetch_sub(1);
    return false;
  }
};

/// A reader thread of a netcat source: one poll(2) loop over the listener
/// and its own clients. Several readers share one listener; a client stays
/// with the reader that accepted it, so its lines keep their order.
class netcat_reader {
public:
  netcat_reader(const netcat_config& cfg, source_pump& pump,
                netcat_shared& shared, bool leader)
      : cfg_(cfg), time_(cfg.time ? cfg.time : real_clock()), pump_(pump),
        m_(pump.metrics()), shared_(shared), leader_(leader),
        buf_(std::make_unique<char[]>(read_size)) {
    // Far beyond any real setting, and no overflow in time arithmetic.
    cfg_.idle_timeout =
        std::min(cfg_.idle_timeout,
                 std::chrono::milliseconds{std::chrono::hours{24 * 365 * 100}});
  }

  ~netcat_reader() {
    shared_.clients.fetch_sub(clients_.size());
    m_.connections_open.fetch_sub(clients_.size(), std::memory_order_relaxed);
    // Only when the reader failed (threw): read, never handed over.
    if (!pending_.empty()) {
      m_.events_received.fetch_add(pending_.size(), std::memory_order_relaxed);
      m_.events_undelivered.fetch_add(pending_.size(),
                                      std::memory_order_relaxed);
    }
  }

  /// Serves clients until a stop, an abort or another reader's failure;
  /// at a stop, reads what its clients had sent and hands it over.
  void run() {
    while (!pump_.stopping() && !pump_.aborted() && !shared_.failed)
      if (!serve_once()) break;
    if (pump_.aborted() || shared_.failed)
      discard();
    else
      drain_clients();
  }

  /// At a stop, once every reader drained its clients (the leader's job):
  /// the clients still waiting in the listen backlog, then the listener
  /// closes.
  void drain_backlog();

private:
  struct client {
    fd_guard fd;
    std::unique_ptr<stream_decoder> dec;
    time_point last_read;
    bool bulk = false; ///< its SO_RCVLOWAT is bulk_low_water
  };

  /// Streaming or not (see bulk_low_water); unchanged if the socket refuses.
  static void set_bulk(client& c, bool bulk) {
    if (c.bulk == bulk) return;
    int lowat = bulk ? bulk_low_water : 1;
    if (::setsockopt(c.fd.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) ==
        0)
      c.bulk = bulk;
  }
  using client_list = std::list<client>;

  enum class line_end { done, unfinished, aborted };

  struct read_result {
    std::size_t bytes = 0;
    bool closed = false;  ///< end of input or an error: the client is done
    bool aborted = false; ///< the pump is torn down
  };

  bool serve_once();
  void accept_clients(int listener);
  read_result read_from(client& c, std::size_t budget);
  bool drain(client& c, std::size_t& bytes);
  line_end finish_line(client& c, std::size_t& bytes);
  void drain_clients();
  void discard();
  /// `fd` holds a place reserved in `shared_.clients`.
  client_list::iterator add_client(int fd);
  client_list::iterator close_client(client_list::iterator it);
  time_point next_wakeup(bool room) const;

  /// poll(2) until `deadline`, waking at least once a second (the reader
  /// looks at the pump's state that often).
  int wait(pollfd* fds, nfds_t n, time_point deadline) {
    return time_->poll(
        fds, n, std::min(deadline, time_->now() + std::chrono::seconds{1}));
  }

  bool idle(const client& c, time_point now) const {
    return cfg_.idle_timeout.count() > 0 &&
           now - c.last_read >= cfg_.idle_timeout;
  }

  void note_pending() {
    if (first_at_ == time_point::max() && !pending_.empty())
      first_at_ = time_->now();
  }

  // Hands over full batches (all with `all`); blocks while the channel
  // pushes back. False when the pump is torn down.
  bool flush(bool all) {
    if (!emit_batches(pending_, cfg_.batch_size, pump_, all)) return false;
    if (pending_.empty()) first_at_ = time_point::max();
    return true;
  }

  netcat_config cfg_;
  std::shared_ptr<flumen::clock> time_;
  source_pump& pump_;
  component_metrics& m_;
  netcat_shared& shared_;
  bool leader_; ///< logs the source-wide lines
  std::unique_ptr<char[]> buf_;
  client_list clients_;
  batch pending_;
  time_point first_at_ = time_point::max();
  std::vector<pollfd> fds_;
  std::vector<client_list::iterator> owners_;
  std::chrono::milliseconds accept_backoff_{0};
  time_point accept_resume_{};
  time_point full_logged_{};
  bool full_ = false;
  time_point stop_waits_until_{};
};

bool netcat_reader::serve_once() {
  auto now = time_->now();
  bool room = shared_.clients.load() < cfg_.max_connections;
  if (leader_ && !room && !full_ &&
      now - full_logged_ >= std::chrono::minutes{1}) {
    spdlog::info("{}: max_connections ({}) reached; new clients wait in the "
                 "listen backlog",
                 m_.name, cfg_.max_connections);
    full_logged_ = now;
  }
  full_ = !room;
  fds_.clear();
  owners_.clear();
  fds_.push_back({pump_.wake_fd(), POLLIN, 0});
  // poll(2) skips a negative descriptor: at max_connections, or while
  // backing off from a failed accept, clients wait in the listen backlog
  // (accepting one only to close it would lose what it sends).
  bool listening = room && now >= accept_resume_;
  for (auto& l : shared_.listeners)
    fds_.push_back({listening ? l.fd : -1, POLLIN, 0});
  auto first_client = 1 + shared_.listeners.size();
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    fds_.push_back({it->fd.fd, POLLIN, 0});
    owners_.push_back(it);
  }
  int rc = wait(fds_.data(), fds_.size(), next_wakeup(room));
  if (rc < 0 && errno != EINTR)
    throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
  for (std::size_t l = 0; l < shared_.listeners.size(); ++l)
    if (fds_[1 + l].revents & (POLLIN | POLLERR))
      accept_clients(shared_.listeners[l].fd);
  now = time_->now();
  std::size_t idle_closed = 0;
  bool ended = false; ///< a client closed: its last lines are not held
  for (std::size_t i = 0; i < owners_.size(); ++i) {
    auto it = owners_[i];
    bool ready = fds_[i + first_client].revents & (POLLIN | POLLHUP | POLLERR);
    // A streaming client's last bytes below the low-water mark.
    bool tail = it->bulk && now - it->last_read >= bulk_tail;
    if (!ready && !tail && !idle(*it, now)) continue;
    // One buffer per client and round keeps clients fair; what was read is
    // handed over before more is read.
    auto r = read_from(*it, read_size);
    if (r.aborted) return false;
    if (!r.closed) set_bulk(*it, r.bytes >= bulk_read);
    if (r.closed) {
      close_client(it);
      ended = true;
    } else if (!ready && !tail && r.bytes == 0) {
      // Sent nothing for idle_timeout: closing it loses nothing (a partial
      // line it sent is handed over as a line).
      it->dec->finish(pending_);
      it->dec->count(m_);
      note_pending();
      // Counted before the client can see the close.
      m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
      close_client(it);
      ++idle_closed;
      ended = true;
    }
  }
  if (idle_closed > 0) {
    spdlog::info("{}: closed {} client(s) that sent nothing for {} ms "
                 "(idle_timeout)",
                 m_.name, idle_closed, cfg_.idle_timeout.count());
  }
  // What a client sent before closing goes at once: waiting batch_timeout
  // for more lines from it would only delay its last ones (by up to 100 ms
  // by default, a third of a 200 MB transfer's time).
  bool timed_out = first_at_ != time_point::max() &&
                   time_->now() >= first_at_ + cfg_.batch_timeout;
  return flush(timed_out || ended);
}

void netcat_reader::accept_clients(int listener) {
  while (shared_.reserve(cfg_.max_connections)) {
    int fd =
        ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      if (auto failures = shared_.accept_failures.exchange(0); failures > 0)
        spdlog::info("{}: accepting clients again after {} failed attempts",
                     m_.name, failures);
      accept_backoff_ = std::chrono::milliseconds{0};
      add_client(fd);
      continue;
    }
    auto err = errno;
    shared_.clients.fetch_sub(1);
    if (err == EINTR || err == ECONNABORTED || err == EPROTO)
      continue; // that client gave up; the next one may be there
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    // Out of descriptors (EMFILE, ENFILE) or memory: the client stays in
    // the backlog and the listener stays readable, so polling it again at
    // once would spin. Leave it out of the poll set for a while, doubling.
    m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
    if (shared_.accept_failures.fetch_add(1) == 0)
      spdlog::warn("{}: cannot accept a client: {} ({} connections open); "
                   "clients wait in the listen backlog, retrying every {} "
                   "to {} ms",
                   m_.name, std::strerror(err), shared_.clients.load(),
                   first_accept_backoff.count(), max_accept_backoff.count());
    accept_backoff_ = accept_backoff_.count() == 0
                          ? first_accept_backoff
                          : std::min(2 * accept_backoff_, max_accept_backoff);
    accept_resume_ = time_->now() + accept_backoff_;
    return;
  }
}

netcat_reader::read_result netcat_reader::read_from(client& c,
                                                    std::size_t budget) {
  read_result r;
  while (r.bytes < budget) {
    auto n = ::read(c.fd.fd, buf_.get(), std::min(read_size, budget - r.bytes));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      // End of input, or an error such as a reset: what came before was
      // sent, and a partial last line counts as a line.
      c.dec->finish(pending_);
      r.closed = true;
    } else {
      r.bytes += static_cast<std::size_t>(n);
      c.last_read = time_->now();
      if (!c.dec->feed(buf_.get(), static_cast<std::size_t>(n), pending_)) {
        // The stream cannot be read on (a frame that is no frame): what
        // came before it is handed over; the client is closed, counted.
        m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("{}: closing a client: {}", m_.name, c.dec->error());
        r.closed = true;
      }
    }
    c.dec->count(m_);
    note_pending();
    if (!flush(false)) {
      r.aborted = true;
      break;
    }
    if (r.closed) break;
  }
  return r;
}

// At a stop: what the client had sent, up to the end of a line. False when
// the pump was torn down meanwhile.
bool netcat_reader::drain(client& c, std::size_t& bytes) {
  // Waiting for the rest of a line below needs a socket that reports every
  // byte.
  set_bulk(c, false);
  int queued = 0;
  if (::ioctl(c.fd.fd, FIONREAD, &queued) != 0 || queued < 0) queued = 0;
  auto r = read_from(c, static_cast<std::size_t>(queued) + stop_read_margin);
  bytes += r.bytes;
  if (r.aborted) return false;
  if (r.closed || !c.dec->in_message()) return true;
  auto end = finish_line(c, bytes);
  if (end == line_end::aborted) return false;
  if (end == line_end::unfinished) {
    // Still connected in the middle of a line: that piece is not a line. It
    // was read and is not handed over, so it counts as undelivered; the
    // client learns from the closed connection that the rest is not taken.
    batch piece;
    c.dec->finish(piece);
    c.dec->count(m_);
    shared_.unfinished += piece.size();
    m_.events_received.fetch_add(piece.size(), std::memory_order_relaxed);
    m_.events_undelivered.fetch_add(piece.size(), std::memory_order_relaxed);
  }
  return true;
}

// Reads the rest of the current line and not a byte more (it peeks first),
// so a stop ends a client's input on a line boundary.
netcat_reader::line_end netcat_reader::finish_line(client& c,
                                                   std::size_t& bytes) {
  std::size_t taken = 0;
  auto end = line_end::unfinished;
  while (taken < stop_read_margin) {
    auto n = ::recv(c.fd.fd, buf_.get(), read_size, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The rest may be on its way (a client writes in chunks, not lines):
      // wait a little, on one budget for the whole stop.
      pollfd p{c.fd.fd, POLLIN, 0};
      if (wait(&p, 1, stop_waits_until_) > 0) continue;
      break;
    }
    if (n <= 0) {
      // End of input, or an error: the partial line was its last line.
      c.dec->finish(pending_);
      end = line_end::done;
      break;
    }
    auto through = c.dec->through_end(buf_.get(), static_cast<std::size_t>(n));
    bool ends = through != std::string::npos;
    auto want = ends ? through : static_cast<std::size_t>(n);
    // Peeked, so this much is there to read.
    auto got = ::read(c.fd.fd, buf_.get(), want);
    if (got <= 0) break;
    taken += static_cast<std::size_t>(got);
    if (!c.dec->feed(buf_.get(), static_cast<std::size_t>(got), pending_)) {
      end = line_end::done; // nothing more of it can be read
      break;
    }
    if ((ends && static_cast<std::size_t>(got) == want) ||
        !c.dec->in_message()) {
      end = line_end::done;
      break;
    }
  }
  bytes += taken;
  c.dec->count(m_);
  note_pending();
  if (!flush(false)) return line_end::aborted;
  return end;
}

void netcat_reader::drain_clients() {
  stop_waits_until_ = time_->now() + stop_line_wait;
  std::size_t bytes = 0;
  shared_.stop_clients += clients_.size();
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (!drain(*it, bytes)) {
      shared_.stop_bytes += bytes;
      return discard();
    }
    it = close_client(it);
  }
  shared_.stop_bytes += bytes;
  flush(true);
}

void netcat_reader::drain_backlog() {
  if (pump_.aborted() || shared_.failed) return discard();
  // Clients waiting in the backlog connected before the stop and may have
  // written (and closed) already: they are taken too, but only those.
  stop_waits_until_ = time_->now() + stop_line_wait;
  std::size_t bytes = 0;
  for (auto& listener : shared_.listeners) {
    auto waiting = accept_queue_length(listener.fd, cfg_.max_connections);
    for (std::size_t i = 0; i < waiting; ++i) {
      int fd = ::accept4(listener.fd, nullptr, nullptr,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
          continue;
        break; // none left, or out of descriptors
      }
      shared_.clients.fetch_add(1);
      auto it = add_client(fd);
      ++shared_.stop_clients;
      if (!drain(*it, bytes)) {
        shared_.stop_bytes += bytes;
        return discard();
      }
      close_client(it);
    }
  }
  shared_.stop_bytes += bytes;
  // Refuse whoever comes now rather than leave them waiting unread.
  for (auto& l : shared_.listeners)
    l.reset();
  if (auto served = shared_.stop_clients.load(); served > 0)
    spdlog::info("{}: stopping: read {} bytes that {} client(s) had sent",
                 m_.name, shared_.stop_bytes.load(), served);
  if (auto pieces = shared_.unfinished.load(); pieces > 0)
    spdlog::warn("{}: stopping: {} client(s) still connected were in the "
                 "middle of a line; those pieces are counted as undelivered",
                 m_.name, pieces);
  flush(true);
}

// The pump is torn down: nothing can be handed over any more. Partial lines
// were read too, so they go to emit to be counted as undelivered.
void netcat_reader::discard() {
  for (auto& c : clients_) {
    c.dec->finish(pending_);
    c.dec->count(m_);
  }
  flush(true);
}

netcat_reader::client_list::iterator netcat_reader::add_client(int fd) {
  m_.connections_open.fetch_add(1, std::memory_order_relaxed);
  std::unique_ptr<stream_decoder> dec;
  if (cfg_.decoder)
    dec = cfg_.decoder(peer_of(fd));
  else
    dec = std::make_unique<line_decoder>(cfg_.max_line_length, cfg_.policy);
  clients_.push_back(client{fd_guard{fd}, std::move(dec), time_->now()});
  return std::prev(clients_.end());
}

netcat_reader::client_list::iterator
netcat_reader::close_client(client_list::iterator it) {
  shared_.clients.fetch_sub(1);
  m_.connections_open.fetch_sub(1, std::memory_order_relaxed);
  // The descriptor freed may be what a failed accept was missing.
  if (accept_backoff_.count() > 0) accept_resume_ = time_point{};
  return clients_.erase(it);
}

time_point netcat_reader::next_wakeup(bool room) const {
  auto t = first_at_ == time_point::max() ? first_at_
                                          : first_at_ + cfg_.batch_timeout;
  if (room && accept_resume_ > time_->now()) t = std::min(t, accept_resume_);
  for (auto& c : clients_) {
    if (cfg_.idle_timeout.count() > 0)
      t = std::min(t, c.last_read + cfg_.idle_timeout);
    if (c.bulk) t = std::min(t, c.last_read + bulk_tail);
  }
  return t;
}

// The source's reader function: `readers` threads (this one leads) share
// one listener; at a stop each hands over what its clients sent, then the
// leader takes the clients waiting in the backlog.
void serve(const netcat_config& cfg, source_pump& pump) {
  netcat_shared shared{cfg};
  auto& m = pump.metrics();
  // Said at start, so nobody learns about a line limit from cut lines.
  static constexpr const char* policies[] = {"truncated", "dropped", "split"};
  if (!cfg.describe.empty())
    // A line per port: each says where it listens first.
    for (auto& l : shared.listeners)
      spdlog::info("{}: listening on {} ({} reader thread{}; {})", m.name,
                   local_address(l.fd), cfg.readers,
                   cfg.readers == 1 ? "" : "s", cfg.describe);
  else
    spdlog::info("{}: listening on {} ({} reader thread{}; lines up to {} "
                 "bytes, longer ones are {}: max_line_length, "
                 "overlong_policy)",
                 m.name, shared.addresses(), cfg.readers,
                 cfg.readers == 1 ? "" : "s", cfg.max_line_length,
                 policies[static_cast<int>(cfg.policy)]);
  std::vector<std::exception_ptr> errors(cfg.readers);
  std::vector<std::thread> others;
  for (std::size_t i = 1; i < cfg.readers; ++i)
    others.emplace_back([&, i] {
      try {
        netcat_reader reader{cfg, pump, shared, false};
        reader.run();
      } catch (...) {
        errors[i] = std::current_exception();
        shared.failed = true;
      }
    });
  try {
    netcat_reader leader{cfg, pump, shared, true};
    leader.run();
    for (auto& t : others)
      t.join();
    others.clear();
    leader.drain_backlog();
  } catch (...) {
    errors[0] = std::current_exception();
    shared.failed = true;
  }
  for (auto& t : others)
    t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

} // namespace

caf::actor spawn_netcat(caf::actor_system& sys, const netcat_config& config,
                        const wiring& w) {
  auto cfg = adapt_batch(config, w);
  // Its families beside a source's (metrics.hpp): its clients.
  w.metrics->expose("connections_open");
  w.metrics->expose("connection_failures");
  return spawn_source(
      sys, [cfg](source_pump& pump) { serve(cfg, pump); }, w.downstream,
      w.metrics, cfg.max_inflight, cfg.time);
}

} // namespace flumen::sources
