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

#include "actors/sources/netcat_io.hpp"
#include "actors/sources/socket_names.hpp"
#include "actors/sources/source_options.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

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
  /// TLS clients closed for not completing their handshake in time, not
  /// yet logged.
  std::atomic<uint64_t> handshake_timeouts{0};
  std::atomic<int64_t> handshake_logged_at{0};

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
    uint64_t id = 0;   ///< for its "OK"s (ack_every_event)
    std::string acks;  ///< "OK"s not yet sent (at most max_unsent_acks)
    /// TLS (cfg.tls): the session (its buffers go before the socket
    /// closes); null for plain TCP.
    std::unique_ptr<tls_session> tls;
    /// When a TLS handshake must be complete.
    time_point handshake_deadline{};

    bool handshaking() const { return tls && tls->handshaking(); }
    bool wants_write() const { return tls && tls->wants_write(); }
    bool buffered() const { return tls && tls->buffered(); }
  };

  /// Takes a TLS handshake as far as the socket allows; a refused one is
  /// counted.
  tls_session::step advance_handshake(client& c);
  /// At a stop: completes a handshake under way, up to stop_waits_until_.
  bool finish_handshake(client& c);
  /// One read or peek of up to `n` bytes: the count; 0 at the end of the
  /// input or on a failure (a TLS one counted); -1 when nothing is there
  /// now (errno EAGAIN).
  ssize_t receive(client& c, char* buf, std::size_t n, bool peek);
  /// Closes TLS clients whose handshake is overdue; logs them, at most
  /// once a minute.
  void count_handshake_timeout();

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
    auto before = pending_.size();
    uint64_t last = 0;
    if (!emit_batches(pending_, cfg_.batch_size, pump_, all, &last)) {
      acks_.clear();
      return false;
    }
    if (pending_.empty()) first_at_ = time_point::max();
    return !cfg_.ack_every_event || answer(before - pending_.size(), last);
  }

  /// ack_every_event: once batch `last` is accepted, each client whose
  /// lines were among the `handed` gets an "OK" per line. False when the
  /// pump is torn down first (then nobody gets one).
  bool answer(std::size_t handed, uint64_t last);

  netcat_config cfg_;
  std::shared_ptr<flumen::clock> time_;
  source_pump& pump_;
  component_metrics& m_;
  netcat_shared& shared_;
  bool leader_; ///< logs the source-wide lines
  std::unique_ptr<char[]> buf_;
  client_list clients_;
  batch pending_;
  read_sizer reads_;
  ack_ledger acks_;
  /// Where the client being read dropped lines (ack_every_event).
  std::vector<std::size_t> drops_;
  uint64_t next_id_ = 0;
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
  bool buffered = false; ///< a TLS session holds decrypted bytes
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    short events = it->wants_write() || !it->acks.empty() ? POLLOUT : 0;
    if ((!it->wants_write() || !it->handshaking()) &&
        it->acks.size() < max_unsent_acks)
      events |= POLLIN;
    fds_.push_back({it->fd.fd, events, 0});
    owners_.push_back(it);
    buffered = buffered || it->buffered();
  }
  int rc = wait(fds_.data(), fds_.size(),
                buffered ? time_->now() : next_wakeup(room));
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
    bool ready =
        fds_[i + first_client].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR);
    if (it->handshaking()) {
      if (ready) {
        auto h = advance_handshake(*it);
        if (h == tls_session::step::failed) {
          close_client(it);
          continue;
        }
        if (h == tls_session::step::done) {
          it->last_read = now;
          // Data may have come with the handshake's last flight.
          ready = true;
        }
      }
      if (it->handshaking()) {
        if (now < it->handshake_deadline) continue;
        count_handshake_timeout();
        close_client(it);
        continue;
      }
    }
    if (!it->acks.empty() && !send_acks(it->fd.fd, it->acks, 0)) {
      it->acks.clear(); // gone: reading tells the rest
    }
    if (it->acks.size() >= max_unsent_acks) continue; // not read meanwhile
    ready = ready || it->buffered();
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
      // Its partial line is answered before the close, as at an end.
      if (cfg_.ack_every_event && !flush(true)) return false;
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
  // With ack_every_event a client may wait for the OK of its line before
  // it sends the next: what was read goes now, not after batch_timeout.
  return flush(timed_out || ended || cfg_.ack_every_event);
}

bool netcat_reader::answer(std::size_t handed, uint64_t last) {
  auto runs = acks_.handed(handed);
  if (runs.empty()) return true;
  if (handed > 0 && !pump_.wait_accepted(last)) return false;
  for (auto& r : runs)
    for (auto& c : clients_) {
      if (c.id != r.id || r.id == 0) continue;
      if (r.failed) c.acks += failed_answer(cfg_.max_line_length);
      send_acks(c.fd.fd, c.acks, r.count);
    }
  return true;
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
    auto want = reads_.want(pending_.size(), cfg_.batch_size,
                            std::min(read_size, budget - r.bytes));
    auto n = c.tls ? receive(c, buf_.get(), want, false)
                   : ::read(c.fd.fd, buf_.get(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    auto before = pending_.size();
    // Drops recorded while a stop read a line to its end answer nobody.
    drops_.clear();
    if (n <= 0) {
      // End of input, or an error such as a reset: what came before was
      // sent, and a partial last line counts as a line.
      c.dec->finish(pending_);
      r.closed = true;
    } else {
      r.bytes += static_cast<std::size_t>(n);
      c.last_read = time_->now();
      bool fed = c.dec->feed(buf_.get(), static_cast<std::size_t>(n), pending_);
      reads_.note(static_cast<std::size_t>(n), pending_.size() - before);
      if (!fed) {
        // The stream cannot be read on (a frame that is no frame): what
        // came before it is handed over; the client is closed, counted.
        m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("{}: closing a client: {}", m_.name, c.dec->error());
        r.closed = true;
      }
    }
    if (cfg_.ack_every_event) {
      // Each line dropped for its length is answered FAILED where it was.
      for (auto at : drops_) {
        acks_.failed(c.id, before, at);
        before = at;
      }
      drops_.clear();
      acks_.appended(c.id, before, pending_.size());
    }
    c.dec->count(m_);
    note_pending();
    // A client that ended gets the answers of all it sent before it is
    // closed: its last lines, short of a batch, went to the channels only
    // after the close, and their OKs to nobody (a client that counts them
    // would have sent those lines again).
    if (!flush(r.closed && cfg_.ack_every_event)) {
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
  // A TLS client that connected before the stop may have sent messages
  // right behind its handshake.
  if (c.handshaking() && !finish_handshake(c)) return true;
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
    auto n = receive(c, buf_.get(), read_size, true);
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
    auto got = receive(c, buf_.get(), want, false);
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
  if (cfg_.ack_every_event) dec->record_drops(&drops_);
  clients_.push_back(client{fd_guard{fd}, std::move(dec), time_->now()});
  auto it = std::prev(clients_.end());
  it->id = ++next_id_;
  if (cfg_.tls) {
    it->tls = std::make_unique<tls_session>(cfg_.tls, fd);
    it->handshake_deadline = time_->now() + cfg_.handshake_timeout;
  }
  return it;
}

tls_session::step netcat_reader::advance_handshake(client& c) {
  auto step = c.tls->handshake();
  // Refused (no certificate, another CA's, plain text) or gone: the
  // agent's TLS audit logs who and why (runtime/net/tls_audit.cpp).
  if (step == tls_session::step::failed)
    m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
  return step;
}

bool netcat_reader::finish_handshake(client& c) {
  while (c.handshaking()) {
    if (advance_handshake(c) == tls_session::step::failed) return false;
    if (!c.handshaking()) break;
    pollfd p{c.fd.fd, static_cast<short>(c.wants_write() ? POLLOUT : POLLIN),
             0};
    if (wait(&p, 1, stop_waits_until_) <= 0) return false;
  }
  return true;
}

ssize_t netcat_reader::receive(client& c, char* buf, std::size_t n, bool peek) {
  if (!c.tls) {
    if (peek) return ::recv(c.fd.fd, buf, n, MSG_PEEK | MSG_DONTWAIT);
    return ::read(c.fd.fd, buf, n);
  }
  auto r = c.tls->receive(buf, n, peek);
  if (r == 0 && c.tls->failed()) {
    m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{}: closing a TLS client: {}", m_.name, c.tls->error());
  }
  return r;
}

void netcat_reader::count_handshake_timeout() {
  m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
  shared_.handshake_timeouts.fetch_add(1);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 time_->now().time_since_epoch())
                 .count();
  auto last = shared_.handshake_logged_at.load();
  if (last != 0 && now - last < 60) return;
  if (!shared_.handshake_logged_at.compare_exchange_strong(last, now)) return;
  spdlog::warn("{}: closed {} TLS client(s) that did not complete the "
               "handshake within {} ms (handshake_timeout)",
               m_.name, shared_.handshake_timeouts.exchange(0),
               cfg_.handshake_timeout.count());
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
    if (c.handshaking()) {
      t = std::min(t, c.handshake_deadline);
      continue;
    }
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
