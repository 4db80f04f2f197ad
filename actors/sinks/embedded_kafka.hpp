#pragma once

#include <memory>
#include <string>

namespace flumen::sinks {

/// librdkafka's in-process Kafka cluster (its mock cluster: the real Kafka
/// protocol on loopback TCP ports). Lives as long as the object.
class embedded_kafka {
public:
  /// Starts `brokers` brokers on random loopback ports. Throws
  /// std::runtime_error when librdkafka can't.
  explicit embedded_kafka(int brokers);
  ~embedded_kafka();

  embedded_kafka(const embedded_kafka&) = delete;
  embedded_kafka& operator=(const embedded_kafka&) = delete;

  /// `host:port,...` for clients.
  const std::string& bootstrap_servers() const { return bootstrap_; }

  /// Creates a topic (no-op error if it exists). Returns false on failure.
  bool create_topic(const std::string& name, int partitions);

  /// How many of the brokers' listening sockets have Nagle's algorithm off
  /// (TCP_NODELAY, inherited by the connections they accept): all of them
  /// unless a socket call failed.
  int listeners_without_nagle() const { return listeners_without_nagle_; }

  /// The cluster handle for fault injection (`rd_kafka_mock_cluster_t*`).
  void* handle() const;

  /// The process-wide cluster used by `bootstrap_servers: embedded`,
  /// started on first use with `brokers` brokers.
  static embedded_kafka& shared(int brokers);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string bootstrap_;
  int listeners_without_nagle_ = 0;
};

} // namespace flumen::sinks
