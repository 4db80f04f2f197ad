#include "app/run_loop.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>

#include "app/cli.hpp"
#include "runtime/agent/agent.hpp"
#include "runtime/core/child_groups.hpp"

namespace flumen::app {

using clock = std::chrono::steady_clock;

run_end run_loop(const run_options& opt, const sigset_t& signals, agent& a,
                 const std::string& name, const run_hooks& hooks) {
  auto next_watch = clock::now();
  auto next_stats = clock::now();
  auto interval = opt.stats_interval;
  for (;;) {
    // Wake for the next counter line too, not only every 100 ms.
    auto wait = std::chrono::milliseconds{100};
    if (interval.count() > 0)
      wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                            next_stats - clock::now()),
                        std::chrono::milliseconds{1}, wait);
    if (int sig = wait_signal(signals, wait)) {
      if (sig == SIGHUP) {
        // `systemctl reload`, `kill -HUP`: never a silent death that loses
        // the memory channel. A stop waiting behind it goes first (signals
        // are taken lowest number first: a stream of SIGHUPs would keep
        // a SIGTERM waiting), and SIGHUPs that came meanwhile make one
        // reload.
        if (stop_pending()) {
          spdlog::info("agent {}: SIGHUP received with a stop waiting; no "
                       "reload",
                       name);
          continue;
        }
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        while (wait_signal(hup, std::chrono::milliseconds{0}) == SIGHUP) {
        }
        spdlog::info("agent {}: SIGHUP received, reloading {}", name, opt.file);
        hooks.reload();
        continue;
      }
      spdlog::info("agent {}: {} received, stopping", name, signal_name(sig));
      return run_end::stop_signal;
    }
    if (opt.watch && clock::now() >= next_watch) {
      next_watch = clock::now() + std::chrono::seconds{1};
      if (hooks.file_changed()) {
        spdlog::info("agent {}: {} changed, reloading", name, opt.file);
        hooks.reload();
      }
    }
    if (auto failed = a.failed_components();
        !failed.empty() &&
        a.supervision().on_component_failure == failure_policy::exit) {
      spdlog::error("agent {}: {} failed and on_component_failure is exit; "
                    "stopping",
                    name, failed.front());
      return run_end::component_failed;
    }
    if (opt.exit_on_eof && a.sources_done()) {
      spdlog::info("agent {}: every source reached its end, stopping", name);
      return run_end::input_done;
    }
    if (interval.count() > 0 && clock::now() >= next_stats) {
      next_stats = clock::now() + interval;
      for (auto& line : a.summary())
        spdlog::info("{}", line);
    }
  }
}

struct stop_bound::state {
  std::atomic<int64_t> deadline;
  std::atomic<int> code{3};
  std::atomic<bool> summarized{false};
};

namespace {

int64_t ms_of(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}

} // namespace

stop_bound::stop_bound(const sigset_t& signals,
                       std::chrono::milliseconds timeout, std::string name)
    : state_(std::make_shared<state>()) {
  state_->deadline = ms_of(clock::now() + timeout + std::chrono::seconds{3});
  // Detached, and owning copies of what it uses: it must outlive the
  // command, since the actor system's own destructor can block too.
  std::thread{[signals, limit = state_, name = std::move(name)] {
    for (;;) {
      if (int sig = wait_signal(signals, std::chrono::milliseconds{50})) {
        if (sig == SIGHUP) continue;
        std::fprintf(stderr, "flumen: %s: stopping at once\n",
                     signal_name(sig));
        kill_child_groups(); // exec children must not outlive us
        std::_Exit(130);
      }
      if (ms_of(clock::now()) > limit->deadline.load()) {
        if (limit->summarized)
          std::fprintf(stderr,
                       "flumen: agent %s: an actor did not end within 15 s "
                       "of the final line; exiting now\n",
                       name.c_str());
        else
          std::fprintf(stderr,
                       "flumen: agent %s: the stop took longer than "
                       "--shutdown-timeout plus 3 s; exiting now\n",
                       name.c_str());
        kill_child_groups();
        std::_Exit(limit->code.load());
      }
    }
  }}.detach();
}

void stop_bound::summarized(int code) {
  state_->code = code;
  state_->summarized = true;
  state_->deadline = ms_of(clock::now() + std::chrono::seconds{15});
}

int final_line(agent& a, const std::string& name, int code) {
  for (auto& line : a.summary())
    spdlog::info("{}", line);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  spdlog::info("agent {}: peak RSS {} MiB", name, usage.ru_maxrss / 1024);
  auto loss = a.losses();
  // Filtered events are neither delivered nor lost: named beside either.
  auto filtered = loss.filtered > 0 ? " (" + std::to_string(loss.filtered) +
                                          " filtered by interceptors)"
                                    : std::string{};
  if (loss.clean() && loss.kept > 0) {
    spdlog::info("agent {}: stopped, every accepted event delivered or "
                 "kept: {} kept in file channels, delivered after the next "
                 "start{}",
                 name, loss.kept, filtered);
  } else if (loss.clean()) {
    spdlog::info("agent {}: stopped, every accepted event delivered{}", name,
                 filtered);
  } else {
    // Never "every event delivered" when anything was not: each count.
    auto undelivered = loss.in_channels + loss.undelivered + loss.damaged;
    spdlog::log(undelivered > 0 ? spdlog::level::err : spdlog::level::warn,
                "agent {}: stopped; not delivered: {} left in channels at "
                "the shutdown timeout, {} read but never accepted; by "
                "policy: {} dropped, {} dead-lettered; {} delivered "
                "truncated{}{}{}",
                name, loss.in_channels, loss.undelivered, loss.dropped,
                loss.dead_lettered, loss.truncated,
                loss.damaged > 0 ? "; " + std::to_string(loss.damaged) +
                                       " lost to damage in file channels"
                                 : std::string{},
                loss.kept > 0 ? "; " + std::to_string(loss.kept) +
                                    " kept in file channels, delivered "
                                    "after the next start"
                              : std::string{},
                loss.filtered > 0 ? "; " + std::to_string(loss.filtered) +
                                        " filtered by interceptors"
                                  : std::string{});
    if (undelivered > 0 && code == 0) code = 3;
  }
  return code;
}

} // namespace flumen::app
