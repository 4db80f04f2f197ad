#pragma once

#include <functional>
#include <memory>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// Options of the `timestamp` interceptor: sets a header to the time of
/// interception in milliseconds since the epoch (Flume's format).
struct timestamp_config {
  std::string header_name = "timestamp"; ///< Flume's `headerName`
  bool preserve_existing = false;
  /// Injected clock (ms since epoch); the system clock when empty.
  std::function<int64_t()> clock;
};

/// Its options (runtime/config/options.hpp).
const option_list& timestamp_options();

timestamp_config parse_timestamp(option_reader& r);

std::unique_ptr<interceptor> make_timestamp(const timestamp_config& cfg);

} // namespace flumen::interceptors
