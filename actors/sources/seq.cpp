#include "actors/sources/seq.hpp"

#include <chrono>

#include <caf/actor.hpp>

#include "actors/sources/source_options.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

/// The options of the `seq` source (docs/reference/sources/seq.md shows
/// them, generated).
const option_list& seq_options() {
  static const option_list table = {
      {.name = "count",
       .kind = option_kind::integer,
       .min = 0,
       .doc = "events to generate; `0`: no end. Once made, the source is "
              "done (`--exit-on-eof` stops the agent)"},
      {.name = "start",
       .kind = option_kind::integer,
       .min = 0,
       .doc = "first sequence number"},
      {.name = "rate",
       .kind = option_kind::integer,
       .min = 0,
       .doc = "events per second; `0`: as fast as accepted"},
      {.name = "body_size",
       .kind = option_kind::size,
       .min = 0,
       .max = 64 * 1024 * 1024,
       .doc = "pad each body (the number in decimal) with `.` to this size"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per batch; cut to the channels' "
              "`transaction_capacity` when not stated"},
      max_inflight_option("batches sent and not yet accepted"),
  };
  return table;
}

seq_config parse_seq(option_reader& r) {
  option_scope scope{r, seq_options()};
  seq_config cfg;
  cfg.count = static_cast<uint64_t>(r.integer("count", 0));
  cfg.start = static_cast<uint64_t>(r.integer("start", 0));
  cfg.rate = static_cast<uint64_t>(r.integer("rate", 0));
  cfg.body_size = r.bytes("body_size", cfg.body_size);
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  return cfg;
}

namespace {

void run_seq(const seq_config& cfg, source_pump& pump) {
  using clock = std::chrono::steady_clock;
  auto began = clock::now();
  uint64_t made = 0;
  while (!pump.stopping() && (cfg.count == 0 || made < cfg.count)) {
    auto n = cfg.batch_size;
    if (cfg.count != 0)
      n = static_cast<std::size_t>(std::min<uint64_t>(n, cfg.count - made));
    batch out(n);
    for (auto& e : out) {
      auto num = std::to_string(cfg.start + made++);
      e.body = num;
      if (e.body.size() < cfg.body_size) e.body.resize(cfg.body_size, '.');
      e.headers.emplace("seq", std::move(num));
    }
    if (!pump.emit(std::move(out))) return;
    if (cfg.rate != 0) {
      auto due = began + std::chrono::microseconds(made * 1000000 / cfg.rate);
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          due - clock::now());
      if (wait.count() > 0 && !pump.sleep_for(wait)) return;
    }
  }
}

} // namespace

caf::actor spawn_seq(caf::actor_system& sys, const seq_config& config,
                     const wiring& w) {
  auto cfg = adapt_batch(config, w);
  return spawn_source(
      sys, [cfg](source_pump& pump) { run_seq(cfg, pump); }, w.downstream,
      w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
