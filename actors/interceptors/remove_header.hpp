#pragma once

#include <memory>
#include <set>
#include <string>

#include "actors/interceptors/pattern.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// Options of the `remove_header` interceptor (Flume's
/// RemoveHeaderInterceptor): removes the headers named by any of the three.
struct remove_header_config {
  std::string with_name; ///< one exact name
  std::string from_list; ///< names, split at the separator
  std::string from_list_separator = R"(\s*,\s*)";
  std::string matching; ///< a pattern the whole name matches
  std::set<std::string, std::less<>> names; ///< from_list, split
  std::shared_ptr<const re2::RE2> compiled; ///< `matching`
};

/// Its options (runtime/config/options.hpp).
const option_list& remove_header_options();

remove_header_config parse_remove_header(option_reader& r);

std::unique_ptr<interceptor>
make_remove_header(const remove_header_config& cfg);

} // namespace flumen::interceptors
