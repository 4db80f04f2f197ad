#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sinks {

/// Options of the `avro` sink (Flume's AvroSink, wire-compatible): sends
/// batches as `appendBatch` calls to a Flume `avro` source (or flumen's).
struct avro_sink_config {
  std::string hostname;
  uint16_t port = 0;
  /// Events per call (Flume's `batch-size`, whose default is 100: `flumen
  /// import` writes it).
  std::size_t batch_size = 1000;
  std::chrono::milliseconds connect_timeout{20000};
  std::chrono::milliseconds request_timeout{20000};
  /// Reconnect this often (a load balancer in front then spreads the
  /// connections); 0: never.
  std::chrono::milliseconds reset_connection_interval{0};
  bool deflate = false;
  int compression_level = 6;
  /// Calls sent and not answered at once (Flume sends one: `flumen import`
  /// writes 1).
  std::size_t max_inflight = 4;
  link_security security;
};

/// Its options (runtime/config/options.hpp).
const option_list& avro_sink_options();

avro_sink_config parse_avro_sink(option_reader& r);

/// Takes batches from its channel and sends each as one `appendBatch`
/// call; commits it once the receiver answered OK. FAILED, an error, a
/// timeout or a lost connection rolls the batch back and it is sent again
/// after a backoff (the sink `degraded` meanwhile): nothing is lost, a
/// call whose OK was lost is sent twice.
caf::actor spawn_avro_sink(caf::actor_system& sys, const avro_sink_config& cfg,
                           const wiring& w);

} // namespace flumen::sinks
