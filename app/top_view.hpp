#pragma once

// What `flumen top` draws, apart from the terminal: a /stats.json sample
// (and the one before it) in, the table's text out. Pure, so rates, bars
// and reasons are tested without an agent or a terminal.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flumen {

/// One component of a /stats.json sample.
struct top_component {
  std::string name; ///< `r1`, `k1#0`
  std::string kind; ///< source, channel, sink
  std::string type;
  std::string state;
  std::string reason;
  std::string placement;
  std::map<std::string, uint64_t> counters; ///< by /stats.json's short names

  /// The counter, 0 when the sample has none of that name.
  uint64_t counter(const std::string& key) const;
};

/// One /stats.json sample.
struct top_sample {
  std::string agent;
  double uptime_seconds = 0;
  uint64_t rss_bytes = 0;
  std::vector<top_component> components;
};

/// Reads a /stats.json body; nullopt with `error` set when it is not one.
std::optional<top_sample> parse_stats(const std::string& json,
                                      std::string* error = nullptr);

/// The counters a kind's events/s in and out are computed from: a source
/// receives and its channels accept, a channel is put to and commits, a
/// sink takes and commits.
std::pair<const char*, const char*> flow_counters(const std::string& kind);

/// The errors column: connection_failures + events_dropped +
/// hop_batches_refused + write_errors + corrupt_records.
uint64_t error_count(const top_component& c);

/// `[####      ]  41%`: `cells` cells filled in proportion (rounded down,
/// at least one while anything is held), then the percentage.
std::string fill_bar(uint64_t size, uint64_t capacity, std::size_t cells = 10);

/// Events per second, short: `0`, `2.5`, `950`, `12.3k`, `4.1M`.
std::string human_rate(double per_second);

struct top_frame_options {
  std::string address; ///< HOST:PORT, in the header
  /// Non-empty when the last poll failed: since when (e.g. `12:03:04`).
  std::string unreachable_since;
  /// Lines longer than this are cut (0: never).
  std::size_t width = 0;
  /// Keys are read (a terminal): the header says how to quit.
  bool interactive = false;
};

/// The frame: a header (agent, address, uptime, RSS, or since when it is
/// unreachable), column titles, one row per component (sources, then
/// channels, then sinks, each in the sample's order) with events/s in and
/// out computed from `prev` (`-` without one, or for a component that
/// counts from zero again), channel fill, rollbacks, restarts, errors, and
/// the reason of a component that is not running (else where it runs).
/// Every line ends with a newline.
std::string render_top(const top_sample& now, const top_sample* prev,
                       const top_frame_options& opt);

} // namespace flumen
