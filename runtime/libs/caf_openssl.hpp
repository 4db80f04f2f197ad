#pragma once
// CAF's OpenSSL module (libcaf_openssl), loaded only by an agent or node
// whose links use TLS (on_demand.hpp). Its two entry points flumen uses,
// found by their C++ names in the library that CAF 0.17.6's headers
// declare.

#include <cstdint>
#include <set>
#include <string>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

namespace flumen::libs {

/// cfg.load<caf::openssl::manager>(), loading the module (and OpenSSL)
/// now; throws std::runtime_error when it cannot be loaded.
void load_caf_openssl(caf::actor_system_config& cfg);

/// caf::openssl::publish(sys, whom, sigs, port, in, reuse).
caf::expected<uint16_t> tls_publish(caf::actor_system& sys,
                                    const caf::strong_actor_ptr& whom,
                                    std::set<std::string>&& sigs, uint16_t port,
                                    const char* in, bool reuse);

/// caf::openssl::publish(whom, port, in, reuse), as CAF's header has it.
template <class Handle>
caf::expected<uint16_t> tls_publish(const Handle& whom, uint16_t port,
                                    const char* in = nullptr,
                                    bool reuse = false) {
  if (!whom) return caf::sec::cannot_publish_invalid_actor;
  auto& sys = whom.home_system();
  return tls_publish(sys, caf::actor_cast<caf::strong_actor_ptr>(whom),
                     sys.message_types(whom), port, in, reuse);
}

} // namespace flumen::libs
