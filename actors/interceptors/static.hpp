#pragma once

#include <memory>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// Options of the `static` interceptor: sets one fixed header.
struct static_config {
  std::string key = "key";
  std::string value = "value";
  bool preserve_existing = true; ///< Flume's default
};

/// Its options (runtime/config/options.hpp).
const option_list& static_options();

static_config parse_static(option_reader& r);

std::unique_ptr<interceptor> make_static(const static_config& cfg);

} // namespace flumen::interceptors
