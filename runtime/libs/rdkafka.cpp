#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/rdkafka.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::libs {

rdkafka_functions load_rdkafka() {
  constexpr const char* package = "librdkafka1";
  void* lib = open_library(soname::rdkafka, "Kafka", package);
  rdkafka_functions f{};
#define FLUMEN_RDKAFKA_FIELD(name)                                             \
  resolve(f.name, lib, soname::rdkafka, #name, package);
  FLUMEN_RDKAFKA_FUNCTIONS(FLUMEN_RDKAFKA_FIELD)
#undef FLUMEN_RDKAFKA_FIELD
  return f;
}

} // namespace flumen::libs
