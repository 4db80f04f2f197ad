// Sources put into a real memory channel; the test takes from it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <regex>
#include <thread>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "actors/sinks/sync_sink.hpp"
#include "actors/sources/exec.hpp"
#include "actors/sources/netcat.hpp"
#include "actors/sources/seq.hpp"
#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

/// A loopback port nobody listens on right now (netcat cannot bind port 0).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// A TCP client of the netcat source; connects once it listens.
class client {
public:
  /// `sndbuf` > 0 caps the kernel's send buffer for this socket.
  explicit client(uint16_t port, int sndbuf = 0) {
    wait_until(
        [&] {
          fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          if (sndbuf > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
          sockaddr_in addr{};
          addr.sin_family = AF_INET;
          addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          addr.sin_port = htons(port);
          if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr),
                        sizeof(addr)) == 0)
            return true;
          ::close(fd_);
          fd_ = -1;
          return false;
        },
        std::chrono::seconds{5});
  }
  ~client() { close(); }

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  /// Blocking write of all of `text`.
  bool write(const std::string& text) {
    const char* p = text.data();
    auto left = text.size();
    while (left > 0) {
      auto n = ::send(fd_, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return true;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
};

/// Line `i` of the back-pressure test: 99 bytes and a newline.
std::string numbered_line(std::size_t i) {
  char head[16];
  std::snprintf(head, sizeof(head), "%09zu", i);
  std::string line = head;
  line.resize(99, '.');
  line += '\n';
  return line;
}

/// What a recording sink saw: bodies of delivered events, checked against
/// `numbered_line` as they come.
struct line_check {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> wrong{0};
};

struct source_test : actor_test {
  wiring source_wiring(const std::string& name, const std::string& type,
                       const caf::actor& downstream) {
    auto w = wire("sources", name, type);
    w.downstream = downstream;
    return w;
  }

  /// A source's stop_atom request, answered within `timeout`.
  bool stop(const caf::actor& source, std::chrono::milliseconds timeout = 10s) {
    bool ok = false;
    self->request(source, timeout, stop_atom::value)
        .receive([&](ok_atom) { ok = true; }, [](caf::error&) {});
    return ok;
  }
};

} // namespace

// -- seq
// -------------------------------------------------------------------------

TEST_F(source_test, seq_puts_every_event_in_order_and_stops) {
  auto ch = channel(channel_config(10000, 1000));
  seq_config cfg;
  cfg.count = 2500;
  cfg.batch_size = 1000;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto m = registry_.find("a1.sources.r1");
  auto events = drain(self, ch, 2500);
  ASSERT_EQ(events.size(), 2500u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].body, std::to_string(i));
    ASSERT_EQ(header(events[i], "seq"), std::to_string(i));
  }
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->events_received.load(), 2500u);
  EXPECT_EQ(m->events_accepted.load(), 2500u);
  EXPECT_EQ(m->batches.load(), 3u); // 1000 + 1000 + 500
  EXPECT_TRUE(stop(src)) << "a finished source answers stop at once";
  auto t = take(self, ch, 10); // nothing more comes
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->events.empty());
}

TEST_F(source_test, seq_pads_bodies_to_body_size_and_starts_at_start) {
  auto ch = channel(channel_config(100, 100));
  seq_config cfg;
  cfg.count = 3;
  cfg.start = 9;
  cfg.body_size = 6;
  track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto events = drain(self, ch, 3);
  EXPECT_EQ(bodies(events), (strs{"9.....", "10....", "11...."}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(header(events[2], "seq"), "11");
}

TEST_F(source_test, seq_batches_above_transaction_capacity_all_arrive) {
  // transaction_capacity 5 and batches of 10: every batch goes in whole
  // (the channel admits it in pieces), none is dropped.
  auto ch = channel(channel_config(100, 5));
  seq_config cfg;
  cfg.count = 13;
  cfg.batch_size = 10;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->events_received.load(), 13u);
  EXPECT_EQ(m->events_dropped.load(), 0u);
  EXPECT_EQ(m->events_accepted.load(), 13u);
  auto all = drain(self, ch, 13);
  ASSERT_EQ(all.size(), 13u);
  EXPECT_EQ(all.front().body, "0");
  EXPECT_EQ(all.back().body, "12");
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, a_source_goes_down_with_its_downstream) {
  auto ch = channel(channel_config(100, 100));
  seq_config cfg;
  cfg.count = 0; // no end
  cfg.rate = 100;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  self->monitor(src);
  caf::anon_send_exit(ch, caf::exit_reason::kill);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(5s) >> [] {});
  ASSERT_TRUE(reason) << "a source without its channel must not run on";
  // Either the down message or a failed put comes first: both are errors.
  EXPECT_TRUE(*reason) << "not a normal exit";
  EXPECT_NE(*reason, caf::exit_reason::normal);
}

TEST_F(source_test, parse_seq_reads_options) {
  error_list errors;
  auto node = YAML::Load("count: 5\nstart: 2\nrate: 100\nbody_size: 10\n"
                         "batch_size: 7\nmax_inflight: 0\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_seq(r);
  r.finish();
  EXPECT_EQ(cfg.count, 5u);
  EXPECT_EQ(cfg.start, 2u);
  EXPECT_EQ(cfg.rate, 100u);
  EXPECT_EQ(cfg.body_size, 10u);
  EXPECT_EQ(cfg.batch_size, 7u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:6:15: agents.a1.sources.r1.max_inflight: must be at "
            "least 1");
}

// -- netcat
// ------------------------------------------------------------------------

TEST_F(source_test, netcat_takes_every_line_of_concurrent_clients) {
  auto ch = channel(channel_config(10000, 1000));
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.batch_size = 100;
  cfg.batch_timeout = 20ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  constexpr int lines_per_client = 1000;
  auto run_client = [&](std::string name) {
    client c{cfg.port};
    if (!c.connected()) return false;
    for (int i = 0; i < lines_per_client; i += 50) {
      std::string chunk;
      for (int j = i; j < i + 50; ++j)
        chunk += name + "-" + std::to_string(j) + (j % 2 ? "\r\n" : "\n");
      if (!c.write(chunk)) return false;
    }
    return true;
  };
  auto a = std::async(std::launch::async, run_client, "a");
  auto b = std::async(std::launch::async, run_client, "b");
  ASSERT_TRUE(a.get());
  ASSERT_TRUE(b.get());
  auto events = drain(self, ch, 2 * lines_per_client);
  ASSERT_EQ(events.size(), 2u * lines_per_client);
  // Each client's lines in its order, interleaved in any way.
  std::map<std::string, int> next;
  for (auto& e : events) {
    auto dash = e.body.find('-');
    ASSERT_NE(dash, std::string::npos) << e.body;
    auto name = e.body.substr(0, dash);
    ASSERT_EQ(e.body.substr(dash + 1), std::to_string(next[name]++)) << name;
  }
  EXPECT_EQ(next["a"], lines_per_client);
  EXPECT_EQ(next["b"], lines_per_client);
  auto m = registry_.find("a1.sources.r1");
  EXPECT_TRUE(wait_until([&] { return m->connections_open.load() == 0; }));
  EXPECT_TRUE(reaches(m->events_accepted, 2u * lines_per_client));
}

namespace {

/// `n` numbered lines of 100 bytes each (the number, spaces, a newline).
std::string padded_lines(std::size_t n) {
  std::string out;
  out.reserve(n * 100);
  for (std::size_t i = 0; i < n; ++i) {
    auto num = std::to_string(i);
    out += num + std::string(99 - num.size(), ' ') + "\n";
  }
  return out;
}

} // namespace

// What a client sent before it closed is handed over at its close, not
// after batch_timeout (which only waits for more lines to batch with).
TEST_F(source_test, netcat_hands_over_a_closing_clients_lines_at_once) {
  auto ch = channel(channel_config(10000, 1000));
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.batch_size = 1000;
  cfg.batch_timeout = std::chrono::hours{1};
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  {
    client c{cfg.port};
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write("one\ntwo\nthree\n"));
  }
  auto events = drain(self, ch, 3, 10s);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].body, "three");
}

// A client that streams puts the reader in bulk mode (it wakes per 128 KB
// queued, not per write); what it sends afterwards below that mark, with
// the connection left open, still arrives (read after a short wait).
TEST_F(source_test, netcat_after_a_bulk_transfer_a_short_line_still_arrives) {
  auto ch = channel(channel_config(100000, 1000));
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.batch_size = 1000;
  cfg.batch_timeout = 20ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  constexpr std::size_t lines = 20000; // 2 MB of 100-byte lines
  auto chunk = padded_lines(lines);
  ASSERT_TRUE(c.write(chunk));
  auto bulk = drain(self, ch, lines, 20s, 10000);
  ASSERT_EQ(bulk.size(), lines);
  ASSERT_TRUE(c.write("last\n"));
  auto tail = drain(self, ch, 1, 10s);
  ASSERT_EQ(tail.size(), 1u) << "a short line after a bulk transfer stuck";
  EXPECT_EQ(tail[0].body, "last");
}

// Several reader threads share the listener: every line of every client
// arrives, each client's in its order, and a stop hands over what all of
// them had sent.
TEST_F(source_test, netcat_readers_share_the_clients) {
  auto ch = channel(channel_config(100000, 1000));
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.readers = 3;
  cfg.batch_size = 100;
  cfg.batch_timeout = 20ms;
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  constexpr int clients = 9;
  constexpr int lines_per_client = 2000;
  std::vector<std::future<bool>> runs;
  for (int k = 0; k < clients; ++k)
    runs.push_back(std::async(std::launch::async, [&, k] {
      client c{cfg.port};
      if (!c.connected()) return false;
      std::string all;
      for (int j = 0; j < lines_per_client; ++j)
        all += "c" + std::to_string(k) + "-" + std::to_string(j) + "\n";
      return c.write(all);
    }));
  for (auto& r : runs)
    ASSERT_TRUE(r.get());
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until(
      [&] { return m->events_received.load() >= clients * lines_per_client; }));
  // Stopped now: what is still pending is handed over before the answer.
  caf::error stop_error;
  self->request(src, 10s, stop_atom::value)
      .receive([](ok_atom) {}, [&](caf::error& e) { stop_error = e; });
  EXPECT_FALSE(stop_error) << to_string(stop_error);
  auto events = drain(self, ch, clients * lines_per_client);
  ASSERT_EQ(events.size(),
            static_cast<std::size_t>(clients) * lines_per_client);
  std::map<std::string, int> next;
  for (auto& e : events) {
    auto dash = e.body.find('-');
    ASSERT_NE(dash, std::string::npos) << e.body;
    auto name = e.body.substr(0, dash);
    ASSERT_EQ(e.body.substr(dash + 1), std::to_string(next[name]++)) << name;
  }
  EXPECT_EQ(next.size(), static_cast<std::size_t>(clients));
  EXPECT_EQ(m->events_undelivered.load(), 0u);
}

TEST_F(source_test, netcat_handles_overlong_lines_per_policy) {
  struct expectation {
    overlong_policy policy;
    strs bodies;
    uint64_t dropped;
    uint64_t truncated;
  };
  for (auto& x :
       {expectation{
            overlong_policy::truncate, {"short", "xxxxxxxxxx", "after"}, 0, 1},
        expectation{overlong_policy::drop, {"short", "after"}, 1, 0},
        expectation{overlong_policy::split,
                    {"short", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx", "after"},
                    0,
                    0}}) {
    auto name = "r" + std::to_string(static_cast<int>(x.policy));
    auto ch = channel(channel_config(100, 100), "c" + name);
    netcat_config cfg;
    cfg.port = free_port();
    cfg.max_line_length = 10;
    cfg.policy = x.policy;
    cfg.batch_timeout = 10ms;
    track(spawn_netcat(sys, cfg, source_wiring(name, "netcat", ch)));
    client c{cfg.port};
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write("short\n" + std::string(25, 'x') + "\nafter\n"));
    auto events = drain(self, ch, x.bodies.size());
    EXPECT_EQ(bodies(events), x.bodies);
    auto m = registry_.find("a1.sources." + name);
    EXPECT_EQ(m->events_dropped.load(), x.dropped);
    EXPECT_TRUE(reaches(m->events_truncated, x.truncated))
        << "truncated=" << m->events_truncated.load();
  }
}

namespace {

/// `n` lines `name-0` .. `name-<n-1>`, each with its newline.
std::string client_lines(const std::string& name, std::size_t n) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i)
    text += name + "-" + std::to_string(i) + "\n";
  return text;
}

/// Success when `events` are exactly the lines `client_lines(name, n)` of
/// every name, each client's in its order (clients interleaved in any way).
::testing::AssertionResult every_line_of(const batch& events,
                                         const std::vector<std::string>& names,
                                         std::size_t n) {
  std::map<std::string, std::size_t> next;
  for (auto& e : events) {
    auto dash = e.body.rfind('-');
    if (dash == std::string::npos)
      return ::testing::AssertionFailure() << "stray line '" << e.body << "'";
    auto name = e.body.substr(0, dash);
    auto want = std::to_string(next[name]++);
    if (e.body.substr(dash + 1) != want)
      return ::testing::AssertionFailure() << name << ": line '" << e.body
                                           << "' where " << want << " was due";
  }
  if (next.size() != names.size())
    return ::testing::AssertionFailure()
           << next.size() << " clients' lines, expected " << names.size();
  for (auto& name : names)
    if (next[name] != n)
      return ::testing::AssertionFailure()
             << name << ": " << next[name] << " of " << n << " lines";
  return ::testing::AssertionSuccess();
}

/// Starts one thread per name that connects, writes `client_lines(name, n)`
/// and closes; true from each when it could.
std::vector<std::future<bool>>
write_and_close(uint16_t port, const std::vector<std::string>& names,
                std::size_t n) {
  std::vector<std::future<bool>> clients;
  for (auto& name : names)
    clients.push_back(std::async(std::launch::async, [port, name, n] {
      client c{port};
      return c.connected() && c.write(client_lines(name, n));
    }));
  return clients;
}

} // namespace

TEST_F(source_test, netcat_serves_clients_beyond_max_connections_later) {
  // Five clients write and close at once; two are served at a time and the
  // others wait in the listen backlog: nothing any of them wrote is lost.
  auto ch = channel(channel_config(20000, 1000));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.max_connections = 2;
  cfg.batch_size = 100;
  cfg.batch_timeout = 10ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  constexpr std::size_t n = 2000;
  std::vector<std::string> names{"a", "b", "c", "d", "e"};
  for (auto& f : write_and_close(cfg.port, names, n))
    ASSERT_TRUE(f.get());
  auto events = drain(self, ch, names.size() * n);
  EXPECT_TRUE(every_line_of(events, names, n));
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(m->connection_failures.load(), 0u) << "nobody was refused";
  EXPECT_TRUE(wait_until([&] { return m->connections_open.load() == 0; }));
  EXPECT_TRUE(reaches(m->events_accepted, names.size() * n));
}

TEST_F(source_test, netcat_at_max_connections_lets_a_new_client_wait) {
  auto ch = channel(channel_config(100, 100));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.max_connections = 1;
  cfg.readers = 3; // the limit is the source's, not each reader's
  cfg.batch_timeout = 10ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client first{cfg.port};
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(first.write("first\n"));
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"first"}));
  client second{cfg.port}; // connected in the kernel's backlog
  ASSERT_TRUE(second.connected());
  ASSERT_TRUE(second.write("second\n"));
  EXPECT_TRUE(drain(self, ch, 1, 300ms).empty())
      << "not served while the first client holds the only slot";
  char byte;
  EXPECT_EQ(::recv(second.fd(), &byte, 1, MSG_DONTWAIT), -1)
      << "waiting, not closed";
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(m->connection_failures.load(), 0u);
  first.close();
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"second"}));
  EXPECT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
}

TEST_F(source_test, netcat_pushes_back_on_a_client_while_the_channel_is_full) {
  // A tiny channel nobody takes from: netcat stops reading, the kernel's
  // buffers fill and the client cannot send any more.
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_size = 10;
  cfg.max_inflight = 1;
  cfg.batch_timeout = 10ms;
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  constexpr std::size_t total_lines = 200000;
  std::string data;
  data.reserve(total_lines * 100);
  for (std::size_t i = 0; i < total_lines; ++i)
    data += numbered_line(i);
  client c{cfg.port, 256 * 1024}; // no 4 MB of send buffer autotuning
  ASSERT_TRUE(c.connected());
  ASSERT_EQ(::fcntl(c.fd(), F_SETFL, O_NONBLOCK), 0);
  std::size_t sent = 0;
  auto send_until = [&](std::chrono::steady_clock::time_point deadline) {
    while (sent < data.size() && std::chrono::steady_clock::now() < deadline) {
      auto n =
          ::send(c.fd(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        break;
      pollfd p{c.fd(), POLLOUT, 0};
      ::poll(&p, 1, 10);
    }
  };
  auto now = std::chrono::steady_clock::now();
  send_until(now + 1s);
  auto after_1s = sent;
  send_until(now + 2s);
  auto after_2s = sent;
  RecordProperty("bytes_sent_while_blocked", std::to_string(after_2s));
  EXPECT_LT(after_2s, data.size() / 10) << "the client could send " << after_2s
                                        << " of " << data.size() << " bytes";
  EXPECT_EQ(after_2s, after_1s) << "the kernel's buffers are full: no growth";
  auto m = registry_.find("a1.sources.r1");
  EXPECT_LE(m->events_accepted.load(), 10u) << "the channel holds 10";
  // A consumer drains the channel; the client sends the rest and closes.
  auto check = std::make_shared<line_check>();
  auto record = [check](const batch& events) -> std::optional<std::string> {
    for (auto& e : events) {
      auto i = check->count++;
      if (e.body + '\n' != numbered_line(i)) ++check->wrong;
    }
    return {};
  };
  track(sinks::spawn_sync_sink(sys, record, ch, 10,
                               metrics_of("sinks", "k1", "test")));
  send_until(std::chrono::steady_clock::now() + 30s);
  ASSERT_EQ(sent, data.size());
  c.close();
  ASSERT_TRUE(
      wait_until([&] { return check->count.load() == total_lines; }, 30s))
      << check->count.load() << " of " << total_lines;
  EXPECT_EQ(check->wrong.load(), 0u);
  auto cm = registry_.find("a1.channels.c1");
  EXPECT_TRUE(
      wait_until([&] { return cm->events_committed.load() == total_lines; }));
  EXPECT_TRUE(reaches(m->events_accepted, total_lines));
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, netcat_stop_answers_after_everything_read_was_accepted) {
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_size = 10;
  cfg.max_inflight = 1;
  cfg.batch_timeout = 10s; // no partial batch on time
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  std::string text;
  for (int i = 0; i < 25; ++i)
    text += std::to_string(i) + "\n";
  ASSERT_TRUE(c.write(text)); // one write: read in one go
  // 10 fill the channel, 10 wait for it, 5 wait in netcat.
  ASSERT_TRUE(wait_until([&] { return m->events_received.load() == 20; }));
  self->send(src, stop_atom::value);
  EXPECT_FALSE(ok_within(self, 200ms)) << "not everything was accepted yet";
  auto events = drain(self, ch, 25);
  EXPECT_TRUE(ok_within(self, 5s));
  ASSERT_EQ(events.size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(events[i].body, std::to_string(i));
  EXPECT_EQ(m->events_accepted.load(), 25u);
  EXPECT_EQ(m->current_state(), component_state::stopped);
  EXPECT_TRUE(stop(src)) << "a second stop is answered at once";
}

TEST_F(source_test, netcat_on_a_port_in_use_fails) {
  auto ch = channel(channel_config(10, 10));
  int blocker = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  ASSERT_EQ(::listen(blocker, 1), 0);
  ASSERT_EQ(::getsockname(blocker, reinterpret_cast<sockaddr*>(&addr), &len),
            0);
  netcat_config cfg;
  cfg.port = ntohs(addr.sin_port);
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  self->monitor(src);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(5s) >> [] {});
  ::close(blocker);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(is(*reason, errc::component_failed)) << sys.render(*reason);
  EXPECT_NE(sys.render(*reason).find("cannot listen on"), std::string::npos)
      << sys.render(*reason);
}

TEST_F(source_test, netcat_stop_hands_over_what_clients_wrote_meanwhile) {
  // Nobody takes until the stop was asked, so the source is blocked while
  // the clients write and close: what they wrote sits in their sockets or,
  // beyond max_connections, in the listen backlog. The stop reads it all.
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_size = 10;
  cfg.max_inflight = 1;
  cfg.max_connections = 3;
  cfg.batch_timeout = 10ms;
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  constexpr std::size_t n = 500;
  std::vector<std::string> names{"a", "b", "c", "d", "e", "f", "g", "h"};
  for (auto& f : write_and_close(cfg.port, names, n))
    ASSERT_TRUE(f.get());
  // 10 in the channel, 10 held back by it, each reader waits with 10 more.
  ASSERT_TRUE(wait_until([&] { return m->events_received.load() >= 30; }, 5s));
  self->send(src, stop_atom::value);
  auto events = drain(self, ch, names.size() * n);
  EXPECT_TRUE(ok_within(self, 5s)) << "stopped once everything was accepted";
  EXPECT_TRUE(every_line_of(events, names, n));
  EXPECT_EQ(m->events_received.load(), names.size() * n);
  EXPECT_EQ(m->events_accepted.load(), names.size() * n);
  EXPECT_EQ(m->events_undelivered.load(), 0u);
  EXPECT_EQ(m->events_dropped.load(), 0u);
  EXPECT_EQ(m->connections_open.load(), 0u);
  EXPECT_EQ(m->current_state(), component_state::stopped);
}

TEST_F(source_test, netcat_stop_does_not_pass_a_piece_of_a_line_as_a_line) {
  // A client still connected at the stop, in the middle of a line: its
  // complete lines are handed over, the piece counts as undelivered.
  auto ch = channel(channel_config(100, 100));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_timeout = 10s; // nothing is handed over before the stop
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
  ASSERT_TRUE(c.write("a-0\na-1\na-2 is not fin"));
  EXPECT_TRUE(stop(src));
  EXPECT_EQ(bodies(drain(self, ch, 2)), (strs{"a-0", "a-1"}));
  EXPECT_EQ(m->events_received.load(), 3u);
  EXPECT_EQ(m->events_accepted.load(), 2u);
  EXPECT_EQ(m->events_undelivered.load(), 1u);
  char byte;
  EXPECT_LE(::recv(c.fd(), &byte, 1, 0), 0) << "the source closed it";
}

TEST_F(source_test, netcat_stop_takes_the_rest_of_a_line_that_comes_soon) {
  // A client writes in chunks, not lines: the rest of its line comes a
  // moment after the stop began, and the line is handed over whole.
  auto ch = channel(channel_config(100, 100));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_timeout = 10s; // nothing is handed over before the stop
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
  ASSERT_TRUE(c.write("b-0\nb-1 is "));
  self->send(src, stop_atom::value);
  std::this_thread::sleep_for(20ms); // the client's pause between chunks
  ASSERT_TRUE(c.write("complete\nb-2"));
  EXPECT_TRUE(ok_within(self, 5s));
  EXPECT_EQ(bodies(drain(self, ch, 2)), (strs{"b-0", "b-1 is complete"}));
  EXPECT_EQ(m->events_accepted.load(), 2u);
  // "b-2" is left unread, or read and counted as a piece of a line.
  EXPECT_EQ(m->events_received.load() - m->events_undelivered.load(), 2u);
}

// The same for a client in bulk mode (its socket reports readable only at
// 128 KB queued): at a stop the rest of its line is still waited for.
TEST_F(source_test, netcat_stop_takes_the_rest_of_a_streaming_clients_line) {
  auto ch = channel(channel_config(100000, 10000));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_size = 10000;
  cfg.batch_timeout = 20ms;
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  constexpr std::size_t lines = 20000; // 2 MB: the reader goes bulk
  auto chunk = padded_lines(lines);
  auto m = registry_.find("a1.sources.r1");
  // The stop comes while the reader is still at the stream, with the end of
  // a line to come.
  ASSERT_TRUE(c.write(chunk.substr(0, chunk.size() / 2)));
  ASSERT_TRUE(wait_until([&] { return m->events_received.load() > 0; }));
  ASSERT_TRUE(c.write(chunk.substr(chunk.size() / 2) + "last is "));
  self->send(src, stop_atom::value);
  std::this_thread::sleep_for(20ms); // the client's pause between chunks
  ASSERT_TRUE(c.write("complete\n"));
  EXPECT_TRUE(ok_within(self, 5s));
  auto events = drain(self, ch, lines + 1, 20s, 10000);
  ASSERT_EQ(events.size(), lines + 1);
  EXPECT_EQ(events.back().body, "last is complete");
}

TEST_F(source_test,
       netcat_torn_down_counts_what_it_read_and_never_handed_over) {
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_size = 10;
  cfg.max_inflight = 1;
  cfg.batch_timeout = 10s; // no partial batch on time
  auto src = spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch));
  auto m = registry_.find("a1.sources.r1");
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.write(client_lines("a", 35))); // one write: read in one go
  // 10 in the channel, 10 held back by it, the reader waits to emit 10 more
  // and holds the last 5.
  ASSERT_TRUE(reaches(m->events_received, 30));
  caf::anon_send_exit(src, caf::exit_reason::kill);
  ASSERT_TRUE(reaches(m->events_undelivered, 15))
      << "undelivered=" << m->events_undelivered.load();
  EXPECT_EQ(m->events_received.load(), 35u) << "every line read is counted";
  // The channel still takes the 10 it held back.
  auto events = drain(self, ch, 20, 2s);
  EXPECT_EQ(events.size(), 20u);
  EXPECT_EQ(events.size() + m->events_undelivered.load(),
            m->events_received.load());
}

TEST_F(source_test, netcat_closes_a_client_that_sent_nothing_for_idle_timeout) {
  auto ch = channel(channel_config(1000, 100));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.idle_timeout = 300ms;
  cfg.batch_timeout = 10ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client quiet{cfg.port};
  client busy{cfg.port};
  ASSERT_TRUE(quiet.connected());
  ASSERT_TRUE(busy.connected());
  auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(quiet.write("no newline yet"));
  // The busy client sends a line every 50 ms: it is never idle.
  std::size_t ticks = 0;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - began < 5s) {
    ASSERT_TRUE(busy.write("tick\n"));
    ++ticks;
    pollfd p{quiet.fd(), POLLIN, 0};
    char byte;
    if (::poll(&p, 1, 50) == 1)
      closed = ::recv(quiet.fd(), &byte, 1, MSG_DONTWAIT) == 0;
  }
  ASSERT_TRUE(closed) << "the quiet client was not closed";
  EXPECT_GE(std::chrono::steady_clock::now() - began, cfg.idle_timeout);
  EXPECT_TRUE(reaches(m->connection_failures, 1));
  auto events = drain(self, ch, ticks + 1);
  auto got = bodies(events);
  EXPECT_EQ(std::count(got.begin(), got.end(), "no newline yet"), 1)
      << "its partial line is handed over";
  EXPECT_EQ(std::count(got.begin(), got.end(), "tick"),
            static_cast<std::ptrdiff_t>(ticks));
  EXPECT_EQ(m->connections_open.load(), 1u) << "the busy client stays";
  char byte;
  EXPECT_EQ(::recv(busy.fd(), &byte, 1, MSG_DONTWAIT), -1);
}

TEST_F(source_test,
       netcat_idle_timeout_spares_a_client_the_channel_holds_back) {
  // The client's data waits in the kernel while the channel is full, much
  // longer than idle_timeout: that is not idleness.
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.batch_size = 10;
  cfg.max_inflight = 1;
  cfg.idle_timeout = 100ms;
  cfg.batch_timeout = 10ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  constexpr std::size_t total_lines = 20000; // 2 MB: more than buffers hold
  std::string data;
  for (std::size_t i = 0; i < total_lines; ++i)
    data += numbered_line(i);
  client c{cfg.port, 256 * 1024};
  ASSERT_TRUE(c.connected());
  auto writer = std::async(std::launch::async, [&] { return c.write(data); });
  EXPECT_FALSE(wait_until(
      [&] {
        return m->connection_failures.load() > 0 ||
               writer.wait_for(0s) == std::future_status::ready;
      },
      500ms))
      << "the client is pushed back, and not closed";
  auto check = std::make_shared<line_check>();
  auto record = [check](const batch& events) -> std::optional<std::string> {
    for (auto& e : events) {
      auto i = check->count++;
      if (e.body + '\n' != numbered_line(i)) ++check->wrong;
    }
    return {};
  };
  track(sinks::spawn_sync_sink(sys, record, ch, 10,
                               metrics_of("sinks", "k1", "test")));
  ASSERT_EQ(writer.wait_for(30s), std::future_status::ready);
  ASSERT_TRUE(writer.get());
  c.close();
  ASSERT_TRUE(
      wait_until([&] { return check->count.load() == total_lines; }, 30s))
      << check->count.load() << " of " << total_lines;
  EXPECT_EQ(check->wrong.load(), 0u);
  EXPECT_EQ(m->connection_failures.load(), 0u);
}

TEST_F(source_test, netcat_on_port_0_logs_the_port_the_kernel_chose) {
  // Attached while no other thread logs; removed once the source stopped.
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(ring);
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = 0;
  cfg.batch_timeout = 10ms;
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  std::regex listening{R"(a1\.sources\.r1: listening on 127\.0\.0\.1:(\d+))"};
  int port = 0;
  wait_until([&] {
    for (auto& line : ring->last_formatted()) {
      std::smatch match;
      if (std::regex_search(line, match, listening)) port = std::stoi(match[1]);
    }
    return port != 0;
  });
  if (port != 0) {
    client c{static_cast<uint16_t>(port)};
    EXPECT_TRUE(c.connected() && c.write("hello\n"));
    EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"hello"}));
  }
  EXPECT_TRUE(stop(src));
  auto& sinks = logger->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), ring), sinks.end());
  EXPECT_NE(port, 0) << "no 'listening on 127.0.0.1:PORT' with the real port";
}

TEST_F(source_test, parse_netcat_reads_idle_timeout) {
  error_list errors;
  auto parse = [&](const std::string& yaml) {
    auto node = YAML::Load(yaml);
    option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
    auto cfg = parse_netcat(r);
    r.finish();
    return cfg;
  };
  EXPECT_EQ(parse("port: 1").idle_timeout, 5min) << "the default";
  EXPECT_EQ(parse("port: 1\nidle_timeout: 0").idle_timeout, 0ms) << "off";
  EXPECT_EQ(parse("port: 1\nidle_timeout: 90s").idle_timeout, 90s);
  EXPECT_TRUE(errors.empty());
}

TEST_F(source_test, parse_netcat_reads_readers_and_line_defaults) {
  error_list errors;
  auto parse = [&](const std::string& yaml) {
    auto node = YAML::Load(yaml);
    option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
    auto cfg = parse_netcat(r);
    r.finish();
    return cfg;
  };
  auto defaults = parse("port: 1");
  EXPECT_EQ(defaults.readers, 1u);
  EXPECT_EQ(defaults.max_line_length, 65536u) << "10 KB lines are not cut";
  EXPECT_EQ(parse("port: 1\nreaders: 4").readers, 4u);
  EXPECT_TRUE(errors.empty());
  parse("port: 1\nreaders: 0");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].to_string().find("agents.a1.sources.r1.readers"),
            std::string::npos)
      << errors[0].to_string();
}

TEST_F(source_test, parse_netcat_requires_a_port) {
  error_list errors;
  auto node = YAML::Load("bind: 0.0.0.0\nmax_line_length: 10\n"
                         "overlong_policy: split\nbatch_timeout: 1s\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_netcat(r);
  r.finish();
  EXPECT_EQ(cfg.bind, "0.0.0.0");
  EXPECT_EQ(cfg.max_line_length, 10u);
  EXPECT_EQ(cfg.policy, overlong_policy::split);
  EXPECT_EQ(cfg.batch_timeout, 1s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:1:1: agents.a1.sources.r1: missing required key 'port'");
}

// -- exec
// ------------------------------------------------------------------------

// Included here, where they are used, to keep this section self-contained.
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/flow/source_pump.hpp"

namespace {

/// flumen's signal state (app/main.cpp): SIGTERM and SIGINT blocked in
/// this thread, and so in every thread started from it (a source's reader
/// thread too), and SIGPIPE ignored. Restored at scope exit.
class flumen_signals {
public:
  flumen_signals() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old_mask_);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
  ~flumen_signals() {
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    sigaction(SIGPIPE, &old_pipe_, nullptr);
  }

private:
  sigset_t old_mask_;
  struct sigaction old_pipe_ {};
};

/// State and process group of `pid` from /proc; nullopt once it is gone
/// (reaped).
struct proc_stat {
  char state = 0;
  long pgrp = 0;
};
std::optional<proc_stat> stat_of(long pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  auto end = text.rfind(')');
  if (end == std::string::npos) return std::nullopt;
  std::istringstream fields{text.substr(end + 1)};
  proc_stat st;
  long ppid = 0;
  fields >> st.state >> ppid >> st.pgrp;
  return st;
}

/// True when `pid` no longer runs: reaped, or a zombie nobody reaps (an
/// orphan under a PID 1 that doesn't reap).
bool ended(long pid) {
  auto st = stat_of(pid);
  return !st || st->state == 'Z' || st->state == 'X';
}

/// The processes of group `pgid` that still run (zombies don't).
std::vector<long> running_in_group(long pgid) {
  std::vector<long> out;
  DIR* dir = ::opendir("/proc");
  while (auto* e = dir ? ::readdir(dir) : nullptr) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (auto st = stat_of(pid); st && st->pgrp == pgid && !ended(pid))
      out.push_back(pid);
  }
  if (dir) ::closedir(dir);
  return out;
}

/// Stops what still runs of group `pgid` when a test ends early, so a
/// failing test leaves no process behind.
struct group_guard {
  long pgid = 0;
  ~group_guard() {
    if (pgid > 0 && !running_in_group(pgid).empty())
      ::kill(static_cast<pid_t>(-pgid), SIGKILL);
  }
};

/// The numbers of a line like "123 456".
std::vector<long> numbers(const std::string& line) {
  std::istringstream in{line};
  std::vector<long> out;
  for (long n = 0; in >> n;)
    out.push_back(n);
  return out;
}

/// A command that ignores SIGTERM, as do the `sleep`s it starts (an ignored
/// signal stays ignored across exec); prints its pid (= its process group)
/// once the trap is set.
constexpr const char* ignores_term =
    "exec sh -c 'trap \"\" TERM; echo $$; while :; do sleep 0.1; done'";

} // namespace

TEST_F(source_test, exec_takes_each_line_a_command_prints_then_stops) {
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "printf 'a\\nb\\nc\\n'";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(bodies(drain(self, ch, 3)), (strs{"a", "b", "c"}));
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->events_accepted.load(), 3u);
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->events.empty()) << "the command ran once";
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, exec_with_restart_runs_the_command_again) {
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "printf 'a\\nb\\nc\\n'";
  cfg.restart = true;
  cfg.restart_throttle = 100ms;
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(bodies(drain(self, ch, 9)),
            (strs{"a", "b", "c", "a", "b", "c", "a", "b", "c"}));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 300ms)
      << "two restarts: after restart_throttle, then after twice that";
  EXPECT_TRUE(stop(src)) << "a stop ends the wait between runs";
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(m->current_state(), component_state::stopped);
}

TEST_F(source_test, exec_stop_ends_a_command_that_runs_on) {
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "echo started; exec sleep 30";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"started"}));
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(stop(src));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST_F(source_test, exec_with_a_missing_shell_fails) {
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "true";
  cfg.shell = "/nonexistent/sh";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  self->monitor(src);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(5s) >> [] {});
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason) << "went down with an error";
  EXPECT_NE(*reason, caf::exit_reason::normal);
}

TEST_F(source_test, exec_child_starts_with_default_signals_and_an_empty_mask) {
  flumen_signals flumen_like;
  auto ch = channel(channel_config(100, 100));
  // The guard reaches a source's reader thread, which starts the command:
  // a command inheriting that thread's state would have TERM blocked.
  auto reader_mask = std::make_shared<std::promise<bool>>();
  track(spawn_source(
      sys,
      [reader_mask](source_pump&) {
        sigset_t now;
        pthread_sigmask(SIG_BLOCK, nullptr, &now);
        reader_mask->set_value(sigismember(&now, SIGTERM) == 1);
      },
      ch, wire("sources", "probe", "probe").metrics, 1));
  ASSERT_TRUE(reader_mask->get_future().get()) << "TERM blocked in readers";
  exec_config cfg;
  // `exec`: grep becomes the process flumen started (a shell that waits
  // for a child blocks signals meanwhile, so its own state would not tell).
  cfg.command = "exec grep -E 'SigBlk|SigIgn' /proc/self/status";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 2));
  ASSERT_EQ(lines.size(), 2u);
  // glibc's posix_spawn leaves its internal signals (32 up to SIGRTMIN:
  // SIGCANCEL, SIGSETXID) ignored in the child whatever it is asked, and no
  // program can use them as ordinary signals. Every other bit must be 0.
  uint64_t reserved = 0;
  for (int sig = 32; sig < SIGRTMIN; ++sig)
    reserved |= uint64_t{1} << (sig - 1);
  for (auto& line : lines) {
    auto tab = line.rfind('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    auto bits = std::stoull(line.substr(tab + 1), nullptr, 16);
    if (line.find("SigBlk") != std::string::npos)
      EXPECT_EQ(bits, 0u) << line;
    else
      EXPECT_EQ(bits & ~reserved, 0u) << line;
  }
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, exec_child_leads_a_process_group_of_its_own) {
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "read -r pid comm state ppid pgrp rest < /proc/$$/stat; "
                "echo \"$pid $pgrp\"";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 1));
  ASSERT_EQ(lines.size(), 1u);
  auto ids = numbers(lines[0]);
  ASSERT_EQ(ids.size(), 2u) << lines[0];
  EXPECT_EQ(ids[1], ids[0]) << "the shell leads its group";
  EXPECT_NE(ids[1], static_cast<long>(::getpgrp()));
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, exec_stop_ends_the_command_and_its_group_with_sigterm) {
  flumen_signals flumen_like;
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  // The shell and a `sleep` it waits for: a stop must reach both.
  cfg.command = "sleep 1000 & echo $$ $!; wait";
  cfg.stop_timeout = 5s;
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 1));
  ASSERT_EQ(lines.size(), 1u);
  auto ids = numbers(lines[0]);
  ASSERT_EQ(ids.size(), 2u) << lines[0];
  auto [shell, sleeper] = std::pair{ids[0], ids[1]};
  group_guard leftovers{shell};
  auto group = running_in_group(shell);
  std::sort(group.begin(), group.end());
  auto both = std::vector<long>{shell, sleeper};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(group, both);
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(stop(src));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3s)
      << "SIGTERM ended it, no wait for stop_timeout";
  EXPECT_TRUE(running_in_group(shell).empty()) << "answered after the group";
  EXPECT_FALSE(stat_of(shell)) << "the shell was reaped";
  EXPECT_TRUE(ended(sleeper));
}

TEST_F(source_test, exec_stop_kills_a_group_that_ignores_sigterm) {
  flumen_signals flumen_like;
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = ignores_term;
  cfg.stop_timeout = 300ms;
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 1));
  ASSERT_EQ(lines.size(), 1u);
  auto pgid = numbers(lines[0]).at(0);
  group_guard leftovers{pgid};
  ASSERT_FALSE(running_in_group(pgid).empty());
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(stop(src));
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_GE(took, 300ms) << "SIGTERM was ignored, SIGKILL came after";
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(running_in_group(pgid).empty());
  EXPECT_FALSE(stat_of(pgid)) << "reaped";
}

TEST_F(source_test, exec_abort_kills_the_command_group_too) {
  flumen_signals flumen_like;
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = ignores_term;
  cfg.stop_timeout = 300ms;
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 1));
  ASSERT_EQ(lines.size(), 1u);
  auto pgid = numbers(lines[0]).at(0);
  group_guard leftovers{pgid};
  self->monitor(src);
  caf::anon_send_exit(src, caf::exit_reason::kill);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(5s) >> [] {});
  EXPECT_TRUE(down);
  EXPECT_TRUE(wait_until([&] { return running_in_group(pgid).empty(); }, 5s));
  EXPECT_TRUE(wait_until([&] { return !stat_of(pgid); }, 5s)) << "reaped";
}

TEST_F(source_test, exec_stop_ends_a_command_that_closed_its_output) {
  flumen_signals flumen_like;
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "echo $$; exec >&-; exec sleep 1000";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 1));
  ASSERT_EQ(lines.size(), 1u);
  auto pgid = numbers(lines[0]).at(0);
  group_guard leftovers{pgid};
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(m->current_state(), component_state::running)
      << "its output ended, but it still runs";
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(stop(src));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms);
  EXPECT_TRUE(running_in_group(pgid).empty());
  EXPECT_FALSE(stat_of(pgid)) << "reaped";
}

TEST_F(source_test, exec_reads_until_the_pipe_closes_and_reaps_the_command) {
  auto ch = channel(channel_config(100, 100));
  char dir_template[] = "/tmp/flumen-exec-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::string fifo = std::string{dir_template} + "/go";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  exec_config cfg;
  // The shell exits at once; the subshell it left holds stdout open until
  // the test writes to the fifo.
  cfg.command = "echo $$; (read -r x < " + fifo + "; echo late) & echo early";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 2));
  ASSERT_EQ(lines.size(), 2u);
  auto shell = numbers(lines[0]).at(0);
  EXPECT_EQ(lines[1], "early");
  EXPECT_TRUE(wait_until([&] { return !stat_of(shell); }, 5s))
      << "the shell is reaped while its output goes on";
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(m->current_state(), component_state::running);
  int fd = -1;
  ASSERT_TRUE(wait_until(
      [&] { return (fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK)) >= 0; },
      5s));
  ASSERT_EQ(::write(fd, "go\n", 3), 3);
  ::close(fd);
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"late"}));
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }, 5s))
      << "done once the pipe closed";
  ::unlink(fifo.c_str());
  ::rmdir(dir_template);
  EXPECT_TRUE(stop(src));
}

TEST_F(source_test, exec_stops_what_the_command_left_running_when_it_ends) {
  flumen_signals flumen_like;
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  // The `sleep` holds no pipe: the output ends when the shell exits.
  cfg.command = "sleep 1000 > /dev/null & echo $$ $!";
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 1));
  ASSERT_EQ(lines.size(), 1u);
  auto ids = numbers(lines[0]);
  ASSERT_EQ(ids.size(), 2u) << lines[0];
  group_guard leftovers{ids[0]};
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }, 5s));
  EXPECT_TRUE(ended(ids[1])) << "the sleep did not outlive the run";
  EXPECT_TRUE(running_in_group(ids[0]).empty());
  EXPECT_TRUE(stop(src));
}

TEST(restart_backoff,
     doubles_while_runs_are_short_and_starts_over_after_a_long_one) {
  using std::chrono::milliseconds;
  restart_backoff b{50ms};
  std::vector<milliseconds> waits;
  for (int i = 0; i < 5; ++i)
    waits.push_back(b.next(1ms));
  EXPECT_EQ(waits,
            (std::vector<milliseconds>{50ms, 100ms, 200ms, 400ms, 800ms}));
  EXPECT_EQ(b.next(restart_backoff::long_run), 50ms) << "a long run resets";
  EXPECT_EQ(b.next(restart_backoff::long_run - 1ms), 100ms);
}

TEST(restart_backoff, is_capped) {
  using std::chrono::milliseconds;
  restart_backoff b{10s};
  std::vector<milliseconds> waits;
  for (int i = 0; i < 5; ++i)
    waits.push_back(b.next(0ms));
  EXPECT_EQ(waits, (std::vector<milliseconds>{10s, 20s, 40s, 60s, 60s}));
  restart_backoff longer{120s};
  EXPECT_EQ(longer.next(0ms), 120s);
  EXPECT_EQ(longer.next(0ms), 120s) << "the cap never shortens the throttle";
}

TEST(restart_backoff, backs_off_from_a_zero_throttle_too) {
  restart_backoff b{0ms};
  EXPECT_EQ(b.next(0ms), 0ms);
  EXPECT_EQ(b.next(0ms), restart_backoff::min_doubled);
  EXPECT_EQ(b.next(0ms), 2 * restart_backoff::min_doubled);
}

TEST_F(source_test, exec_restarts_of_a_command_that_exits_at_once_back_off) {
  auto ch = channel(channel_config(100, 100));
  exec_config cfg;
  cfg.command = "date +%s%N"; // when each run started
  cfg.restart = true;
  cfg.restart_throttle = 50ms;
  auto src = track(spawn_exec(sys, cfg, source_wiring("r1", "exec", ch)));
  auto lines = bodies(drain(self, ch, 5));
  ASSERT_EQ(lines.size(), 5u);
  std::vector<std::chrono::nanoseconds> gaps;
  for (std::size_t i = 1; i < lines.size(); ++i)
    gaps.emplace_back(std::stoll(lines[i]) - std::stoll(lines[i - 1]));
  // Each gap is the run plus the wait: 50, 100, 200, 400 ms.
  EXPECT_GE(gaps[0], 50ms);
  EXPECT_GE(gaps[1], 100ms);
  EXPECT_GE(gaps[2], 200ms);
  EXPECT_GE(gaps[3], 400ms);
  EXPECT_LT(gaps[0], gaps[3]) << "the wait grew";
  auto m = registry_.find("a1.sources.r1");
  EXPECT_GE(m->restarts.load(), 4u);
  EXPECT_TRUE(stop(src)) << "a stop ends the wait between runs";
}

TEST_F(source_test, parse_exec_requires_a_command) {
  error_list errors;
  auto node = YAML::Load(
      "restart: true\nrestart_throttle: 250ms\nstop_timeout: 300ms\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_exec(r);
  r.finish();
  EXPECT_TRUE(cfg.restart);
  EXPECT_EQ(cfg.restart_throttle, 250ms);
  EXPECT_EQ(cfg.stop_timeout, 300ms);
  EXPECT_EQ(cfg.shell, "/bin/sh");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "missing required key 'command'");
}

TEST_F(source_test, parse_exec_stop_timeout_defaults_to_2s) {
  error_list errors;
  auto node = YAML::Load("command: 'true'\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_exec(r);
  r.finish();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.stop_timeout, 2s);
  EXPECT_EQ(cfg.restart_throttle, 10s) << "Flume's restartThrottle";
}
