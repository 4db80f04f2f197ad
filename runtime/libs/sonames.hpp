#pragma once
// The sonames runtime/libs loads, as the build found them (its loaders
// open these), and a component
// that will load one names it in its facts (`libraries`), so that
// `flumen validate` and `flumen run` refuse a file whose component could
// not load it on this machine (runtime/config/topology_checks.cpp).

namespace flumen::libs::soname {

extern const char* const rdkafka;     ///< Kafka sources and sinks
extern const char* const ssl;         ///< avro's TLS (libssl)
extern const char* const caf_openssl; ///< TLS hops and nodes (needs libssl)
extern const char* const lz4;         ///< a hop's `compression: lz4`
extern const char* const zstd;        ///< a hop's `compression: zstd`
extern const char* const zlib;        ///< avro's `compression: deflate`

} // namespace flumen::libs::soname
