#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "runtime/metrics.hpp"
#include "runtime/topology.hpp"

namespace flumen {

/// What an agent did not deliver, by cause (its final summary line).
struct loss_report {
  uint64_t dropped = 0;       ///< by policy: over-long lines, refused events
  uint64_t dead_lettered = 0; ///< sent to a dead-letter channel
  uint64_t truncated = 0;     ///< delivered, but cut to max_line_length
  uint64_t undelivered = 0;   ///< read by a source, never accepted
  uint64_t in_channels = 0;   ///< still in memory channels: lost at exit
  /// Still in durable (file) channels: not lost, delivered after the next
  /// start. Not a loss, so not part of clean().
  uint64_t kept = 0;

  bool clean() const {
    return dropped + dead_lettered + truncated + undelivered + in_channels == 0;
  }
};

/// One running agent: its channels, one router per source, and a
/// supervisor that starts (and restarts) its sources and sinks.
class agent {
public:
  agent(caf::actor_system& sys, const agent_spec& spec,
        metrics_registry& metrics);
  /// Kills whatever still runs (call `stop` first for a graceful end).
  ~agent();

  agent(const agent&) = delete;
  agent& operator=(const agent&) = delete;

  /// Spawns every component.
  void start();

  /// True when every source reached the end of its input (stdin closed,
  /// seq count made, exec command exited without restart).
  bool sources_done() const;

  /// Components past their restart limit (state `failed`).
  std::vector<std::string> failed_components() const;

  /// The agent's supervision settings.
  const supervision_settings& supervision() const { return spec_.supervision; }

  /// Graceful stop within `timeout` (the whole of it): sources stop and
  /// hand over what they read; then, upstream first, each memory channel
  /// drains into its sinks and its sinks settle and stop (a durable channel
  /// is drained only with `drain_durable`; otherwise it keeps its events
  /// for the next start). Returns the
  /// number of events still in memory channels afterwards (undelivered).
  uint64_t stop(std::chrono::milliseconds timeout, bool drain_durable = false);

  /// Counts of everything not delivered as read, for the final line.
  loss_report losses() const;

  /// The current instance of a source or sink (`sources.r1`, `sinks.k1`),
  /// or a channel (`channels.c1`); null when unknown or restarting.
  caf::actor component(const std::string& kind_and_name) const;

  /// One line per component with its state and counters.
  std::vector<std::string> summary() const;

  const std::string& name() const { return spec_.name; }

private:
  /// Channels, upstream first (a dead-letter channel after its writers).
  std::vector<std::string> stop_order() const;
  std::string metric_name(const std::string& kind,
                          const std::string& name) const;

  caf::actor_system& sys_;
  agent_spec spec_;
  metrics_registry& metrics_;
  std::map<std::string, caf::actor> channels_;
  std::vector<caf::actor> routers_;
  caf::actor supervisor_;
};

/// How fast a link between processes gives up on a silent peer.
struct link_timing {
  /// Every link sends a heartbeat this often...
  std::chrono::milliseconds heartbeat{1000};
  /// ...and one that heard nothing for this long is closed: its peer is
  /// down for every monitor. Must exceed the time to send the largest batch.
  std::chrono::milliseconds timeout{5000};
};

/// The actor system settings flumen uses (protocol types, middleman,
/// heartbeats, TLS identity, scheduler threads). One process has one TLS
/// identity: `tls` is every TLS endpoint's.
void configure_actor_system(caf::actor_system_config& cfg,
                            const link_security& tls = {},
                            const link_timing& timing = {});

} // namespace flumen
