#include "actors/sinks/embedded_kafka.hpp"

#include <mutex>
#include <stdexcept>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace flumen::sinks {

struct embedded_kafka::impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
};

embedded_kafka::embedded_kafka(int brokers) : impl_(std::make_unique<impl>()) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!impl_->rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string{"embedded kafka: "} + err);
  }
  impl_->mc = rd_kafka_mock_cluster_new(impl_->rk, brokers);
  if (!impl_->mc) {
    rd_kafka_destroy(impl_->rk);
    throw std::runtime_error("embedded kafka: cannot start the cluster");
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(impl_->mc);
}

embedded_kafka::~embedded_kafka() {
  if (impl_->mc) rd_kafka_mock_cluster_destroy(impl_->mc);
  if (impl_->rk) rd_kafka_destroy(impl_->rk);
}

bool embedded_kafka::create_topic(const std::string& name, int partitions) {
  auto rc = rd_kafka_mock_topic_create(impl_->mc, name.c_str(), partitions, 1);
  return rc == RD_KAFKA_RESP_ERR_NO_ERROR ||
         rc == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
}

void* embedded_kafka::handle() const {
  return impl_->mc;
}

embedded_kafka& embedded_kafka::shared(int brokers) {
  // Leaked on purpose: destroying it at exit races with producers that
  // are still shutting down.
  static std::once_flag once;
  static embedded_kafka* instance = nullptr;
  std::call_once(once, [&] { instance = new embedded_kafka(brokers); });
  return *instance;
}

} // namespace flumen::sinks
