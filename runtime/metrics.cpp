#include "runtime/metrics.hpp"

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
