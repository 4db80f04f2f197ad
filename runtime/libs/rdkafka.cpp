#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/rdkafka.hpp"

#ifndef FLUMEN_RDKAFKA_SONAME
#error "FLUMEN_RDKAFKA_SONAME: the build names librdkafka's soname"
#endif

namespace flumen::libs {

rdkafka_functions load_rdkafka() {
  constexpr const char* package = "librdkafka1";
  void* lib = open_library(FLUMEN_RDKAFKA_SONAME, "Kafka", package);
  rdkafka_functions f{};
#define FLUMEN_RDKAFKA_FIELD(name)                                             \
  resolve(f.name, lib, FLUMEN_RDKAFKA_SONAME, #name, package);
  FLUMEN_RDKAFKA_FUNCTIONS(FLUMEN_RDKAFKA_FIELD)
#undef FLUMEN_RDKAFKA_FIELD
  return f;
}

} // namespace flumen::libs
