#include "actors/sinks/null.hpp"

#include <caf/actor.hpp>

#include "actors/sinks/sync_sink.hpp"

namespace flumen::sinks {

null_config parse_null(option_reader& r) {
  null_config cfg;
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  return cfg;
}

caf::actor spawn_null(caf::actor_system& sys, const null_config& cfg,
                      const wiring& w) {
  auto discard = [](const batch&) -> std::optional<std::string> { return {}; };
  // Discarding never blocks: no thread of its own needed.
  return spawn_sync_sink(sys, discard, w.channel, cfg.batch_size, w.metrics, {},
                         false);
}

} // namespace flumen::sinks
