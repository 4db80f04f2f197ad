#pragma once
// zstd, loaded by the first call (on_demand.hpp): the hops'
// `compression: zstd`.
// Include this instead of the library's header: each function flumen
// calls is a macro for a call through the table, so the code reads as
// plain zstd. A function not listed fails to link; add it.

#include <zstd.h>

#include "runtime/libs/on_demand.hpp"

// clang-format off
#define FLUMEN_ZSTD_FUNCTIONS(X) \
  X(ZSTD_compress) \
  X(ZSTD_compressBound) \
  X(ZSTD_decompress) \
  X(ZSTD_getFrameContentSize) \
  X(ZSTD_isError) \
  /* end */
// clang-format on

namespace flumen::libs {

struct zstd_functions {
#define FLUMEN_ZSTD_FIELD(name) decltype(&::name) name;
  FLUMEN_ZSTD_FUNCTIONS(FLUMEN_ZSTD_FIELD)
#undef FLUMEN_ZSTD_FIELD
};

/// Loads the library and fills the table; throws std::runtime_error saying
/// why it cannot.
zstd_functions load_zstd();

/// The table, filled at the first call (on_demand).
inline const zstd_functions& zstd() {
  return on_demand<zstd_functions, load_zstd>::get();
}

} // namespace flumen::libs

// zstd.cpp fills the table and wants the plain names.
#ifndef FLUMEN_LIBS_NO_MACROS
// clang-format off
#define ZSTD_compress (::flumen::libs::zstd().ZSTD_compress)
#define ZSTD_compressBound (::flumen::libs::zstd().ZSTD_compressBound)
#define ZSTD_decompress (::flumen::libs::zstd().ZSTD_decompress)
#define ZSTD_getFrameContentSize (::flumen::libs::zstd().ZSTD_getFrameContentSize)
#define ZSTD_isError (::flumen::libs::zstd().ZSTD_isError)
// clang-format on
#endif
