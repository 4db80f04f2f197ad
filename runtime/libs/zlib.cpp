#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/zlib.hpp"

#ifndef FLUMEN_ZLIB_SONAME
#error "FLUMEN_ZLIB_SONAME: the build names the library's soname"
#endif

namespace flumen::libs {

zlib_functions load_zlib() {
  constexpr const char* package = "zlib1g";
  void* lib = open_library(FLUMEN_ZLIB_SONAME,
                           "Avro's deflate compression (zlib)", package);
  zlib_functions f{};
#define FLUMEN_ZLIB_FIELD(name)                                                \
  resolve(f.name, lib, FLUMEN_ZLIB_SONAME, #name, package);
  FLUMEN_ZLIB_FUNCTIONS(FLUMEN_ZLIB_FIELD)
#undef FLUMEN_ZLIB_FIELD
  return f;
}

} // namespace flumen::libs
