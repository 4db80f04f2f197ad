// The hop protocol (runtime/dist/hop.hpp) between two real processes: this
// test's own actor system (configured like flumen's, so app identifiers and
// message types match) and a `flumen run` child with a hop source. Every
// message of the protocol and each of its answers: hello (accepted, another
// version, the lowest unsettled number), hop (accepted, resent, malformed, too
// large, busy, without a hello, a sender's window full), max_connections, and
// the child's exit after SIGTERM. A hop names its batch by its first event's
// number (runtime/dist/hop.hpp). The child's counter lines (--stats-interval)
// and log lines are checked from its stderr, captured to a file.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>
#include <zstd.h>

#include "runtime/agent/agent.hpp"
#include "runtime/core/event.hpp"
#include "runtime/dist/hop.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/wire/hop_wire.hpp"
#include "tests/support/ports.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/text_edit.hpp"
#include "tests/support/wait.hpp"

#ifndef FLUMEN_BINARY
#error "FLUMEN_BINARY must name the flumen executable"
#endif

using namespace flumen;
using namespace std::chrono_literals;
using flumen::test::free_port;
using flumen::test::replace_all;
using flumen::test::wait_until;
using hop::hello_atom;
using hop::hop_atom;

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// The lines of `text` (no trailing empty line).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

/// The last line of `text` from `from` on that contains `needle`.
std::optional<std::string> last_line_with(const std::string& text,
                                          const std::string& needle,
                                          std::size_t from = 0) {
  std::optional<std::string> out;
  for (auto& line : split_lines(from < text.size() ? text.substr(from) : ""))
    if (line.find(needle) != std::string::npos) out = line;
  return out;
}

/// Counter `key` of a counter line (summary() leaves out zero counters).
uint64_t counter(const std::string& line, const std::string& key) {
  auto pos = line.find(" " + key + "=");
  if (pos == std::string::npos) return 0;
  return std::strtoull(line.c_str() + pos + key.size() + 2, nullptr, 10);
}

/// True when `err` is flumen's error `code`.
bool is(const caf::error& err, errc code) {
  return err.category() == caf::atom("flumen") &&
         err.code() == static_cast<uint8_t>(code);
}

event make_event(std::string body) {
  event e;
  e.body = std::move(body);
  return e;
}

/// `n` events `prefix<i>`, i from `first`.
batch numbered(std::size_t first, std::size_t n, const std::string& prefix) {
  batch out;
  for (auto i = first; i < first + n; ++i)
    out.push_back(make_event(prefix + std::to_string(i)));
  return out;
}

/// 10 bodies of 500 bytes: a payload over 4096 bytes that compresses to
/// far less.
batch over_4096_bytes() {
  batch out;
  for (int i = 0; i < 10; ++i)
    out.push_back(make_event(std::string(500, static_cast<char>('a' + i))));
  return out;
}

/// The answer to a hello.
struct hello_reply {
  bool ok = false;
  uint32_t version = 0;
  uint64_t max_batch_bytes = 0;
  caf::error err;
};

/// The answer to a hop; `ok` false and `err` set otherwise (a request
/// timeout is an error too: sec::request_timeout).
struct hop_reply {
  bool ok = false;
  caf::error err;
};

constexpr const char* file_roll_topology = R"(agents:
  c:
    sources:
      in: {type: hop, port: PORT, channels: [c1], max_batch_bytes: 4KB, max_connections: 2}
    channels:
      c1: {type: memory, capacity: 100}
    sinks:
      s1: {type: file_roll, channel: c1, directory: 'OUT', roll_interval: 0}
)";

/// The number of the first event of batch `seq` of 100 events.
uint64_t first_of(uint64_t seq) {
  return 1 + (seq - 1) * 100;
}

/// A sink that cannot drain: its channel fills. (A batch of 100 events of
/// ~7-byte bodies is ~7 KB decoded.)
constexpr const char* kafka_topology = R"(agents:
  c:
    sources:
      in: {type: hop, port: PORT, channels: [c1], max_batch_bytes: 16KB, max_connections: 2}
    channels:
      c1: {type: memory, capacity: 100, transaction_capacity: 100}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '127.0.0.1:1', topic: t}
)";

/// max_batch_bytes as large as the old default (64 MiB of payload).
constexpr const char* large_bound_topology = R"(agents:
  c:
    sources:
      in: {type: hop, port: PORT, channels: [c1], max_batch_bytes: 64MB}
    channels:
      c1: {type: memory, capacity: 100}
    sinks:
      s1: {type: file_roll, channel: c1, directory: 'OUT', roll_interval: 0}
)";

/// A zstd batch of 2 KB declaring 8,388,600 empty events: 64 MiB of
/// payload, 451 MiB once decoded (issue 17, item 6).
std::string empty_events_bomb() {
  constexpr uint32_t count = 8'388'600;
  std::string payload(std::size_t{count} * 8, '\0');
  std::string z(ZSTD_compressBound(payload.size()), '\0');
  auto n =
      ZSTD_compress(z.data(), z.size(), payload.data(), payload.size(), 19);
  z.resize(ZSTD_isError(n) ? 0 : n);
  std::string out = {'F', 'H', 'B', static_cast<char>(hop::wire_version),
                     2,   0,   0,   0};
  for (auto v : {count, static_cast<uint32_t>(payload.size())})
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<char>(v >> (8 * i)));
  return out + z;
}

class hop_protocol : public ::testing::Test {
protected:
  hop_protocol() {
    configure_actor_system(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
  }

  void SetUp() override {
    out_ = dir_ / "out";
    log_ = dir_ / "flumen.log";
    port_ = free_port();
  }

  void TearDown() override {
    if (pid_ > 0) {
      auto status = stop_child();
      if (expect_exit_code_) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "after SIGTERM: " << describe_status(status);
      }
    }
    if (HasFailure())
      std::cerr << "---- flumen's log (" << log_ << ") ----\n"
                << read_file(log_) << "---- end of log ----\n";
  }

  /// Starts `flumen run` on `topology` (PORT, OUT filled in) and connects to
  /// its hop source.
  void start_child(const char* topology,
                   std::vector<std::string> extra_args = {}) {
    auto text =
        replace_all(replace_all(topology, "PORT", std::to_string(port_)), "OUT",
                    out_.string());
    auto file = dir_ / "topology.yaml";
    std::ofstream{file} << text;
    std::vector<std::string> args{FLUMEN_BINARY, "run", file.string(),
                                  "--stats-interval", "200ms"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto log_path = log_.string();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0) << "fork failed";
    if (pid_ == 0) {
      // Only async-signal-safe calls from here on.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (fd < 0 || devnull < 0) ::_exit(126);
      ::dup2(devnull, 0);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    auto listening =
        "c.sources.in: listening on 127.0.0.1:" + std::to_string(port_);
    ASSERT_TRUE(
        wait_until([&] { return log_has(listening) || !child_running(); }, 20s))
        << "flumen did not start listening";
    ASSERT_TRUE(child_running())
        << "flumen exited at start: " << describe_status(status_);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto proxy = sys_->middleman().remote_actor("127.0.0.1", port_);
      if (proxy) {
        source_ = *proxy;
        break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "remote_actor: " << sys_->render(proxy.error());
      std::this_thread::sleep_for(50ms); // the listener is starting
    }
    ASSERT_TRUE(source_);
  }

  bool child_running() {
    if (pid_ <= 0) return false;
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  /// SIGTERM, then SIGKILL after 10 s; the wait status.
  int stop_child() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    if (!wait_until([&] { return !child_running(); }, 10s)) {
      ADD_FAILURE() << "flumen did not exit within 10 s of SIGTERM: killed";
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    return status_;
  }

  static std::string describe_status(int status) {
    if (WIFEXITED(status))
      return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "killed by signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

  std::string log() const { return read_file(log_); }

  bool log_has(const std::string& needle) const {
    return log().find(needle) != std::string::npos;
  }

  /// The newest counter line of component `name` (`sources.in`).
  std::string last_counters(const std::string& name,
                            std::size_t from = 0) const {
    return last_line_with(log(), "c." + name + " state=", from).value_or("");
  }

  /// Waits until the newest counter line of `name` has `key` >= `value`.
  bool counter_reaches(const std::string& name, const std::string& key,
                       uint64_t value, std::chrono::milliseconds t = 10s) {
    return wait_until(
        [&] { return counter(last_counters(name), key) >= value; }, t);
  }

  /// Every line of every file the file_roll sink wrote.
  std::vector<std::string> output_lines() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& f : fs::directory_iterator{out_, ec})
      if (f.is_regular_file())
        for (auto& line : split_lines(read_file(f.path())))
          out.push_back(line);
    std::sort(out.begin(), out.end());
    return out;
  }

  hello_reply hello(caf::scoped_actor& self, uint32_t version,
                    const std::string& sender) {
    hello_reply r;
    self->request(source_, 10s, hello_atom::value, version, sender)
        .receive(
            [&](ok_atom, uint32_t v, uint64_t max) {
              r.ok = true;
              r.version = v;
              r.max_batch_bytes = max;
            },
            [&](caf::error& e) { r.err = std::move(e); });
    return r;
  }

  /// The hello that states the sender's lowest unsettled event number.
  hello_reply hello(caf::scoped_actor& self, uint32_t version,
                    const std::string& sender, uint64_t lowest_unsettled) {
    hello_reply r;
    self->request(source_, 10s, hello_atom::value, version, sender,
                  lowest_unsettled)
        .receive(
            [&](ok_atom, uint32_t v, uint64_t max) {
              r.ok = true;
              r.version = v;
              r.max_batch_bytes = max;
            },
            [&](caf::error& e) { r.err = std::move(e); });
    return r;
  }

  /// The child's peak resident set (VmHWM), in kB.
  uint64_t child_peak_rss_kb() const {
    std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmHWM:", 0) == 0)
        return std::strtoull(line.c_str() + 6, nullptr, 10);
    return 0;
  }

  hop_reply send_hop(caf::scoped_actor& self, const std::string& sender,
                     uint64_t seq, uint32_t hold_ms, const std::string& buffer,
                     std::chrono::milliseconds timeout = 10s) {
    hop_reply r;
    self->request(source_, timeout, hop_atom::value, sender, seq, hold_ms,
                  buffer)
        .receive([&](ok_atom) { r.ok = true; },
                 [&](caf::error& e) { r.err = std::move(e); });
    return r;
  }

  std::string render(const caf::error& e) const { return sys_->render(e); }

  /// Says hello as `sender`, sends `buffer` as its events from 1 (taken),
  /// stops the agent (exit code 0) and expects it wrote exactly `lines`.
  void hello_put_and_stop(caf::scoped_actor& self, const std::string& sender,
                          const std::string& buffer,
                          std::vector<std::string> lines) {
    ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
    auto ok = send_hop(self, sender, 1, 1000, buffer);
    ASSERT_TRUE(ok.ok) << render(ok.err);
    auto status = stop_child();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << describe_status(status);
    EXPECT_EQ(output_lines(), lines);
  }

  /// How long a refusal's answer may take: the refusal is made at once, so
  /// an answer over loopback comes in milliseconds or never.
  static constexpr std::chrono::milliseconds refusal_timeout{2000};

  /// `r` is not `ok`; an error that came is `code` (see the comment above
  /// a_malformed_buffer_is_refused on the missing answer).
  void expect_refused(const hop_reply& r, errc code, const std::string& what) {
    EXPECT_FALSE(r.ok) << what << ": accepted";
    if (r.ok) return;
    if (r.err == caf::sec::request_timeout) {
      std::cerr << "note: " << what << ": refused without an answer (the "
                << "sender timed out; runtime/dist/hop.hpp promises "
                << to_string(code) << ")\n";
      return;
    }
    EXPECT_TRUE(is(r.err, code)) << what << ": " << render(r.err);
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::actor source_; ///< the child's hop source (a proxy)
  test::temp_dir dir_{"hop_protocol"};
  fs::path out_;
  fs::path log_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int status_ = 0;
  /// TearDown expects exit code 0 after SIGTERM (not for a topology that
  /// ends with undelivered events).
  bool expect_exit_code_ = true;
};

} // namespace

TEST_F(hop_protocol, hello_with_the_wire_version_is_accepted) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  auto r = hello(self, hop::wire_version, "test.sinks.h1#1");
  ASSERT_TRUE(r.ok) << render(r.err);
  EXPECT_EQ(r.version, hop::wire_version);
  EXPECT_EQ(r.max_batch_bytes, 4096u);
  EXPECT_TRUE(wait_until(
      [&] { return log_has("c.sources.in: sender test.sinks.h1#1 connected"); },
      10s));
  // A second hello of the same actor is answered the same.
  auto again = hello(self, hop::wire_version, "test.sinks.h1#1");
  ASSERT_TRUE(again.ok) << render(again.err);
  EXPECT_EQ(again.max_batch_bytes, 4096u);
}

TEST_F(hop_protocol, hello_with_another_version_is_refused_and_logged) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  auto r = hello(self, 99, "old.sinks.h1#1");
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(is(r.err, errc::version_mismatch)) << render(r.err);
  EXPECT_NE(render(r.err).find("99"), std::string::npos) << render(r.err);
  EXPECT_TRUE(wait_until(
      [&] {
        return log_has("refused sender old.sinks.h1#1: it speaks hop wire "
                       "version 99, this agent speaks " +
                       std::to_string(hop::wire_version));
      },
      10s));
  EXPECT_TRUE(counter_reaches("sources.in", "connection_failures", 1));
  // Refused, it holds no connection: the right version still gets in.
  auto ok = hello(self, hop::wire_version, "new.sinks.h1#1");
  EXPECT_TRUE(ok.ok) << render(ok.err);
}

TEST_F(hop_protocol, a_resent_seq_is_acknowledged_and_put_once) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#2";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  auto buffer = hop::encode(numbered(1, 3, "dup-"));
  auto first = send_hop(self, sender, 1, 1000, buffer);
  ASSERT_TRUE(first.ok) << render(first.err);
  auto resent = send_hop(self, sender, 1, 1000, buffer);
  ASSERT_TRUE(resent.ok) << render(resent.err);
  EXPECT_TRUE(counter_reaches("sources.in", "hop_duplicates", 1))
      << last_counters("sources.in");
  auto expected = std::vector<std::string>{"dup-1", "dup-2", "dup-3"};
  EXPECT_TRUE(wait_until([&] { return output_lines().size() >= 3; }, 10s));
  // The counters of the same moment: 3 received, 3 put, 1 duplicate.
  auto src = last_counters("sources.in");
  EXPECT_EQ(counter(src, "hop_duplicates"), 1u) << src;
  EXPECT_EQ(counter(src, "received"), 3u) << src;
  EXPECT_EQ(counter(src, "batches"), 1u) << src;
  EXPECT_EQ(counter(last_counters("channels.c1"), "put"), 3u)
      << last_counters("channels.c1");
  // The next events from the same sender are put. (Any piece of 1..3 would
  // be a duplicate: 2 names event 2.)
  auto next =
      send_hop(self, sender, 4, 1000, hop::encode(numbered(4, 1, "dup-")));
  ASSERT_TRUE(next.ok) << render(next.err);
  expected.push_back("dup-4");
  // Stopped, everything is written: each event exactly once.
  auto status = stop_child();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe_status(status);
  EXPECT_EQ(output_lines(), expected);
  auto src_end = last_counters("sources.in");
  EXPECT_EQ(counter(src_end, "hop_duplicates"), 1u) << src_end;
  EXPECT_EQ(counter(last_counters("channels.c1"), "put"), 4u)
      << last_counters("channels.c1");
}

// A refused batch (malformed, too large) is refused, counted, logged and not
// put. runtime/dist/hop.hpp says its sender gets an error (malformed_batch,
// batch_too_large); actors/sources/hop.cpp makes the response promise for
// the batch before decoding it, so the error it then returns goes nowhere
// (CAF 0.17 moved the request's sender into that promise) and the sender
// waits for its request timeout. These tests accept that silence but check
// the code of any error that comes; the DISABLED_ ones below require the
// answer (run them with --gtest_also_run_disabled_tests).

TEST_F(hop_protocol, a_malformed_buffer_is_refused) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#3";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  auto r = send_hop(self, sender, 1, 1000, "garbage", refusal_timeout);
  expect_refused(r, errc::malformed_batch, "garbage");
  // A valid header with a truncated payload is malformed too.
  auto good = hop::encode(numbered(1, 2, "m-"));
  auto cut = send_hop(self, sender, 2, 1000, good.substr(0, good.size() - 3),
                      refusal_timeout);
  expect_refused(cut, errc::malformed_batch, "a truncated payload");
  EXPECT_TRUE(counter_reaches("sources.in", "hop_batches_refused", 2))
      << last_counters("sources.in");
  EXPECT_TRUE(log_has("c.sources.in: refused a batch from " + sender +
                      ": not a flumen hop batch"));
  EXPECT_TRUE(log_has("c.sources.in: refused a batch from " + sender +
                      ": payload size differs from its header"));
  // Refused numbers are not remembered as accepted: sent right, they are
  // put.
  auto ok = send_hop(self, sender, 1, 1000, good);
  ASSERT_TRUE(ok.ok) << render(ok.err);
  auto status = stop_child();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe_status(status);
  EXPECT_EQ(output_lines(), (std::vector<std::string>{"m-1", "m-2"}));
  auto src = last_counters("sources.in");
  EXPECT_EQ(counter(src, "hop_batches_refused"), 2u) << src;
  EXPECT_EQ(counter(src, "received"), 2u) << src;
}

TEST_F(hop_protocol, a_batch_over_max_batch_bytes_is_refused_by_its_header) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#4";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  auto big = over_4096_bytes();
  ASSERT_GT(hop::encoded_size(big), 4096u);
  uint64_t seq = 1;
  for (auto c : {hop::codec::none, hop::codec::lz4, hop::codec::zstd}) {
    auto buffer = hop::encode(big, c);
    if (c != hop::codec::none) {
      EXPECT_LT(buffer.size(), 4096u)
          << hop::to_string(c) << ": the compressed buffer itself fits";
    }
    auto r = send_hop(self, sender, seq++, 1000, buffer, refusal_timeout);
    expect_refused(r, errc::batch_too_large, hop::to_string(c));
  }
  EXPECT_TRUE(counter_reaches("sources.in", "hop_batches_refused", 3))
      << last_counters("sources.in");
  EXPECT_TRUE(log_has("c.sources.in: refused a batch from " + sender));
  // Just under the bound, compressed, it is accepted.
  batch fits(big.begin(), big.begin() + 7);
  ASSERT_LE(event_bytes(fits), 4096u); // decoded, as the bound counts
  auto ok =
      send_hop(self, sender, seq++, 1000, hop::encode(fits, hop::codec::zstd));
  ASSERT_TRUE(ok.ok) << render(ok.err);
  auto status = stop_child();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe_status(status);
  EXPECT_EQ(output_lines().size(), 7u);
  auto src = last_counters("sources.in");
  EXPECT_EQ(counter(src, "hop_batches_refused"), 3u) << src;
  EXPECT_EQ(counter(src, "received"), 7u) << src;
}

// What runtime/dist/hop.hpp promises: a refused batch is answered with an
// error.
TEST_F(hop_protocol, a_malformed_buffer_is_answered_malformed_batch) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  ASSERT_TRUE(hello(self, hop::wire_version, "test.sinks.h1#7").ok);
  auto r = send_hop(self, "test.sinks.h1#7", 1, 1000, "garbage", 5s);
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(is(r.err, errc::malformed_batch)) << render(r.err);
}

TEST_F(hop_protocol, a_batch_over_max_batch_bytes_is_answered_too_large) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  ASSERT_TRUE(hello(self, hop::wire_version, "test.sinks.h1#8").ok);
  uint64_t seq = 1;
  for (auto c : {hop::codec::none, hop::codec::lz4, hop::codec::zstd}) {
    auto r = send_hop(self, "test.sinks.h1#8", seq++, 1000,
                      hop::encode(over_4096_bytes(), c), 5s);
    ASSERT_FALSE(r.ok) << hop::to_string(c);
    EXPECT_TRUE(is(r.err, errc::batch_too_large))
        << hop::to_string(c) << ": " << render(r.err);
  }
}

TEST_F(hop_protocol, a_full_channel_answers_busy_and_a_resend_is_put_once) {
  // The Kafka sink never reaches a broker: its channel fills and stays full.
  // Its events are undelivered at the stop, so flumen exits 3, not 0.
  expect_exit_code_ = false;
  ASSERT_NO_FATAL_FAILURE(
      start_child(kafka_topology, {"--shutdown-timeout", "1s"}));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#5";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  uint64_t seq = 1;
  uint64_t accepted = 0;
  std::optional<hop_reply> busy;
  std::string busy_buffer;
  for (; seq <= 10; ++seq) {
    auto buffer = hop::encode(numbered(seq * 1000, 100, "b-"));
    auto started = std::chrono::steady_clock::now();
    auto r = send_hop(self, sender, first_of(seq), 300, buffer);
    if (r.ok) {
      accepted += 100;
      continue;
    }
    ASSERT_TRUE(is(r.err, errc::busy))
        << "batch " << seq << ": " << render(r.err);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms)
        << "held about hold_ms before busy";
    busy = r;
    busy_buffer = buffer;
    break;
  }
  ASSERT_TRUE(busy) << "no busy answer within 10 batches";
  EXPECT_EQ(accepted, 100u) << "a capacity of 100 holds one batch of 100";
  // Resent with the same seq while the first is still held: busy again, and
  // not put a second time.
  auto again = send_hop(self, sender, first_of(seq), 300, busy_buffer);
  ASSERT_FALSE(again.ok);
  EXPECT_TRUE(is(again.err, errc::busy)) << render(again.err);
  ASSERT_TRUE(counter_reaches("sources.in", "hop_batches_busy", 2))
      << last_counters("sources.in");
  // Counter lines written from now on.
  auto from = log().size();
  ASSERT_TRUE(wait_until(
      [&] { return !last_counters("channels.c1", from).empty(); }, 10s));
  auto channel = last_counters("channels.c1", from);
  EXPECT_NE(channel.find(" size=100/100"), std::string::npos) << channel;
  EXPECT_EQ(counter(channel, "put"), accepted) << channel;
  auto src = last_counters("sources.in", from);
  EXPECT_EQ(counter(src, "batches"), seq) << "the resend was not decoded "
                                             "again: "
                                          << src;
  EXPECT_EQ(counter(src, "received"), seq * 100) << src;
  EXPECT_EQ(counter(src, "accepted"), accepted) << src;
  auto status = stop_child();
  // The channel's 100 events never reached Kafka: exit code 3
  // (app/main.cpp).
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3)
      << describe_status(status);
  EXPECT_TRUE(log_has("agent c: stopped; not delivered: 100 left in channels"));
}

TEST_F(hop_protocol, a_third_sender_beyond_max_connections_is_refused) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor a{*sys_};
  caf::scoped_actor b{*sys_};
  caf::scoped_actor c{*sys_};
  auto ra = hello(a, hop::wire_version, "x.sinks.h1#1");
  ASSERT_TRUE(ra.ok) << render(ra.err);
  auto rb = hello(b, hop::wire_version, "x.sinks.h2#1");
  ASSERT_TRUE(rb.ok) << render(rb.err);
  // The same actor again is no new connection.
  auto ra2 = hello(a, hop::wire_version, "x.sinks.h1#1");
  ASSERT_TRUE(ra2.ok) << render(ra2.err);
  auto rc = hello(c, hop::wire_version, "x.sinks.h3#1");
  ASSERT_FALSE(rc.ok);
  EXPECT_NE(render(rc.err).find("max_connections"), std::string::npos)
      << render(rc.err);
  EXPECT_TRUE(wait_until(
      [&] {
        return log_has("refused sender x.sinks.h3#1: max_connections (2) "
                       "reached");
      },
      10s));
  EXPECT_TRUE(counter_reaches("sources.in", "connection_failures", 1));
}

TEST_F(hop_protocol, sigterm_stops_the_agent_with_exit_code_0) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  {
    caf::scoped_actor self{*sys_};
    ASSERT_TRUE(hello(self, hop::wire_version, "test.sinks.h1#6").ok);
    auto r = send_hop(self, "test.sinks.h1#6", 1, 1000,
                      hop::encode(numbered(1, 5, "t-")));
    ASSERT_TRUE(r.ok) << render(r.err);
  }
  auto status = stop_child();
  EXPECT_TRUE(WIFEXITED(status)) << describe_status(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << describe_status(status);
  EXPECT_TRUE(log_has("agent c: SIGTERM received, stopping"));
  EXPECT_TRUE(log_has("agent c: stopped, every accepted event delivered"));
  EXPECT_EQ(output_lines().size(), 5u);
}

// Issue 17, item 7: the hello states the sender's lowest unsettled number;
// below it nothing is put again (the sender settled it), and the receiver's
// record starts there, however far the sender's numbers got before.
TEST_F(hop_protocol, numbers_below_the_lowest_unsettled_are_never_put) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#9";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  auto r = hello(self, hop::wire_version, sender, 1'000'000);
  ASSERT_TRUE(r.ok) << render(r.err);
  EXPECT_EQ(r.max_batch_bytes, 4096u);
  auto ok = send_hop(self, sender, 1'000'000, 1000,
                     hop::encode(numbered(1, 3, "r-")));
  ASSERT_TRUE(ok.ok) << render(ok.err);
  auto old =
      send_hop(self, sender, 5, 1000, hop::encode(numbered(1, 2, "old-")));
  ASSERT_TRUE(old.ok) << render(old.err);
  EXPECT_TRUE(counter_reaches("sources.in", "hop_duplicates", 1))
      << last_counters("sources.in");
  auto status = stop_child();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe_status(status);
  EXPECT_EQ(output_lines(), (std::vector<std::string>{"r-1", "r-2", "r-3"}));
}

// A batch is taken only from an actor that said hello under the id the
// batch names: the bounds per sender are bounds per connection.
TEST_F(hop_protocol, a_batch_without_a_hello_is_refused) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#10";
  auto buffer = hop::encode(numbered(1, 2, "h-"));
  auto r = send_hop(self, sender, 1, 1000, buffer, 5s);
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(is(r.err, errc::channel_closed)) << render(r.err);
  EXPECT_TRUE(wait_until(
      [&] {
        return log_has("refused a batch from " + sender + ": sender " + sender +
                       " did not say hello on this connection");
      },
      10s));
  ASSERT_TRUE(hello(self, hop::wire_version, "other.sinks.h1#1").ok);
  auto other = send_hop(self, sender, 1, 1000, buffer, 5s);
  EXPECT_FALSE(other.ok) << "a batch under another id than the hello's";
  hello_put_and_stop(self, sender, buffer, {"h-1", "h-2"});
}

// CI, stop 27: a collector frozen 10 s (tests/e2e/hop_faults.sh) read, when
// thawed, a hello whose connection had closed meanwhile; CAF handed it over
// without a sender and the monitor of that null address crashed the agent.
// Messages without a sender (anon_send over the wire) are ignored, logged;
// the agent goes on and a sender that says hello is taken.
TEST_F(hop_protocol, a_hello_or_batch_without_a_sender_is_ignored) {
  ASSERT_NO_FATAL_FAILURE(start_child(file_roll_topology));
  const std::string sender = "test.sinks.h1#11";
  auto buffer = hop::encode(numbered(1, 2, "a-"));
  caf::anon_send(source_, hello_atom::value, hop::wire_version, sender);
  caf::anon_send(source_, hello_atom::value, hop::wire_version, sender,
                 uint64_t{1});
  caf::anon_send(source_, hop_atom::value, sender, uint64_t{1}, uint32_t{1000},
                 buffer);
  ASSERT_TRUE(wait_until(
      [&] {
        return log_has("a hello from " + sender + " without a sender") ||
               !child_running();
      },
      10s));
  ASSERT_TRUE(child_running()) << "flumen ended: " << describe_status(status_);
  EXPECT_TRUE(wait_until(
      [&] {
        return log_has("refused a batch from " + sender + ": sender " + sender +
                       " did not say hello on this connection");
      },
      10s));
  caf::scoped_actor self{*sys_};
  hello_put_and_stop(self, sender, buffer, {"a-1", "a-2"});
}

// Issue 17, item 6: 2 KB of zstd declaring 8.4 million empty events (64 MiB
// of payload, within the old bound) took 451 MiB to decode. Refused by its
// decoded size from its header, logged with the sender's id; the agent's
// memory stays where it was.
TEST_F(hop_protocol, a_compressed_bomb_is_refused_before_it_is_decoded) {
  ASSERT_NO_FATAL_FAILURE(start_child(large_bound_topology));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#11";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  auto bomb = empty_events_bomb();
  ASSERT_GT(bomb.size(), hop::frame_header_bytes);
  EXPECT_LT(bomb.size(), 4096u);
  auto before = child_peak_rss_kb();
  ASSERT_GT(before, 0u);
  auto r = send_hop(self, sender, 1, 1000, bomb, 10s);
  ASSERT_FALSE(r.ok) << "a bomb accepted";
  EXPECT_TRUE(is(r.err, errc::batch_too_large)) << render(r.err);
  EXPECT_TRUE(wait_until(
      [&] {
        return log_has("refused a batch from " + sender +
                       ": batch of 8388600 events");
      },
      10s));
  auto after = child_peak_rss_kb();
  EXPECT_LT(after, before + 50 * 1024)
      << "peak RSS went from " << before << " kB to " << after << " kB";
  // The sender's next batch is taken as usual.
  auto ok = send_hop(self, sender, 1, 1000, hop::encode(numbered(1, 2, "z-")));
  ASSERT_TRUE(ok.ok) << render(ok.err);
}

// Issue 17, item 6: batches of one sender waiting for a full channel are
// decoded and held; at most sender_window_batches x max_batch_bytes of them.
// Past that the answer is "busy" at once, from the batch's header, and
// nothing more of that sender is decoded.
TEST_F(hop_protocol, a_senders_batches_waiting_for_a_full_channel_are_bounded) {
  expect_exit_code_ = false; // the channel's events never reach Kafka
  ASSERT_NO_FATAL_FAILURE(
      start_child(kafka_topology, {"--shutdown-timeout", "1s"}));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#12";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  auto per_batch = event_bytes(numbered(1000, 100, "b-"));
  auto window = hop::sender_window_batches * 16 * 1024;
  // The first fills the channel; then each is held (busy after 100 ms) and
  // its put stays on its way, until the window is full.
  std::size_t held = 0;
  std::size_t refused_at_once = 0;
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    auto r = send_hop(self, sender, first_of(seq), 100,
                      hop::encode(numbered(seq * 1000, 100, "b-")));
    if (r.ok) continue;
    ASSERT_TRUE(is(r.err, errc::busy)) << seq << ": " << render(r.err);
    if (render(r.err).find("waiting for the channels") != std::string::npos)
      ++refused_at_once;
    else
      ++held;
  }
  auto max_held = window / per_batch + 1;
  EXPECT_LE(held, max_held) << per_batch << " bytes per batch";
  EXPECT_GE(held, max_held - 2);
  EXPECT_EQ(held + refused_at_once, 29u);
  // Counter lines from now on: nothing past the window was decoded.
  auto from = log().size();
  ASSERT_TRUE(wait_until(
      [&] { return !last_counters("sources.in", from).empty(); }, 10s));
  auto src = last_counters("sources.in", from);
  EXPECT_EQ(counter(src, "batches"), 1 + held) << src;
  EXPECT_EQ(counter(src, "received"), 100 * (1 + held)) << src;
  EXPECT_EQ(counter(src, "hop_batches_busy"), 29u) << src;
}

// A batch whose numbers overlap, in part only, one still on its way (which
// a sender never sends: it only cuts batches smaller) is neither put nor
// refused for good: "busy", so nothing is dropped. A piece wholly inside
// the one on its way waits for that one's answer.
TEST_F(hop_protocol, a_batch_overlapping_one_on_its_way_is_busy) {
  expect_exit_code_ = false; // the channel's events never reach Kafka
  ASSERT_NO_FATAL_FAILURE(
      start_child(kafka_topology, {"--shutdown-timeout", "1s"}));
  caf::scoped_actor self{*sys_};
  const std::string sender = "test.sinks.h1#13";
  ASSERT_TRUE(hello(self, hop::wire_version, sender).ok);
  // 1..100 fills the channel; 101..200 is held.
  ASSERT_TRUE(
      send_hop(self, sender, 1, 100, hop::encode(numbered(1, 100, "o-"))).ok);
  auto held =
      send_hop(self, sender, 101, 100, hop::encode(numbered(101, 100, "o-")));
  ASSERT_TRUE(is(held.err, errc::busy)) << render(held.err);
  auto overlap =
      send_hop(self, sender, 151, 100, hop::encode(numbered(151, 100, "o-")));
  ASSERT_FALSE(overlap.ok);
  EXPECT_TRUE(is(overlap.err, errc::busy)) << render(overlap.err);
  EXPECT_NE(render(overlap.err).find("overlap"), std::string::npos)
      << render(overlap.err);
  // A piece of the held one (101..150) waits for it: busy after its hold.
  auto piece =
      send_hop(self, sender, 101, 100, hop::encode(numbered(101, 50, "o-")));
  EXPECT_TRUE(is(piece.err, errc::busy)) << render(piece.err);
  auto from = log().size();
  ASSERT_TRUE(wait_until(
      [&] { return !last_counters("sources.in", from).empty(); }, 10s));
  auto src = last_counters("sources.in", from);
  EXPECT_EQ(counter(src, "batches"), 2u) << "only two were decoded: " << src;
  EXPECT_EQ(counter(src, "hop_batches_refused"), 0u) << src;
  EXPECT_TRUE(log_has("events 151..250 from " + sender +
                      " overlap a batch on its way"));
}
