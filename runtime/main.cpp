// The `flumen` command line: run, validate, graph, broker, version.

#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "runtime/agent.hpp"
#include "runtime/log.hpp"
#include "runtime/topology.hpp"

using namespace flumen;

namespace {

constexpr const char* version_text = "flumen 0.1.0";

// Blocks the stop signals in every thread (call before any thread starts),
// so the main thread can wait for them with sigtimedwait.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// Waits up to `d` for a stop signal; returns it, or 0.
int wait_signal(const sigset_t& set, std::chrono::milliseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000),
              static_cast<long>((d.count() % 1000) * 1000000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

registry builtin_registry() {
  registry reg;
  register_builtin(reg);
  return reg;
}

// Loads a topology and prints its errors; nullopt when it has any.
std::optional<topology> load_or_report(const std::string& file) {
  auto result = load_topology(file, builtin_registry());
  for (auto& err : result.errors)
    std::cerr << err.to_string() << '\n';
  if (!result.errors.empty()) {
    std::cerr << result.errors.size() << " error"
              << (result.errors.size() == 1 ? "" : "s") << " in " << file
              << '\n';
    return std::nullopt;
  }
  return std::move(result.topo);
}

int cmd_validate(const std::string& file) {
  auto topo = load_or_report(file);
  if (!topo) return 1;
  std::size_t n = 0;
  for (auto& a : topo->agents)
    n += a.sources.size() + a.channels.size() + a.sinks.size();
  std::cout << file << ": valid (" << topo->agents.size() << " agent"
            << (topo->agents.size() == 1 ? "" : "s") << ", " << n
            << " components)\n";
  return 0;
}

int cmd_graph(const std::string& file, const std::string& format) {
  auto topo = load_or_report(file);
  if (!topo) return 1;
  std::cout << (format == "mermaid" ? to_mermaid(*topo) : to_dot(*topo));
  return 0;
}

struct run_options {
  std::string file;
  std::string agent;
  bool exit_on_eof = false;
  double shutdown_timeout = 30;
  double stats_interval = 0;
};

int cmd_run(const run_options& opt) {
  auto topo = load_or_report(opt.file);
  if (!topo) return 1;
  const agent_spec* spec = nullptr;
  if (opt.agent.empty()) {
    if (topo->agents.size() != 1) {
      std::cerr << opt.file << " defines " << topo->agents.size()
                << " agents; choose one with --agent NAME\n";
      return 2;
    }
    spec = &topo->agents.front();
  } else if (spec = topo->find(opt.agent); !spec) {
    std::cerr << opt.file << ": no agent named '" << opt.agent << "'\n";
    return 2;
  }
  auto signals = block_stop_signals();
  caf::actor_system_config cfg;
  configure_actor_system(cfg);
  caf::actor_system sys{cfg};
  metrics_registry metrics;
  int code = 0;
  {
    agent a{sys, *spec, metrics};
    spdlog::info("agent {}: starting ({} sources, {} channels, {} sinks)",
                 spec->name, spec->sources.size(), spec->channels.size(),
                 spec->sinks.size());
    a.start();
    using clock = std::chrono::steady_clock;
    auto next_stats = clock::now();
    auto interval = std::chrono::milliseconds(
        static_cast<int64_t>(opt.stats_interval * 1000));
    for (;;) {
      // Wake for the next counter line too, not only every 100 ms.
      auto wait = std::chrono::milliseconds{100};
      if (interval.count() > 0)
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                              next_stats - clock::now()),
                          std::chrono::milliseconds{1}, wait);
      if (int sig = wait_signal(signals, wait)) {
        spdlog::info("agent {}: {} received, stopping", spec->name,
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
      }
      if (auto failed = a.failed_components();
          !failed.empty() && a.supervision().on_component_failure == "exit") {
        spdlog::error("agent {}: {} failed and on_component_failure is exit; "
                      "stopping",
                      spec->name, failed.front());
        code = 4;
        break;
      }
      if (opt.exit_on_eof && a.sources_done()) {
        spdlog::info("agent {}: every source reached its end, stopping",
                     spec->name);
        break;
      }
      if (interval.count() > 0 && clock::now() >= next_stats) {
        next_stats = clock::now() + interval;
        for (auto& line : a.summary())
          spdlog::info("{}", line);
      }
    }
    auto timeout = std::chrono::milliseconds(
        static_cast<int64_t>(opt.shutdown_timeout * 1000));
    // A second signal while draining stops at once.
    std::atomic<bool> draining{true};
    std::thread second{[&] {
      while (draining) {
        if (wait_signal(signals, std::chrono::milliseconds{100})) {
          spdlog::warn("second signal: stopping at once");
          std::_Exit(130);
        }
      }
    }};
    auto left = a.stop(timeout);
    draining = false;
    second.join();
    for (auto& line : a.summary())
      spdlog::info("{}", line);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    spdlog::info("agent {}: peak RSS {} MiB", spec->name,
                 usage.ru_maxrss / 1024);
    if (left > 0) {
      spdlog::error("agent {}: {} events could not be delivered before the "
                    "shutdown timeout",
                    spec->name, left);
      if (code == 0) code = 3;
    } else if (code == 0) {
      spdlog::info("agent {}: stopped, every accepted event delivered",
                   spec->name);
    }
  }
  return code;
}

int cmd_broker(int brokers, const std::vector<std::string>& topics) {
  auto signals = block_stop_signals();
  sinks::embedded_kafka cluster{brokers};
  for (auto& t : topics) {
    auto colon = t.rfind(':');
    std::string name = t;
    int parts = 16;
    if (colon != std::string::npos) {
      name = t.substr(0, colon);
      try {
        parts = std::stoi(t.substr(colon + 1));
      } catch (const std::exception&) {
        std::cerr << "bad --topic '" << t << "' (expected NAME:PARTITIONS)\n";
        return 2;
      }
    }
    if (!cluster.create_topic(name, parts)) {
      std::cerr << "cannot create topic " << name << '\n';
      return 1;
    }
  }
  std::cout << cluster.bootstrap_servers() << std::endl;
  spdlog::info("embedded kafka: {} brokers at {}", brokers,
               cluster.bootstrap_servers());
  while (!wait_signal(signals, std::chrono::milliseconds{500})) {
  }
  spdlog::info("embedded kafka: stopping");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"flumen: a log and event pipeline (sources, channels, sinks; "
               "Kafka first)",
               "flumen"};
  app.require_subcommand(1);
  app.fallthrough(); // --log-level also after the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off")
      ->capture_default_str();

  run_options run;
  auto* run_cmd = app.add_subcommand("run", "Run one agent of a topology");
  run_cmd->add_option("file", run.file, "Topology file (YAML)")->required();
  run_cmd->add_option("--agent", run.agent,
                      "Agent to run (needed when the file has several)");
  run_cmd->add_flag("--exit-on-eof", run.exit_on_eof,
                    "Stop once every source reached the end of its input");
  run_cmd
      ->add_option("--shutdown-timeout", run.shutdown_timeout,
                   "Seconds to drain channels on stop")
      ->capture_default_str();
  run_cmd
      ->add_option("--stats-interval", run.stats_interval,
                   "Seconds between counter log lines (0: only at exit)")
      ->capture_default_str();

  std::string validate_file;
  auto* validate_cmd = app.add_subcommand(
      "validate", "Check a topology; print located errors; run nothing");
  validate_cmd->add_option("file", validate_file, "Topology file")->required();

  std::string graph_file;
  std::string graph_format = "dot";
  auto* graph_cmd = app.add_subcommand("graph", "Draw a topology");
  graph_cmd->add_option("file", graph_file, "Topology file")->required();
  graph_cmd->add_option("--format", graph_format, "dot or mermaid")
      ->check(CLI::IsMember({"dot", "mermaid"}))
      ->capture_default_str();

  int brokers = 3;
  std::vector<std::string> topics;
  auto* broker_cmd = app.add_subcommand(
      "broker", "Run an embedded Kafka cluster; print its bootstrap servers");
  broker_cmd->add_option("--brokers", brokers, "Number of brokers")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  broker_cmd->add_option("--topic", topics,
                         "Create a topic: NAME:PARTITIONS (repeatable)");

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  if (!init_logging(log_level)) {
    std::cerr << "unknown --log-level '" << log_level << "'\n";
    return 2;
  }
  if (*version_cmd) {
    std::cout << version_text << '\n';
    return 0;
  }
  if (*validate_cmd) return cmd_validate(validate_file);
  if (*graph_cmd) return cmd_graph(graph_file, graph_format);
  if (*broker_cmd) return cmd_broker(brokers, topics);
  return cmd_run(run);
}
