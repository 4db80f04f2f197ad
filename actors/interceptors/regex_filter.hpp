#pragma once

#include <memory>
#include <string>

#include "actors/interceptors/pattern.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// Options of the `regex_filter` interceptor (Flume's
/// RegexFilteringInterceptor): keeps the events whose body matches
/// somewhere (`exclude_events: false`), or drops them.
struct regex_filter_config {
  std::string regex;
  bool exclude_events = false;
  std::shared_ptr<const re2::RE2> compiled; ///< set by parse_regex_filter
};

/// Its options (runtime/config/options.hpp).
const option_list& regex_filter_options();

regex_filter_config parse_regex_filter(option_reader& r);

std::unique_ptr<interceptor> make_regex_filter(const regex_filter_config& cfg);

} // namespace flumen::interceptors
