#include "runtime/core/metrics.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <stdexcept>

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
  field("connection_failures", connection_failures);
  field("restarts", restarts);
  {
    std::lock_guard guard{own_mtx_};
    for (auto& o : own_)
      field(o.name.c_str(), o.value);
  }
  if (auto why = reason(); !why.empty()) out << " reason=\"" << why << '"';
  return out.str();
}

namespace {

// One table of every built-in family: the summary, /metrics, /stats.json,
// `top` and a node's reports all read it. A new counter of one component
// type is its own family (component_metrics::own), not a row here.
const metric_family families[] = {
    {"events_received", "Events a source read from outside.", false,
     &component_metrics::events_received},
    {"events_accepted", "Events a source's channels accepted.", false,
     &component_metrics::events_accepted},
    {"events_filtered",
     "Events a source's interceptors removed (a filter): neither delivered "
     "nor lost.",
     false, &component_metrics::events_filtered},
    {"events_put", "Events put into a channel.", false,
     &component_metrics::events_put},
    {"events_taken", "Events taken from a channel, or by a sink.", false,
     &component_metrics::events_taken},
    {"events_committed",
     "Events committed (delivered) out of a channel, or by a sink.", false,
     &component_metrics::events_committed},
    {"events_rolled_back", "Events rolled back to their channel.", false,
     &component_metrics::events_rolled_back},
    {"events_dropped",
     "Events dropped by policy (over-long lines, refused for good).", false,
     &component_metrics::events_dropped},
    {"events_truncated", "Lines cut to max_line_length.", false,
     &component_metrics::events_truncated},
    {"events_undelivered", "Events read and never accepted by a channel.",
     false, &component_metrics::events_undelivered},
    {"events_dead_lettered", "Events put to a dead-letter channel.", false,
     &component_metrics::events_dead_lettered},
    {"batches", "Batches handled.", false, &component_metrics::batches},
    {"batches_empty", "Takes that found the channel empty.", false,
     &component_metrics::batches_empty},
    {"connection_failures",
     "Connection errors (accepts, clients, brokers, peers).", false,
     &component_metrics::connection_failures},
    {"restarts", "Restarts by the supervisor.", false,
     &component_metrics::restarts},
    {"channel_size", "Events a channel holds (queued and taken, uncommitted).",
     true, &component_metrics::channel_size},
    {"channel_capacity", "A channel's capacity in events.", true,
     &component_metrics::channel_capacity},
    {"channel_bytes", "Bytes a channel holds.", true,
     &component_metrics::channel_bytes},
    {"open_transactions", "Transactions open in a channel.", true,
     &component_metrics::open_transactions},
    {"connections_open", "Connections open (clients, senders).", true,
     &component_metrics::connections_open},
};
static_assert(std::size(families) <= 64, "one bit each in exposed_mask_");

std::size_t index_of(std::string_view name) {
  for (std::size_t i = 0; i < std::size(families); ++i)
    if (families[i].name == name) return i;
  return std::size(families);
}

uint64_t mask_of(std::string_view kind) {
  auto names = kind_families(kind);
  if (names.empty()) return ~uint64_t{0};
  uint64_t m = 0;
  for (auto n : names)
    m |= uint64_t{1} << index_of(n);
  return m;
}

constexpr std::size_t max_reason_bytes = 1024;
/// Own families a stand-in takes from its replica's reports, at most.
constexpr std::size_t max_own_families = 64;

/// A name /metrics can carry: [a-z][a-z0-9_]*, at most 64 bytes.
bool family_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n[0] < 'a' || n[0] > 'z') return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

} // namespace

std::span<const metric_family> builtin_families() {
  return families;
}

std::string prometheus_name(std::string_view name, bool gauge) {
  return "flumen_" + std::string{name} + (gauge ? "" : "_total");
}

std::vector<std::string_view> kind_families(std::string_view kind) {
  if (kind == "source")
    return {"events_received", "events_accepted",  "events_filtered",
            "events_dropped",  "events_truncated", "events_undelivered",
            "batches",         "restarts"};
  if (kind == "channel")
    return {"events_put",         "events_taken",
            "events_committed",   "events_rolled_back",
            "events_undelivered", "channel_size",
            "channel_capacity",   "channel_bytes",
            "open_transactions",  "restarts"};
  if (kind == "sink")
    return {"events_taken",   "events_committed",     "events_rolled_back",
            "events_dropped", "events_dead_lettered", "batches",
            "batches_empty",  "connection_failures",  "restarts"};
  if (kind == "listener") // a node's listener gate
    return {"connections_open", "connection_failures"};
  return {};
}

void component_metrics::expose(std::string_view name) {
  auto i = index_of(name);
  if (i == std::size(families))
    throw std::logic_error("no metric family named " + std::string{name});
  exposed_mask_.fetch_or(uint64_t{1} << i, std::memory_order_relaxed);
}

bool component_metrics::exposes(const metric_family& f) const {
  auto bit = uint64_t{1} << static_cast<std::size_t>(&f - families);
  return ((mask_of(kind) | exposed_mask_.load(std::memory_order_relaxed)) &
          bit) != 0;
}

std::atomic<uint64_t>& component_metrics::own(const std::string& name,
                                              const std::string& help,
                                              bool gauge) {
  std::lock_guard guard{own_mtx_};
  for (auto& o : own_)
    if (o.name == name) return o.value;
  auto& o = own_.emplace_back();
  o.name = name;
  o.help = help;
  o.gauge = gauge;
  return o.value;
}

std::vector<metric_sample> component_metrics::exposed() const {
  std::vector<metric_sample> out;
  auto mask = mask_of(kind) | exposed_mask_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < std::size(families); ++i)
    if (mask & (uint64_t{1} << i))
      out.push_back(
          {families[i].name, families[i].help, families[i].gauge,
           (this->*families[i].field).load(std::memory_order_relaxed)});
  std::lock_guard guard{own_mtx_};
  for (auto& o : own_)
    out.push_back(
        {o.name, o.help, o.gauge, o.value.load(std::memory_order_relaxed)});
  return out;
}

uint64_t component_metrics::value(std::string_view name) const {
  for (auto& x : exposed())
    if (x.name == name) return x.value;
  return 0;
}

counter_snapshot snapshot(const component_metrics& m) {
  counter_snapshot out;
  for (auto& x : m.exposed())
    out.counters.emplace(x.name, x.value);
  {
    std::lock_guard guard{m.own_mtx_};
    for (auto& o : m.own_) {
      out.own_help.emplace(o.name, o.help);
      if (o.gauge) out.own_gauges.push_back(o.name);
    }
  }
  // The state after the counters: a sink marks itself running before it
  // counts what it committed (release), so a snapshot showing the events
  // committed shows the state that went with them.
  std::atomic_thread_fence(std::memory_order_acquire);
  out.state = static_cast<int32_t>(m.current_state());
  out.reason = m.reason();
  // Whether a sink reached its destination once (/ready waits for it).
  out.counters.emplace("reach", static_cast<uint64_t>(m.reach.load()));
  return out;
}

void fold_replica(component_metrics& m, const counter_snapshot& base,
                  const counter_snapshot& replica) {
  // The state first, as the replica's sink set it (before its counters).
  if (auto s = replica.state;
      s >= static_cast<int32_t>(component_state::starting) &&
      s <= static_cast<int32_t>(component_state::stopped))
    m.set_state(static_cast<component_state>(s),
                replica.reason.substr(0, max_reason_bytes));
  auto fold = [&](std::atomic<uint64_t>& target, const std::string& name,
                  uint64_t value, bool gauge) {
    if (gauge) {
      target.store(value, std::memory_order_relaxed);
      return;
    }
    auto b = base.counters.find(name);
    auto from = b == base.counters.end() ? uint64_t{0} : b->second;
    // Saturating: a hostile or broken peer must not wrap a counter.
    auto want = value > UINT64_MAX - from ? UINT64_MAX : from + value;
    auto now = target.load(std::memory_order_relaxed);
    while (now < want &&
           !target.compare_exchange_weak(now, want, std::memory_order_relaxed))
      ;
  };
  for (auto& f : families) {
    // `restarts` is the stand-in's supervisor's.
    if (f.field == &component_metrics::restarts) continue;
    auto i = replica.counters.find(f.name);
    if (i == replica.counters.end()) continue;
    // What the replica has, its stand-in shows.
    if (!m.exposes(f)) m.expose(f.name);
    fold(m.*f.field, i->first, i->second, f.gauge);
  }
  // The replica's own families (a hop sink's resends), as it declared
  // them; a peer can add at most max_own_families names.
  for (auto& kv : replica.own_help) {
    // (Not a structured binding: clang 14 cannot capture one.)
    const auto& name = kv.first;
    const auto& help = kv.second;
    auto i = replica.counters.find(name);
    if (i == replica.counters.end() || index_of(name) != std::size(families) ||
        name == "reach" || !family_name(name))
      continue;
    bool known;
    {
      std::lock_guard guard{m.own_mtx_};
      known = std::any_of(m.own_.begin(), m.own_.end(),
                          [&](auto& o) { return o.name == name; });
      if (!known && m.own_.size() >= max_own_families) continue;
    }
    bool gauge = std::find(replica.own_gauges.begin(), replica.own_gauges.end(),
                           name) != replica.own_gauges.end();
    auto text = help.substr(0, max_reason_bytes);
    std::replace_if(
        text.begin(), text.end(),
        [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
    fold(m.own(name, text, gauge), name, i->second, gauge);
  }
  if (auto r = replica.counters.find("reach"); r != replica.counters.end()) {
    // Once reached, for good (as for a sink in the agent's process): a
    // replica that moves and has not connected yet does not undo it.
    if (r->second == 1)
      m.awaits_connection();
    else if (r->second == 2)
      m.connected();
  }
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
