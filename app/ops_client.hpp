#pragma once

// The operator's commands that talk to a running agent's HTTP endpoint:
// `flumen top` (a live table) and `flumen tap` (a sample of events as they
// pass a component). Both are plain HTTP clients (http_client.hpp: every
// answer read within bounds).

#include <chrono>
#include <cstdint>
#include <string>

namespace flumen {

struct top_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// Refresh period.
  std::chrono::milliseconds interval{1000};
  /// Draw this many frames and exit (0: until q, Ctrl-C or SIGTERM).
  uint64_t frames = 0;
};

/// `flumen top`: redraws a table of the agent's components every
/// `interval`. Returns the process exit code.
int cmd_top(const top_options& opt);

struct tap_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string component; ///< `r1`, `c1`, `k1` (or kind-qualified)
  uint64_t limit = 10;
};

/// `flumen tap`: prints up to `limit` events as they pass `component`.
/// Returns the process exit code.
int cmd_tap(const tap_options& opt);

} // namespace flumen
