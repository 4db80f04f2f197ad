#include "actors/sinks/null.hpp"

#include <caf/actor.hpp>

#include "actors/sinks/sync_sink.hpp"

namespace flumen::sinks {

/// The options of the `null` sink (docs/reference/sinks/null.md shows
/// them, generated).
const option_list& null_options() {
  static const option_list table = {
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per take"},
  };
  return table;
}

null_config parse_null(option_reader& r) {
  option_scope scope{r, null_options()};
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
  return spawn_sync_sink(sys, discard, w, cfg.batch_size, {}, false);
}

} // namespace flumen::sinks
