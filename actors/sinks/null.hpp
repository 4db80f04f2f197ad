#pragma once

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sinks {

/// Options of the `null` sink: takes and discards (counts) events.
struct null_config {
  std::size_t batch_size = 1000;
};

/// Its options (runtime/config/options.hpp).
const option_list& null_options();

null_config parse_null(option_reader& r);

caf::actor spawn_null(caf::actor_system& sys, const null_config& cfg,
                      const wiring& w);

} // namespace flumen::sinks
