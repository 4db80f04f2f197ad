#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/openssl.hpp"
#include "runtime/libs/sonames.hpp"

#include <dlfcn.h>

namespace flumen::libs {

openssl_functions load_openssl() {
  constexpr const char* package = "libssl3";
  openssl_functions f{};
  f.ssl = open_library(soname::ssl, "TLS", package);
#define FLUMEN_OPENSSL_FIELD(name)                                             \
  resolve(f.name, RTLD_DEFAULT, soname::ssl, #name, package);
  FLUMEN_OPENSSL_FUNCTIONS(FLUMEN_OPENSSL_FIELD)
#undef FLUMEN_OPENSSL_FIELD
  return f;
}

} // namespace flumen::libs
