// `flumen broker`: an embedded Kafka cluster (librdkafka's mock cluster) for
// tests and the quick start; prints its bootstrap servers.

#include <charconv>
#include <iostream>
#include <memory>

#include <csignal>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "actors/sinks/kafka.hpp"
#include "app/cli.hpp"
#include "runtime/libs/rdkafka.hpp"

namespace flumen::app {
namespace {

struct broker_options {
  int brokers = 3;
  std::vector<std::string> topics;
};

/// Every broker of the cluster down (closed connections, refused ones)
/// or up again: librdkafka's fault injection, for tests of what a sink
/// does when its cluster goes away.
void set_brokers(sinks::embedded_kafka& cluster, int brokers, bool up) {
  auto* mc = static_cast<rd_kafka_mock_cluster_t*>(cluster.handle());
  for (int id = 1; id <= brokers; ++id)
    if (up)
      rd_kafka_mock_broker_set_up(mc, id);
    else
      rd_kafka_mock_broker_set_down(mc, id);
  spdlog::info("embedded kafka: every broker {}", up ? "up" : "down");
}

int cmd_broker(const broker_options& opt) {
  auto signals = block_stop_signals();
  // SIGUSR1: every broker down; SIGUSR2: up again.
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  sinks::embedded_kafka cluster{opt.brokers};
  for (auto& t : opt.topics) {
    auto colon = t.rfind(':');
    std::string name = t;
    int parts = 16;
    if (colon != std::string::npos) {
      name = t.substr(0, colon);
      auto text = t.substr(colon + 1);
      auto [end, ec] =
          std::from_chars(text.data(), text.data() + text.size(), parts);
      if (ec != std::errc{} || end != text.data() + text.size() || parts < 1 ||
          parts > 10000) {
        std::cerr << "bad --topic '" << t
                  << "': PARTITIONS must be a number from 1 to 10000\n";
        return 2;
      }
    }
    if (!sinks::valid_topic_name(name)) {
      std::cerr << "bad --topic '" << t
                << "': NAME must be 1 to 249 of A-Z a-z 0-9 . _ -\n";
      return 2;
    }
    if (!cluster.create_topic(name, parts)) {
      std::cerr << "cannot create topic " << name << '\n';
      return 1;
    }
  }
  std::cout << cluster.bootstrap_servers() << std::endl;
  spdlog::info("embedded kafka: {} brokers at {}", opt.brokers,
               cluster.bootstrap_servers());
  for (;;) {
    auto sig = wait_signal(signals, std::chrono::milliseconds{500});
    if (sig == SIGUSR1 || sig == SIGUSR2)
      set_brokers(cluster, opt.brokers, sig == SIGUSR2);
    else if (sig != 0)
      break;
  }
  spdlog::info("embedded kafka: stopping");
  return 0;
}

} // namespace

command add_broker(CLI::App& app) {
  auto opt = std::make_shared<broker_options>();
  auto* sub = app.add_subcommand(
      "broker",
      "Run an embedded Kafka cluster; print its bootstrap servers (SIGUSR1 "
      "takes every broker down, SIGUSR2 brings them up: fault injection)");
  sub->add_option("--brokers", opt->brokers, "Number of brokers")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  sub->add_option("--topic", opt->topics,
                  "Create a topic: NAME:PARTITIONS (repeatable)");
  return {sub, [opt] { return cmd_broker(*opt); }};
}

} // namespace flumen::app
