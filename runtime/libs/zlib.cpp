#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/zlib.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::libs {

zlib_functions load_zlib() {
  constexpr const char* package = "zlib1g";
  void* lib =
      open_library(soname::zlib, "Avro's deflate compression (zlib)", package);
  zlib_functions f{};
#define FLUMEN_ZLIB_FIELD(name)                                                \
  resolve(f.name, lib, soname::zlib, #name, package);
  FLUMEN_ZLIB_FUNCTIONS(FLUMEN_ZLIB_FIELD)
#undef FLUMEN_ZLIB_FIELD
  return f;
}

} // namespace flumen::libs
