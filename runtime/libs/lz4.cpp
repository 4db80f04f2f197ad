#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/lz4.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::libs {

lz4_functions load_lz4() {
  constexpr const char* package = "liblz4-1";
  void* lib = open_library(soname::lz4, "Hop compression (lz4)", package);
  lz4_functions f{};
#define FLUMEN_LZ4_FIELD(name)                                                 \
  resolve(f.name, lib, soname::lz4, #name, package);
  FLUMEN_LZ4_FUNCTIONS(FLUMEN_LZ4_FIELD)
#undef FLUMEN_LZ4_FIELD
  return f;
}

} // namespace flumen::libs
