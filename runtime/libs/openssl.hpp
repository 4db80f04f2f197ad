#pragma once
// OpenSSL, loaded by the first component that calls it (on_demand.hpp):
// TLS hops, nodes and sources, the avro handshake's MD5. Include this
// instead of OpenSSL's headers: each function flumen calls becomes a call
// through a table filled at that first use, so the code reads as plain
// OpenSSL (its macros expand to listed functions). A function not listed
// here fails to link (flumen does not link OpenSSL); add it to the list.
//
// Each is bound as a linked call would be, to its first definition in the
// process: SSL_accept, SSL_connect, SSL_read and SSL_write to the
// executable's wrappers (runtime/net/tls_audit.cpp).

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "runtime/libs/on_demand.hpp"

// clang-format off
#define FLUMEN_OPENSSL_FUNCTIONS(X) \
  X(CRYPTO_get_ex_new_index) \
  X(ERR_clear_error) \
  X(ERR_error_string_n) \
  X(ERR_get_error) \
  X(ERR_new) \
  X(ERR_peek_error) \
  X(ERR_peek_last_error) \
  X(ERR_set_debug) \
  X(ERR_set_error) \
  X(EVP_Digest) \
  X(EVP_md5) \
  X(SSL_CTX_check_private_key) \
  X(SSL_CTX_ctrl) \
  X(SSL_CTX_free) \
  X(SSL_CTX_load_verify_locations) \
  X(SSL_CTX_new) \
  X(SSL_CTX_set_client_CA_list) \
  X(SSL_CTX_set_default_passwd_cb) \
  X(SSL_CTX_set_default_passwd_cb_userdata) \
  X(SSL_CTX_set_num_tickets) \
  X(SSL_CTX_set_options) \
  X(SSL_CTX_set_verify) \
  X(SSL_CTX_use_PrivateKey_file) \
  X(SSL_CTX_use_certificate_chain_file) \
  X(SSL_accept) \
  X(SSL_connect) \
  X(SSL_ctrl) \
  X(SSL_free) \
  X(SSL_get0_param) \
  X(SSL_get_error) \
  X(SSL_get_ex_data) \
  X(SSL_get_fd) \
  X(SSL_load_client_CA_file) \
  X(SSL_new) \
  X(SSL_peek) \
  X(SSL_pending) \
  X(SSL_read) \
  X(SSL_set1_host) \
  X(SSL_set_accept_state) \
  X(SSL_set_connect_state) \
  X(SSL_set_ex_data) \
  X(SSL_set_fd) \
  X(SSL_want) \
  X(SSL_write) \
  X(TLS_client_method) \
  X(TLS_server_method) \
  X(X509_VERIFY_PARAM_set1_ip_asc) \
  /* end */
// clang-format on

namespace flumen::libs {

struct openssl_functions {
  void* ssl = nullptr; ///< libssl's handle (its dependencies: libcrypto)
#define FLUMEN_OPENSSL_FIELD(name) decltype(&::name) name;
  FLUMEN_OPENSSL_FUNCTIONS(FLUMEN_OPENSSL_FIELD)
#undef FLUMEN_OPENSSL_FIELD
};

/// Loads the library and fills the table; throws std::runtime_error saying
/// why it cannot.
openssl_functions load_openssl();

/// The table, filled at the first call (on_demand).
inline const openssl_functions& openssl() {
  return on_demand<openssl_functions, load_openssl>::get();
}

} // namespace flumen::libs

// openssl.cpp fills the table and wants the plain names.
#ifndef FLUMEN_LIBS_NO_MACROS
// clang-format off
#define CRYPTO_get_ex_new_index (::flumen::libs::openssl().CRYPTO_get_ex_new_index)
#define ERR_clear_error (::flumen::libs::openssl().ERR_clear_error)
#define ERR_error_string_n (::flumen::libs::openssl().ERR_error_string_n)
#define ERR_get_error (::flumen::libs::openssl().ERR_get_error)
#define ERR_new (::flumen::libs::openssl().ERR_new)
#define ERR_peek_error (::flumen::libs::openssl().ERR_peek_error)
#define ERR_peek_last_error (::flumen::libs::openssl().ERR_peek_last_error)
#define ERR_set_debug (::flumen::libs::openssl().ERR_set_debug)
#define ERR_set_error (::flumen::libs::openssl().ERR_set_error)
#define EVP_Digest (::flumen::libs::openssl().EVP_Digest)
#define EVP_md5 (::flumen::libs::openssl().EVP_md5)
#define SSL_CTX_check_private_key (::flumen::libs::openssl().SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (::flumen::libs::openssl().SSL_CTX_ctrl)
#define SSL_CTX_free (::flumen::libs::openssl().SSL_CTX_free)
#define SSL_CTX_load_verify_locations (::flumen::libs::openssl().SSL_CTX_load_verify_locations)
#define SSL_CTX_new (::flumen::libs::openssl().SSL_CTX_new)
#define SSL_CTX_set_client_CA_list (::flumen::libs::openssl().SSL_CTX_set_client_CA_list)
#define SSL_CTX_set_default_passwd_cb (::flumen::libs::openssl().SSL_CTX_set_default_passwd_cb)
#define SSL_CTX_set_default_passwd_cb_userdata (::flumen::libs::openssl().SSL_CTX_set_default_passwd_cb_userdata)
#define SSL_CTX_set_num_tickets (::flumen::libs::openssl().SSL_CTX_set_num_tickets)
#define SSL_CTX_set_options (::flumen::libs::openssl().SSL_CTX_set_options)
#define SSL_CTX_set_verify (::flumen::libs::openssl().SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey_file (::flumen::libs::openssl().SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file (::flumen::libs::openssl().SSL_CTX_use_certificate_chain_file)
#define SSL_accept (::flumen::libs::openssl().SSL_accept)
#define SSL_connect (::flumen::libs::openssl().SSL_connect)
#define SSL_ctrl (::flumen::libs::openssl().SSL_ctrl)
#define SSL_free (::flumen::libs::openssl().SSL_free)
#define SSL_get0_param (::flumen::libs::openssl().SSL_get0_param)
#define SSL_get_error (::flumen::libs::openssl().SSL_get_error)
#define SSL_get_ex_data (::flumen::libs::openssl().SSL_get_ex_data)
#define SSL_get_fd (::flumen::libs::openssl().SSL_get_fd)
#define SSL_load_client_CA_file (::flumen::libs::openssl().SSL_load_client_CA_file)
#define SSL_new (::flumen::libs::openssl().SSL_new)
#define SSL_peek (::flumen::libs::openssl().SSL_peek)
#define SSL_pending (::flumen::libs::openssl().SSL_pending)
#define SSL_read (::flumen::libs::openssl().SSL_read)
#define SSL_set1_host (::flumen::libs::openssl().SSL_set1_host)
#define SSL_set_accept_state (::flumen::libs::openssl().SSL_set_accept_state)
#define SSL_set_connect_state (::flumen::libs::openssl().SSL_set_connect_state)
#define SSL_set_ex_data (::flumen::libs::openssl().SSL_set_ex_data)
#define SSL_set_fd (::flumen::libs::openssl().SSL_set_fd)
#define SSL_want (::flumen::libs::openssl().SSL_want)
#define SSL_write (::flumen::libs::openssl().SSL_write)
#define TLS_client_method (::flumen::libs::openssl().TLS_client_method)
#define TLS_server_method (::flumen::libs::openssl().TLS_server_method)
#define X509_VERIFY_PARAM_set1_ip_asc (::flumen::libs::openssl().X509_VERIFY_PARAM_set1_ip_asc)
// clang-format on
#endif
