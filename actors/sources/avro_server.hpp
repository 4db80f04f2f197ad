#pragma once

// The `avro` source's server: one poll(2) thread serving Flume's Avro RPC
// (runtime/avro) on every connection. No CAF: a call whose events were
// decoded is handed to `on_call` and its connection is not read until the
// call is answered with `answer`, from any thread.

#include <cstdint>
#include <functional>
#include <memory>

#include "actors/sources/avro.hpp"
#include "runtime/avro/rpc.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen::sources {

/// The families the avro source counts beside a source's.
namespace avro_families {
extern const own_family_spec requests_ok;
extern const own_family_spec requests_failed;
extern const own_family_spec requests_rejected;
extern const own_family_spec events_refused;
extern const own_family_spec connections_refused;
} // namespace avro_families

/// One call waiting for its put.
struct avro_call {
  batch events;
  uint64_t connection = 0;
  int32_t serial = 0;
  /// The handshake response that goes before the answer (the first call
  /// of a connection), empty otherwise.
  std::string prefix;
};

class avro_server {
public:
  using call_fn = std::function<void(std::shared_ptr<avro_call>)>;
  /// The server's thread stopped on an error (why).
  using failure_fn = std::function<void(const std::string&)>;

  /// A server for `cfg`, not listening yet. `on_call` and `on_failure` run
  /// on the server's thread and must not block.
  avro_server(const avro_source_config& cfg,
              std::shared_ptr<component_metrics> metrics, call_fn on_call,
              failure_fn on_failure = {});
  /// Listens and serves; throws std::runtime_error saying why it cannot.
  void start();
  /// Stops the thread and closes every connection (an unanswered call's
  /// client sees its connection close and sends again).
  ~avro_server();

  avro_server(const avro_server&) = delete;
  avro_server& operator=(const avro_server&) = delete;

  uint16_t port() const { return port_; }

  /// Answers a call handed to `on_call` (any thread, once): a status, or
  /// an Avro error with `error` set.
  void answer(const std::shared_ptr<avro_call>& call, avro::status s,
              std::string error = {});

  /// Takes no new connections.
  void stop_accepting();

  /// Calls handed over and not answered, or answered and not yet written.
  std::size_t busy() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
  uint16_t port_ = 0;
};

} // namespace flumen::sources
