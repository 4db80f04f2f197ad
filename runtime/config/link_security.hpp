#pragma once

// How a network endpoint of flumen (a hop source or sink, a node, an
// agent's link to its nodes) protects its connections. Pure configuration:
// no CAF here.

#include <string>
#include <string_view>

#include "runtime/config/options.hpp"

namespace flumen {

class option_reader;

/// `tls: {certificate, key, ca_file, passphrase}` or `insecure: true`.
/// With TLS every peer must show a certificate signed by `ca_file` (mutual
/// TLS through CAF's OpenSSL module); CAF's anonymous TLS is never used.
struct link_security {
  std::string certificate; ///< PEM file
  std::string key;         ///< PEM file
  std::string ca_file;     ///< PEM file: the CA peers must be signed by
  std::string passphrase;  ///< of the key, when it has one
  /// Plain TCP to or from another machine, said in the file.
  bool insecure = false;

  bool tls() const { return !certificate.empty(); }

  friend bool operator==(const link_security&, const link_security&) = default;
};

/// Reads `tls:` and `insecure:` of a component (or node entry). `tls` needs
/// all three files, each readable; `insecure` and `tls` together are an
/// error.
link_security parse_link_security(option_reader& r);

/// The options parse_link_security reads: `tls` and its four files, then
/// `insecure`, for a component type's table (options_of); the doc lines of
/// `tls` and `insecure` are the endpoint's own.
option_list link_security_options(std::string_view tls_doc,
                                  std::string_view insecure_doc);

/// Who a TLS server asks for a certificate.
enum class client_certificates { none, optional, required };

/// `tls: {certificate, key, ca_file, passphrase, client_certificates}` of
/// a server that also takes clients without certificates of their own
/// (syslog over TLS, RFC 5425): `ca_file` is needed only to check client
/// certificates.
struct server_tls {
  std::string certificate; ///< PEM file (its chain may follow it)
  std::string key;         ///< PEM file
  std::string ca_file;     ///< PEM file; empty: clients are not asked
  std::string passphrase;  ///< of the key, when it has one
  /// `required` by default when `ca_file` is set, `none` otherwise.
  client_certificates clients = client_certificates::none;

  bool enabled() const { return !certificate.empty(); }

  friend bool operator==(const server_tls&, const server_tls&) = default;
};

/// Reads `tls:` of a server (server_tls); errors at its keys.
server_tls parse_server_tls(option_reader& r);

/// The options parse_server_tls reads, for a component type's table.
option_list server_tls_options(std::string_view tls_doc);

/// True for addresses that never leave the machine: `localhost`, 127.0.0.0/8
/// and `::1`.
bool loopback_address(const std::string& host);

/// Checks that an endpoint on `host` (the `key` of `r`, e.g. `bind`) is
/// loopback or protected: a non-loopback address without `tls` or an
/// explicit `insecure: true` is an error at `key`.
void require_protection(option_reader& r, const std::string& key,
                        const std::string& host, const link_security& sec);

} // namespace flumen
