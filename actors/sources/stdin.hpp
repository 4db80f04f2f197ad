#pragma once

#include <chrono>

#include "actors/sources/line_splitter.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `stdin` source: one event per line of standard input.
struct stdin_config {
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_line_length = 65536;
  overlong_policy policy = overlong_policy::truncate;
  std::size_t max_inflight = 4;
};

/// Its options (runtime/config/options.hpp).
const option_list& stdin_options();

stdin_config parse_stdin(option_reader& r);

/// Reads standard input until end of file; then the source is done.
caf::actor spawn_stdin(caf::actor_system& sys, const stdin_config& cfg,
                       const wiring& w);

} // namespace flumen::sources
