#pragma once

// libmicrohttpd and GnuTLS, loaded the first time an `http` source starts
// (dlopen), not when flumen starts. Linked, the two and what they pull in
// (p11-kit, nettle, gmp, libunistring, ...) cost every agent 2.6 MB of
// resident memory and GnuTLS's start-up work, an http source or not.

#include <string>
#include <vector>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

namespace flumen::sources {

/// The functions the http source calls, named as the libraries name them.
struct http_library {
  decltype(&::MHD_start_daemon) MHD_start_daemon;
  decltype(&::MHD_stop_daemon) MHD_stop_daemon;
  decltype(&::MHD_quiesce_daemon) MHD_quiesce_daemon;
  decltype(&::MHD_get_daemon_info) MHD_get_daemon_info;
  decltype(&::MHD_get_connection_info) MHD_get_connection_info;
  decltype(&::MHD_lookup_connection_value) MHD_lookup_connection_value;
  decltype(&::MHD_suspend_connection) MHD_suspend_connection;
  decltype(&::MHD_resume_connection) MHD_resume_connection;
  decltype(&::MHD_create_response_from_buffer) MHD_create_response_from_buffer;
  decltype(&::MHD_add_response_header) MHD_add_response_header;
  decltype(&::MHD_queue_response) MHD_queue_response;
  decltype(&::MHD_destroy_response) MHD_destroy_response;
  decltype(&::gnutls_certificate_verify_peers2)
      gnutls_certificate_verify_peers2;
  decltype(&::gnutls_strerror) gnutls_strerror;
  decltype(&::gnutls_certificate_verification_status_print)
      gnutls_certificate_verification_status_print;
  /// GnuTLS's deallocator (a variable there, holding a function).
  gnutls_free_function free;
};

/// Loads both libraries once, for the life of the process, and answers
/// their functions. Throws std::runtime_error naming the library and why
/// it could not be loaded (dlerror), which the source's start reports.
const http_library& http_lib();

/// The sonames http_lib() loads (libmicrohttpd's, GnuTLS's): the http
/// source's `libraries` fact, which `flumen validate` tries to load.
std::vector<std::string> http_library_sonames();

} // namespace flumen::sources
