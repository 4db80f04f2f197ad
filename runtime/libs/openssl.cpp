#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/openssl.hpp"

#include <dlfcn.h>

#include "runtime/libs/on_demand.hpp"

#ifndef FLUMEN_SSL_SONAME
#error "FLUMEN_SSL_SONAME: the build names libssl's soname"
#endif

namespace flumen::libs {

namespace {

openssl_functions load() {
  constexpr const char* package = "libssl3";
  openssl_functions f{};
  f.ssl = open_library(FLUMEN_SSL_SONAME, "TLS", package);
#define FLUMEN_OPENSSL_FIELD(name)                                             \
  f.name = reinterpret_cast<decltype(f.name)>(                                 \
      symbol(RTLD_DEFAULT, FLUMEN_SSL_SONAME, #name, package));
  FLUMEN_OPENSSL_FUNCTIONS(FLUMEN_OPENSSL_FIELD)
#undef FLUMEN_OPENSSL_FIELD
  return f;
}

} // namespace

const openssl_functions& openssl() {
  static const openssl_functions f = load();
  return f;
}

} // namespace flumen::libs
