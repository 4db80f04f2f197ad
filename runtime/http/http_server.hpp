#pragma once

// A small HTTP/1.1 server for the agent's endpoint (GET and HEAD only), on
// one thread of its own with an epoll loop. cpp-httplib's server (Debian
// 12's 0.11.4) gives every connection a thread for as long as it waits for
// a request, so a few hundred clients that send nothing held /health for
// minutes; here a waiting connection costs a descriptor and its buffer, and
// every limit below is enforced by the loop:
// - at most `max_connections`; one more closes the connection that has
//   waited longest for its request (idle and slow clients go first), or
//   is answered 503 when every connection is busy answering;
// - the request head (request line and headers) must arrive within
//   `head_timeout` of the connection (408), be at most `max_head_bytes`
//   (431), have no body (400) and be GET or HEAD (405);
// - a keep-alive connection gets `idle_timeout` for its next request, at
//   most `max_requests` requests;
// - a response not taken by the client within `write_timeout` closes the
//   connection; responses waiting to be sent hold at most
//   `max_pending_output` bytes in all (503 beyond).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "runtime/http/http_head.hpp"

namespace flumen {

/// The server's limits (docs/operations.md).
struct http_limits {
  std::size_t max_connections = 512;
  std::size_t max_head_bytes = 8192;
  std::chrono::milliseconds head_timeout{2000};
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  std::size_t max_requests = 100;
  std::size_t max_pending_output = 64 << 20;
};

/// What a handler answers.
struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// A streamed body (chunked) instead of `body`: called on the server's
  /// thread every few tens of milliseconds while the client keeps up;
  /// appends what is ready to `out` and returns false once the body is
  /// complete. Destroyed (on the server's thread) when the stream ends or
  /// the client goes away.
  std::function<bool(std::string& out)> stream;
};

/// Handlers run on the server's thread: they must answer at once.
using http_handler = std::function<http_response(const http_request&)>;

class http_server {
public:
  explicit http_server(http_limits limits = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Serves `path` exactly. Before `start` only.
  void route(std::string path, http_handler h);
  /// Serves every path starting with `prefix`. Before `start` only.
  void route_prefix(std::string prefix, http_handler h);
  /// Answers paths no route serves (default: 404 naming the path).
  void not_found(http_handler h);

  /// Binds `host:port` (0: a free port) and serves until `stop`; returns
  /// the port. Throws std::runtime_error with the reason when it can't.
  uint16_t start(const std::string& host, uint16_t port);
  /// Closes every connection (ending streams) and joins the thread.
  void stop();

  /// Connections open now (for tests and /stats.json).
  std::size_t connections() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace flumen
