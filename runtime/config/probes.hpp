#pragma once

// Environment probes: what `flumen validate` tries on this machine, apart
// from the pure checks of the loader (topology.cpp): that an address can be
// listened on, that a directory can be written. Called only for the agent
// that runs here (probe_scope).

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/config/config.hpp"

namespace flumen {

/// Where a listening source would listen: the numeric address (as
/// getnameinfo prints it) or, when it can't, the system's reason.
struct listen_probe {
  std::string address;
  std::string error;
};

/// Resolves `host` as a listening source does at run time (getaddrinfo with
/// AI_PASSIVE, first address that binds wins) and binds a socket of
/// transport `t` to it with port 0, closed at once: a name that doesn't
/// resolve or an address this machine doesn't have fails here instead of
/// when the agent starts.
listen_probe probe_listen(const std::string& host,
                          transport t = transport::tcp);

/// Why files could not be written in `dir` (nullopt: they could).
std::optional<std::string> unwritable_directory(const std::string& dir);

/// Why the shared library `soname` could not be loaded (nullopt: it was,
/// and stays loaded: the component that names it loads it at its start
/// anyway).
std::optional<std::string> unloadable_library(const std::string& soname);

/// 0.0.0.0 or ::, which take a port on every address.
bool wildcard_address(const std::string& address);

/// `127.0.0.1:80`, `[::1]:80`.
std::string endpoint(const std::string& address, uint16_t port);

} // namespace flumen
