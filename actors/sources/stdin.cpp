#include "actors/sources/stdin.hpp"

#include <unistd.h>

#include <caf/actor.hpp>

#include "actors/sources/source_options.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

/// The options of the `stdin` source (docs/reference/sources/stdin.md shows
/// them, generated).
const option_list& stdin_options() {
  static const option_list table = {
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "as [netcat](netcat.md) (cut to the channels' "
              "`transaction_capacity` when not stated, and at 1 MiB of "
              "bodies)"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc = "a partial batch is sent after this"},
      max_line_length_option("as netcat"),
      overlong_policy_option("as netcat"),
      max_inflight_option(
          "batches sent and not yet accepted; then the source stops "
          "reading"),
  };
  return table;
}

stdin_config parse_stdin(option_reader& r) {
  option_scope scope{r, stdin_options()};
  stdin_config cfg;
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length = r.bytes("max_line_length", cfg.max_line_length);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.policy = parse_overlong_policy(r);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
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
