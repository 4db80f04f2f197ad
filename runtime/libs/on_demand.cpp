#include "runtime/libs/on_demand.hpp"

#include <dlfcn.h>

namespace flumen::libs {

namespace {

std::atomic<unsigned> generation{0};

std::runtime_error cannot(const std::string& what, const char* package) {
  const char* e = dlerror();
  return std::runtime_error{
      what + ", which could not be loaded: " + (e ? e : "unknown error") +
      " (on Debian: apt-get install " + package + ")"};
}

} // namespace

void* open_library(const char* soname, const char* what, const char* package) {
  // RTLD_NOW: a missing function is found here, not at its first call.
  void* h = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);
  if (!h) throw cannot(std::string{what} + " needs " + soname, package);
  generation.fetch_add(1, std::memory_order_acq_rel);
  return h;
}

void* symbol(void* lib, const char* soname, const char* name,
             const char* package) {
  dlerror();
  void* sym = dlsym(lib, name);
  if (!sym)
    throw cannot(std::string{"flumen needs "} + soname + "'s " + name, package);
  return sym;
}

unsigned load_generation() {
  return generation.load(std::memory_order_acquire);
}

} // namespace flumen::libs
