#include "actors/sources/stdin.hpp"

#include <unistd.h>

#include <caf/actor.hpp>

#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

stdin_config parse_stdin(option_reader& r) {
  stdin_config cfg;
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length =
      r.bytes("max_line_length", cfg.max_line_length, 1, max_event_length);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  r.facts().max_event_bytes = cfg.max_line_length;
  cfg.policy = parse_overlong_policy(r);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 1024);
  return cfg;
}

caf::actor spawn_stdin(caf::actor_system& sys, const stdin_config& config,
                       const wiring& w) {
  auto cfg = adapt_batch(config, w);
  auto reader = [cfg](source_pump& pump) {
    line_splitter lines{cfg.max_line_length, cfg.policy};
    pump_lines(STDIN_FILENO, lines, pump, cfg.batch_size, cfg.batch_timeout);
  };
  return spawn_source(sys, reader, w.downstream, w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
