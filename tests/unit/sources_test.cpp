// Sources put into a real memory channel; the test takes from it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

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

TEST_F(source_test, seq_counts_a_refused_batch_as_dropped_and_goes_on) {
  // transaction_capacity 5 refuses the first batch (10) for good; the
  // second (3) fits.
  auto ch = channel(channel_config(100, 5));
  seq_config cfg;
  cfg.count = 13;
  cfg.batch_size = 10;
  auto src = track(spawn_seq(sys, cfg, source_wiring("r1", "seq", ch)));
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->events_received.load(), 13u);
  EXPECT_EQ(m->events_dropped.load(), 10u);
  EXPECT_EQ(m->events_accepted.load(), 3u);
  EXPECT_EQ(bodies(drain(self, ch, 3)), (strs{"10", "11", "12"}));
  EXPECT_TRUE(stop(src));
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

TEST_F(source_test, netcat_handles_overlong_lines_per_policy) {
  struct expectation {
    overlong_policy policy;
    strs bodies;
    uint64_t dropped;
  };
  for (auto& x :
       {expectation{
            overlong_policy::truncate, {"short", "xxxxxxxxxx", "after"}, 0},
        expectation{overlong_policy::drop, {"short", "after"}, 1},
        expectation{overlong_policy::split,
                    {"short", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx", "after"},
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
  }
}

TEST_F(source_test, netcat_refuses_clients_beyond_max_connections) {
  auto ch = channel(channel_config(100, 100));
  netcat_config cfg;
  cfg.port = free_port();
  cfg.max_connections = 1;
  cfg.batch_timeout = 10ms;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client first{cfg.port};
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
  client second{cfg.port}; // accepted by the kernel, then closed by netcat
  ASSERT_TRUE(second.connected());
  ASSERT_TRUE(wait_until([&] { return m->connection_failures.load() == 1; }));
  char byte;
  EXPECT_EQ(::recv(second.fd(), &byte, 1, 0), 0) << "closed by the source";
  ASSERT_TRUE(first.write("still here\n"));
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"still here"}));
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
  EXPECT_EQ(*reason, caf::exit_reason::unhandled_exception);
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
  EXPECT_GE(std::chrono::steady_clock::now() - began, 200ms)
      << "two restarts, each after restart_throttle";
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
  EXPECT_EQ(*reason, caf::exit_reason::unhandled_exception);
}

TEST_F(source_test, parse_exec_requires_a_command) {
  error_list errors;
  auto node = YAML::Load("restart: true\nrestart_throttle: 250ms\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_exec(r);
  r.finish();
  EXPECT_TRUE(cfg.restart);
  EXPECT_EQ(cfg.restart_throttle, 250ms);
  EXPECT_EQ(cfg.shell, "/bin/sh");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "missing required key 'command'");
}
