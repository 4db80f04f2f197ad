#pragma once

// The `avro` sink's connection: one thread with a non-blocking socket to a
// Flume `avro` source (runtime/avro on the wire; TLS with OpenSSL, zlib),
// carrying `appendBatch` calls, each reported once with its outcome. No
// CAF.

#include <functional>
#include <memory>
#include <string>

#include "actors/sinks/avro.hpp"
#include "runtime/core/event.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen::sinks {

/// The families the avro sink counts beside a sink's.
namespace avro_sink_families {
extern const own_family_spec calls_failed;
extern const own_family_spec connections;
} // namespace avro_sink_families

class avro_client {
public:
  /// An empty text: answered OK; otherwise why the call failed.
  using result_fn = std::function<void(std::string)>;

  /// Throws std::runtime_error when the TLS files cannot be loaded.
  avro_client(const avro_sink_config& cfg,
              std::shared_ptr<component_metrics> metrics);
  /// Reports every call not yet reported as failed ("stopping").
  ~avro_client();
  avro_client(const avro_client&) = delete;
  avro_client& operator=(const avro_client&) = delete;

  /// Sends `events` as one call (encoded now); `done` is called once,
  /// from the client's thread.
  void call(const batch& events, result_fn done);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace flumen::sinks
