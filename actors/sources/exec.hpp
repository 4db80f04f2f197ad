#pragma once

#include <chrono>
#include <string>

#include "actors/sources/line_splitter.hpp"
#include "runtime/config.hpp"
#include "runtime/registry.hpp"

namespace flumen::sources {

/// Options of the `exec` source: one event per line a command prints.
struct exec_config {
  std::string command;           ///< required; run by `shell`
  std::string shell = "/bin/sh"; ///< run as `shell -c command`
  bool restart = false;          ///< run the command again when it exits
  std::chrono::milliseconds restart_throttle{10000};
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_line_length = 8192;
  overlong_policy policy = overlong_policy::truncate;
  std::size_t max_inflight = 4;
};

exec_config parse_exec(option_reader& r);

/// Runs the command and reads its standard output (its standard error goes
/// to flumen's). The exit code is logged; with `restart` the command runs
/// again after `restart_throttle`, otherwise the source is done.
caf::actor spawn_exec(caf::actor_system& sys, const exec_config& cfg,
                      const wiring& w);

} // namespace flumen::sources
