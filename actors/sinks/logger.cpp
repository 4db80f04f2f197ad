#include "actors/sinks/logger.hpp"

#include <cstdio>

#include <caf/actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/sinks/sync_sink.hpp"

namespace flumen::sinks {

/// The options of the `logger` sink (docs/reference/sinks/logger.md shows
/// them, generated).
const option_list& logger_options() {
  static const option_list table = {
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per take"},
      {.name = "max_body_bytes",
       .kind = option_kind::size,
       .min = 0,
       .doc = "the body is cut to this many bytes (Flume's default)"},
  };
  return table;
}

logger_config parse_logger(option_reader& r) {
  option_scope scope{r, logger_options()};
  logger_config cfg;
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.max_body_bytes = r.bytes("max_body_bytes", cfg.max_body_bytes);
  return cfg;
}

std::string describe(const event& e, std::size_t max_body_bytes) {
  std::string out = "{";
  bool first = true;
  for (auto& [k, v] : e.headers) {
    if (!first) out += ", ";
    first = false;
    out += k;
    out += '=';
    out += v;
  }
  out += "} ";
  auto n = std::min(e.body.size(), max_body_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(e.body[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (n < e.body.size()) out += "...";
  return out;
}

caf::actor spawn_logger(caf::actor_system& sys, const logger_config& cfg,
                        const wiring& w) {
  auto print = [cfg, name = w.agent + ".sinks." + w.name](
                   const batch& events) -> std::optional<std::string> {
    for (auto& e : events)
      spdlog::info("{}: event {}", name, describe(e, cfg.max_body_bytes));
    return {};
  };
  return spawn_sync_sink(sys, print, w, cfg.batch_size);
}

} // namespace flumen::sinks
