#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/interceptors/date_format.hpp"
#include "actors/interceptors/pattern.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// What one capture group of `regex_extractor` becomes.
struct extractor_serializer {
  std::string name;    ///< the header set
  bool millis = false; ///< `type: millis`: a date, as epoch milliseconds
  std::string pattern; ///< its date pattern (millis only)
  std::optional<date_format> format; ///< `pattern`, compiled
};

/// Options of the `regex_extractor` interceptor (Flume's
/// RegexExtractorInterceptor): when the body matches, capture group i
/// sets the header of serializer i.
struct regex_extractor_config {
  std::string regex;
  std::vector<extractor_serializer> serializers;
  std::string timezone = "UTC"; ///< millis: the zone of a date without one
  date_zone zone;
  std::shared_ptr<const re2::RE2> compiled; ///< set by the parser
};

/// Its options (runtime/config/options.hpp), and those of one item of
/// its `serializers` list.
const option_list& regex_extractor_options();
const option_list& extractor_serializer_options();

regex_extractor_config parse_regex_extractor(option_reader& r);

std::unique_ptr<interceptor>
make_regex_extractor(const regex_extractor_config& cfg);

} // namespace flumen::interceptors
