// The `flumen` command line: run, validate, graph, broker, channel, version.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/channels/filelog/tools.hpp"
#include "actors/sinks/embedded_kafka.hpp"
#include "actors/sinks/kafka.hpp"
#include "runtime/agent.hpp"
#include "runtime/child_groups.hpp"
#include "runtime/http_endpoint.hpp"
#include "runtime/listener_gate.hpp"
#include "runtime/log.hpp"
#include "runtime/ops_client.hpp"
#include "runtime/placement.hpp"
#include "runtime/protocol.hpp"
#include "runtime/sink_driver.hpp"
#include "runtime/topology.hpp"

using namespace flumen;

namespace {

constexpr const char* version_text = "flumen 0.1.0";

// Blocks the stop signals and SIGHUP in every thread (call before any
// thread starts), so the main thread can wait for them with sigtimedwait.
// Children (exec) get default dispositions and an empty mask back.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

const char* signal_name(int sig) {
  switch (sig) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  case SIGHUP:
    return "SIGHUP";
  }
  return "a signal";
}

// `500ms`, `3s`, `2m`, `1h`, or a number of seconds (`2.5`); nullopt for
// anything else, negative numbers, NaN and infinities included.
std::optional<std::chrono::milliseconds>
parse_duration(const std::string& text) {
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!std::isfinite(value) || value < 0 || text.front() == '-' ||
      text.front() == '+' || std::isspace(static_cast<unsigned char>(text[0])))
    return std::nullopt;
  auto unit = text.substr(end);
  double scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60e3;
  else if (unit == "h")
    scale = 3600e3;
  else
    return std::nullopt;
  auto ms = value * scale;
  if (ms > 365.0 * 24 * 3600e3) return std::nullopt;
  return std::chrono::milliseconds{static_cast<int64_t>(ms)};
}

// `512`, `64KB`, `16MB`, `1GB` (powers of 1024, as in topology files);
// nullopt for anything else.
std::optional<std::size_t> parse_size(const std::string& text) {
  std::size_t end = 0;
  unsigned long long value = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    return std::nullopt;
  try {
    value = std::stoull(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit;
  for (auto c : text.substr(end))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned long long scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    scale = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    scale = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    scale = 1ull << 30;
  else
    return std::nullopt;
  if (value > (1ull << 40) / scale) return std::nullopt;
  return static_cast<std::size_t>(value * scale);
}

// Waits up to `d` for a stop signal; returns it, or 0.
// A SIGTERM or SIGINT is waiting (blocked, not taken yet).
bool stop_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGTERM) == 1 ||
         sigismember(&pending, SIGINT) == 1;
}

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
std::optional<topology> load_or_report(const std::string& file,
                                       const probe_scope& probe = {}) {
  auto result = load_topology(file, builtin_registry(), probe);
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

int cmd_validate(const std::string& file, const std::string& agent) {
  // With --agent, only that agent's addresses are tried here (the others
  // may run on other machines).
  auto topo = load_or_report(file, agent.empty() ? probe_scope{}
                                                 : probe_scope{false, agent});
  if (topo && !agent.empty() && !topo->find(agent)) {
    std::cerr << file << ": no agent named '" << agent << "'\n";
    return 1;
  }
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
  // Drawing runs nothing: no address is tried.
  auto topo = load_or_report(file, probe_scope{false, {}});
  if (!topo) return 1;
  std::cout << (format == "mermaid" ? to_mermaid(*topo) : to_dot(*topo));
  return 0;
}

// HOST:PORT or [V6]:PORT; nullopt (and a message) when malformed.
std::optional<std::pair<std::string, uint16_t>>
split_host_port(const std::string& text, const char* flag) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::cerr << "bad " << flag << " '" << text << "': expected HOST:PORT\n";
    return std::nullopt;
  }
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  auto ptext = text.substr(colon + 1);
  auto [end, ec] =
      std::from_chars(ptext.data(), ptext.data() + ptext.size(), port);
  if (ec != std::errc{} || end != ptext.data() + ptext.size() || port < 0 ||
      port > 65535) {
    std::cerr << "bad " << flag << " '" << text
              << "': PORT must be 0 to 65535\n";
    return std::nullopt;
  }
  return std::pair{host, static_cast<uint16_t>(port)};
}

struct run_options {
  bool watch = false; ///< --watch: reload when the file changes
  std::string file;
  std::string agent;
  std::string http; ///< --http HOST:PORT
  bool exit_on_eof = false;
  std::chrono::milliseconds shutdown_timeout{30000};
  std::chrono::milliseconds stats_interval{0};
};

int cmd_run(const run_options& opt) {
  std::optional<http_spec> http_flag;
  if (!opt.http.empty()) {
    auto hp = split_host_port(opt.http, "--http");
    if (!hp) return 2;
    http_flag.emplace();
    http_flag->bind = hp->first;
    http_flag->port = hp->second;
  }
  // Only the agent that runs here has its addresses tried; a file of one
  // agent runs that one.
  // What --watch compares the file with (read as the loader reads it: a
  // FIFO or a huge file is refused, never waited on).
  auto loaded_text = read_topology_file(opt.file).text;
  auto topo = load_or_report(opt.file, opt.agent.empty()
                                           ? probe_scope{}
                                           : probe_scope{false, opt.agent});
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
  // One thread owns the signals from the first stop signal on: a second one
  // ends the process at once, whatever it is doing (draining, destructors),
  // and the whole stop is bounded by --shutdown-timeout plus a short grace.
  int code = 0;
  caf::actor_system_config cfg;
  configure_actor_system(cfg, spec->tls());
  caf::actor_system sys{cfg};
  metrics_registry metrics;
  {
    agent a{sys, *spec, metrics};
    spdlog::info("agent {}: starting ({} sources, {} channels, {} sinks)",
                 spec->name, spec->sources.size(), spec->channels.size(),
                 spec->sinks.size());
    try {
      a.start();
    } catch (const std::exception& e) {
      // E.g. a file channel's directory held by another agent.
      spdlog::error("agent {}: cannot start: {}", spec->name, e.what());
      return 2;
    }
    // Metrics and health over HTTP: --http, else the file's `http:`.
    std::unique_ptr<http_endpoint> http;
    if (auto h = http_flag ? http_flag : spec->http) {
      http = std::make_unique<http_endpoint>(spec->name, metrics);
      try {
        auto port = http->start(h->bind, h->port);
        spdlog::info("agent {}: HTTP on {}:{} (/metrics, /metrics.json, "
                     "/health, /ready)",
                     spec->name, h->bind, port);
      } catch (const std::exception& e) {
        spdlog::error("agent {}: {}", spec->name, e.what());
        return 2;
      }
    }
    using clock = std::chrono::steady_clock;
    auto next_watch = clock::now();
    std::string watch_error; // why --watch could not read the file last
    // Reload (SIGHUP, --watch): the file is loaded and validated first; with
    // errors the running topology stays and the errors are logged. Only what
    // changed restarts (agent::reload).
    auto reload = [&](agent& a, std::unique_ptr<http_endpoint>& http) {
      loaded_text = read_topology_file(opt.file).text;
      auto result = load_topology(opt.file, builtin_registry(),
                                  probe_scope{false, spec->name});
      for (auto& err : result.errors)
        spdlog::error("{}", err.to_string());
      if (!result.errors.empty()) {
        spdlog::error("agent {}: reload refused: {} error{} in {}; the "
                      "running topology stays",
                      spec->name, result.errors.size(),
                      result.errors.size() == 1 ? "" : "s", opt.file);
        return;
      }
      auto* next = result.topo.find(spec->name);
      if (!next) {
        spdlog::error("agent {}: reload refused: {} has no agent named '{}' "
                      "any more; the running topology stays",
                      spec->name, opt.file, spec->name);
        return;
      }
      auto report = a.reload(*next, opt.shutdown_timeout, stop_pending);
      if (!report.applied) {
        spdlog::error("agent {}: reload refused: {}; the running topology "
                      "stays",
                      spec->name, report.error);
        return;
      }
      // The endpoint follows the file, unless --http set it.
      if (!http_flag && !(next->http == spec->http)) {
        http.reset();
        if (next->http) {
          http = std::make_unique<http_endpoint>(spec->name, metrics);
          try {
            auto port = http->start(next->http->bind, next->http->port);
            report.changes.push_back("HTTP on " + next->http->bind + ":" +
                                     std::to_string(port));
          } catch (const std::exception& e) {
            spdlog::error("agent {}: {}", spec->name, e.what());
            http.reset();
          }
        }
      }
      auto name = spec->name; // spec points into the topology replaced here
      topo = std::move(result.topo);
      spec = topo->find(name);
      std::string what;
      for (auto& c : report.changes)
        what += (what.empty() ? "" : "; ") + c;
      spdlog::info("agent {}: reloaded {}: {}", spec->name, opt.file, what);
    };
    // The input is done (--exit-on-eof): file channels are drained too, as
    // a one-shot run means "deliver this"; after a signal they keep what
    // they hold for the next start.
    bool drain_durable = false;
    auto next_stats = clock::now();
    auto interval = opt.stats_interval;
    for (;;) {
      // Wake for the next counter line too, not only every 100 ms.
      auto wait = std::chrono::milliseconds{100};
      if (interval.count() > 0)
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                              next_stats - clock::now()),
                          std::chrono::milliseconds{1}, wait);
      if (int sig = wait_signal(signals, wait)) {
        if (sig == SIGHUP) {
          // `systemctl reload`, `kill -HUP`: never a silent death that loses
          // the memory channel. A stop waiting behind it goes first (signals
          // are taken lowest number first: a stream of SIGHUPs would keep
          // a SIGTERM waiting), and SIGHUPs that came meanwhile make one
          // reload.
          if (stop_pending()) {
            spdlog::info("agent {}: SIGHUP received with a stop waiting; no "
                         "reload",
                         spec->name);
            continue;
          }
          sigset_t hup;
          sigemptyset(&hup);
          sigaddset(&hup, SIGHUP);
          while (wait_signal(hup, std::chrono::milliseconds{0}) == SIGHUP) {
          }
          spdlog::info("agent {}: SIGHUP received, reloading {}", spec->name,
                       opt.file);
          reload(a, http);
          continue;
        }
        spdlog::info("agent {}: {} received, stopping", spec->name,
                     signal_name(sig));
        break;
      }
      if (opt.watch && clock::now() >= next_watch) {
        next_watch = clock::now() + std::chrono::seconds{1};
        // A file that can't be read (gone, a FIFO, too large) is reported
        // once per reason, by the reload that refuses it.
        auto now = read_topology_file(opt.file);
        if (now.error.empty() ? now.text != loaded_text
                              : now.error != watch_error) {
          spdlog::info("agent {}: {} changed, reloading", spec->name, opt.file);
          reload(a, http);
        }
        watch_error = now.error;
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
        drain_durable = true;
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
    auto timeout = opt.shutdown_timeout;
    // The stop is bounded by --shutdown-timeout plus 3 s; once the final
    // line is out, what is left (ending actors, flushing file channels) by
    // a few seconds more, and the exit code is then the final line's.
    struct bound {
      std::atomic<int64_t> deadline;
      std::atomic<int> code{3};
      std::atomic<bool> summarized{false};
    };
    auto limit = std::make_shared<bound>();
    auto ms_of = [](clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 t.time_since_epoch())
          .count();
    };
    limit->deadline = ms_of(clock::now() + timeout + std::chrono::seconds{3});
    // Detached, and owning copies of what it uses: it must outlive this
    // function, since the actor system's own destructor can block too.
    std::thread{[signals, limit, ms_of, name = spec->name] {
      for (;;) {
        if (int sig = wait_signal(signals, std::chrono::milliseconds{50})) {
          if (sig == SIGHUP) continue;
          std::fprintf(stderr, "flumen: %s: stopping at once\n",
                       signal_name(sig));
          kill_child_groups(); // exec children must not outlive us
          std::_Exit(130);
        }
        if (ms_of(clock::now()) > limit->deadline.load()) {
          if (limit->summarized)
            std::fprintf(stderr,
                         "flumen: agent %s: an actor did not end within 15 s "
                         "of the final line; exiting now\n",
                         name.c_str());
          else
            std::fprintf(stderr,
                         "flumen: agent %s: the stop took longer than "
                         "--shutdown-timeout plus 3 s; exiting now\n",
                         name.c_str());
          kill_child_groups();
          std::_Exit(limit->code.load());
        }
      }
    }}.detach();
    a.stop(timeout, drain_durable);
    for (auto& line : a.summary())
      spdlog::info("{}", line);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    spdlog::info("agent {}: peak RSS {} MiB", spec->name,
                 usage.ru_maxrss / 1024);
    auto loss = a.losses();
    if (loss.clean() && loss.kept > 0) {
      spdlog::info("agent {}: stopped, every accepted event delivered or "
                   "kept: {} kept in file channels, delivered after the next "
                   "start",
                   spec->name, loss.kept);
    } else if (loss.clean()) {
      spdlog::info("agent {}: stopped, every accepted event delivered",
                   spec->name);
    } else {
      // Never "every event delivered" when anything was not: each count.
      auto undelivered = loss.in_channels + loss.undelivered + loss.damaged;
      spdlog::log(undelivered > 0 ? spdlog::level::err : spdlog::level::warn,
                  "agent {}: stopped; not delivered: {} left in channels at "
                  "the shutdown timeout, {} read but never accepted; by "
                  "policy: {} dropped, {} dead-lettered; {} delivered "
                  "truncated{}{}",
                  spec->name, loss.in_channels, loss.undelivered, loss.dropped,
                  loss.dead_lettered, loss.truncated,
                  loss.damaged > 0 ? "; " + std::to_string(loss.damaged) +
                                         " lost to damage in file channels"
                                   : std::string{},
                  loss.kept > 0 ? "; " + std::to_string(loss.kept) +
                                      " kept in file channels, delivered "
                                      "after the next start"
                                : std::string{});
      if (undelivered > 0 && code == 0) code = 3;
    }
    limit->code = code;
    limit->summarized = true;
    limit->deadline = ms_of(clock::now() + std::chrono::seconds{15});
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
  spdlog::info("embedded kafka: {} brokers at {}", brokers,
               cluster.bootstrap_servers());
  while (!wait_signal(signals, std::chrono::milliseconds{500})) {
  }
  spdlog::info("embedded kafka: stopping");
  return 0;
}

struct node_options {
  std::string listen = "127.0.0.1:4700";
  std::string name;
  link_security tls;
  std::chrono::milliseconds stats_interval{0};
  /// The listener gate's limits (runtime/listener_gate.hpp).
  std::size_t max_connections = 64;
  std::size_t max_message_bytes = 64u << 20;
  std::chrono::milliseconds handshake_timeout{10000};
  std::string http; ///< --http HOST:PORT or PORT (on 127.0.0.1)
};

int cmd_node(const node_options& opt) {
  auto hp = split_host_port(opt.listen, "--listen");
  if (!hp) return 2;
  auto host = hp->first;
  auto port = hp->second;
  // Any connected peer may spawn actors on a node: only loopback, or peers
  // with a certificate from our CA, or an explicit --insecure.
  if (!loopback_address(host) && !opt.tls.tls() && !opt.tls.insecure) {
    std::cerr << "--listen " << opt.listen
              << ": not a loopback address; a node on the network needs "
                 "--tls-certificate, --tls-key and --tls-ca-file (mutual "
                 "TLS), or --insecure to accept anyone in clear text\n";
    return 2;
  }
  if (auto why = control_character_in(opt.name); !why.empty()) {
    std::cerr << "--name: " << why << '\n';
    return 2;
  }
  if (opt.tls.tls() || !opt.tls.certificate.empty() || !opt.tls.key.empty() ||
      !opt.tls.ca_file.empty()) {
    for (auto* f : {&opt.tls.certificate, &opt.tls.key, &opt.tls.ca_file}) {
      if (f->empty()) {
        std::cerr << "--tls-certificate, --tls-key and --tls-ca-file go "
                     "together\n";
        return 2;
      }
      if (::access(f->c_str(), R_OK) != 0) {
        std::cerr << "cannot read '" << *f << "'\n";
        return 2;
      }
    }
  }
  if (opt.max_message_bytes < (2u << 20) ||
      opt.max_message_bytes > (1u << 30)) {
    std::cerr << "--max-message-bytes must be between 2MB and 1GB\n";
    return 2;
  }
  if (opt.max_connections == 0) {
    std::cerr << "--max-connections must be at least 1\n";
    return 2;
  }
  if (opt.handshake_timeout < std::chrono::milliseconds{100} ||
      opt.handshake_timeout > std::chrono::minutes{10}) {
    std::cerr << "--handshake-timeout must be between 100ms and 10m\n";
    return 2;
  }
  std::optional<std::pair<std::string, uint16_t>> http_at;
  if (!opt.http.empty()) {
    // A bare port binds loopback, as an agent's `http:` does by default.
    http_at = opt.http.find(':') == std::string::npos
                  ? split_host_port("127.0.0.1:" + opt.http, "--http")
                  : split_host_port(opt.http, "--http");
    if (!http_at) return 2;
  }
  auto signals = block_stop_signals();
  auto types = builtin_registry();
  metrics_registry metrics;
  node_context ctx;
  ctx.name = opt.name.empty() ? opt.listen : opt.name;
  ctx.types = &types;
  ctx.metrics = &metrics;
  caf::actor_system_config cfg;
  configure_actor_system(cfg, opt.tls);
  add_replica_host(cfg, ctx);
  caf::actor_system sys{cfg};
  auto door = spawn_node_door(sys, ctx);
  // Before CAF listens: its first accepted socket is checked already. The
  // largest message an agent sends a node is the answer to a replica's
  // take: takes here are bounded to fit, with 1 MB for the message around
  // the events (event_bytes already counts 64 bytes per event and header,
  // more than their encoding takes).
  listener_gate::limits gate;
  gate.name = "node " + ctx.name;
  gate.max_message_bytes = opt.max_message_bytes;
  gate.max_connections = opt.max_connections;
  gate.handshake_timeout = opt.handshake_timeout;
  gate.metrics = metrics.get(ctx.name + ".listener", "listener", "node");
  gate.metrics->set_state(component_state::running);
  auto registration =
      listener_gate::add(std::move(gate), static_cast<uint16_t>(port));
  set_take_bytes_bound(opt.max_message_bytes - (1u << 20));
  auto bound = opt.tls.tls()
                   ? caf::openssl::publish(door, static_cast<uint16_t>(port),
                                           host.c_str(), true)
                   : sys.middleman().publish(door, static_cast<uint16_t>(port),
                                             host.c_str(), true);
  if (!bound) {
    std::cerr << "cannot listen on " << opt.listen << ": "
              << sys.render(bound.error()) << '\n';
    caf::anon_send_exit(door, caf::exit_reason::kill);
    return 1;
  }
  registration->set_port(*bound);
  spdlog::info("node {}: listening on {}:{}{}", ctx.name, host, *bound,
               opt.tls.tls() ? " (mutual TLS)" : "");
  // Its replicas' counters and states, and its listener's, over HTTP.
  std::unique_ptr<http_endpoint> http;
  if (http_at) {
    http = std::make_unique<http_endpoint>(endpoint_scope::node(ctx.name),
                                           metrics);
    try {
      auto p = http->start(http_at->first, http_at->second);
      spdlog::info("node {}: HTTP on {}:{} (/metrics, /metrics.json, "
                   "/health, /ready)",
                   ctx.name, http_at->first, p);
    } catch (const std::exception& e) {
      spdlog::error("node {}: {}", ctx.name, e.what());
      caf::anon_send_exit(door, caf::exit_reason::kill);
      return 2;
    }
  }
  using clock = std::chrono::steady_clock;
  auto next_stats = clock::now() + opt.stats_interval;
  for (;;) {
    int sig = wait_signal(signals, std::chrono::milliseconds{200});
    if (sig == SIGHUP) continue;
    if (sig) {
      spdlog::info("node {}: {} received, stopping its replicas", ctx.name,
                   signal_name(sig));
      break;
    }
    if (opt.stats_interval.count() > 0 && clock::now() >= next_stats) {
      next_stats = clock::now() + opt.stats_interval;
      for (auto& m : metrics.all())
        spdlog::info("{}", m->summary());
    }
  }
  // A second signal ends the process at once, and so does a stop that
  // takes longer than its bound (a replica's sink that does not end must
  // not leave a process only SIGKILL ends).
  auto hard_deadline = clock::now() + std::chrono::seconds{20};
  std::thread{[signals, hard_deadline] {
    for (;;) {
      if (int sig = wait_signal(signals, std::chrono::milliseconds{50});
          sig && sig != SIGHUP) {
        std::fprintf(stderr, "flumen node: %s: stopping at once\n",
                     signal_name(sig));
        std::_Exit(130);
      }
      if (clock::now() > hard_deadline) {
        std::fprintf(stderr, "flumen node: the stop took longer than 20 s; "
                             "exiting now\n");
        std::_Exit(3);
      }
    }
  }}.detach();
  std::vector<caf::actor> replicas;
  {
    std::lock_guard guard{ctx.mtx};
    replicas = ctx.replicas;
  }
  if (!replicas.empty()) {
    // All at once, within one bound: each settles what it took.
    caf::scoped_actor self{sys};
    std::vector<decltype(self->request(
        replicas.front(), std::chrono::seconds{10}, stop_atom::value))>
        handles;
    for (auto& r : replicas)
      handles.push_back(
          self->request(r, std::chrono::seconds{10}, stop_atom::value));
    for (auto& h : handles)
      h.receive([](ok_atom) {}, [](caf::error&) {});
  }
  // Whatever did not stop in time is ended: the actor system's destructor
  // waits for every actor.
  for (auto& r : replicas)
    caf::anon_send_exit(r, caf::exit_reason::kill);
  for (auto& m : metrics.all())
    spdlog::info("{}", m->summary());
  caf::anon_send_exit(door, caf::exit_reason::user_shutdown);
  spdlog::info("node {}: stopped", ctx.name);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"flumen: a log and event pipeline (sources, channels, sinks; "
               "Kafka first)",
               "flumen"};
  app.require_subcommand(0, 1);
  app.fallthrough(); // --log-level also after the subcommand
  app.set_version_flag("--version", version_text);
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off")
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text, or json (one object per line, for log shippers)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  run_options run;
  auto* run_cmd = app.add_subcommand("run", "Run one agent of a topology");
  run_cmd->add_option("file", run.file, "Topology file (YAML)")->required();
  run_cmd->add_option("--agent", run.agent,
                      "Agent to run (needed when the file has several)");
  run_cmd->add_option("--http", run.http,
                      "Serve /metrics, /metrics.json, /health, /ready on "
                      "HOST:PORT (overrides the file's http:)");
  run_cmd->add_flag("--watch", run.watch,
                    "Reload when the file changes (as on SIGHUP)");
  run_cmd->add_flag("--exit-on-eof", run.exit_on_eof,
                    "Stop once every source reached the end of its input");
  auto duration_flag = [](std::chrono::milliseconds& out) {
    return [&out](const std::string& text) {
      auto d = parse_duration(text);
      if (!d)
        throw CLI::ValidationError(
            "'" + text + "' is not a duration (e.g. 30s, 500ms, 2m, 1.5)");
      out = *d;
    };
  };
  run_cmd
      ->add_option_function<std::string>(
          "--shutdown-timeout", duration_flag(run.shutdown_timeout),
          "Time to stop: drain channels, settle sinks (e.g. 30s, 500ms; a "
          "bare number is seconds) [30s]")
      ->type_name("DURATION");
  run_cmd
      ->add_option_function<std::string>(
          "--stats-interval", duration_flag(run.stats_interval),
          "Time between counter log lines (0: only at exit) [0]")
      ->type_name("DURATION");

  std::string validate_file;
  std::string validate_agent;
  auto* validate_cmd = app.add_subcommand(
      "validate", "Check a topology; print located errors; run nothing");
  validate_cmd->add_option("file", validate_file, "Topology file")->required();
  validate_cmd->add_option("--agent", validate_agent,
                           "Check addresses only for this agent (the one "
                           "that runs on this machine)");

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

  std::string channel_dir;
  bool channel_repair = false;
  auto* channel_cmd = app.add_subcommand(
      "channel", "Inspect or verify a file channel's directory");
  channel_cmd->require_subcommand(1);
  auto* inspect_cmd = channel_cmd->add_subcommand(
      "inspect", "Segments, records, bytes, committed position, oldest "
                 "uncommitted event, damage");
  inspect_cmd->add_option("dir", channel_dir, "The channel's directory")
      ->required();
  auto* verify_cmd = channel_cmd->add_subcommand(
      "verify", "Read every record; exit 0 when all is well, 1 on damage");
  verify_cmd->add_option("dir", channel_dir, "The channel's directory")
      ->required();
  verify_cmd->add_flag("--repair", channel_repair,
                       "Truncate torn tails as the channel does on start "
                       "(refused while an agent holds the directory)");

  node_options node;
  auto* node_cmd = app.add_subcommand(
      "node", "Host sink replicas that agents place on this machine");
  node_cmd->add_option("--listen", node.listen, "HOST:PORT to listen on")
      ->capture_default_str();
  node_cmd->add_option("--name", node.name,
                       "Name in logs (default: the --listen address)");
  node_cmd->add_option("--tls-certificate", node.tls.certificate,
                       "PEM certificate (mutual TLS; with --tls-key and "
                       "--tls-ca-file)");
  node_cmd->add_option("--tls-key", node.tls.key, "PEM private key");
  node_cmd->add_option("--tls-ca-file", node.tls.ca_file,
                       "PEM CA that peers' certificates must be signed by");
  node_cmd->add_option("--tls-passphrase", node.tls.passphrase,
                       "Passphrase of the key");
  node_cmd->add_flag("--insecure", node.tls.insecure,
                     "Listen on a non-loopback address without TLS");
  node_cmd
      ->add_option_function<std::string>(
          "--stats-interval", duration_flag(node.stats_interval),
          "Time between counter log lines (0: only at exit) [0]")
      ->type_name("DURATION");
  node_cmd
      ->add_option("--max-connections", node.max_connections,
                   "Sockets the port keeps open at once; more are refused, "
                   "or close the oldest still in its handshake")
      ->capture_default_str();
  node_cmd
      ->add_option_function<std::string>(
          "--max-message-bytes",
          [&node](const std::string& text) {
            auto v = parse_size(text);
            if (!v)
              throw CLI::ValidationError("'" + text +
                                         "' is not a size (e.g. 64MB)");
            node.max_message_bytes = *v;
          },
          "Largest message an agent may send (a take's answer is bounded "
          "to fit) [64MB]")
      ->type_name("SIZE");
  node_cmd->add_option("--http", node.http,
                       "Serve the replicas' /metrics, /metrics.json, /health, "
                       "/ready on HOST:PORT (a bare PORT: on 127.0.0.1)");
  node_cmd
      ->add_option_function<std::string>(
          "--handshake-timeout", duration_flag(node.handshake_timeout),
          "A peer must complete its handshake (TLS's too) within this "
          "[10s]")
      ->type_name("DURATION");

  std::string top_addr = "127.0.0.1:8686";
  top_options top;
  auto* top_cmd = app.add_subcommand(
      "top", "A live table of a running agent's components (its --http)");
  top_cmd->add_option("address", top_addr, "The agent's HTTP HOST:PORT")
      ->capture_default_str();
  top_cmd
      ->add_option_function<std::string>("--interval",
                                         duration_flag(top.interval),
                                         "Time between refreshes [1s]")
      ->type_name("DURATION");
  top_cmd
      ->add_option("--frames", top.frames,
                   "Draw this many frames, then exit (0: until q or "
                   "Ctrl-C)")
      ->capture_default_str();

  std::string tap_addr;
  tap_options tap;
  auto* tap_cmd = app.add_subcommand(
      "tap", "Print events as they pass a component of a running agent");
  tap_cmd->add_option("address", tap_addr, "The agent's HTTP HOST:PORT")
      ->required();
  tap_cmd
      ->add_option("component", tap.component,
                   "A source, channel or sink name (r1, c1, k1)")
      ->required();
  tap_cmd->add_option("--limit", tap.limit, "Events to print, then exit")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}))
      ->capture_default_str();

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any usage error exits 2, as is usual.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!init_logging(log_level, log_format)) {
    std::cerr << "unknown --log-level '" << log_level << "'\n";
    return 2;
  }
  if (*version_cmd) {
    std::cout << version_text << '\n';
    return 0;
  }
  if (app.get_subcommands().empty()) {
    // Bare `flumen`: the usage, as `flumen --help` prints it.
    std::cout << app.help();
    return 0;
  }
  if (*validate_cmd) return cmd_validate(validate_file, validate_agent);
  if (*graph_cmd) return cmd_graph(graph_file, graph_format);
  if (*broker_cmd) return cmd_broker(brokers, topics);
  if (*node_cmd) return cmd_node(node);
  if (*top_cmd) {
    auto hp = split_host_port(top_addr, "address");
    if (!hp) return 2;
    top.host = hp->first;
    top.port = hp->second;
    return cmd_top(top);
  }
  if (*tap_cmd) {
    auto hp = split_host_port(tap_addr, "address");
    if (!hp) return 2;
    tap.host = hp->first;
    tap.port = hp->second;
    return cmd_tap(tap);
  }
  if (*inspect_cmd)
    return filelog::inspect_directory(channel_dir, std::cout, std::cerr);
  if (*verify_cmd)
    return filelog::verify_directory(channel_dir, channel_repair, std::cout,
                                     std::cerr);
  return cmd_run(run);
}
