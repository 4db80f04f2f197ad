#include "runtime/config/link_security.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>

#include "runtime/config/config.hpp"

namespace flumen {

namespace {

/// The readable file at `key` of the `tls` mapping `r` (a relative path
/// taken from the topology file's directory), or an error there that says
/// what it was taken relative to.
std::string pem_file(option_reader& r, std::string_view key,
                     bool required = true) {
  auto written = required ? r.required_str(key) : r.str(key);
  if (written.empty()) return written;
  auto path = r.resolve_path(written);
  if (::access(path.c_str(), R_OK) != 0)
    r.invalid(key, "cannot read " + r.describe_path(written) + ": " +
                       std::strerror(errno));
  return path;
}

} // namespace

link_security parse_link_security(option_reader& r) {
  link_security sec;
  sec.insecure = r.boolean("insecure", false);
  auto tls = r.node("tls");
  if (!tls.IsDefined() || tls.IsNull()) return sec;
  if (!tls.IsMap()) {
    r.invalid("tls", "expected a mapping with certificate, key and ca_file");
    return sec;
  }
  option_reader t{r, "tls"};
  sec.certificate = pem_file(t, "certificate");
  sec.key = pem_file(t, "key");
  sec.ca_file = pem_file(t, "ca_file");
  sec.passphrase = t.str("passphrase");
  t.finish();
  if (sec.insecure)
    r.error("insecure", "insecure: true and tls together: choose one");
  if (sec.certificate.empty()) sec = link_security{};
  return sec;
}

server_tls parse_server_tls(option_reader& r) {
  server_tls tls;
  auto node = r.node("tls");
  if (!node.IsDefined() || node.IsNull()) return tls;
  if (!node.IsMap()) {
    r.invalid("tls", "expected a mapping with certificate and key (and "
                     "ca_file to check client certificates)");
    return tls;
  }
  option_reader t{r, "tls"};
  tls.certificate = pem_file(t, "certificate");
  tls.key = pem_file(t, "key");
  tls.ca_file = pem_file(t, "ca_file", false);
  tls.passphrase = t.str("passphrase");
  auto deflt = tls.ca_file.empty() ? client_certificates::none
                                   : client_certificates::required;
  tls.clients = t.choice("client_certificates", deflt,
                         {{"none", client_certificates::none},
                          {"optional", client_certificates::optional},
                          {"required", client_certificates::required}});
  if (tls.clients != client_certificates::none && tls.ca_file.empty() &&
      t.parsed({"ca_file", "client_certificates"}))
    t.error("client_certificates",
            "client certificates are checked against ca_file: set it");
  // One error per mistake: a file that is missing is not loaded after.
  bool complete = t.parsed(
      {"certificate", "key", "ca_file", "passphrase", "client_certificates"});
  t.finish();
  if (!complete || tls.certificate.empty() || tls.key.empty())
    tls = server_tls{};
  return tls;
}

option_list server_tls_options(std::string_view tls_doc) {
  return {
      {.name = "tls", .kind = option_kind::node, .doc = tls_doc},
      {.name = "tls.certificate",
       .kind = option_kind::string,
       .def = "required with `tls`",
       .doc = "this server's PEM certificate, its chain after it if any (a "
              "relative path is taken from the topology file's directory)"},
      {.name = "tls.key",
       .kind = option_kind::string,
       .def = "required with `tls`",
       .doc = "its PEM private key"},
      {.name = "tls.ca_file",
       .kind = option_kind::string,
       .def = "none",
       .doc = "the PEM CA that client certificates must be signed by; "
              "without it clients are not asked for one"},
      {.name = "tls.passphrase",
       .kind = option_kind::string,
       .def = "none",
       .doc = "the key's passphrase, if it has one"},
      {.name = "tls.client_certificates",
       .kind = option_kind::choice,
       .choices = "none|optional|required",
       .def = "`required` with `ca_file`, `none` without",
       .doc = "`required`: a client without a certificate signed by "
              "`ca_file` is refused; `optional`: one without any is taken, "
              "one with a bad one refused; `none`: none asked for"},
  };
}

option_list link_security_options(std::string_view tls_doc,
                                  std::string_view insecure_doc) {
  return {
      {.name = "tls", .kind = option_kind::node, .doc = tls_doc},
      {.name = "tls.certificate",
       .kind = option_kind::string,
       .def = "required with `tls`",
       .doc = "this endpoint's PEM certificate (a relative path is taken from "
              "the topology file's directory)"},
      {.name = "tls.key",
       .kind = option_kind::string,
       .def = "required with `tls`",
       .doc = "its PEM private key"},
      {.name = "tls.ca_file",
       .kind = option_kind::string,
       .def = "required with `tls`",
       .doc = "the PEM CA that the peer's certificate must be signed by"},
      {.name = "tls.passphrase",
       .kind = option_kind::string,
       .def = "none",
       .doc = "the key's passphrase, if it has one"},
      {.name = "insecure", .kind = option_kind::boolean, .doc = insecure_doc},
  };
}

bool loopback_address(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a4{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

void require_protection(option_reader& r, const std::string& key,
                        const std::string& host, const link_security& sec) {
  // A tls or insecure that failed to parse is not known to be absent.
  if (!r.parsed({key, "tls", "insecure"})) return;
  if (loopback_address(host) || sec.tls() || sec.insecure) return;
  r.error(key, "'" + host +
                   "' is not a loopback address: set tls: {certificate, key, "
                   "ca_file} (mutual TLS) or, to send in clear text, "
                   "insecure: true");
}

} // namespace flumen
