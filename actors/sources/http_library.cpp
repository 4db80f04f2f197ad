#include "actors/sources/http_library.hpp"

#include "runtime/libs/on_demand.hpp"

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

constexpr const char* what = "the http source";
constexpr const char* package = "libmicrohttpd12 libgnutls30";

http_library load() {
  using libs::resolve;
  http_library l{};
  void* mhd = libs::open_library(FLUMEN_MHD_SONAME, what, package);
  void* tls = libs::open_library(FLUMEN_GNUTLS_SONAME, what, package);
#define FLUMEN_RESOLVE(lib, soname, name)                                      \
  resolve(l.name, lib, soname, #name, package)
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
  resolve(free_fn, tls, FLUMEN_GNUTLS_SONAME, "gnutls_free", package);
  l.free = *free_fn;
  return l;
}

} // namespace

std::vector<std::string> http_library_sonames() {
  return {FLUMEN_MHD_SONAME, FLUMEN_GNUTLS_SONAME};
}

const http_library& http_lib() {
  // Filled once (libs::on_demand); a load that threw is not done, so a
  // library installed later is found by the next http source that starts.
  return libs::on_demand<http_library, load>::get();
}

} // namespace flumen::sources
