// The netcat source over real loopback sockets, into a real memory channel
// taken back by the test (or drained by a sink); its readers wait on a
// manual clock (tests/support/manual_clock.hpp) where a test says "not
// yet", "not closed" or "no more".

#include "actors/sources/netcat.hpp"
#include "actors/sources/netcat_io.hpp"

#include <fcntl.h>
#include <linux/tcp.h>
#include <poll.h>
#include <sys/socket.h>

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
#include "tests/support/manual_clock.hpp"
#include "tests/support/netcat.hpp"
#include "tests/support/ports.hpp"
#include "tests/unit/source_test.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;
using client = tcp_client;

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

} // namespace

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
  auto clock = std::make_shared<manual_clock>();
  cfg.time = clock;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client first{cfg.port};
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(first.write("first\n"));
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"first"}));
  client second{cfg.port}; // connected in the kernel's backlog
  ASSERT_TRUE(second.connected());
  ASSERT_TRUE(second.write("second\n"));
  // Every reader rests, then rests again after a batch_timeout: a line
  // read from the second client would have been handed over.
  ASSERT_TRUE(clock->settle(cfg.readers));
  clock->advance(cfg.batch_timeout);
  ASSERT_TRUE(clock->settle(cfg.readers));
  EXPECT_EQ(m->events_received.load(), 1u)
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
  auto clock = std::make_shared<manual_clock>();
  cfg.time = clock;
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
  // Sends until the kernel takes no more, without waiting.
  auto fill = [&] {
    while (sent < data.size()) {
      auto n =
          ::send(c.fd(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0)
        sent += static_cast<std::size_t>(n);
      else if (n < 0 && errno == EINTR)
        continue;
      else
        return;
    }
  };
  // Fills; true when the peer then advertises no room at all: the
  // receiver's buffer is full too.
  auto stuck = [&] {
    fill();
    tcp_info ti{};
    socklen_t len = sizeof(ti);
    return ::getsockopt(c.fd(), IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
           ti.tcpi_snd_wnd == 0;
  };
  // The reader waits for the window (it reads no more) and the client is
  // stuck: from here on only a read by the source can make room.
  fill();
  ASSERT_TRUE(clock->blocked());
  ASSERT_TRUE(wait_until(stuck, 10s)) << sent << " bytes sent";
  auto after_1s = sent;
  ASSERT_TRUE(clock->blocked());
  fill();
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
  wiring sw;
  sw.channel = ch;
  sw.metrics = metrics_of("sinks", "k1", "test");
  track(sinks::spawn_sync_sink(sys, record, sw, 10));
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
  auto clock = std::make_shared<manual_clock>();
  cfg.time = clock;
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
  // The stop woke the reader, which waits for the window with the last 5;
  // the source handled the stop before it answers the round trip.
  ASSERT_TRUE(clock->blocked());
  round_trip(self, src, true);
  EXPECT_FALSE(ok_already(self)) << "not everything was accepted yet";
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
  loopback_listener blocker;
  ASSERT_TRUE(blocker);
  netcat_config cfg;
  cfg.port = blocker.port();
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  self->monitor(src);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(5s) >> [] {});
  blocker.close();
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
  auto clock = std::make_shared<manual_clock>();
  cfg.time = clock;
  auto src = track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
  ASSERT_TRUE(c.write("b-0\nb-1 is "));
  // The reader's time stands still: the rest is not late however slow the
  // machine is. It waits for the rest, 20 ms of its time too.
  clock->freeze();
  self->send(src, stop_atom::value);
  ASSERT_TRUE(clock->settle());
  clock->advance(20ms); // the client's pause between chunks
  ASSERT_TRUE(clock->settle());
  ASSERT_TRUE(c.write("complete\nb-2"));
  clock->resume(); // what waits for "b-2" ends in time
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
  auto clock = std::make_shared<manual_clock>();
  cfg.time = clock;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  client quiet{cfg.port};
  client busy{cfg.port};
  ASSERT_TRUE(quiet.connected());
  ASSERT_TRUE(busy.connected());
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 2; }));
  // From here the reader's time moves only by the test's steps.
  clock->freeze();
  auto began = clock->now();
  ASSERT_TRUE(quiet.write("no newline yet"));
  // The busy client sends a line every 50 ms: it is never idle.
  std::size_t ticks = 0;
  bool closed = false;
  while (!closed && clock->now() - began < 5s) {
    ASSERT_TRUE(busy.write("tick\n"));
    ++ticks;
    ASSERT_TRUE(clock->settle());
    pollfd p{quiet.fd(), POLLIN, 0};
    char byte;
    if (::poll(&p, 1, 0) == 1)
      closed = ::recv(quiet.fd(), &byte, 1, MSG_DONTWAIT) == 0;
    if (!closed) clock->advance(50ms);
  }
  ASSERT_TRUE(closed) << "the quiet client was not closed";
  EXPECT_GE(clock->now() - began, cfg.idle_timeout);
  clock->resume(); // the last tick's batch_timeout
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
  auto clock = std::make_shared<manual_clock>();
  cfg.time = clock;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  auto m = registry_.find("a1.sources.r1");
  constexpr std::size_t total_lines = 20000; // 2 MB: more than buffers hold
  std::string data;
  for (std::size_t i = 0; i < total_lines; ++i)
    data += numbered_line(i);
  client c{cfg.port, 256 * 1024};
  ASSERT_TRUE(c.connected());
  auto writer = std::async(std::launch::async, [&] { return c.write(data); });
  // The reader waits for the window (it reads no more), and its time moves
  // on ten idle_timeouts meanwhile.
  ASSERT_TRUE(clock->blocked());
  clock->advance(10 * cfg.idle_timeout);
  ASSERT_TRUE(clock->blocked());
  EXPECT_EQ(m->connection_failures.load(), 0u) << "closed while held back";
  EXPECT_NE(writer.wait_for(0s), std::future_status::ready)
      << "the client is pushed back";
  auto check = std::make_shared<line_check>();
  auto record = [check](const batch& events) -> std::optional<std::string> {
    for (auto& e : events) {
      auto i = check->count++;
      if (e.body + '\n' != numbered_line(i)) ++check->wrong;
    }
    return {};
  };
  wiring sw;
  sw.channel = ch;
  sw.metrics = metrics_of("sinks", "k1", "test");
  track(sinks::spawn_sync_sink(sys, record, sw, 10));
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

// ack_every_event (Flume's ack-every-event): an "OK" per line, sent only
// once the batch holding the line is in the channel. Three lines into a
// channel of capacity 2: the put is held until the test takes, so no
// answer may be there while the channel is full (an "OK" sent when the
// batch was handed over, not accepted, would be: the reader writes before
// the channel fills). Once the test takes them, three answers come.
TEST_F(source_test, netcat_acks_every_line_once_the_channel_took_it) {
  auto ch = channel(channel_config(2, 2));
  auto m = metrics_of("channels", "c1", "memory");
  ASSERT_NE(m, nullptr);
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.batch_size = 3;
  cfg.batch_timeout = std::chrono::hours{1}; // ack mode does not wait for it
  cfg.ack_every_event = true;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.write("one\ntwo\nthree\n"));
  ASSERT_TRUE(reaches(m->channel_size, 2u)) << m->channel_size.load();
  char buf[64];
  EXPECT_LT(::recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT), 0)
      << "an answer before the channel accepted the line";
  auto events = drain(self, ch, 3, 10s);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].body, "three");
  EXPECT_EQ(c.read_answers(9, 10s), "OK\nOK\nOK\n");
  // A line sent after an answer was read is answered too, without waiting
  // for batch_timeout (an hour here).
  ASSERT_TRUE(c.write("four\n"));
  ASSERT_EQ(drain(self, ch, 1, 10s).size(), 1u);
  EXPECT_EQ(c.read_answers(3, 10s), "OK\n");
}

// A client that sends its lines and ends its side (nc -N, nc -q) still
// reads: it gets an OK for every line, those of a last batch short of
// batch_size included. They used to be handed over only after the close,
// and their OKs went to nobody.
TEST_F(source_test, netcat_acks_a_clients_last_lines_before_closing_it) {
  auto ch = channel(channel_config(100, 100));
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.batch_size = 3;
  cfg.batch_timeout = std::chrono::hours{1};
  cfg.ack_every_event = true;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.write("1\n2\n3\n4\n5\n"));
  ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
  EXPECT_EQ(c.read_answers(15, 10s), "OK\nOK\nOK\nOK\nOK\n");
  auto events = drain(self, ch, 5, 10s);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[4].body, "5");
}

// A read asks for what completes the batch being filled, in lines of the
// length seen: 1,000 lines of 101 bytes (newline included) from empty is
// 1,001 lines of 102 bytes; never below 4 KiB, never above what is allowed.
TEST(netcat_reads, a_read_is_sized_to_complete_the_batch) {
  read_sizer r;
  EXPECT_EQ(r.want(0, 1000, 262144), 262144u) << "no line seen yet";
  r.note(101 * 2600, 2600);
  EXPECT_EQ(r.want(0, 1000, 262144), 1001u * 102);
  EXPECT_EQ(r.want(990, 1000, 262144), 4096u) << "4 KiB at least";
  EXPECT_EQ(r.want(990, 1000, 1000), 1000u) << "never more than allowed";
  EXPECT_EQ(r.want(1000, 1000, 262144), 262144u) << "a batch is pending";
  EXPECT_EQ(r.want(0, 100000, 262144), 262144u) << "capped";
  // Lines that change length: the old ones count less and less.
  for (int i = 0; i < 8; ++i)
    r.note(11 * 65536, 65536);
  EXPECT_LT(r.want(0, 1000, 262144), 1001u * 14);
}

TEST(netcat_acks, the_ledger_answers_each_client_its_own_lines_in_order) {
  ack_ledger l;
  l.appended(1, 0, 2);
  l.appended(2, 2, 3);
  l.appended(1, 4, 6); // event 3 came unrecorded: nobody's
  EXPECT_EQ(l.size(), 6u);
  using runs = std::vector<ack_ledger::run>;
  EXPECT_EQ(l.handed(1), (runs{{1, 1}}));
  EXPECT_EQ(l.handed(4), (runs{{1, 1}, {2, 1}, {0, 1}, {1, 1}}));
  EXPECT_EQ(l.handed(5), (runs{{1, 1}}));
  EXPECT_EQ(l.size(), 0u);
}

// A dropped line's FAILED comes where the line was: after the OKs of the
// events before it, before those after it; one with nothing before it
// right away.
TEST(netcat_acks, a_dropped_line_is_answered_failed_in_its_place) {
  ack_ledger l;
  l.failed(1, 0, 0);   // client 1's first line was dropped
  l.appended(1, 0, 1); // then a line of it
  l.failed(2, 1, 2);   // client 2: a line, then a dropped one
  l.appended(2, 2, 3); // and a line
  using runs = std::vector<ack_ledger::run>;
  EXPECT_EQ(l.handed(0), (runs{{1, 0, true}}));
  EXPECT_EQ(l.handed(2), (runs{{1, 1}, {2, 1}, {2, 0, true}}));
  EXPECT_EQ(l.handed(1), (runs{{2, 1}}));
  EXPECT_EQ(l.size(), 0u);
}

// Flume's netcat answers FAILED for a line over its length; with
// ack_every_event and overlong_policy drop, so does flumen's (a client that
// waits for an answer per line would wait forever for a dropped one).
TEST_F(source_test, netcat_answers_failed_for_a_dropped_line) {
  auto ch = channel(channel_config(10, 10));
  netcat_config cfg;
  cfg.port = free_port();
  ASSERT_NE(cfg.port, 0);
  cfg.max_line_length = 5;
  cfg.policy = overlong_policy::drop;
  cfg.ack_every_event = true;
  track(spawn_netcat(sys, cfg, source_wiring("r1", "netcat", ch)));
  client c{cfg.port};
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.write("much too long\none\nmuch too long\ntwo\n"));
  auto events = drain(self, ch, 2, 10s);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].body, "one");
  EXPECT_EQ(events[1].body, "two");
  const std::string failed =
      "FAILED: Event exceeds the maximum length (5 bytes, without the "
      "newline)\n";
  const std::string want = failed + "OK\n" + failed + "OK\n";
  EXPECT_EQ(c.read_answers(want.size(), 10s), want);
}
