#include "actors/sources/http_library.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace flumen::sources {

namespace {

// Set by CMake from the libraries found at build time (their sonames):
// what the build compiled against is what is loaded.
#ifndef FLUMEN_MHD_SONAME
#error "FLUMEN_MHD_SONAME: the build names libmicrohttpd's soname"
#endif
#ifndef FLUMEN_GNUTLS_SONAME
#error "FLUMEN_GNUTLS_SONAME: the build names GnuTLS's soname"
#endif

std::string why_not(const char* what) {
  const char* e = dlerror();
  return std::string{"the http source needs "} + what + ", which " +
         "could not be loaded: " + (e ? e : "unknown error") +
         " (on Debian: apt-get install libmicrohttpd12 libgnutls30)";
}

void* open_library(const char* soname) {
  // RTLD_NOW: a missing function is found here, not at its first call.
  void* h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) throw std::runtime_error{why_not(soname)};
  return h;
}

template <class F>
void resolve(void* lib, const char* soname, const char* name, F& out) {
  void* sym = dlsym(lib, name);
  if (!sym)
    throw std::runtime_error{
        why_not((std::string{soname} + "'s " + name).c_str())};
  out = reinterpret_cast<F>(sym);
}

http_library load() {
  http_library l{};
  auto* mhd = open_library(FLUMEN_MHD_SONAME);
  auto* tls = open_library(FLUMEN_GNUTLS_SONAME);
#define FLUMEN_RESOLVE(lib, soname, name) resolve(lib, soname, #name, l.name)
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_start_daemon);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_stop_daemon);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_quiesce_daemon);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_get_daemon_info);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_get_connection_info);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_lookup_connection_value);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_suspend_connection);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_resume_connection);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_create_response_from_buffer);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_add_response_header);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_queue_response);
  FLUMEN_RESOLVE(mhd, FLUMEN_MHD_SONAME, MHD_destroy_response);
  FLUMEN_RESOLVE(tls, FLUMEN_GNUTLS_SONAME, gnutls_certificate_verify_peers2);
  FLUMEN_RESOLVE(tls, FLUMEN_GNUTLS_SONAME, gnutls_strerror);
  FLUMEN_RESOLVE(tls, FLUMEN_GNUTLS_SONAME,
                 gnutls_certificate_verification_status_print);
#undef FLUMEN_RESOLVE
  // gnutls_free is a variable holding GnuTLS's deallocator.
  gnutls_free_function* free_fn = nullptr;
  resolve(tls, FLUMEN_GNUTLS_SONAME, "gnutls_free", free_fn);
  l.free = *free_fn;
  return l;
}

} // namespace

std::vector<std::string> http_library_sonames() {
  return {FLUMEN_MHD_SONAME, FLUMEN_GNUTLS_SONAME};
}

const http_library& http_lib() {
  // Loaded once (a static's initialization is thread-safe); one that threw
  // is not done, so a library installed later is found by the next http
  // source that starts.
  static const http_library lib = load();
  return lib;
}

} // namespace flumen::sources
