#pragma once

#include <memory>
#include <random>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// Options of the `uuid` interceptor (Flume's UUIDInterceptor): a random
/// (version 4) UUID per event, e.g. for deduplication downstream.
struct uuid_config {
  std::string header_name = "id";
  bool preserve_existing = true;
  std::string prefix;
};

/// Its options (runtime/config/options.hpp).
const option_list& uuid_options();

uuid_config parse_uuid(option_reader& r);

std::unique_ptr<interceptor> make_uuid(const uuid_config& cfg);

/// A version 4 UUID from `gen`, as Java's UUID.toString() writes one:
/// 8-4-4-4-12 lowercase hex digits.
std::string random_uuid(std::mt19937_64& gen);

} // namespace flumen::interceptors
