#pragma once

#include <memory>
#include <string>

#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::interceptors {

/// Options of the `host` interceptor: sets a header to this machine's
/// hostname or IP address.
struct host_config {
  std::string host_header = "host"; ///< Flume's `hostHeader`
  bool use_ip = true; ///< Flume's `useIP`, default: the IP address
  bool preserve_existing = false;
};

/// Its options (runtime/config/options.hpp).
const option_list& host_options();

host_config parse_host(option_reader& r);

std::unique_ptr<interceptor> make_host(const host_config& cfg);

/// This machine's hostname, or its first non-loopback IPv4 address (the
/// loopback address when there is none).
std::string local_host(bool use_ip);

} // namespace flumen::interceptors
