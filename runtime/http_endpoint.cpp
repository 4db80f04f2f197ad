#include "runtime/http_endpoint.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace flumen {

namespace {

/// The agent's components: (component name, metrics), in registry order.
std::vector<std::pair<std::string, std::shared_ptr<component_metrics>>>
components_of(const std::string& agent, const metrics_registry& metrics) {
  std::vector<std::pair<std::string, std::shared_ptr<component_metrics>>> out;
  auto prefix = agent + ".";
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

struct family {
  const char* name;
  const char* type; // counter or gauge
  const char* help;
  std::atomic<uint64_t> component_metrics::*field;
};

const family families[] = {
    {"flumen_events_received_total", "counter",
     "Events a source read from outside.", &component_metrics::events_received},
    {"flumen_events_accepted_total", "counter",
     "Events a source's channels accepted.",
     &component_metrics::events_accepted},
    {"flumen_events_put_total", "counter", "Events put into a channel.",
     &component_metrics::events_put},
    {"flumen_events_taken_total", "counter",
     "Events taken from a channel, or by a sink.",
     &component_metrics::events_taken},
    {"flumen_events_committed_total", "counter",
     "Events committed (delivered) out of a channel, or by a sink.",
     &component_metrics::events_committed},
    {"flumen_events_rolled_back_total", "counter",
     "Events rolled back to their channel.",
     &component_metrics::events_rolled_back},
    {"flumen_events_dropped_total", "counter",
     "Events dropped by policy (over-long lines, refused for good).",
     &component_metrics::events_dropped},
    {"flumen_events_truncated_total", "counter",
     "Lines cut to max_line_length.", &component_metrics::events_truncated},
    {"flumen_events_undelivered_total", "counter",
     "Events read and never accepted by a channel.",
     &component_metrics::events_undelivered},
    {"flumen_events_dead_lettered_total", "counter",
     "Events put to a dead-letter channel.",
     &component_metrics::events_dead_lettered},
    {"flumen_batches_total", "counter", "Batches handled.",
     &component_metrics::batches},
    {"flumen_batches_empty_total", "counter",
     "Takes that found the channel empty.", &component_metrics::batches_empty},
    {"flumen_connection_failures_total", "counter",
     "Connection errors (accepts, clients, brokers, peers).",
     &component_metrics::connection_failures},
    {"flumen_restarts_total", "counter", "Restarts by the supervisor.",
     &component_metrics::restarts},
    {"flumen_corrupt_records_total", "counter",
     "File channel records skipped for damage.",
     &component_metrics::corrupt_records},
    {"flumen_damaged_bytes_total", "counter",
     "File channel bytes of log given up.", &component_metrics::damaged_bytes},
    {"flumen_write_errors_total", "counter",
     "File channel appends or syncs that failed.",
     &component_metrics::write_errors},
    {"flumen_hop_duplicates_total", "counter",
     "Hop batches resent after a lost answer, not put twice.",
     &component_metrics::duplicates},
    {"flumen_hop_batches_refused_total", "counter",
     "Hop batches refused (malformed, too large).",
     &component_metrics::batches_refused},
    {"flumen_hop_batches_busy_total", "counter",
     "Hop answers of busy (a full channel).", &component_metrics::batches_busy},
    {"flumen_hop_batches_resent_total", "counter", "Hop batches sent again.",
     &component_metrics::batches_resent},
    {"flumen_channel_size", "gauge",
     "Events a channel holds (queued and taken, uncommitted).",
     &component_metrics::channel_size},
    {"flumen_channel_capacity", "gauge", "A channel's capacity in events.",
     &component_metrics::channel_capacity},
    {"flumen_channel_bytes", "gauge", "Bytes a channel holds.",
     &component_metrics::channel_bytes},
    {"flumen_open_transactions", "gauge", "Transactions open in a channel.",
     &component_metrics::open_transactions},
    {"flumen_connections_open", "gauge", "Connections open (clients, senders).",
     &component_metrics::connections_open},
};

const component_state all_states[] = {
    component_state::starting,    component_state::running,
    component_state::connecting,  component_state::degraded,
    component_state::backing_off, component_state::failed,
    component_state::stopped};

std::string fmt_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
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

std::string prometheus_text(const std::string& agent,
                            const metrics_registry& metrics,
                            const process_stats& proc) {
  auto comps = components_of(agent, metrics);
  std::ostringstream out;
  auto labels = [&](const std::string& component, const component_metrics& m) {
    return "agent=\"" + label_value(agent) + "\",component=\"" +
           label_value(component) + "\",kind=\"" + label_value(m.kind) +
           "\",type=\"" + label_value(m.type) + "\"";
  };
  for (auto& f : families) {
    out << "# HELP " << f.name << ' ' << f.help << '\n';
    out << "# TYPE " << f.name << ' ' << f.type << '\n';
    for (auto& [component, m] : comps)
      out << f.name << '{' << labels(component, *m) << "} "
          << (m.get()->*f.field).load(std::memory_order_relaxed) << '\n';
  }
  out << "# HELP flumen_component_state The component's state (1 for the "
         "current one).\n# TYPE flumen_component_state gauge\n";
  for (auto& [component, m] : comps) {
    auto now = m->current_state();
    for (auto s : all_states)
      out << "flumen_component_state{" << labels(component, *m) << ",state=\""
          << to_string(s) << "\"} " << (s == now ? 1 : 0) << '\n';
  }
  auto a = "{agent=\"" + label_value(agent) + "\"}";
  out << "# HELP flumen_process_resident_memory_bytes Resident memory.\n"
         "# TYPE flumen_process_resident_memory_bytes gauge\n"
         "flumen_process_resident_memory_bytes"
      << a << ' ' << proc.rss_bytes << '\n';
  out << "# HELP flumen_process_open_fds Open file descriptors.\n"
         "# TYPE flumen_process_open_fds gauge\n"
         "flumen_process_open_fds"
      << a << ' ' << proc.open_fds << '\n';
  out << "# HELP flumen_process_uptime_seconds Seconds since the agent "
         "started.\n# TYPE flumen_process_uptime_seconds gauge\n"
         "flumen_process_uptime_seconds"
      << a << ' ' << fmt_double(proc.uptime_seconds) << '\n';
  return out.str();
}

std::string flume_json(const std::string& agent,
                       const metrics_registry& metrics) {
  nlohmann::json out = nlohmann::json::object();
  auto str = [](uint64_t v) { return std::to_string(v); };
  for (auto& [component, m] : components_of(agent, metrics)) {
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
    } else {
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

health_report states(const std::string& agent, const metrics_registry& metrics,
                     bool (*bad)(component_state), const char* bad_word) {
  nlohmann::json comps = nlohmann::json::object();
  std::vector<std::string> bad_ones;
  for (auto& [component, m] : components_of(agent, metrics)) {
    nlohmann::json c;
    auto s = m->current_state();
    c["kind"] = m->kind;
    c["state"] = to_string(s);
    if (auto why = m->reason(); !why.empty()) c["reason"] = why;
    if (bad(s)) bad_ones.push_back(m->kind + " " + component);
    comps[component] = c;
  }
  nlohmann::json body;
  body["agent"] = agent;
  body["status"] = bad_ones.empty() ? "ok" : bad_word;
  if (!bad_ones.empty()) body["not_ok"] = bad_ones;
  body["components"] = comps;
  return {bad_ones.empty() ? 200 : 503, body.dump()};
}

} // namespace

health_report health(const std::string& agent,
                     const metrics_registry& metrics) {
  return states(
      agent, metrics,
      [](component_state s) {
        return s == component_state::failed || s == component_state::degraded;
      },
      "unhealthy");
}

health_report readiness(const std::string& agent,
                        const metrics_registry& metrics) {
  return states(
      agent, metrics,
      [](component_state s) { return s == component_state::starting; },
      "starting");
}

struct http_endpoint::impl {
  std::string agent;
  const metrics_registry& metrics;
  httplib::Server server;
  std::thread thread;
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();

  impl(std::string a, const metrics_registry& m)
      : agent(std::move(a)), metrics(m) {}
};

http_endpoint::http_endpoint(std::string agent, const metrics_registry& metrics)
    : impl_(std::make_unique<impl>(std::move(agent), metrics)) {}

http_endpoint::~http_endpoint() {
  stop();
}

uint16_t http_endpoint::start(const std::string& host, uint16_t port) {
  auto& s = impl_->server;
  auto* self = impl_.get();
  // Two threads of its own: a scrape is cheap, and a flood of clients
  // queues instead of costing threads (or memory beyond the queue).
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_keep_alive_max_count(100);
  s.set_payload_max_length(1024);
  s.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    auto up = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                            self->started)
                  .count();
    res.set_content(
        prometheus_text(self->agent, self->metrics, current_process_stats(up)),
        "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/metrics.json", [self](const httplib::Request&,
                                httplib::Response& res) {
    res.set_content(flume_json(self->agent, self->metrics), "application/json");
  });
  s.Get("/health", [self](const httplib::Request&, httplib::Response& res) {
    auto h = health(self->agent, self->metrics);
    res.status = h.status;
    res.set_content(h.body, "application/json");
  });
  s.Get("/ready", [self](const httplib::Request&, httplib::Response& res) {
    auto h = readiness(self->agent, self->metrics);
    res.status = h.status;
    res.set_content(h.body, "application/json");
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404)
      res.set_content("no such path: " + req.path +
                          " (try /metrics, /metrics.json, /health, /ready)\n",
                      "text/plain");
  });
  int bound = port == 0 ? s.bind_to_any_port(host)
                        : (s.bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    throw std::runtime_error("cannot listen on " + host + ":" +
                             std::to_string(port) + " for HTTP");
  impl_->thread = std::thread{[&s] { s.listen_after_bind(); }};
  return static_cast<uint16_t>(bound);
}

void http_endpoint::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

} // namespace flumen
