#pragma once

#include <chrono>
#include <cstddef>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::channels {

/// Options of the `memory` channel (see README, "memory channel").
struct memory_config {
  std::size_t capacity = 50000; ///< events held, taken included
  /// Body + header bytes held, taken ones included; 0: no bound (and bytes
  /// are not counted). 4 MiB by default: memory is bounded in bytes
  /// whatever the events' size (50,000 events of 10 KB would be 500 MB),
  /// and a small working set is cheaper per event as well (bench/README.md,
  /// part 13: 32 MiB cost twice the CPU per 1 KB event).
  std::size_t byte_capacity = 4 << 20;
  std::size_t transaction_capacity = 10000; ///< most events in a put or take
  /// How long an empty take is held before it is answered empty.
  std::chrono::milliseconds keep_alive{500};
  /// A taker holding a transaction open longer is revoked (its events go
  /// back, its late commit is refused); 0: never.
  std::chrono::milliseconds transaction_timeout{600000};
};

/// Its options (runtime/config/options.hpp).
const option_list& memory_options();

/// Pure: reads the options, touches nothing.
memory_config parse_memory(option_reader& r);

/// Spawns a memory channel speaking the channel protocol of
/// runtime/flow/protocol.hpp.
caf::actor spawn_memory(caf::actor_system& sys, const memory_config& cfg,
                        const wiring& w);

} // namespace flumen::channels
