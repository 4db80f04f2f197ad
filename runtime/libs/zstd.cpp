#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/zstd.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::libs {

zstd_functions load_zstd() {
  constexpr const char* package = "libzstd1";
  void* lib = open_library(soname::zstd, "Hop compression (zstd)", package);
  zstd_functions f{};
#define FLUMEN_ZSTD_FIELD(name)                                                \
  resolve(f.name, lib, soname::zstd, #name, package);
  FLUMEN_ZSTD_FUNCTIONS(FLUMEN_ZSTD_FIELD)
#undef FLUMEN_ZSTD_FIELD
  return f;
}

} // namespace flumen::libs
