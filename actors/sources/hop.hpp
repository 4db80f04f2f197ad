#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `hop` source: receives batches from `hop` sinks of other
/// agents (Flume's Avro source tier) over CAF's middleman.
struct hop_source_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0;
  /// Most senders connected at once; one more is refused (and logged). Also
  /// the most sockets the port keeps open, counted when accepted (the
  /// listener gate, runtime/net/listener_gate.hpp).
  std::size_t max_connections = 64;
  /// Largest batch accepted, by its decoded size (event_bytes: bodies,
  /// keys, values and 64 bytes per event and per header); a larger one is
  /// refused from the batch's header (and each event's header count) before
  /// anything is decompressed or allocated. Senders learn it when they
  /// connect and cut their batches to fit. A sender's batches waiting for
  /// the channels are bounded by hop::sender_window_batches times this.
  std::size_t max_batch_bytes = 8u << 20;
  /// Longest a full channel may hold a sender's answer: after the sender's
  /// own bound (half its request_timeout) or this, whichever is shorter, the
  /// answer is "busy" and the sender backs off.
  std::chrono::milliseconds max_hold{10000};
  /// A peer's socket that has not completed CAF's handshake (TLS's too)
  /// this long after it was accepted is closed (and logged).
  std::chrono::milliseconds handshake_timeout{10000};
  link_security security;
};

/// Its options (runtime/config/options.hpp).
const option_list& hop_source_options();

hop_source_config parse_hop_source(option_reader& r);

/// Publishes a receiver at bind:port. A batch is answered once every
/// required channel accepted it; a batch resent after a lost answer is
/// answered without being put again.
caf::actor spawn_hop_source(caf::actor_system& sys,
                            const hop_source_config& cfg, const wiring& w);

} // namespace flumen::sources
