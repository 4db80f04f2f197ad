#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/avro/ip_filter.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `avro` source (Flume's AvroSource, wire-compatible): each
/// `append` or `appendBatch` is one put, answered OK once every required
/// channel accepted it.
struct avro_source_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< required
  /// Clients served at once; further ones wait in the listen backlog.
  std::size_t max_connections = 128;
  /// Netty's zlib stream on every connection (Flume's
  /// `compression-type: deflate`).
  bool deflate = false;
  server_tls tls; ///< disabled: plain TCP
  bool insecure = false;
  /// Allow and deny rules on the client's address, first match wins.
  std::vector<avro::ip_rule> ip_filter;
  /// Longest a full channel holds a request before it is answered FAILED
  /// (shorter than Flume's 20 s request timeout, so a client rolls back
  /// instead of timing out).
  std::chrono::milliseconds hold_timeout{10000};
  /// A client must complete its TLS and Avro handshakes this long after it
  /// was accepted, and each message this long after its first byte.
  std::chrono::milliseconds handshake_timeout{10000};
  /// A client that sent nothing for this long is closed; 0: never.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{10}};
  /// Largest message (all its frames), and largest frame.
  std::size_t max_message_bytes = std::size_t{16} << 20;
  /// Most frames of one message.
  std::size_t max_frames = 16384;
  /// Most events of one appendBatch.
  std::size_t max_batch_events = 20000;
};

/// Its options (runtime/config/options.hpp).
const option_list& avro_source_options();

/// Pure: reads the `avro` source options; errors go to `r`.
avro_source_config parse_avro_source(option_reader& r);

/// A server speaking Flume's AvroSourceProtocol over Netty's framing (Avro's
/// handshake per connection, optionally zlib and TLS): each call's events
/// are one put downstream with `hold_timeout`, answered OK once accepted,
/// FAILED when a channel stayed full (none of them taken; the client sends
/// them again). Memory is bounded by `max_connections` messages of
/// `max_message_bytes`.
caf::actor spawn_avro_source(caf::actor_system& sys,
                             const avro_source_config& cfg, const wiring& w);

} // namespace flumen::sources
