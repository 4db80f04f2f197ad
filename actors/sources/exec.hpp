#pragma once

#include <chrono>
#include <string>

#include "actors/sources/line_splitter.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/core/backoff.hpp"

namespace flumen::sources {

/// Options of the `exec` source: one event per line a command prints.
struct exec_config {
  std::string command;           ///< required; run by `shell`
  std::string shell = "/bin/sh"; ///< run as `shell -c command`
  bool restart = false;          ///< run the command again when it exits
  /// The wait before the first restart (Flume's `restartThrottle`); see
  /// `restart_backoff` for the next ones.
  std::chrono::milliseconds restart_throttle{10000};
  /// On stop, how long the command's process group has between SIGTERM and
  /// SIGKILL. Well under the agent's shutdown timeout.
  std::chrono::milliseconds stop_timeout{2000};
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_line_length = 65536;
  overlong_policy policy = overlong_policy::truncate;
  std::size_t max_inflight = 4;
};

/// Its options (runtime/config/options.hpp).
const option_list& exec_options();

/// Reads the `exec` options; errors go to the reader, located.
exec_config parse_exec(option_reader& r);

/// The waits between runs of a command under `restart`: the first restart
/// waits `restart_throttle`; while runs keep ending sooner than `long_run`,
/// each wait doubles (at least `min_doubled`, at most `max_wait` or
/// `restart_throttle` when that is longer); a run of `long_run` or more
/// starts over at `restart_throttle`. Pure: no clock, no sleeping.
class restart_backoff {
public:
  /// A run at least this long was not a crash loop.
  static constexpr std::chrono::milliseconds long_run{10000};
  /// The longest wait, unless `restart_throttle` is longer.
  static constexpr std::chrono::milliseconds max_wait{60000};
  /// The shortest doubled wait, so `restart_throttle: 0` still backs off.
  static constexpr std::chrono::milliseconds min_doubled{100};

  explicit restart_backoff(std::chrono::milliseconds restart_throttle);

  /// The wait before the next run, given how long the run that just ended
  /// lasted.
  std::chrono::milliseconds next(std::chrono::milliseconds ran);

private:
  backoff_policy policy_;
};

/// Runs the command and reads its standard output (its standard error goes
/// to flumen's). The command starts with default dispositions and an empty
/// mask for every signal, stdin from /dev/null, in a process group of its
/// own. Its output ends when the pipe closes (processes it left behind may
/// hold it open); the run ends when its output ended and it exited, and
/// whatever else still runs in its group is then stopped. A stop or an
/// abort sends SIGTERM to the group, then SIGKILL after `stop_timeout`; the
/// command is always reaped. Exit codes and signals are logged. With
/// `restart` the command runs again after the waits of `restart_backoff`
/// (counted in the `restarts` metric), otherwise the source is done.
caf::actor spawn_exec(caf::actor_system& sys, const exec_config& cfg,
                      const wiring& w);

} // namespace flumen::sources
