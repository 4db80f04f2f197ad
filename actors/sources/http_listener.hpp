#pragma once

// The `http` source's server: libmicrohttpd on one epoll thread. No CAF:
// a request whose body became events is handed to `on_request` with its
// connection suspended, and answered with `answer` from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "actors/sources/http.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen::sources {

/// The families the http source counts beside a source's.
namespace http_families {
extern const own_family_spec requests_ok;
extern const own_family_spec requests_busy;
extern const own_family_spec requests_rejected;
extern const own_family_spec events_refused;
extern const own_family_spec connections_timed_out;
} // namespace http_families

/// One request whose events wait for their put.
struct http_request {
  batch events;
  /// The connection, for resuming it (libmicrohttpd's MHD_Connection).
  void* connection = nullptr;
  /// Set by `answer` before the connection is resumed.
  int status = 0;
  std::string text;
};

class http_listener {
public:
  using request_fn = std::function<void(std::shared_ptr<http_request>)>;

  /// A server for `cfg`, not listening yet. `on_request` runs on the
  /// server's thread and must not block.
  http_listener(const http_config& cfg,
                std::shared_ptr<component_metrics> metrics,
                request_fn on_request);

  /// Listens on cfg.bind:cfg.port and serves; throws std::runtime_error
  /// saying why it cannot.
  void start();
  /// Answers every request still waiting 503 and stops the server.
  ~http_listener();

  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  /// The port it listens on (the one chosen when cfg.port was 0).
  uint16_t port() const { return port_; }

  /// Answers a request handed to `on_request` (any thread, once).
  void answer(const std::shared_ptr<http_request>& req, int status,
              std::string text);

  /// Takes no new connections, and answers requests not yet handed over
  /// 503 (with `Connection: close`).
  void stop_accepting();

  /// Requests being read, waiting for their put, or being answered.
  std::size_t busy() const;

  /// Closes connections that did not send a whole request within
  /// request_timeout (of connecting, or of their previous answer).
  void expire_slow();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
  uint16_t port_ = 0;
};

} // namespace flumen::sources
