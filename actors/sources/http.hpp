#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "actors/sources/http_body.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// Options of the `http` source (Flume's HTTPSource): each POST is one put.
struct http_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< required
  /// The one path taken; empty: any (as Flume).
  std::string path;
  http_handler handler = http_handler::json;
  /// Largest body; a longer one is answered 413 (from Content-Length
  /// before a byte of it is read, else once it passes the bound).
  std::size_t max_body_bytes = 4u << 20;
  /// Most events one request may make; more: 413.
  std::size_t max_events = 10000;
  /// Bodies being read or waiting for the channels, all connections
  /// together; a request that would pass it is answered 503.
  std::size_t max_buffered_bytes = 64u << 20;
  /// Longest a full channel may hold a request before it is answered 503
  /// (none of its events taken).
  std::chrono::milliseconds hold_timeout{3000};
  /// Seconds the 503's Retry-After header asks a client to wait.
  std::chrono::milliseconds retry_after{1000};
  std::size_t max_connections = 1024;
  /// A client must send each whole request (head and body) within this
  /// long of connecting or of its previous answer; else it is closed.
  std::chrono::milliseconds request_timeout{30000};
  server_tls tls; ///< HTTPS; disabled: plain HTTP
  bool insecure = false;
};

/// Its options (runtime/config/options.hpp).
const option_list& http_options();

/// Pure: reads the `http` options; errors go to `r`.
http_config parse_http(option_reader& r);

/// An HTTP/1.1 server (libmicrohttpd, one epoll thread) taking POSTs: a
/// request's events are put downstream as one batch and the request is
/// answered 200 once every required channel accepted them, 503 with
/// Retry-After when a channel stayed full for `hold_timeout` (none of them
/// taken), 400/413 when its body is malformed or too large. A request
/// waiting for its put holds no thread (its connection is suspended).
caf::actor spawn_http(caf::actor_system& sys, const http_config& cfg,
                      const wiring& w);

} // namespace flumen::sources
