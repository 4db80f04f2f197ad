#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/tap.hpp"

namespace flumen {

/// Lifecycle of a supervised component.
enum class component_state : int {
  starting,
  running,
  /// A sink that has not reached its destination yet (e.g. no broker).
  connecting,
  /// Running, but its work fails for now and is retried (the reason says
  /// why); nothing is committed meanwhile.
  degraded,
  backing_off,
  failed,
  stopped,
};

const char* to_string(component_state s);

struct component_metrics;
struct counter_snapshot;

/// A metric family: a counter or gauge that components expose under one
/// name: `events_received` in the summary, /stats.json and a node's reports,
/// `flumen_events_received_total` in /metrics. A built-in family reads a
/// field of component_metrics; a component exposes the families of its
/// kind (kind_families) and those it says it has (component_metrics::
/// expose), and may add families of its own (component_metrics::own).
struct metric_family {
  const char* name;
  const char* help;
  bool gauge;
  std::atomic<uint64_t> component_metrics::*field;
};

/// A family a component type declares for itself (component_metrics::
/// own): one constant beside the code that counts it, e.g.
/// `const own_family_spec write_errors{"write_errors", "...", false};`.
struct own_family_spec {
  const char* name;
  const char* help;
  bool gauge = false;
};

/// Every built-in family, in exposition order.
std::span<const metric_family> builtin_families();

/// The Prometheus name of a family: `flumen_` + name, `_total` for a
/// counter.
std::string prometheus_name(std::string_view name, bool gauge);

/// One exposed value of a component, built-in or its own.
struct metric_sample {
  std::string name;
  std::string help;
  bool gauge = false;
  uint64_t value = 0;
};

/// Flume's counters for one component. Written by the component's actor,
/// read from anywhere (relaxed atomics: these are statistics, not sync).
struct component_metrics {
  std::string name; ///< `agent.kind.name`, e.g. `a1.sinks.k1`
  std::string kind; ///< source, channel, sink
  std::string type; ///< registry type, e.g. `kafka`

  std::atomic<uint64_t> events_received{0}; ///< sources: read from outside
  std::atomic<uint64_t> events_accepted{0}; ///< sources: accepted downstream
  /// Sources: removed by their interceptors (a filter), by design: neither
  /// delivered nor lost.
  std::atomic<uint64_t> events_filtered{0};
  std::atomic<uint64_t> events_put{0};       ///< channels: put successfully
  std::atomic<uint64_t> events_taken{0};     ///< channels / sinks: taken
  std::atomic<uint64_t> events_committed{0}; ///< channels / sinks: drained
  std::atomic<uint64_t> events_rolled_back{0};
  std::atomic<uint64_t> events_dropped{0}; ///< e.g. over-long lines
  /// Sources: over-long lines cut to max_line_length (kept, but changed).
  std::atomic<uint64_t> events_truncated{0};
  /// Sources: events read from outside that were never accepted downstream
  /// (the agent stopped or the source failed first).
  std::atomic<uint64_t> events_undelivered{0};
  /// Sinks: events that can never be delivered, sent to a dead-letter channel.
  std::atomic<uint64_t> events_dead_lettered{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> batches_empty{0};
  std::atomic<uint64_t> channel_size{0}; ///< queued + taken, uncommitted
  std::atomic<uint64_t> channel_capacity{0};
  std::atomic<uint64_t> channel_bytes{0};
  std::atomic<uint64_t> open_transactions{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connection_failures{0};
  std::atomic<uint64_t> restarts{0};
  /// Durable channels (file): what they hold outlives the process, so it
  /// is kept at a stop, not lost.
  std::atomic<bool> durable{false};
  /// What a type counts beyond its kind's families (a file channel's
  /// damage, a hop's resends) is its own (own()), declared in its files.
  std::atomic<int> state{static_cast<int>(component_state::starting)};
  /// Sinks that connect to a destination (kafka, hop): 1 from their start
  /// until they reached it the first time, then 2 for good (a restart or a
  /// lost connection does not undo it); 0 for components that connect to
  /// nothing. /ready waits for every 1.
  std::atomic<int> reach{0};
  /// Called by such a sink as it starts (before it can be `running`).
  void awaits_connection() {
    int none = 0;
    reach.compare_exchange_strong(none, 1);
  }
  /// Called when it reached its destination (a broker, the next agent).
  void connected() { reach.store(2); }
  bool never_connected() const { return reach.load() == 1; }
  /// Where `flumen tap` sees the events passing this component (a source's
  /// after its interceptors, a channel's accepted puts, a sink's takes).
  tap_point tap;

  component_state current_state() const {
    return static_cast<component_state>(state.load());
  }
  /// Sets the state; a reason (why degraded, failed, backing off) is kept
  /// until the next change that gives one, and cleared on `running`.
  void set_state(component_state s, std::string reason = {});
  /// Why the component is in its state (empty when running normally).
  std::string reason() const;

  /// Sink replicas: where the instance runs (`node n1 (10.0.0.5:4700)`,
  /// `local`); empty for everything else.
  void set_placement(std::string where);
  std::string placement() const;

  /// `name state=running received=.. put=..` with the non-zero counters.
  std::string summary() const;

  /// Exposes built-in family `name` besides its kind's (a source that has
  /// connections: `connections_open`). Throws std::logic_error for a name
  /// that is no built-in family (a typo is a bug, found by the first test).
  void expose(std::string_view name);
  /// Whether the component exposes built-in family `f`: its kind has it
  /// (kind_families), or it said so; every one for a kind with no list.
  bool exposes(const metric_family& f) const;
  /// A family of the component's own (one no other kind has): created on
  /// first use with its help text, the same counter after. Stable address.
  std::atomic<uint64_t>& own(const std::string& name, const std::string& help,
                             bool gauge = false);
  std::atomic<uint64_t>& own(const own_family_spec& f) {
    return own(f.name, f.help, f.gauge);
  }
  /// Every family the component exposes, with its value: built-in ones in
  /// builtin_families() order, then its own in the order they came.
  std::vector<metric_sample> exposed() const;
  /// The value of exposed family `name`; 0 when it exposes none such.
  uint64_t value(std::string_view name) const;

private:
  friend counter_snapshot snapshot(const component_metrics& m);
  friend void fold_replica(component_metrics& m, const counter_snapshot& base,
                           const counter_snapshot& replica);
  struct own_family {
    std::string name;
    std::string help;
    bool gauge;
    std::atomic<uint64_t> value{0};
  };
  std::atomic<uint64_t> exposed_mask_{0};
  mutable std::mutex own_mtx_;
  std::deque<own_family> own_;
  mutable std::mutex reason_mtx_;
  std::string reason_;
  std::string placement_;
};

/// The built-in families every component of `kind` exposes (source,
/// channel, sink); empty for another kind (which exposes them all).
std::vector<std::string_view> kind_families(std::string_view kind);

/// A component's counters at one moment, to carry them to another process:
/// a sink replica on a node reports its own to its stand-in in the agent
/// (runtime/dist/placement.cpp), which folds them into the agent's metrics.
/// Counters by name (`events_committed`), so either side may know names the
/// other does not; unknown ones are ignored.
struct counter_snapshot {
  int32_t state = 0;  ///< a component_state
  std::string reason; ///< component_metrics::reason()
  std::map<std::string, uint64_t> counters;
  /// The component's own families among `counters`: their help text (the
  /// stand-in creates them as the replica has them), and which are gauges.
  std::map<std::string, std::string> own_help;
  std::vector<std::string> own_gauges;
};

/// CAF's inspection hook (registered in add_message_types).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, counter_snapshot& x) {
  return f(x.state, x.reason, x.counters, x.own_help, x.own_gauges);
}

/// Every counter of `m` (gauges included) and its state and reason.
counter_snapshot snapshot(const component_metrics& m);

/// Adds a replica's totals to the counters of its stand-in: each counter
/// becomes `base` (its value when the stand-in started, which holds what
/// earlier replicas reported) plus the replica's, and never goes down;
/// gauges take the replica's value; state and reason follow it (a reason
/// is cut to 1 KiB), and so does whether it reached its destination once
/// (`reach`, which /ready waits for). What the stand-in's supervisor owns
/// (`restarts`) is left alone.
void fold_replica(component_metrics& m, const counter_snapshot& base,
                  const counter_snapshot& replica);

/// All components' metrics of one process, by name.
class metrics_registry {
public:
  /// Returns the metrics named `name`, creating them on first use.
  std::shared_ptr<component_metrics> get(const std::string& name,
                                         const std::string& kind,
                                         const std::string& type);
  /// A fresh set under `name`: a component a reload replaced counts from
  /// zero, while the old instance keeps the old set until it ends.
  std::shared_ptr<component_metrics> replace(const std::string& name,
                                             const std::string& kind,
                                             const std::string& type);
  /// Registers `m` under its name, in place of what was there.
  void put(std::shared_ptr<component_metrics> m);
  /// Drops `name` if it is still `m` (a component a reload removed).
  void remove(const std::string& name,
              const std::shared_ptr<component_metrics>& m);
  /// Looks a component up; nullptr when unknown.
  std::shared_ptr<component_metrics> find(const std::string& name) const;
  std::vector<std::shared_ptr<component_metrics>> all() const;

private:
  mutable std::mutex mtx_;
  std::map<std::string, std::shared_ptr<component_metrics>> items_;
};

} // namespace flumen
