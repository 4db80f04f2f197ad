#include "runtime/net/listener_gate.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/core/metrics.hpp"

namespace flumen::listener_gate {

std::size_t hop_message_bytes(std::size_t max_batch_bytes) {
  return max_batch_bytes + max_batch_bytes / 128 + (1u << 20);
}

// -- the BASP stream ----------------------------------------------------------

namespace {

// CAF 0.17.6's BASP (libcaf_io/caf/io/basp/header.hpp, message_type.hpp),
// numbers in network byte order: operation (1 byte), 2 bytes of padding,
// flags (1), payload length (4), operation data (8), source actor (8),
// destination actor (8).
enum basp_op : uint8_t {
  server_handshake = 0,
  client_handshake = 1,
  direct_message = 2,
  routed_message = 3,
  monitor_message = 4,
  down_message = 5,
  heartbeat = 6,
};

uint64_t big_endian(const unsigned char* p, int n) {
  uint64_t x = 0;
  for (int i = 0; i < n; ++i)
    x = (x << 8) | p[i];
  return x;
}

const char* op_name(uint8_t op) {
  switch (op) {
  case server_handshake:
    return "server handshake";
  case client_handshake:
    return "client handshake";
  case direct_message:
    return "direct message";
  case routed_message:
    return "routed message";
  case monitor_message:
    return "monitor message";
  case down_message:
    return "down message";
  case heartbeat:
    return "heartbeat";
  default:
    return "?";
  }
}

} // namespace

std::string basp_stream::check_header(std::size_t max_message_bytes) {
  auto op = header_[0];
  auto len = big_endian(header_ + 4, 4);
  auto data = big_endian(header_ + 8, 8);
  auto src = big_endian(header_ + 16, 8);
  auto dst = big_endian(header_ + 24, 8);
  if (op > heartbeat)
    return "not a BASP header (operation byte " + std::to_string(op) +
           "): not a flumen peer";
  if (!handshake_done_ && op != client_handshake)
    return std::string{"the first message is a BASP "} + op_name(op) +
           ", not a client handshake";
  // A listener's peer never sends a server handshake: CAF would take the
  // listener for the client of its own connection.
  if (op == server_handshake)
    return "a BASP server handshake from a connecting peer";
  if (op == client_handshake && len == 0)
    return "a BASP client handshake without payload";
  // CAF's own checks (basp::valid), so that what it would drop silently is
  // logged, plus the one it lacks (above): a handshake without payload
  // makes CAF 0.17.6 dereference a null pointer.
  bool valid = true;
  switch (op) {
  case client_handshake:
    valid = src == 0 && dst == 0;
    break;
  case direct_message:
  case routed_message:
    valid = dst != 0 && len != 0;
    break;
  case monitor_message:
    valid = len != 0 && data == 0;
    break;
  case down_message:
    valid = src != 0 && dst == 0 && len != 0 && data == 0;
    break;
  case heartbeat:
    valid = src == 0 && dst == 0 && len == 0 && data == 0;
    break;
  default:
    break;
  }
  if (!valid) return std::string{"malformed BASP "} + op_name(op) + " header";
  auto bound = op == client_handshake ? max_handshake_bytes : max_message_bytes;
  if (len > bound)
    return std::string{"a BASP "} + op_name(op) + " announcing " +
           std::to_string(len) + " bytes, more than " + std::to_string(bound) +
           (op == client_handshake ? " (a handshake's bound)"
                                   : " (the listener's message bound)");
  payload_left_ = len;
  in_handshake_ = !handshake_done_;
  ++headers_;
  return {};
}

std::string basp_stream::feed(const unsigned char* data, std::size_t n,
                              std::size_t max_message_bytes) {
  if (!refused_.empty()) return refused_;
  while (n > 0) {
    if (payload_left_ > 0) {
      // Payloads are only counted: CAF has read them into a buffer of the
      // size already checked.
      auto k = static_cast<std::size_t>(
          std::min<uint64_t>(payload_left_, static_cast<uint64_t>(n)));
      payload_left_ -= k;
      data += k;
      n -= k;
      if (payload_left_ == 0 && in_handshake_) {
        in_handshake_ = false;
        handshake_done_ = true;
      }
      continue;
    }
    auto k = std::min(n, header_bytes - have_);
    std::memcpy(header_ + have_, data, k);
    have_ += k;
    data += k;
    n -= k;
    if (have_ < header_bytes) break;
    have_ = 0;
    refused_ = check_header(max_message_bytes);
    if (!refused_.empty()) return refused_;
    // A handshake with nothing after its header is impossible (checked
    // above), so handshake_done_ is set only once its payload is in.
  }
  return {};
}

// -- the gate -----------------------------------------------------------------

namespace hooks {

using clock = std::chrono::steady_clock;

/// A registered listener (or one nobody registered).
struct entry {
  limits lim;
  uint16_t port = 0;
  std::size_t open = 0;    ///< accepted sockets not closed yet
  std::size_t refused = 0; ///< of those, refused (waiting for CAF to close)
  uint64_t order = 0;      ///< the later registered wins a port
};

struct conn {
  int fd = -1;
  std::atomic<transport> t{transport::unknown};
  std::shared_ptr<entry> e;
  std::string peer;
  clock::time_point accepted;
  clock::time_point deadline;
  basp_stream stream;                   ///< the multiplexer thread's alone
  std::atomic<bool> established{false}; ///< the handshake arrived whole
  std::atomic<bool> refused{false};
};

namespace {

// Accepted sockets by descriptor: 1024 chunks of 1024, allocated when
// first needed and never freed, so a lookup is two loads and takes no lock.
constexpr int chunk_bits = 10;
constexpr int chunk_size = 1 << chunk_bits;
constexpr int max_fd = chunk_size * chunk_size;
std::atomic<std::atomic<conn*>*> table[chunk_size];

std::atomic<conn*>* slot(int fd, bool create) {
  auto& chunk = table[fd >> chunk_bits];
  auto* c = chunk.load(std::memory_order_acquire);
  if (!c && create) {
    c = new std::atomic<conn*>[chunk_size]();
    chunk.store(c, std::memory_order_release);
  }
  return c ? &c[fd & (chunk_size - 1)] : nullptr;
}

std::atomic<std::size_t> open_count{0};
std::atomic<uint64_t> refusal_count{0};

/// At most this many refusals are logged per second; the others are
/// counted and said in one line per second.
constexpr int logged_per_second = 10;

class gate {
public:
  static gate& get() {
    // Never destroyed: its thread and CAF's may use it until the process
    // ends.
    static gate* g = [] {
      auto* p = new gate;
      // Registered after spdlog's logger was made (the process logged
      // before any listener), so this runs before it is destroyed: the
      // watchdog logs nothing from then on (it logs under mtx_ only).
      std::atexit([] {
        std::lock_guard guard{get().mtx_};
        get().exiting_ = true;
      });
      return p;
    }();
    return *g;
  }

  std::shared_ptr<entry> add(limits l, uint16_t port) {
    std::lock_guard guard{mtx_};
    auto e = std::make_shared<entry>();
    e->lim = std::move(l);
    e->port = port;
    e->order = ++order_;
    entries_.push_back(e);
    recompute_bound();
    return e;
  }

  void set_port(const std::shared_ptr<entry>& e, uint16_t port) {
    std::lock_guard guard{mtx_};
    e->port = port;
  }

  void remove(const std::shared_ptr<entry>& e) {
    std::lock_guard guard{mtx_};
    std::erase(entries_, e);
    recompute_bound();
  }

  std::size_t bound() const { return bound_.load(std::memory_order_relaxed); }

  bool admit(int fd) {
    auto peer = peer_of(fd);
    auto port = local_port(fd);
    std::unique_lock lock{mtx_};
    auto e = entry_for(port);
    if (fd < 0 || fd >= max_fd) {
      refuse_log(*e, peer, "its descriptor number is beyond the gate's table",
                 "descriptor beyond the table");
      return false;
    }
    auto live = e->open - e->refused;
    if (live >= e->lim.max_connections) {
      // Full. A socket still in its handshake is older than the new one:
      // make room by closing the oldest, so that sockets that never speak
      // can't keep real peers out. Sockets waiting to be closed count up
      // to twice the limit: descriptors stay bounded.
      conn* oldest = nullptr;
      if (e->open < 2 * e->lim.max_connections)
        for (auto* c : conns_)
          if (c->e == e && !c->refused && !c->established &&
              (!oldest || c->accepted < oldest->accepted))
            oldest = c;
      if (!oldest) {
        refuse_log(*e, peer,
                   std::to_string(live) +
                       " connections open, max_connections " +
                       std::to_string(e->lim.max_connections),
                   "max_connections");
        return false;
      }
      refuse(*oldest,
             "no handshake after " + seconds(clock::now() - oldest->accepted) +
                 ", closed to make room (max_connections " +
                 std::to_string(e->lim.max_connections) + ")",
             "closed to make room");
    }
    auto* c = new conn;
    c->fd = fd;
    c->e = e;
    c->peer = std::move(peer);
    c->accepted = clock::now();
    c->deadline = c->accepted + e->lim.handshake_timeout;
    auto* s = slot(fd, true);
    if (auto* stale = s->load()) // closed behind the gate's back
      drop(stale);
    s->store(c, std::memory_order_release);
    conns_.push_back(c);
    ++e->open;
    ++open_count;
    if (!watchdog_started_) {
      watchdog_started_ = true;
      std::thread{[this] { watch(); }}.detach();
    }
    lock.unlock();
    wake_.notify_one();
    return true;
  }

  bool inspect(conn& c, const void* data, std::size_t n) {
    if (c.refused.load(std::memory_order_relaxed)) return false;
    auto why =
        c.stream.feed(static_cast<const unsigned char*>(data), n, bound());
    if (why.empty()) {
      if (!c.established.load(std::memory_order_relaxed) &&
          c.stream.handshake_done())
        c.established.store(true, std::memory_order_relaxed);
      return true;
    }
    std::lock_guard guard{mtx_};
    if (!c.refused)
      refuse(c, why,
             why.find(" announcing ") != std::string::npos ? "oversized"
                                                           : "not BASP");
    return false;
  }

  void forget(int fd, conn* c) {
    {
      std::lock_guard guard{mtx_};
      auto* s = slot(fd, false);
      if (!s || s->load() != c) return;
      drop(c);
    }
  }

private:
  /// The newest listener registered on `port`; the only one waiting for
  /// its port; or one for sockets of a listener nobody registered.
  std::shared_ptr<entry> entry_for(uint16_t port) {
    std::shared_ptr<entry> best;
    std::shared_ptr<entry> waiting;
    int waiting_count = 0;
    for (auto& e : entries_) {
      if (e->port == port && (!best || e->order > best->order)) best = e;
      if (e->port == 0) {
        waiting = e;
        ++waiting_count;
      }
    }
    if (best) return best;
    if (waiting_count == 1) return waiting;
    auto& u = unknown_[port];
    if (!u) {
      u = std::make_shared<entry>();
      u->lim.name = "the listener on port " + std::to_string(port);
      u->port = port;
    }
    return u;
  }

  void recompute_bound() {
    // With no listener left (a reload between two instances) the last
    // bound stays: sockets may still be open.
    std::size_t b = 0;
    for (auto& e : entries_)
      b = std::max(b, e->lim.max_message_bytes);
    if (b != 0) bound_ = b;
  }

  /// Refuses an accepted socket (mtx_ held): later reads fail, the peer
  /// sees the connection end, CAF closes it.
  void refuse(conn& c, const std::string& why, const char* kind) {
    c.refused = true;
    ++c.e->refused;
    // Counted before the peer can see the end: whoever watches the
    // socket close finds the refusal already in the metrics.
    refuse_log(*c.e, c.peer, why, kind);
    ::shutdown(c.fd, SHUT_RDWR);
  }

  /// Forgets `c` (mtx_ held).
  void drop(conn* c) {
    if (auto* s = slot(c->fd, false); s && s->load() == c) s->store(nullptr);
    std::erase(conns_, c);
    --c->e->open;
    if (c->refused) --c->e->refused;
    --open_count;
    delete c;
  }

  /// Logs a refusal, or counts it by `kind` for the next summary line
  /// when this second's lines are spent.
  void refuse_log(entry& e, const std::string& peer, const std::string& why,
                  const char* kind) {
    ++refusal_count;
    if (e.lim.metrics) ++e.lim.metrics->connection_failures;
    if (exiting_) return;
    auto now = clock::now();
    if (now - window_start_ >= std::chrono::seconds{1}) {
      window_start_ = now;
      logged_in_window_ = 0;
    }
    if (logged_in_window_ >= logged_per_second) {
      ++suppressed_[e.lim.name + ": " + kind];
      return;
    }
    ++logged_in_window_;
    spdlog::warn("{}: refused {}: {}", e.lim.name, peer, why);
  }

  /// Times out handshakes and says what the rate limit kept out of the
  /// log, once a second.
  void watch() {
    std::unique_lock lock{mtx_};
    for (;;) {
      auto now = clock::now();
      auto next = now + std::chrono::hours{1};
      for (std::size_t i = 0; i < conns_.size(); ++i) {
        auto* c = conns_[i];
        if (c->refused || c->established) continue;
        if (c->deadline <= now)
          refuse(*c,
                 "no handshake within " + seconds(c->e->lim.handshake_timeout),
                 "handshake timed out");
        else
          next = std::min(next, c->deadline);
      }
      if (!suppressed_.empty() && !exiting_) {
        if (now - window_start_ >= std::chrono::seconds{1}) {
          uint64_t total = 0;
          std::string by_kind;
          for (auto& [kind, n] : suppressed_) {
            total += n;
            by_kind +=
                (by_kind.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
          }
          spdlog::warn("{} more refusals not logged ({})", total, by_kind);
          suppressed_.clear();
          window_start_ = now;
          logged_in_window_ = 0;
        }
        next = std::min(next, window_start_ + std::chrono::seconds{1});
      }
      wake_.wait_until(lock, next);
    }
  }

  static std::string seconds(clock::duration d) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  }

  static std::string peer_of(int fd) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return "an unknown peer";
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (a.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      port = ntohs(in->sin_port);
      return std::string{host} + ":" + std::to_string(port);
    }
    if (a.ss_family == AF_INET6) {
      auto* in = reinterpret_cast<sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
      port = ntohs(in->sin6_port);
      return "[" + std::string{host} + "]:" + std::to_string(port);
    }
    return "an unknown peer";
  }

  static uint16_t local_port(int fd) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
    if (a.ss_family == AF_INET)
      return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
    if (a.ss_family == AF_INET6)
      return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
    return 0;
  }

  std::mutex mtx_;
  std::condition_variable wake_;
  bool exiting_ = false; ///< the process is ending: log nothing
  bool watchdog_started_ = false;
  std::vector<std::shared_ptr<entry>> entries_;
  std::map<uint16_t, std::shared_ptr<entry>> unknown_;
  uint64_t order_ = 0;
  std::atomic<std::size_t> bound_{hop_message_bytes(64u << 20)};
  std::vector<conn*> conns_;
  clock::time_point window_start_{};
  int logged_in_window_ = 0;
  /// Refusals not logged in this second, by `listener: kind`.
  std::map<std::string, uint64_t> suppressed_;
};

class registration_impl : public registration {
public:
  explicit registration_impl(std::shared_ptr<entry> e) : e_(std::move(e)) {}
  ~registration_impl() override { gate::get().remove(e_); }
  void set_port(uint16_t port) override { gate::get().set_port(e_, port); }

private:
  std::shared_ptr<entry> e_;
};

} // namespace

bool admit(int fd) {
  return gate::get().admit(fd);
}

conn* find(int fd) {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(max_fd))
    return nullptr;
  auto* s = slot(fd, false);
  return s ? s->load(std::memory_order_acquire) : nullptr;
}

bool claim(conn& c, transport t) {
  auto have = c.t.load(std::memory_order_relaxed);
  if (have == transport::unknown) {
    c.t.store(t, std::memory_order_relaxed);
    return true;
  }
  return have == t;
}

bool inspect(conn& c, const void* data, std::size_t n) {
  return gate::get().inspect(c, data, n);
}

const std::string& peer(const conn& c) {
  return c.peer;
}

bool refused(const conn& c) {
  return c.refused.load(std::memory_order_relaxed);
}

void forget(int fd) {
  if (auto* c = find(fd)) gate::get().forget(fd, c);
}

} // namespace hooks

std::shared_ptr<registration> add(limits l, uint16_t port) {
  return std::make_shared<hooks::registration_impl>(
      hooks::gate::get().add(std::move(l), port));
}

std::size_t open_sockets() {
  return hooks::open_count.load();
}

uint64_t refusals() {
  return hooks::refusal_count.load();
}

} // namespace flumen::listener_gate
