#pragma once

// The main thread of `flumen run` once its agent started (app/cmd_run.cpp
// starts it): what ends the run, the bound on the stop, and the final line.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace flumen {
class agent;
}

namespace flumen::app {

struct run_options {
  bool watch = false; ///< --watch: reload when the file changes
  std::string file;
  std::string agent;
  std::string http; ///< --http HOST:PORT
  bool exit_on_eof = false;
  std::chrono::milliseconds shutdown_timeout{30000};
  std::chrono::milliseconds stats_interval{0};
};

/// Why the loop ended.
enum class run_end {
  stop_signal,      ///< SIGTERM or SIGINT
  component_failed, ///< on_component_failure: exit, and one failed
  input_done,       ///< --exit-on-eof, and every source reached its end
};

/// What the loop asks of the command that runs it.
struct run_hooks {
  /// Reload the file (SIGHUP, or --watch saw a change).
  std::function<void()> reload;
  /// --watch: the file differs from what was loaded last.
  std::function<bool()> file_changed;
};

/// Waits for what ends the run: a stop signal, a failed component under
/// `on_component_failure: exit`, the end of every source (--exit-on-eof).
/// Meanwhile: SIGHUP reloads (a stop signal waiting behind SIGHUPs goes
/// first; SIGHUPs that came meanwhile make one reload), --watch checks the
/// file every second, --stats-interval logs the counters.
run_end run_loop(const run_options& opt, const sigset_t& signals, agent& a,
                 const std::string& name, const run_hooks& hooks);

/// The hard bound on a stop: from its construction, the stop may take
/// --shutdown-timeout plus 3 s; once the final line is out (`summarized`),
/// what is left (ending actors, flushing file channels) 15 s more, and the
/// exit code is then the final line's. A second stop signal ends the
/// process at once (exit 130). Exec children never outlive the process.
class stop_bound {
public:
  stop_bound(const sigset_t& signals, std::chrono::milliseconds timeout,
             std::string name);

  /// The final line is out with exit code `code`.
  void summarized(int code);

private:
  struct state;
  std::shared_ptr<state> state_;
};

/// Logs the counters, the peak RSS and the final line of a stopped agent;
/// returns the exit code: `code`, or 3 when an accepted event was not
/// delivered (and not kept).
int final_line(agent& a, const std::string& name, int code);

} // namespace flumen::app
