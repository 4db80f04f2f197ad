#pragma once

// The agent's HTTP endpoint (docs/operations.md): Prometheus text at
// /metrics, Flume's JSON at /metrics.json, /health and /ready, /stats.json
// for `flumen top` and /tap/COMPONENT for `flumen tap`; a node's (`flumen
// node --http`, docs/multi-hop.md) serves the first four. Served by
// `http_server` on one thread of its own, never on CAF's scheduler; it
// reads the metrics registry (relaxed atomics) and subscribes to tap points.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/metrics.hpp"
#include "runtime/http/http_server.hpp"

namespace flumen {

/// Whose components an endpoint shows. An agent's (the default, and what a
/// bare name means): the components named `AGENT.kind.NAME`, shown as NAME,
/// labelled `agent="AGENT"`. A node's (`flumen node --http`): every
/// component of the process's registry under its full name (its replicas
/// `AGENT.sinks.NAME#I` and its `NODE.listener`), labelled `node="NODE"`.
struct endpoint_scope {
  endpoint_scope(std::string agent) : name(std::move(agent)) {}
  endpoint_scope(const char* agent) : name(agent) {}
  static endpoint_scope node(std::string name) {
    endpoint_scope s{std::move(name)};
    s.label = "node";
    s.whole_registry = true;
    return s;
  }
  std::string label = "agent"; ///< the label and JSON key naming `name`
  std::string name;
  bool whole_registry = false;
};

/// What the process looks like, for /metrics.
struct process_stats {
  uint64_t rss_bytes = 0;
  uint64_t open_fds = 0;
  double uptime_seconds = 0;
};

/// Reads /proc/self (RSS, open descriptors); `started` is the steady-clock
/// time the process started.
process_stats current_process_stats(double uptime_seconds);

/// Every component of `agent` in Prometheus text format 0.0.4: HELP and
/// TYPE lines, counters ending in `_total`, labels agent, component, kind,
/// type; plus the process's RSS, open descriptors and uptime.
std::string prometheus_text(const endpoint_scope& scope,
                            const metrics_registry& metrics,
                            const process_stats& proc);

/// Flume's JSON monitoring shape: {"CHANNEL.c1": {"ChannelSize": "0", ...},
/// "SINK.k1": {...}, "SOURCE.r1": {...}} with Flume's counter names (values
/// as strings, as Flume writes them). Other kinds (a node's listener) are
/// not shown.
std::string flume_json(const endpoint_scope& scope,
                       const metrics_registry& metrics);

/// /health: 200 when no component is failed or degraded, else 503; the body
/// lists each component's state (and reason).
struct health_report {
  int status = 200;
  std::string body;
};
health_report health(const endpoint_scope& scope,
                     const metrics_registry& metrics);

/// /ready: 200 once every component left `starting` and every sink that
/// connects to a destination (kafka, hop) reached it once; else 503,
/// naming them.
health_report readiness(const endpoint_scope& scope,
                        const metrics_registry& metrics);

/// /stats.json, for `flumen top`: {"agent", "uptime_seconds", "rss_bytes",
/// "open_fds", "components": [{"name", "kind", "type", "state", "reason",
/// "placement", "tappers" (`flumen tap`s now), "counters": {every counter
/// and gauge of /metrics by its short name: "events_received",
/// "channel_size", ...}}]} in registry order.
std::string stats_json(const endpoint_scope& scope,
                       const metrics_registry& metrics,
                       const process_stats& proc);

/// What `/tap/NAME` taps: the components NAME means, with the label their
/// lines get; or, when it means none or several kinds, the status (404,
/// 400) and a message naming the components there are.
struct tap_targets {
  std::vector<std::pair<std::string, std::shared_ptr<component_metrics>>>
      points;
  int status = 200;
  std::string error;
};

/// NAME is `r1` or `sources.r1`; a sink with replicas (`k1`) means all of
/// its instances (`k1#0`, `k1#1`, ...), `k1#1` one of them.
tap_targets resolve_tap(const std::string& agent,
                        const metrics_registry& metrics,
                        const std::string& name);

/// At most this many taps at once (429 beyond).
constexpr int max_taps = 4;

/// The endpoint. `start` binds (throws with the reason when it can't) and
/// serves on its own thread until `stop` or destruction. An agent's serves
/// every path above; a node's /metrics, /metrics.json, /health and /ready.
class http_endpoint {
public:
  http_endpoint(endpoint_scope scope, const metrics_registry& metrics,
                http_limits limits = {});
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  /// Returns the bound port (`port` 0: any free one).
  uint16_t start(const std::string& host, uint16_t port);
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace flumen
