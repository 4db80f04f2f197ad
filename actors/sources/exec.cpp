#include "actors/sources/exec.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <caf/actor.hpp>
#include <spdlog/spdlog.h>

#include "runtime/source_pump.hpp"

extern char** environ;

namespace flumen::sources {

exec_config parse_exec(option_reader& r) {
  exec_config cfg;
  cfg.command = r.required_str("command");
  cfg.shell = r.str("shell", cfg.shell);
  cfg.restart = r.boolean("restart", cfg.restart);
  cfg.restart_throttle = r.duration("restart_throttle", cfg.restart_throttle);
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length = r.count("max_line_length", cfg.max_line_length);
  cfg.policy = parse_overlong_policy(r);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 1024);
  return cfg;
}

namespace {

// Starts `shell -c command` with its stdout on a pipe; returns the pid and
// the read end.
std::pair<pid_t, int> start(const exec_config& cfg) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  const char* argv[] = {cfg.shell.c_str(), "-c", cfg.command.c_str(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, cfg.shell.c_str(), &actions, nullptr,
                         const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cannot run " + cfg.shell + ": " +
                             std::strerror(rc));
  }
  return {pid, fds[0]};
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void run_exec(const exec_config& cfg, source_pump& pump) {
  auto& name = pump.metrics().name;
  for (;;) {
    auto [pid, fd] = start(cfg);
    spdlog::info("{}: started '{}' (pid {})", name, cfg.command, pid);
    line_splitter lines{cfg.max_line_length, cfg.policy};
    bool eof = pump_lines(fd, lines, pump, cfg.batch_size, cfg.batch_timeout);
    ::close(fd);
    if (!eof) ::kill(pid, SIGTERM);
    auto code = reap(pid);
    if (code == 0)
      spdlog::info("{}: '{}' exited with code 0", name, cfg.command);
    else
      spdlog::warn("{}: '{}' exited with code {}", name, cfg.command, code);
    if (!eof || !cfg.restart || !pump.sleep_for(cfg.restart_throttle)) return;
  }
}

} // namespace

caf::actor spawn_exec(caf::actor_system& sys, const exec_config& cfg,
                      const wiring& w) {
  return spawn_source(
      sys, [cfg](source_pump& pump) { run_exec(cfg, pump); }, w.downstream,
      w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
