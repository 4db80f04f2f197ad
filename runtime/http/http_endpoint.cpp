#include "runtime/http/http_endpoint.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace flumen {

namespace {

/// The scope's components: (component name, metrics), in registry order.
std::vector<std::pair<std::string, std::shared_ptr<component_metrics>>>
components_of(const endpoint_scope& scope, const metrics_registry& metrics) {
  std::vector<std::pair<std::string, std::shared_ptr<component_metrics>>> out;
  if (scope.whole_registry) {
    for (auto& m : metrics.all())
      out.emplace_back(m->name, m);
    return out;
  }
  auto prefix = scope.name + ".";
  for (auto& m : metrics.all()) {
    if (!m->name.starts_with(prefix)) continue;
    auto rest = m->name.substr(prefix.size()); // "sinks.k1#2"
    auto dot = rest.find('.');
    out.emplace_back(dot == std::string::npos ? rest : rest.substr(dot + 1), m);
  }
  return out;
}

/// A label value as the text format wants it: \ " and newline escaped.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

const component_state all_states[] = {
    component_state::starting,    component_state::running,
    component_state::connecting,  component_state::degraded,
    component_state::backing_off, component_state::failed,
    component_state::stopped};

// The process's start, near enough: static initialisation runs first
// thing. A reload replaces the endpoint, not the process's uptime.
const auto process_started = std::chrono::steady_clock::now();

double process_uptime() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       process_started)
      .count();
}

/// The shortest text that reads back as `x` (0.2, not
/// 0.20000000000000001), as Java's Double.toString and Flume print it.
std::string fmt_double(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return ec == std::errc{} ? std::string(buf, end) : std::string{"0"};
}

} // namespace

process_stats current_process_stats(double uptime_seconds) {
  process_stats p;
  p.uptime_seconds = uptime_seconds;
  std::ifstream statm{"/proc/self/statm"};
  uint64_t size = 0;
  uint64_t resident = 0;
  if (statm >> size >> resident)
    p.rss_bytes = resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (auto* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++p.open_fds;
    ::closedir(d);
    if (p.open_fds > 0) --p.open_fds; // the directory's own descriptor
  }
  return p;
}

std::string prometheus_text(const endpoint_scope& scope,
                            const metrics_registry& metrics,
                            const process_stats& proc) {
  auto comps = components_of(scope, metrics);
  std::ostringstream out;
  auto owner = scope.label + "=\"" + label_value(scope.name) + "\"";
  auto labels = [&](const std::string& component, const component_metrics& m) {
    return owner + ",component=\"" + label_value(component) + "\",kind=\"" +
           label_value(m.kind) + "\",type=\"" + label_value(m.type) + "\"";
  };
  // Each family once, with the components that expose it (a sink has no
  // events_received): built-in ones in their order, then components' own.
  std::vector<std::vector<metric_sample>> samples;
  for (auto& [component, m] : comps)
    samples.push_back(m->exposed());
  std::vector<metric_sample> order;
  std::set<std::string> seen;
  for (auto& f : builtin_families())
    for (auto& xs : samples)
      if (std::any_of(xs.begin(), xs.end(),
                      [&](auto& x) { return x.name == f.name; })) {
        order.push_back({f.name, f.help, f.gauge, 0});
        seen.insert(f.name);
        break;
      }
  for (auto& xs : samples)
    for (auto& x : xs)
      if (seen.insert(x.name).second) order.push_back(x);
  for (auto& f : order) {
    auto name = prometheus_name(f.name, f.gauge);
    out << "# HELP " << name << ' ' << f.help << '\n';
    out << "# TYPE " << name << ' ' << (f.gauge ? "gauge" : "counter") << '\n';
    for (std::size_t i = 0; i < comps.size(); ++i)
      for (auto& x : samples[i])
        if (x.name == f.name)
          out << name << '{' << labels(comps[i].first, *comps[i].second) << "} "
              << x.value << '\n';
  }
  out << "# HELP flumen_component_state The component's state (1 for the "
         "current one).\n# TYPE flumen_component_state gauge\n";
  for (auto& [component, m] : comps) {
    auto now = m->current_state();
    for (auto s : all_states)
      out << "flumen_component_state{" << labels(component, *m) << ",state=\""
          << to_string(s) << "\"} " << (s == now ? 1 : 0) << '\n';
  }
  auto a = "{" + owner + "}";
  out << "# HELP flumen_process_resident_memory_bytes Resident memory.\n"
         "# TYPE flumen_process_resident_memory_bytes gauge\n"
         "flumen_process_resident_memory_bytes"
      << a << ' ' << proc.rss_bytes << '\n';
  out << "# HELP flumen_process_open_fds Open file descriptors.\n"
         "# TYPE flumen_process_open_fds gauge\n"
         "flumen_process_open_fds"
      << a << ' ' << proc.open_fds << '\n';
  out << "# HELP flumen_process_uptime_seconds Seconds since the "
      << scope.label
      << " started.\n# TYPE flumen_process_uptime_seconds gauge\n"
         "flumen_process_uptime_seconds"
      << a << ' ' << fmt_double(proc.uptime_seconds) << '\n';
  return out.str();
}

std::string flume_json(const endpoint_scope& scope,
                       const metrics_registry& metrics) {
  nlohmann::json out = nlohmann::json::object();
  auto str = [](uint64_t v) { return std::to_string(v); };
  for (auto& [component, m] : components_of(scope, metrics)) {
    nlohmann::json c;
    auto load = [](const std::atomic<uint64_t>& v) { return v.load(); };
    if (m->kind == "channel") {
      auto size = load(m->channel_size);
      auto cap = load(m->channel_capacity);
      c["Type"] = "CHANNEL";
      c["ChannelCapacity"] = str(cap);
      c["ChannelSize"] = str(size);
      c["ChannelFillPercentage"] =
          fmt_double(cap == 0 ? 0.0
                              : 100.0 * static_cast<double>(size) /
                                    static_cast<double>(cap));
      c["EventPutAttemptCount"] = str(load(m->events_put));
      c["EventPutSuccessCount"] = str(load(m->events_put));
      c["EventTakeAttemptCount"] = str(load(m->events_taken));
      c["EventTakeSuccessCount"] = str(load(m->events_taken));
      out["CHANNEL." + component] = c;
    } else if (m->kind == "sink") {
      c["Type"] = "SINK";
      c["BatchCompleteCount"] = str(load(m->batches));
      c["BatchEmptyCount"] = str(load(m->batches_empty));
      c["BatchUnderflowCount"] = "0";
      c["ConnectionFailedCount"] = str(load(m->connection_failures));
      c["EventDrainAttemptCount"] = str(load(m->events_taken));
      c["EventDrainSuccessCount"] = str(load(m->events_committed));
      c["RollbackCount"] = str(load(m->events_rolled_back));
      out["SINK." + component] = c;
    } else if (m->kind == "source") {
      c["Type"] = "SOURCE";
      c["EventReceivedCount"] = str(load(m->events_received));
      c["EventAcceptedCount"] = str(load(m->events_accepted));
      c["AppendBatchReceivedCount"] = str(load(m->batches));
      c["AppendBatchAcceptedCount"] = str(load(m->batches));
      c["OpenConnectionCount"] = str(load(m->connections_open));
      out["SOURCE." + component] = c;
    }
  }
  return out.dump();
}

namespace {

health_report states(const endpoint_scope& scope,
                     const metrics_registry& metrics,
                     bool (*bad)(const component_metrics&),
                     const char* bad_word) {
  nlohmann::json comps = nlohmann::json::object();
  std::vector<std::string> bad_ones;
  for (auto& [component, m] : components_of(scope, metrics)) {
    nlohmann::json c;
    auto s = m->current_state();
    c["kind"] = m->kind;
    c["state"] = to_string(s);
    if (auto why = m->reason(); !why.empty()) c["reason"] = why;
    if (bad(*m)) bad_ones.push_back(m->kind + " " + component);
    comps[component] = c;
  }
  nlohmann::json body;
  body[scope.label] = scope.name;
  body["status"] = bad_ones.empty() ? "ok" : bad_word;
  if (!bad_ones.empty()) body["not_ok"] = bad_ones;
  body["components"] = comps;
  return {bad_ones.empty() ? 200 : 503, body.dump()};
}

} // namespace

health_report health(const endpoint_scope& scope,
                     const metrics_registry& metrics) {
  return states(
      scope, metrics,
      [](const component_metrics& m) {
        auto s = m.current_state();
        return s == component_state::failed || s == component_state::degraded;
      },
      "unhealthy");
}

health_report readiness(const endpoint_scope& scope,
                        const metrics_registry& metrics) {
  return states(
      scope, metrics,
      [](const component_metrics& m) {
        // A sink that never reached its destination (a Kafka broker, the
        // next agent) can't deliver yet, whatever its state says.
        return m.current_state() == component_state::starting ||
               m.never_connected();
      },
      "starting");
}

std::string stats_json(const endpoint_scope& scope,
                       const metrics_registry& metrics,
                       const process_stats& proc) {
  nlohmann::json comps = nlohmann::json::array();
  for (auto& [component, m] : components_of(scope, metrics)) {
    nlohmann::json counters = nlohmann::json::object();
    for (auto& x : m->exposed())
      counters[x.name] = x.value;
    comps.push_back({{"name", component},
                     {"kind", m->kind},
                     {"type", m->type},
                     {"state", to_string(m->current_state())},
                     {"reason", m->reason()},
                     {"placement", m->placement()},
                     {"tappers", m->tap.tappers()},
                     {"counters", std::move(counters)}});
  }
  nlohmann::json body = {{scope.label, scope.name},
                         {"uptime_seconds", proc.uptime_seconds},
                         {"rss_bytes", proc.rss_bytes},
                         {"open_fds", proc.open_fds},
                         {"components", std::move(comps)}};
  // Reasons are free text (an exception's, a broker's): never let a
  // stray byte make the body unreadable.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

tap_targets resolve_tap(const std::string& agent,
                        const metrics_registry& metrics,
                        const std::string& name) {
  tap_targets out;
  std::set<std::string> known; // "sources.r1", in registry order's kinds
  std::set<std::string> kinds_matched;
  auto prefix = agent + ".";
  for (auto& m : metrics.all()) {
    if (!m->name.starts_with(prefix)) continue;
    auto rest = m->name.substr(prefix.size()); // "sinks.k1#0"
    auto dot = rest.find('.');
    if (dot == std::string::npos) continue;
    auto kinds = rest.substr(0, dot);
    auto instance = rest.substr(dot + 1); // "k1#0"
    auto base = instance.substr(0, instance.find('#'));
    known.insert(kinds + "." + base);
    if (name == instance || name == base || name == rest ||
        name == kinds + "." + base) {
      out.points.emplace_back(instance, m);
      kinds_matched.insert(kinds + "." + base);
    }
  }
  auto listing = [&](const std::set<std::string>& names) {
    std::string s;
    for (auto& n : names)
      s += (s.empty() ? "" : ", ") + n;
    return s;
  };
  if (out.points.empty()) {
    out.status = 404;
    out.error = "no component '" + name + "' in agent " + agent +
                "; there are: " + (known.empty() ? "none" : listing(known));
  } else if (kinds_matched.size() > 1) {
    out.points.clear();
    out.status = 400;
    out.error = "'" + name + "' is ambiguous in agent " + agent + ": " +
                listing(kinds_matched) + "; name one of them";
  }
  return out;
}

namespace {

// One `flumen tap`: its queue, subscribed to every tap point it taps until
// it ends (the limit reached, the client gone, the endpoint stopped).
class tap_session {
public:
  tap_session(tap_targets t, uint64_t limit, std::atomic<int>& active)
      : queue_(std::make_shared<tap_queue>()), targets_(std::move(t)),
        limit_(limit), active_(active) {
    for (auto& [label, m] : targets_.points)
      m->tap.subscribe(queue_, label);
  }

  ~tap_session() {
    for (auto& [label, m] : targets_.points)
      m->tap.unsubscribe(queue_);
    active_.fetch_sub(1);
  }

  tap_session(const tap_session&) = delete;
  tap_session& operator=(const tap_session&) = delete;

  /// The stream's body: one line per event, `# ...` lines for events the
  /// queue had no room for, and an empty line after 2 s of silence so the
  /// client can tell a quiet component from a dead agent.
  bool next(std::string& out) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::string> lines;
    queue_->pop(lines, static_cast<std::size_t>(limit_ - sent_));
    if (auto missed = queue_->take_missed(); missed > 0)
      out += "# missed " + std::to_string(missed) +
             " events: the tap's queue was full\n";
    for (auto& l : lines) {
      out += l;
      out += '\n';
    }
    sent_ += lines.size();
    if (sent_ >= limit_) return false;
    if (out.empty() && now - last_ > std::chrono::seconds{2}) out += '\n';
    if (!out.empty()) last_ = now;
    return true;
  }

private:
  std::shared_ptr<tap_queue> queue_;
  tap_targets targets_;
  uint64_t limit_;
  uint64_t sent_ = 0;
  std::atomic<int>& active_;
  std::chrono::steady_clock::time_point last_ =
      std::chrono::steady_clock::now();
};

http_response text(int status, std::string body) {
  return http_response{
      status, "text/plain; charset=utf-8", std::move(body) + "\n", {}};
}

http_response json(int status, std::string body) {
  return http_response{status, "application/json", std::move(body), {}};
}

} // namespace

struct http_endpoint::impl {
  endpoint_scope scope;
  const metrics_registry& metrics;
  std::atomic<int> taps{0}; // outlives the server, whose streams count it
  http_server server;

  impl(endpoint_scope s, const metrics_registry& m, http_limits limits)
      : scope(std::move(s)), metrics(m), server(limits) {}

  http_response tap(const http_request& req) {
    auto name = req.path.substr(std::string_view{"/tap/"}.size());
    uint64_t limit = 10;
    if (auto it = req.params.find("limit"); it != req.params.end()) {
      char* end = nullptr;
      limit = std::strtoull(it->second.c_str(), &end, 10);
      if (it->second.empty() || *end != '\0' || limit < 1 || limit > 100000)
        return text(400, "limit must be a number from 1 to 100000");
    }
    if (name.empty())
      return text(400, "name a component: /tap/COMPONENT?limit=N");
    auto targets = resolve_tap(scope.name, metrics, name);
    if (targets.status != 200) return text(targets.status, targets.error);
    if (taps.fetch_add(1) >= max_taps) {
      taps.fetch_sub(1);
      return text(429, "at most " + std::to_string(max_taps) +
                           " taps at once; try again when one ends");
    }
    auto session =
        std::make_shared<tap_session>(std::move(targets), limit, taps);
    http_response res{200, "text/plain; charset=utf-8", {}, {}};
    res.stream = [session](std::string& out) { return session->next(out); };
    return res;
  }
};

http_endpoint::http_endpoint(endpoint_scope scope,
                             const metrics_registry& metrics,
                             http_limits limits)
    : impl_(std::make_unique<impl>(std::move(scope), metrics, limits)) {}

http_endpoint::~http_endpoint() {
  stop();
}

uint16_t http_endpoint::start(const std::string& host, uint16_t port) {
  auto& s = impl_->server;
  auto* self = impl_.get();
  s.route("/metrics", [self](const http_request&) {
    return http_response{
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        prometheus_text(self->scope, self->metrics,
                        current_process_stats(process_uptime())),
        {}};
  });
  s.route("/metrics.json", [self](const http_request&) {
    return json(200, flume_json(self->scope, self->metrics));
  });
  s.route("/health", [self](const http_request&) {
    auto h = health(self->scope, self->metrics);
    return json(h.status, h.body);
  });
  s.route("/ready", [self](const http_request&) {
    auto h = readiness(self->scope, self->metrics);
    return json(h.status, h.body);
  });
  if (self->scope.whole_registry) {
    // A node: its replicas' counters and states; taps and `flumen top`
    // are the agent's.
    s.not_found([](const http_request& req) {
      return text(404, "no such path: " + req.path +
                           " (try /metrics, /metrics.json, /health, /ready)");
    });
    return s.start(host, port);
  }
  s.route("/stats.json", [self](const http_request&) {
    return json(200, stats_json(self->scope, self->metrics,
                                current_process_stats(process_uptime())));
  });
  s.route_prefix("/tap/",
                 [self](const http_request& req) { return self->tap(req); });
  s.not_found([](const http_request& req) {
    return text(404, "no such path: " + req.path +
                         " (try /metrics, /metrics.json, /health, /ready, "
                         "/stats.json, /tap/COMPONENT)");
  });
  return s.start(host, port);
}

void http_endpoint::stop() {
  if (impl_) impl_->server.stop();
}

} // namespace flumen
