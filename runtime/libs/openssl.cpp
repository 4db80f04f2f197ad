#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/openssl.hpp"

#include <dlfcn.h>

#ifndef FLUMEN_SSL_SONAME
#error "FLUMEN_SSL_SONAME: the build names libssl's soname"
#endif

namespace flumen::libs {

openssl_functions load_openssl() {
  constexpr const char* package = "libssl3";
  openssl_functions f{};
  f.ssl = open_library(FLUMEN_SSL_SONAME, "TLS", package);
#define FLUMEN_OPENSSL_FIELD(name)                                             \
  resolve(f.name, RTLD_DEFAULT, FLUMEN_SSL_SONAME, #name, package);
  FLUMEN_OPENSSL_FUNCTIONS(FLUMEN_OPENSSL_FIELD)
#undef FLUMEN_OPENSSL_FIELD
  return f;
}

} // namespace flumen::libs
