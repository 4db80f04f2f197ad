#pragma once

#include <cstdint>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `seq` source: a generator of numbered events (the
/// benchmark's and the tests' source).
struct seq_config {
  uint64_t count = 0;        ///< events to make; 0: no end
  uint64_t start = 0;        ///< first sequence number
  uint64_t rate = 0;         ///< events per second; 0: as fast as accepted
  std::size_t body_size = 0; ///< pad bodies to this size; 0: no padding
  std::size_t batch_size = 1000;
  std::size_t max_inflight = 4;
};

/// Its options (runtime/config/options.hpp).
const option_list& seq_options();

seq_config parse_seq(option_reader& r);

/// Each event's body starts with its sequence number in decimal (padded
/// with '.' to `body_size`) and its header `seq` holds the number too.
caf::actor spawn_seq(caf::actor_system& sys, const seq_config& cfg,
                     const wiring& w);

} // namespace flumen::sources
