#define FLUMEN_LIBS_NO_MACROS
#include "runtime/libs/rdkafka.hpp"

#include "runtime/libs/on_demand.hpp"

#ifndef FLUMEN_RDKAFKA_SONAME
#error "FLUMEN_RDKAFKA_SONAME: the build names librdkafka's soname"
#endif

namespace flumen::libs {

namespace {

rdkafka_functions load() {
  constexpr const char* package = "librdkafka1";
  void* lib = open_library(FLUMEN_RDKAFKA_SONAME, "Kafka", package);
  rdkafka_functions f{};
#define FLUMEN_RDKAFKA_FIELD(name)                                             \
  f.name = reinterpret_cast<decltype(f.name)>(                                 \
      symbol(lib, FLUMEN_RDKAFKA_SONAME, #name, package));
  FLUMEN_RDKAFKA_FUNCTIONS(FLUMEN_RDKAFKA_FIELD)
#undef FLUMEN_RDKAFKA_FIELD
  return f;
}

} // namespace

const rdkafka_functions& rdkafka() {
  // A static's initialization is thread-safe, and one that threw is not
  // done: a library installed later is found by the next call.
  static const rdkafka_functions f = load();
  return f;
}

} // namespace flumen::libs
