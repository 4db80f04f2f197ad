#include "runtime/core/metrics.hpp"

#include <cstdint>
#include <sstream>

namespace flumen {

const char* to_string(component_state s) {
  switch (s) {
  case component_state::starting:
    return "starting";
  case component_state::running:
    return "running";
  case component_state::connecting:
    return "connecting";
  case component_state::degraded:
    return "degraded";
  case component_state::backing_off:
    return "backing_off";
  case component_state::failed:
    return "failed";
  case component_state::stopped:
    return "stopped";
  }
  return "unknown";
}

void component_metrics::set_state(component_state s, std::string why) {
  {
    std::lock_guard guard{reason_mtx_};
    if (!why.empty() || s == component_state::running ||
        s == component_state::stopped)
      reason_ = std::move(why);
  }
  state.store(static_cast<int>(s));
}

std::string component_metrics::reason() const {
  std::lock_guard guard{reason_mtx_};
  return reason_;
}

void component_metrics::set_placement(std::string where) {
  std::lock_guard guard{reason_mtx_};
  placement_ = std::move(where);
}

std::string component_metrics::placement() const {
  std::lock_guard guard{reason_mtx_};
  return placement_;
}

std::string component_metrics::summary() const {
  std::ostringstream out;
  out << name << " state=" << to_string(current_state());
  if (auto where = placement(); !where.empty()) out << " on=\"" << where << '"';
  auto field = [&](const char* key, const std::atomic<uint64_t>& v) {
    if (auto x = v.load(std::memory_order_relaxed); x != 0)
      out << ' ' << key << '=' << x;
  };
  field("received", events_received);
  field("accepted", events_accepted);
  field("filtered", events_filtered);
  field("put", events_put);
  field("taken", events_taken);
  field("committed", events_committed);
  field("rolled_back", events_rolled_back);
  field("dropped", events_dropped);
  field("truncated", events_truncated);
  field("undelivered", events_undelivered);
  field("dead_lettered", events_dead_lettered);
  field("batches", batches);
  if (kind == "channel")
    out << " size=" << channel_size.load() << '/' << channel_capacity.load();
  field("corrupt_records", corrupt_records);
  field("damaged_bytes", damaged_bytes);
  field("damaged_events", damaged_events);
  field("write_errors", write_errors);
  field("duplicates", duplicates);
  field("batches_refused", batches_refused);
  field("batches_busy", batches_busy);
  field("batches_resent", batches_resent);
  field("connection_failures", connection_failures);
  field("restarts", restarts);
  if (auto why = reason(); !why.empty()) out << " reason=\"" << why << '"';
  return out.str();
}

namespace {

struct counter_field {
  const char* name;
  std::atomic<uint64_t> component_metrics::*field;
  bool gauge;
};

// The names are /stats.json's short names (http_endpoint.cpp). `restarts`
// is not here: a stand-in's supervisor counts its restarts.
const counter_field counter_fields[] = {
    {"events_received", &component_metrics::events_received, false},
    {"events_accepted", &component_metrics::events_accepted, false},
    {"events_filtered", &component_metrics::events_filtered, false},
    {"events_put", &component_metrics::events_put, false},
    {"events_taken", &component_metrics::events_taken, false},
    {"events_committed", &component_metrics::events_committed, false},
    {"events_rolled_back", &component_metrics::events_rolled_back, false},
    {"events_dropped", &component_metrics::events_dropped, false},
    {"events_truncated", &component_metrics::events_truncated, false},
    {"events_undelivered", &component_metrics::events_undelivered, false},
    {"events_dead_lettered", &component_metrics::events_dead_lettered, false},
    {"batches", &component_metrics::batches, false},
    {"batches_empty", &component_metrics::batches_empty, false},
    {"connection_failures", &component_metrics::connection_failures, false},
    {"corrupt_records", &component_metrics::corrupt_records, false},
    {"damaged_bytes", &component_metrics::damaged_bytes, false},
    {"damaged_events", &component_metrics::damaged_events, false},
    {"write_errors", &component_metrics::write_errors, false},
    {"hop_duplicates", &component_metrics::duplicates, false},
    {"hop_batches_refused", &component_metrics::batches_refused, false},
    {"hop_batches_busy", &component_metrics::batches_busy, false},
    {"hop_batches_resent", &component_metrics::batches_resent, false},
    {"channel_size", &component_metrics::channel_size, true},
    {"channel_capacity", &component_metrics::channel_capacity, true},
    {"channel_bytes", &component_metrics::channel_bytes, true},
    {"open_transactions", &component_metrics::open_transactions, true},
    {"connections_open", &component_metrics::connections_open, true},
};

constexpr std::size_t max_reason_bytes = 1024;

} // namespace

counter_snapshot snapshot(const component_metrics& m) {
  counter_snapshot out;
  out.state = static_cast<int32_t>(m.current_state());
  out.reason = m.reason();
  for (auto& f : counter_fields)
    out.counters.emplace(f.name, (m.*f.field).load(std::memory_order_relaxed));
  // Whether a sink reached its destination once (/ready waits for it).
  out.counters.emplace("reach", static_cast<uint64_t>(m.reach.load()));
  return out;
}

void fold_replica(component_metrics& m, const counter_snapshot& base,
                  const counter_snapshot& replica) {
  for (auto& f : counter_fields) {
    auto i = replica.counters.find(f.name);
    if (i == replica.counters.end()) continue;
    auto& target = m.*f.field;
    if (f.gauge) {
      target.store(i->second, std::memory_order_relaxed);
      continue;
    }
    auto b = base.counters.find(f.name);
    auto from = b == base.counters.end() ? uint64_t{0} : b->second;
    // Saturating: a hostile or broken peer must not wrap a counter.
    auto want = i->second > UINT64_MAX - from ? UINT64_MAX : from + i->second;
    auto now = target.load(std::memory_order_relaxed);
    while (now < want &&
           !target.compare_exchange_weak(now, want, std::memory_order_relaxed))
      ;
  }
  if (auto r = replica.counters.find("reach"); r != replica.counters.end()) {
    // Once reached, for good (as for a sink in the agent's process): a
    // replica that moves and has not connected yet does not undo it.
    if (r->second == 1)
      m.awaits_connection();
    else if (r->second == 2)
      m.connected();
  }
  auto s = replica.state;
  if (s < static_cast<int32_t>(component_state::starting) ||
      s > static_cast<int32_t>(component_state::stopped))
    return;
  auto why = replica.reason.substr(0, max_reason_bytes);
  m.set_state(static_cast<component_state>(s), std::move(why));
}

std::shared_ptr<component_metrics>
metrics_registry::get(const std::string& name, const std::string& kind,
                      const std::string& type) {
  std::lock_guard guard{mtx_};
  auto& ptr = items_[name];
  if (!ptr) {
    ptr = std::make_shared<component_metrics>();
    ptr->name = name;
    ptr->kind = kind;
    ptr->type = type;
  }
  return ptr;
}

std::shared_ptr<component_metrics>
metrics_registry::replace(const std::string& name, const std::string& kind,
                          const std::string& type) {
  auto ptr = std::make_shared<component_metrics>();
  ptr->name = name;
  ptr->kind = kind;
  ptr->type = type;
  std::lock_guard guard{mtx_};
  items_[name] = ptr;
  return ptr;
}

void metrics_registry::put(std::shared_ptr<component_metrics> m) {
  std::lock_guard guard{mtx_};
  auto name = m->name;
  items_[name] = std::move(m);
}

void metrics_registry::remove(const std::string& name,
                              const std::shared_ptr<component_metrics>& m) {
  std::lock_guard guard{mtx_};
  if (auto i = items_.find(name); i != items_.end() && i->second == m)
    items_.erase(i);
}

std::shared_ptr<component_metrics>
metrics_registry::find(const std::string& name) const {
  std::lock_guard guard{mtx_};
  auto i = items_.find(name);
  return i == items_.end() ? nullptr : i->second;
}

std::vector<std::shared_ptr<component_metrics>> metrics_registry::all() const {
  std::lock_guard guard{mtx_};
  std::vector<std::shared_ptr<component_metrics>> out;
  for (auto& [_, m] : items_)
    out.push_back(m);
  return out;
}

} // namespace flumen
