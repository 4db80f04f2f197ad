#pragma once
// Libraries an agent loads when a component first needs them, not at its
// start: librdkafka, OpenSSL, CAF's OpenSSL module, lz4, zstd and zlib cost
// an idle agent 2.5 MB of resident pages (their symbol tables and
// relocations are read whole at load; bench/README.md, part 13, eighth
// pass). Each is opened once, with
// RTLD_GLOBAL so that libraries loaded after it, and the executable's
// wrappers (runtime/net/tls_audit.cpp), see the same copy.

#include <atomic>
#include <stdexcept>
#include <string>

namespace flumen::libs {

/// dlopen(soname, RTLD_NOW | RTLD_GLOBAL); throws std::runtime_error
/// naming `what` needs it and the Debian package that has it.
void* open_library(const char* soname, const char* what, const char* package);

/// The address of `name` in `lib` (a handle, or RTLD_DEFAULT for the first
/// definition in the process, as a linked call would bind); throws as
/// open_library does when there is none.
void* symbol(void* lib, const char* soname, const char* name,
             const char* package);

/// Counts the libraries loaded on demand so far: code that caches where
/// libraries are mapped (runtime/net/code_ranges.hpp) looks again when it
/// changes.
unsigned load_generation();

/// The table of a library's functions that Load fills, at the first call
/// of get(): thread-safe (a static's initialization), and one that threw is
/// not done, so the next call tries again. After that, one atomic load.
template <class Table, Table (*Load)()>
class on_demand {
public:
  static const Table& get() {
    auto* t = loaded_.load(std::memory_order_acquire);
    return t ? *t : fill();
  }

private:
  static const Table& fill() {
    static const Table table = Load();
    loaded_.store(&table, std::memory_order_release);
    return table;
  }

  static inline std::atomic<const Table*> loaded_{nullptr};
};

/// field = `name` of `lib` (symbol() above), as the field's type.
template <class F>
void resolve(F& field, void* lib, const char* soname, const char* name,
             const char* package) {
  field = reinterpret_cast<F>(symbol(lib, soname, name, package));
}

} // namespace flumen::libs
