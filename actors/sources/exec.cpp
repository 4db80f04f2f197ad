#include "actors/sources/exec.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <caf/actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/sources/source_options.hpp"
#include "runtime/core/child_groups.hpp"
#include "runtime/flow/source_pump.hpp"

extern char** environ;

namespace flumen::sources {

/// The options of the `exec` source (docs/reference/sources/exec.md shows
/// them, generated).
const option_list& exec_options() {
  static const option_list table = {
      {.name = "command",
       .kind = option_kind::string,
       .doc = "run as `shell -c command` "
              "(`source_test.parse_exec_requires_a_command`)"},
      {.name = "shell",
       .kind = option_kind::string,
       .doc = "the shell; one that cannot run fails the source "
              "(`source_test.exec_with_a_missing_shell_fails`)"},
      {.name = "restart",
       .kind = option_kind::boolean,
       .doc = "run the command again when its run ended: its output closed,"
              " which processes it started may delay "
              "(`source_test.exec_reads_until_the_pipe_closes_and_reaps_the_"
              "command`),"
              " and it exited. What still runs in its group then is stopped"
              " as below "
              "(`source_test.exec_stops_what_the_command_left_running_when_it_"
              "ends`)"},
      {.name = "restart_throttle",
       .kind = option_kind::duration,
       .doc = "wait before the first restart (Flume's `restartThrottle`); "
              "while runs last less than 10 s each wait doubles, up to 60 s"
              " (or `restart_throttle` if longer); a run of 10 s or more "
              "starts over. Restarts are counted in `restarts` "
              "(`restart_backoff.*`, "
              "`source_test.exec_restarts_of_a_command_that_exits_at_once_back_"
              "off`)"},
      {.name = "stop_timeout",
       .kind = option_kind::duration,
       .doc = "on a stop, or when the source is torn down, SIGTERM goes to "
              "the command's process group and SIGKILL after this if some "
              "of it still runs; the command is always reaped "
              "(`source_test.exec_stop_ends_the_command_and_its_group_with_"
              "sigterm`,"
              " `source_test.exec_stop_kills_a_group_that_ignores_sigterm`,"
              " `source_test.exec_abort_kills_the_command_group_too`, "
              "`source_test.exec_stop_ends_a_command_that_closed_its_output`,"
              " `tests/e2e/exec.sh`). Keep it well under "
              "`--shutdown-timeout` "
              "(`source_test.parse_exec_stop_timeout_defaults_to_2s`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "as [netcat](netcat.md)"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc = "as netcat"},
      max_line_length_option("as netcat"),
      overlong_policy_option("as netcat"),
      max_inflight_option("as netcat"),
  };
  return table;
}

exec_config parse_exec(option_reader& r) {
  option_scope scope{r, exec_options()};
  exec_config cfg;
  cfg.command = r.required_str("command");
  cfg.shell = r.str("shell", cfg.shell);
  cfg.restart = r.boolean("restart", cfg.restart);
  cfg.restart_throttle = r.duration("restart_throttle", cfg.restart_throttle);
  cfg.stop_timeout = r.duration("stop_timeout", cfg.stop_timeout);
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length = r.bytes("max_line_length", cfg.max_line_length);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.policy = parse_overlong_policy(r);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  return cfg;
}

restart_backoff::restart_backoff(std::chrono::milliseconds restart_throttle)
    : policy_(restart_throttle, std::max(max_wait, restart_throttle),
              std::chrono::hours{24 * 365}, min_doubled) {}

std::chrono::milliseconds restart_backoff::next(std::chrono::milliseconds ran) {
  // flumen's one backoff policy; what resets it here is a long run, not a
  // quiet period, so the time passed is always the same.
  if (ran >= long_run) policy_.reset();
  return policy_.on_failure(backoff_policy::clock::time_point{});
}

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Whether a process of group `pgid` still runs. kill(2) counts zombies
// too, and an orphan may stay a zombie for ever where PID 1 does not reap
// (a container's init often doesn't), so /proc tells them apart.
bool group_runs(pid_t pgid) {
  if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return true;
  bool found = false;
  while (auto* entry = ::readdir(dir)) {
    if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    char path[300];
    std::snprintf(path, sizeof(path), "/proc/%s/stat", entry->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    auto n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) state ppid pgrp ...": comm may hold anything but is at
    // most 16 bytes, so the last ')' ends it.
    auto* end = std::strrchr(buf, ')');
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if (end != nullptr &&
        std::sscanf(end + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3 &&
        pgrp == pgid && state != 'Z' && state != 'X') {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

std::string describe(int status) {
  if (WIFEXITED(status))
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was ended by signal " + std::to_string(sig) + " (" +
           ::strsignal(sig) + ")";
  }
  return "ended with status " + std::to_string(status);
}

// One run of the command: its process (the leader of its own process
// group, so the group id is its pid) and the read end of its stdout.
class command_run {
public:
  command_run(const exec_config& cfg, source_pump& pump)
      : cfg_(cfg), pump_(pump), lines_(cfg.max_line_length, cfg.policy) {}

  command_run(const command_run&) = delete;
  command_run& operator=(const command_run&) = delete;

  // Only reached with the command unreaped when something threw: even then
  // nothing of it may outlive the source.
  ~command_run() {
    if (pid_ > 0 && !reaped_) {
      signal_group(SIGKILL);
      reap(0);
    }
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0) unregister_child_group(pid_);
  }

  // Runs the command once: true when it ended by itself, false on a stop or
  // an abort.
  bool run();

private:
  enum class read_result { data, empty, end };

  const std::string& name() { return pump_.metrics().name; }
  bool stop_asked() const { return pump_.stopping() || pump_.aborted(); }
  void start();
  bool read_output();
  void wait_exit();
  void end_group();
  read_result read_once();
  void drain(std::size_t cap);
  void close_output();
  bool emit_due(bool all);
  void reap(int flags);
  void signal_group(int sig);

  const exec_config& cfg_;
  source_pump& pump_;
  line_splitter lines_;
  batch pending_;
  clock::time_point deadline_ = clock::time_point::max();
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  bool signalled_ = false; // its end by a signal is ours, not a failure
};

void command_run::start() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  // Our end only: the command writes to a blocking pipe as usual, and we
  // can empty the pipe without blocking while its group is stopping.
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  // flumen blocks SIGTERM and SIGINT in every thread and ignores SIGPIPE.
  // A child would inherit both and then outlive any SIGTERM, so it starts
  // with every signal at its default and none blocked. (KILL and STOP
  // can't be changed, and some C libraries fail the spawn for trying.
  // glibc keeps its two internal signals, 32 and 33, ignored whatever we
  // ask; no program uses those as ordinary signals.)
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  sigemptyset(&none);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  // A group of its own: a stop reaches what the command started, too.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETPGROUP);
  const char* argv[] = {cfg_.shell.c_str(), "-c", cfg_.command.c_str(),
                        nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, cfg_.shell.c_str(), &actions, &attr,
                         const_cast<char**>(argv), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cannot run " + cfg_.shell + ": " +
                             std::strerror(rc));
  }
  pid_ = pid;
  out_ = fds[0];
  register_child_group(pid_);
}

bool command_run::run() {
  start();
  spdlog::info("{}: started '{}' (pid {})", name(), cfg_.command, pid_);
  if (read_output()) wait_exit();
  bool stopped = stop_asked();
  if (stopped) {
    spdlog::info("{}: stopping '{}': SIGTERM to process group {}", name(),
                 cfg_.command, pid_);
    end_group();
  } else if (group_runs(pid_)) {
    // Left behind, not holding the pipe: nothing reads them any more, and a
    // restart would pile them up.
    spdlog::warn("{}: '{}' left processes running in process group {}; "
                 "stopping them",
                 name(), cfg_.command, pid_);
    end_group();
  }
  emit_due(true);
  return !stopped;
}

// Until the output ends (true) or a stop (false). The command is reaped as
// soon as it exits: what it started may hold the pipe open much longer.
bool command_run::read_output() {
  pollfd fds[2] = {{pump_.wake_fd(), POLLIN, 0}, {out_, POLLIN, 0}};
  while (!stop_asked()) {
    fds[1].revents = 0;
    // poll_timeout wakes at least every second, which also bounds how long
    // an exited command stays a zombie.
    if (::poll(fds, 2, poll_timeout(deadline_)) < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (read_once() == read_result::end) {
        emit_due(true);
        return true;
      }
    }
    if (!reaped_) reap(WNOHANG);
    if (!emit_due(clock::now() >= deadline_)) return false;
  }
  return false;
}

// The output ended; the command may run on (it closed its stdout).
void command_run::wait_exit() {
  milliseconds tick{1};
  pollfd wake{pump_.wake_fd(), POLLIN, 0};
  for (;;) {
    if (!reaped_) reap(WNOHANG);
    if (reaped_ || stop_asked()) return;
    ::poll(&wake, 1, static_cast<int>(tick.count()));
    tick = std::min(tick * 2, milliseconds{100});
  }
}

// SIGTERM to the group, SIGKILL after stop_timeout while some of it runs.
// The pipe is kept empty meanwhile, so a command that writes on its way out
// is not blocked, but what it says is emitted only afterwards: a full
// channel must not delay the SIGKILL.
void command_run::end_group() {
  auto cap = std::max<std::size_t>(cfg_.batch_size, 1);
  // With the leader reaped and nothing left in the group, its id may belong
  // to someone else by now.
  if (!reaped_ || group_runs(pid_)) signal_group(SIGTERM);
  auto kill_at = clock::now() + cfg_.stop_timeout;
  milliseconds tick{1};
  for (;;) {
    if (!reaped_) reap(WNOHANG);
    if (reaped_) {
      // Where flumen reaps orphans (PID 1, a subreaper), what the command
      // left behind became our child.
      while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
      }
      if (!group_runs(pid_)) break;
    }
    auto now = clock::now();
    if (now >= kill_at) {
      spdlog::warn("{}: '{}' still runs {} ms after SIGTERM; SIGKILL to "
                   "process group {}",
                   name(), cfg_.command, cfg_.stop_timeout.count(), pid_);
      signal_group(SIGKILL);
      break;
    }
    auto left = std::chrono::duration_cast<milliseconds>(kill_at - now);
    auto wait =
        static_cast<int>(std::min(tick, left + milliseconds{1}).count());
    pollfd p{out_, POLLIN, 0};
    if (out_ >= 0 && pending_.size() < cap) {
      ::poll(&p, 1, wait);
      drain(cap);
    } else {
      ::poll(nullptr, 0, wait);
    }
    tick = std::min(tick * 2, milliseconds{20});
  }
  // Dies now: SIGKILL cannot be caught or ignored.
  if (!reaped_) reap(0);
  // The rest of the group dies as the kernel gets to it (it was seen still
  // running a moment after the leader was reaped): wait for that too, so
  // the stop is answered once nothing of the command runs. Bounded: a
  // process in uninterruptible sleep ends only when its I/O does.
  auto gone_by = clock::now() + std::chrono::seconds{1};
  for (;;) {
    while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
    }
    if (!group_runs(pid_) || clock::now() >= gone_by) break;
    ::poll(nullptr, 0, 2);
  }
  if (out_ >= 0) drain(cap);
  close_output();
}

command_run::read_result command_run::read_once() {
  char buf[65536];
  auto n = ::read(out_, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return read_result::empty;
  if (n <= 0) {
    close_output();
    return read_result::end;
  }
  auto before = pending_.size();
  lines_.feed(buf, static_cast<std::size_t>(n), pending_);
  count_overlong(lines_, pump_.metrics()); // dropped and truncated, logged
  if (before == 0 && !pending_.empty())
    deadline_ = clock::now() + cfg_.batch_timeout;
  return read_result::data;
}

// Reads what the pipe holds now, up to `cap` pending events.
void command_run::drain(std::size_t cap) {
  while (out_ >= 0 && pending_.size() < cap &&
         read_once() == read_result::data) {
  }
}

// End of the output, whether the pipe closed or the run is over: a last
// line without its newline is an event too.
void command_run::close_output() {
  if (out_ < 0) return;
  ::close(out_);
  out_ = -1;
  lines_.finish(pending_);
  count_overlong(lines_, pump_.metrics());
}

bool command_run::emit_due(bool all) {
  if (!emit_batches(pending_, cfg_.batch_size, pump_, all)) return false;
  if (pending_.empty()) deadline_ = clock::time_point::max();
  return true;
}

void command_run::reap(int flags) {
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(pid_, &status, flags)) < 0 && errno == EINTR) {
  }
  if (r == 0) return;
  reaped_ = true;
  if (r < 0) {
    spdlog::error("{}: cannot wait for pid {}: {}", name(), pid_,
                  std::strerror(errno));
    return;
  }
  bool expected = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                  (signalled_ && WIFSIGNALED(status));
  auto level = expected ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "{}: '{}' {}", name(), cfg_.command, describe(status));
}

void command_run::signal_group(int sig) {
  signalled_ = true;
  if (::kill(-pid_, sig) != 0 && errno != ESRCH)
    spdlog::warn("{}: cannot signal process group {}: {}", name(), pid_,
                 std::strerror(errno));
}

void run_exec(const exec_config& cfg, source_pump& pump) {
  restart_backoff backoff{cfg.restart_throttle};
  for (;;) {
    auto began = clock::now();
    {
      command_run run{cfg, pump};
      if (!run.run() || !cfg.restart) return;
    }
    auto wait = backoff.next(
        std::chrono::duration_cast<milliseconds>(clock::now() - began));
    spdlog::info("{}: running '{}' again in {} ms", pump.metrics().name,
                 cfg.command, wait.count());
    if (!pump.sleep_for(wait)) return;
    pump.metrics().restarts.fetch_add(1, std::memory_order_relaxed);
  }
}

} // namespace

caf::actor spawn_exec(caf::actor_system& sys, const exec_config& config,
                      const wiring& w) {
  auto cfg = adapt_batch(config, w);
  return spawn_source(
      sys, [cfg](source_pump& pump) { run_exec(cfg, pump); }, w.downstream,
      w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
