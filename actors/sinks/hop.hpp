#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/wire/hop_wire.hpp"

namespace flumen::sinks {

/// Options of the `hop` sink: sends batches to a `hop` source of another
/// agent (Flume's Avro sink tier).
struct hop_sink_config {
  std::string host;
  uint16_t port = 0;
  /// Events per transaction: large, since each batch costs a round trip and
  /// several thread hand-offs on both sides (1000 -> 5000 halved the CPU
  /// per event of a hop: bench/README.md, "Part 6").
  std::size_t batch_size = 5000;
  /// Batches sent and not acknowledged at once.
  std::size_t max_inflight = 4;
  std::chrono::milliseconds connect_timeout{20000};
  /// Longest wait for one batch's answer; the receiver answers "busy" after
  /// half of it when its channel stays full.
  std::chrono::milliseconds request_timeout{20000};
  hop::codec compression = hop::codec::none;
  link_security security;
  /// Test hook (undocumented): the wire version told in the hello.
  uint32_t wire_version = hop::wire_version;
};

/// Its options (runtime/config/options.hpp).
const option_list& hop_sink_options();

hop_sink_config parse_hop_sink(option_reader& r);

/// Takes batches from its channel, sends each under a sequence number and
/// commits it once the receiver accepted it; a batch whose answer does not
/// come (timeout, lost connection, "busy") is sent again with the same
/// number, so the receiver can tell a resend from a new batch.
caf::actor spawn_hop_sink(caf::actor_system& sys, const hop_sink_config& cfg,
                          const wiring& w);

} // namespace flumen::sinks
