#include "runtime/libs/caf_openssl.hpp"

#include "runtime/libs/on_demand.hpp"
#include "runtime/libs/openssl.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::libs {

namespace {

using make_fn = caf::actor_system::module* (*)(caf::actor_system&,
                                               caf::detail::type_list<>);
using publish_fn = caf::expected<uint16_t> (*)(caf::actor_system&,
                                               const caf::strong_actor_ptr&,
                                               std::set<std::string>&&,
                                               uint16_t, const char*, bool);

struct module_functions {
  make_fn make = nullptr;
  publish_fn publish = nullptr;
};

module_functions load_module() {
  constexpr const char* package = "libcaf-openssl0.17";
  openssl(); // OpenSSL first: the module's calls bind to its wrappers
  void* lib = open_library(soname::caf_openssl, "TLS", package);
  module_functions f;
  // caf::openssl::manager::make(caf::actor_system&, caf::detail::type_list<>)
  resolve(f.make, lib, soname::caf_openssl,
          "_ZN3caf7openssl7manager4makeERNS_12actor_systemENS_6detail9type_"
          "listIJEEE",
          package);
  // caf::openssl::publish(caf::actor_system&, caf::strong_actor_ptr const&,
  //   std::set<std::string>&&, unsigned short, char const*, bool)
  resolve(f.publish, lib, soname::caf_openssl,
          "_ZN3caf7openssl7publishERNS_12actor_systemERKNS_13intrusive_ptrINS_"
          "19actor_control_blockEEEOSt3setINSt7__cxx1112basic_stringIcSt11char_"
          "traitsIcESaIcEEESt4lessISE_ESaISE_EEtPKcb",
          package);
  return f;
}

const module_functions& module() {
  return on_demand<module_functions, load_module>::get();
}

} // namespace

void load_caf_openssl(caf::actor_system_config& cfg) {
  auto make = module().make;
  cfg.module_factories.push_back(
      [make](caf::actor_system& sys) -> caf::actor_system::module* {
        return make(sys, caf::detail::type_list<>{});
      });
}

caf::expected<uint16_t> tls_publish(caf::actor_system& sys,
                                    const caf::strong_actor_ptr& whom,
                                    std::set<std::string>&& sigs, uint16_t port,
                                    const char* in, bool reuse) {
  return module().publish(sys, whom, std::move(sigs), port, in, reuse);
}

} // namespace flumen::libs
