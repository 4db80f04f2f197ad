#pragma once

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sinks {

/// Options of the `logger` sink: prints each event (headers and body) to
/// the log at level info.
struct logger_config {
  std::size_t batch_size = 100;
  std::size_t max_body_bytes = 16; ///< Flume's default; longer bodies cut
};

/// Its options (runtime/config/options.hpp).
const option_list& logger_options();

logger_config parse_logger(option_reader& r);

/// The line printed for an event: `{k=v, ...} body` (body cut to
/// `max_body_bytes`, non-printable bytes as `\xNN`).
std::string describe(const event& e, std::size_t max_body_bytes);

caf::actor spawn_logger(caf::actor_system& sys, const logger_config& cfg,
                        const wiring& w);

} // namespace flumen::sinks
