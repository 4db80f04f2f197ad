// `flumen run FILE [--agent NAME]`: runs one agent of a topology until a
// stop signal, a failure under `on_component_failure: exit`, or the end of
// its input (--exit-on-eof); reloads on SIGHUP and --watch.

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "app/cli.hpp"
#include "app/run_loop.hpp"
#include "runtime/agent/agent.hpp"
#include "runtime/http/http_endpoint.hpp"

namespace flumen::app {
namespace {

/// The running topology and what follows it on a reload.
struct run_session {
  const run_options& opt;
  std::optional<http_spec> http_flag; ///< --http, over the file's `http:`
  std::optional<topology> topo;
  const agent_spec* spec = nullptr;
  std::string loaded_text; ///< what --watch compares the file with
  std::string watch_error; ///< why --watch could not read the file last
  metrics_registry& metrics;
  std::unique_ptr<http_endpoint> http;

  // Metrics and health over HTTP: --http, else the file's `http:`. False
  // when it cannot listen.
  bool start_http() {
    auto h = http_flag ? http_flag : spec->http;
    if (!h) return true;
    http = std::make_unique<http_endpoint>(spec->name, metrics);
    try {
      auto port = http->start(h->bind, h->port);
      spdlog::info("agent {}: HTTP on {}:{} (/metrics, /metrics.json, "
                   "/health, /ready)",
                   spec->name, h->bind, port);
    } catch (const std::exception& e) {
      spdlog::error("agent {}: {}", spec->name, e.what());
      return false;
    }
    return true;
  }

  // A file that can't be read (gone, a FIFO, too large) is reported once
  // per reason, by the reload that refuses it.
  bool file_changed() {
    auto now = read_topology_file(opt.file);
    bool changed =
        now.error.empty() ? now.text != loaded_text : now.error != watch_error;
    watch_error = now.error;
    return changed;
  }

  // The file is loaded and validated first; with errors the running
  // topology stays and the errors are logged. Only what changed restarts
  // (agent::reload).
  void reload(agent& a) {
    loaded_text = read_topology_file(opt.file).text;
    auto result = load_topology(opt.file, builtin_registry(),
                                probe_scope{false, spec->name});
    for (auto& err : result.errors)
      spdlog::error("{}", err.to_string());
    if (result.errors.empty())
      for (auto& w : result.warnings)
        spdlog::warn("{}", w.to_string());
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
  }
};

int cmd_run(const run_options& opt) {
  metrics_registry metrics;
  run_session s{opt, {}, {}, nullptr, {}, {}, metrics, {}};
  if (!opt.http.empty()) {
    auto hp = split_host_port(opt.http, "--http");
    if (!hp) return 2;
    s.http_flag.emplace();
    s.http_flag->bind = hp->first;
    s.http_flag->port = hp->second;
  }
  // What --watch compares the file with (read as the loader reads it: a
  // FIFO or a huge file is refused, never waited on). Only the agent that
  // runs here has its addresses tried; a file of one agent runs that one.
  s.loaded_text = read_topology_file(opt.file).text;
  s.topo = load_or_report(opt.file, opt.agent.empty()
                                        ? probe_scope{}
                                        : probe_scope{false, opt.agent});
  if (!s.topo) return 1;
  if (opt.agent.empty()) {
    if (s.topo->agents.size() != 1) {
      std::cerr << opt.file << " defines " << s.topo->agents.size()
                << " agents; choose one with --agent NAME\n";
      return 2;
    }
    s.spec = &s.topo->agents.front();
  } else if (auto err = missing_agent(*s.topo, opt.agent)) {
    std::cerr << err->to_string() << '\n';
    return 2;
  } else {
    s.spec = s.topo->find(opt.agent);
  }
  auto signals = block_stop_signals();
  caf::actor_system_config cfg;
  try {
    configure_actor_system(cfg, s.spec->tls());
  } catch (const std::exception& e) {
    // CAF's OpenSSL module for TLS links cannot be loaded (validate says
    // so too, at the file's TLS component or node).
    std::cerr << "agent " << s.spec->name << ": " << e.what() << '\n';
    return 1;
  }
  caf::actor_system sys{cfg};
  int code = 0;
  {
    agent a{sys, *s.spec, metrics};
    spdlog::info("agent {}: starting ({} sources, {} channels, {} sinks)",
                 s.spec->name, s.spec->sources.size(), s.spec->channels.size(),
                 s.spec->sinks.size());
    try {
      a.start();
    } catch (const std::exception& e) {
      // E.g. a file channel's directory held by another agent.
      spdlog::error("agent {}: cannot start: {}", s.spec->name, e.what());
      return 2;
    }
    if (!s.start_http()) return 2;
    // A copy: a reload replaces the topology s.spec points into, and the
    // loop's reference to the old name dangled (a garbled "agent @" in the
    // log after a reload, then an abort at the next refused one).
    const std::string name = s.spec->name;
    auto end =
        run_loop(opt, signals, a, name,
                 {[&] { s.reload(a); }, [&] { return s.file_changed(); }});
    if (end == run_end::component_failed) code = 4;
    // After --exit-on-eof, file channels are drained too, as a one-shot run
    // means "deliver this"; after a signal they keep what they hold for the
    // next start.
    stop_bound bound{signals, opt.shutdown_timeout, name};
    a.stop(opt.shutdown_timeout, end == run_end::input_done);
    code = final_line(a, name, code);
    bound.summarized(code);
    s.http.reset(); // before the agent ends, as it began after it
  }
  release_clock(sys);
  return code;
}

} // namespace

command add_run(CLI::App& app) {
  auto opt = std::make_shared<run_options>();
  auto* sub = app.add_subcommand("run", "Run one agent of a topology");
  sub->add_option("file", opt->file, "Topology file (YAML)")->required();
  sub->add_option("--agent", opt->agent,
                  "Agent to run (needed when the file has several)");
  sub->add_option("--http", opt->http,
                  "Serve /metrics, /metrics.json, /health, /ready on "
                  "HOST:PORT (overrides the file's http:)");
  sub->add_flag("--watch", opt->watch,
                "Reload when the file changes (as on SIGHUP)");
  sub->add_flag("--exit-on-eof", opt->exit_on_eof,
                "Stop once every source reached the end of its input");
  sub->add_option_function<std::string>(
         "--shutdown-timeout", duration_flag(opt->shutdown_timeout),
         "Time to stop: drain channels, settle sinks (e.g. 30s, 500ms; a "
         "bare number is seconds) [30s]")
      ->type_name("DURATION");
  sub->add_option_function<std::string>(
         "--stats-interval", duration_flag(opt->stats_interval),
         "Time between counter log lines (0: only at exit) [0]")
      ->type_name("DURATION");
  return {sub, [opt] { return cmd_run(*opt); }};
}

} // namespace flumen::app
