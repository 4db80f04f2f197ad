#pragma once

#include <chrono>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sinks {

/// Options of the `file_roll` sink: writes events to files in a directory,
/// starting a new file every `roll_interval`.
struct file_roll_config {
  std::string directory; ///< required; created if missing
  std::chrono::milliseconds roll_interval{30000}; ///< 0: never roll
  std::string format = "line"; ///< `line` (body) or `header_and_body`
  std::string prefix;          ///< file name prefix
  std::size_t batch_size = 100;
  bool sync = false; ///< fsync before each commit
};

/// Its options (runtime/config/options.hpp).
const option_list& file_roll_options();

file_roll_config parse_file_roll(option_reader& r);

caf::actor spawn_file_roll(caf::actor_system& sys, const file_roll_config& cfg,
                           const wiring& w);

} // namespace flumen::sinks
