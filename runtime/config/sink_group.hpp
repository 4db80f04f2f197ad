#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"

namespace flumen {

/// An agent's `sink_groups:` entry (Flume's sink processors): sinks that
/// take from one channel in turn (load_balance) or one at a time by
/// priority (failover). Runs in runtime/flow/sink_gate.
struct sink_group_spec {
  enum class kind { failover, load_balance };
  std::string name;
  std::string path; ///< `agents.a1.sink_groups.g1`
  location where;
  kind type = kind::failover;
  /// Its sinks, in file order.
  std::vector<std::string> sinks;
  /// Failover: each sink's priority, in step with `sinks` (higher first);
  /// an unstated one is below every stated one, in file order (Flume's).
  std::vector<long> priority;
  /// Failover: the longest a failed sink is passed over (its penalty
  /// doubles from 1 s with each failure in a row).
  std::chrono::milliseconds max_penalty{30000};
  /// Load balance: `round_robin` (false) or `random` (true).
  bool random = false;
  /// Load balance: a failing sink is passed over for a time doubling from
  /// 1 s up to `max_backoff` (Flume's default: no backoff).
  bool backoff = false;
  std::chrono::milliseconds max_backoff{30000};
  /// The entry as YAML: a sink of a group that changes in a reload
  /// restarts with it.
  std::string config;

  /// The same entry (its YAML; where it is written aside).
  bool operator==(const sink_group_spec& o) const {
    return name == o.name && config == o.config;
  }
};

} // namespace flumen
