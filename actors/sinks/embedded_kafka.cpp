#include "actors/sinks/embedded_kafka.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "runtime/libs/rdkafka.hpp"

namespace flumen::sinks {

namespace {

/// The ports of a bootstrap list ("127.0.0.1:1234,127.0.0.1:1235").
std::set<int> ports_of(const std::string& bootstrap) {
  std::set<int> out;
  std::size_t pos = 0;
  while (pos < bootstrap.size()) {
    auto comma = bootstrap.find(',', pos);
    if (comma == std::string::npos) comma = bootstrap.size();
    auto colon = bootstrap.rfind(':', comma - 1);
    if (colon != std::string::npos && colon >= pos)
      out.insert(std::atoi(bootstrap.c_str() + colon + 1));
    pos = comma + 1;
  }
  return out;
}

/// Turns Nagle's algorithm off on the cluster's listening sockets, which the
/// connections they accept inherit, as a Kafka broker does on its own
/// (`setTcpNoDelay(true)` on every accepted socket). librdkafka's mock does
/// not: its small responses then wait for the client's delayed ACK (40 ms
/// on Linux) whenever an earlier response is not acknowledged yet, which a
/// producer that waits for its reports sees as a 40 ms round trip
/// (bench/README.md, "Where the time goes").
int disable_nagle_on_listeners(const std::set<int>& ports) {
  int done = 0;
  auto* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  while (auto* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2) continue;
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        !listening)
      continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0)
      continue;
    int port = 0;
    if (addr.ss_family == AF_INET)
      port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    else if (addr.ss_family == AF_INET6)
      port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (!ports.count(port)) continue;
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
      ++done;
  }
  closedir(dir);
  return done;
}

} // namespace

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
  listeners_without_nagle_ = disable_nagle_on_listeners(ports_of(bootstrap_));
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
