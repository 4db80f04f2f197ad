#include "actors/sources/tls_session.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "runtime/config/config.hpp"
#include "runtime/libs/openssl.hpp"

namespace flumen::sources {

namespace {

/// OpenSSL's reason for the last failure on this thread (and clears the
/// queue); `fallback` when it has none.
std::string tls_error_reason(const std::string& fallback) {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  char reason[256];
  ERR_error_string_n(code, reason, sizeof reason);
  return reason;
}

int passphrase_callback(char* buf, int size, int, void* user) {
  auto* pass = static_cast<const std::string*>(user);
  if (!pass || pass->size() >= static_cast<std::size_t>(size)) return 0;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

} // namespace

server_tls parse_loaded_server_tls(option_reader& r) {
  auto tls = parse_server_tls(r);
  if (tls.enabled()) try {
      make_tls_server_context(tls);
    } catch (const std::exception& e) {
      r.invalid("tls", e.what());
    }
  return tls;
}

void require_listener_protection(option_reader& r, const std::string& bind,
                                 const server_tls& tls, bool insecure,
                                 const std::string& how,
                                 const std::string& what) {
  if (tls.enabled() && insecure)
    r.error("insecure", "insecure: true and tls together: choose one");
  // A tls or insecure that failed to parse is not known to be absent.
  if (r.parsed({"bind", "tls", "insecure"}) && !loopback_address(bind) &&
      !tls.enabled() && !insecure)
    r.error("bind", "'" + bind +
                        "' is not a loopback address: set tls: {certificate, "
                        "key}" +
                        how + " or, to take " + what +
                        " in clear text, insecure: true");
}

tls_context make_tls_server_context(const server_tls& cfg) {
  ERR_clear_error();
  tls_context ctx{SSL_CTX_new(TLS_server_method()), SSL_CTX_free};
  if (!ctx)
    throw std::runtime_error("TLS: " + tls_error_reason("out of memory"));
  auto* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  // An idle connection keeps no read or write buffer (about 34 KB each).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // No session tickets: they are written after the handshake, when a
  // sender that wrote its messages may already have closed (the write
  // then fails the session), and syslog senders stay connected anyway.
  SSL_CTX_set_num_tickets(c, 0);
  // A client that closes without close_notify (most syslog senders) ended
  // its input, as a plain TCP client's FIN does: not a failure.
  SSL_CTX_set_options(c,
                      SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // The callback reads the passphrase during the calls below only.
  SSL_CTX_set_default_passwd_cb(c, passphrase_callback);
  SSL_CTX_set_default_passwd_cb_userdata(
      c, const_cast<std::string*>(&cfg.passphrase));
  auto fail = [&](const std::string& what) {
    SSL_CTX_set_default_passwd_cb_userdata(c, nullptr);
    throw std::runtime_error(what + ": " + tls_error_reason("unknown error"));
  };
  if (SSL_CTX_use_certificate_chain_file(c, cfg.certificate.c_str()) != 1)
    fail("TLS certificate " + cfg.certificate);
  if (SSL_CTX_use_PrivateKey_file(c, cfg.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    auto code = ERR_peek_last_error();
    if (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
      fail("TLS key " + cfg.key + " does not match certificate " +
           cfg.certificate);
    fail("TLS key " + cfg.key +
         (cfg.passphrase.empty() ? " (if it is encrypted, set passphrase)"
                                 : " (is passphrase right?)"));
  }
  if (SSL_CTX_check_private_key(c) != 1)
    fail("TLS key " + cfg.key + " does not match certificate " +
         cfg.certificate);
  SSL_CTX_set_default_passwd_cb_userdata(c, nullptr);
  if (!cfg.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, cfg.ca_file.c_str(), nullptr) != 1)
      fail("TLS ca_file " + cfg.ca_file);
    // The CAs clients are told the server takes (their certificate's).
    if (auto* names = SSL_load_client_CA_file(cfg.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(c, names);
  }
  switch (cfg.clients) {
  case client_certificates::none:
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    break;
  case client_certificates::optional:
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    break;
  case client_certificates::required:
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
    break;
  }
  ERR_clear_error();
  return ctx;
}

tls_session::tls_session(const tls_context& ctx, int fd)
    : ssl_(SSL_new(ctx.get())) {
  if (!ssl_ || SSL_set_fd(ssl_, fd) != 1) {
    if (ssl_) SSL_free(ssl_);
    throw std::runtime_error("TLS: cannot start a session: " +
                             tls_error_reason("out of memory"));
  }
  SSL_set_accept_state(ssl_);
  // send() takes what fits and is called again with the rest, from a
  // buffer that may have moved.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE |
                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

tls_session::step tls_session::handshake() {
  // OpenSSL's error queue is per thread and must be empty before each call
  // (SSL_get_error(3)).
  ERR_clear_error();
  int r = SSL_accept(ssl_);
  want_write_ = false;
  if (r == 1) {
    handshaking_ = false;
    return step::done;
  }
  switch (SSL_get_error(ssl_, r)) {
  case SSL_ERROR_WANT_READ:
    return step::again;
  case SSL_ERROR_WANT_WRITE:
    want_write_ = true;
    return step::again;
  default:
    error_ = tls_error_reason("the connection closed during the handshake");
    return step::failed;
  }
}

bool tls_session::buffered() const {
  return !handshaking_ && SSL_pending(ssl_) > 0;
}

ssize_t tls_session::receive(char* buf, std::size_t n, bool peek) {
  ERR_clear_error();
  int len = static_cast<int>(std::min<std::size_t>(n, INT_MAX));
  int r = peek ? SSL_peek(ssl_, buf, len) : SSL_read(ssl_, buf, len);
  want_write_ = false;
  if (r > 0) return r;
  switch (SSL_get_error(ssl_, r)) {
  case SSL_ERROR_WANT_READ:
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_WANT_WRITE:
    want_write_ = true;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN: // close_notify: the client is done
    return 0;
  case SSL_ERROR_SYSCALL:
    // A reset: as for plain TCP, what came before was sent. (End of
    // input without close_notify is ZERO_RETURN, by
    // SSL_OP_IGNORE_UNEXPECTED_EOF.)
    ERR_clear_error();
    return 0;
  default:
    // A record that fails its check: nothing after it can be read.
    error_ = tls_error_reason("TLS error");
    failed_ = true;
    return 0;
  }
}

ssize_t tls_session::send(const char* buf, std::size_t n) {
  ERR_clear_error();
  int len = static_cast<int>(std::min<std::size_t>(n, INT_MAX));
  int r = SSL_write(ssl_, buf, len);
  want_write_ = false;
  if (r > 0) return r;
  switch (SSL_get_error(ssl_, r)) {
  case SSL_ERROR_WANT_WRITE:
    want_write_ = true;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_WANT_READ:
    errno = EAGAIN;
    return -1;
  default:
    error_ = tls_error_reason("TLS write failed");
    errno = EPIPE;
    return -1;
  }
}

} // namespace flumen::sources
