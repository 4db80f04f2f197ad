#pragma once
// lz4, loaded by the first call (on_demand.hpp): the hops'
// `compression: lz4`.
// Include this instead of the library's header: each function flumen
// calls is a macro for a call through the table, so the code reads as
// plain lz4. A function not listed fails to link; add it.

#include <lz4.h>

#include "runtime/libs/on_demand.hpp"

// clang-format off
#define FLUMEN_LZ4_FUNCTIONS(X) \
  X(LZ4_compressBound) \
  X(LZ4_compress_default) \
  X(LZ4_decompress_safe) \
  /* end */
// clang-format on

namespace flumen::libs {

struct lz4_functions {
#define FLUMEN_LZ4_FIELD(name) decltype(&::name) name;
  FLUMEN_LZ4_FUNCTIONS(FLUMEN_LZ4_FIELD)
#undef FLUMEN_LZ4_FIELD
};

/// Loads the library and fills the table; throws std::runtime_error saying
/// why it cannot.
lz4_functions load_lz4();

/// The table, filled at the first call (on_demand).
inline const lz4_functions& lz4() {
  return on_demand<lz4_functions, load_lz4>::get();
}

} // namespace flumen::libs

// lz4.cpp fills the table and wants the plain names.
#ifndef FLUMEN_LIBS_NO_MACROS
// clang-format off
#define LZ4_compressBound (::flumen::libs::lz4().LZ4_compressBound)
#define LZ4_compress_default (::flumen::libs::lz4().LZ4_compress_default)
#define LZ4_decompress_safe (::flumen::libs::lz4().LZ4_decompress_safe)
// clang-format on
#endif
