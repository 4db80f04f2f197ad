#pragma once
// zlib, loaded by the first call (on_demand.hpp): the avro
// source's and sink's `compression: deflate`.
// Call its functions through zlib() (their names are too common to
// be macros). A function not listed is not there; add it.

#include <zlib.h>

#include "runtime/libs/on_demand.hpp"

// clang-format off
#define FLUMEN_ZLIB_FUNCTIONS(X) \
  X(deflate) \
  X(deflateBound) \
  X(deflateEnd) \
  X(deflateInit_) \
  X(inflate) \
  X(inflateEnd) \
  X(inflateInit_) \
  /* end */
// clang-format on

namespace flumen::libs {

struct zlib_functions {
#define FLUMEN_ZLIB_FIELD(name) decltype(&::name) name;
  FLUMEN_ZLIB_FUNCTIONS(FLUMEN_ZLIB_FIELD)
#undef FLUMEN_ZLIB_FIELD
};

/// Loads the library and fills the table; throws std::runtime_error saying
/// why it cannot.
zlib_functions load_zlib();

/// The table, filled at the first call (on_demand).
inline const zlib_functions& zlib() {
  return on_demand<zlib_functions, load_zlib>::get();
}

} // namespace flumen::libs
