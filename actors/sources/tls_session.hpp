#pragma once

// TLS on flumen's own TCP listeners (syslog_tcp's RFC 5425): the OpenSSL
// server context built from a server_tls configuration, and a session per
// client on a non-blocking socket, driven by the reader's poll loop
// (actors/sources/netcat.cpp). CAF's listeners (hops, nodes) use CAF's
// OpenSSL module instead.

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "runtime/config/link_security.hpp"

struct ssl_ctx_st;
struct ssl_st;

namespace flumen::sources {

using tls_context = std::shared_ptr<ssl_ctx_st>;

/// A server context: TLS 1.2 or later, the certificate (and chain) and key
/// of `cfg`, client certificates asked for and checked against `ca_file`
/// as `cfg.clients` says, buffers released while a connection is idle, no
/// session tickets, no renegotiation. Throws std::runtime_error saying
/// which file is wrong and OpenSSL's reason (a key that does not match the
/// certificate, a wrong passphrase, a file that is no PEM).
tls_context make_tls_server_context(const server_tls& cfg);

/// A listener's `tls` (parse_server_tls), loaded once here so that what
/// cannot run is a config error located at `tls` (`flumen validate` says
/// it) rather than a failure at start.
server_tls parse_loaded_server_tls(option_reader& r);

/// A listener's protection: `tls` and `insecure: true` together are an
/// error, and a `bind` that is not a loopback address needs one of them.
/// `how` follows "set tls: {certificate, key}" in that error (e.g. "
/// (HTTPS)"), `what` names what the listener takes ("calls", "requests").
void require_listener_protection(option_reader& r, const std::string& bind,
                                 const server_tls& tls, bool insecure,
                                 const std::string& how,
                                 const std::string& what);

/// The server side of one client's TLS session on a non-blocking socket
/// (which the caller owns and closes after it).
class tls_session {
public:
  /// Throws std::runtime_error when OpenSSL cannot start one (memory).
  tls_session(const tls_context& ctx, int fd);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  enum class step { done, again, failed };

  /// Takes the handshake as far as the socket allows. `failed`: refused
  /// (plain text, no or an untrusted certificate) or gone; OpenSSL's
  /// reason is in error(), and the agent's TLS audit logs it too
  /// (runtime/net/tls_audit.cpp).
  step handshake();
  bool handshaking() const { return handshaking_; }

  /// The session needs the socket writable before it can go on.
  bool wants_write() const { return want_write_; }

  /// Decrypted bytes wait in the session, which poll(2) cannot see.
  bool buffered() const;

  /// Reads (or peeks at) up to `n` decrypted bytes: the count; 0 at the
  /// end of the input (close_notify or not) or after a failure (failed()
  /// then says so, once); -1 with errno EAGAIN when nothing is there now.
  ssize_t receive(char* buf, std::size_t n, bool peek);

  /// Writes up to `n` bytes: the count written (a part of them, at
  /// least one); -1 with errno EAGAIN when the socket takes nothing now,
  /// -1 with another errno when the session is broken (error() says why).
  ssize_t send(const char* buf, std::size_t n);

  /// A record failed its check since the last call: nothing after it can
  /// be read. Cleared by the call.
  bool failed() { return std::exchange(failed_, false); }
  const std::string& error() const { return error_; }

private:
  ssl_st* ssl_ = nullptr;
  bool handshaking_ = true;
  bool want_write_ = false;
  bool failed_ = false;
  std::string error_;
};

} // namespace flumen::sources
