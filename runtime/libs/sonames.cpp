#include "runtime/libs/sonames.hpp"

#if !defined(FLUMEN_RDKAFKA_SONAME) || !defined(FLUMEN_SSL_SONAME) ||          \
    !defined(FLUMEN_CAF_OPENSSL_SONAME) || !defined(FLUMEN_LZ4_SONAME) ||      \
    !defined(FLUMEN_ZSTD_SONAME) || !defined(FLUMEN_ZLIB_SONAME)
#error "the build names every library's soname (runtime/libs/CMakeLists.txt)"
#endif

namespace flumen::libs::soname {

const char* const rdkafka = FLUMEN_RDKAFKA_SONAME;
const char* const ssl = FLUMEN_SSL_SONAME;
const char* const caf_openssl = FLUMEN_CAF_OPENSSL_SONAME;
const char* const lz4 = FLUMEN_LZ4_SONAME;
const char* const zstd = FLUMEN_ZSTD_SONAME;
const char* const zlib = FLUMEN_ZLIB_SONAME;

} // namespace flumen::libs::soname
