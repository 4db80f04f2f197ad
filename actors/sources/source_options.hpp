#pragma once

// Options several sources read the same way: one kind, one set of bounds
// and choices for all of them (`overlong_policy`'s are the names
// parse_overlong_policy knows); the doc line is each page's own.

#include <string_view>

#include "runtime/config/options.hpp"
#include "runtime/core/event.hpp"

namespace flumen::sources {

/// Bytes per line, 1 to the largest event a file channel can hold.
constexpr option_spec max_line_length_option(std::string_view doc) {
  return {.name = "max_line_length",
          .kind = option_kind::size,
          .min = 1,
          .max = max_event_length,
          .doc = doc};
}

/// What a longer line becomes (line_splitter.hpp).
constexpr option_spec overlong_policy_option(std::string_view doc) {
  return {.name = "overlong_policy",
          .kind = option_kind::choice,
          .choices = "truncate|drop|split",
          .doc = doc};
}

/// Batches a source has sent and not yet had accepted (source_pump).
constexpr option_spec max_inflight_option(std::string_view doc) {
  return {.name = "max_inflight",
          .kind = option_kind::count,
          .min = 1,
          .max = 1024,
          .doc = doc};
}

} // namespace flumen::sources
