// The exec source with real child processes (sh, sleep): lines, restarts
// and their backoff, and that nothing of a command's process group outlives
// a stop; into a real memory channel taken back by the test.

#include "actors/sources/exec.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/flow/source_pump.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/source_test.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

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
  // A source's reader thread, which starts the command, has TERM blocked
  // (as flumen's main thread: it blocks the stop signals itself, whichever
  // thread started it): a command inheriting that state would have it
  // blocked too.
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
  temp_dir dir{"flumen-exec"};
  std::string fifo = (dir / "go").string();
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
