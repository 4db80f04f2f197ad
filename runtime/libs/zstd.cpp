#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/zstd.hpp"

#ifndef FLUMEN_ZSTD_SONAME
#error "FLUMEN_ZSTD_SONAME: the build names the library's soname"
#endif

namespace flumen::libs {

zstd_functions load_zstd() {
  constexpr const char* package = "libzstd1";
  void* lib =
      open_library(FLUMEN_ZSTD_SONAME, "Hop compression (zstd)", package);
  zstd_functions f{};
#define FLUMEN_ZSTD_FIELD(name)                                                \
  resolve(f.name, lib, FLUMEN_ZSTD_SONAME, #name, package);
  FLUMEN_ZSTD_FUNCTIONS(FLUMEN_ZSTD_FIELD)
#undef FLUMEN_ZSTD_FIELD
  return f;
}

} // namespace flumen::libs
