// Two repairs to CAF 0.17's OpenSSL module, by wrapping the OpenSSL calls
// it makes (linked into the flumen executable, which exports these symbols,
// CMakeLists.txt, so the module's calls resolve here first):
//
// 1. OpenSSL's error queue is per thread and must be empty before each
//    SSL_accept/connect/read/write, or SSL_get_error misreports the result
//    (OpenSSL's SSL_get_error(3)). The module never clears it, and all its
//    sessions share the middleman's thread: one peer refused (another CA,
//    plain text) left its error behind, and the next healthy session's
//    "want read" was taken for a failure and dropped. Measured: an agent
//    placing replicas on a TLS node lost its connection each time a refused
//    agent connected at the same moment. Each wrapper clears the queue first.
// 2. Every TLS peer a listening endpoint (hop source, node) refuses is
//    logged with its address and OpenSSL's reason: the module refuses them
//    (no certificate, another CA's, plain text) but says nothing, Debian's
//    CAF being built quiet.
// 3. The listener gate (runtime/net/listener_gate.hpp) follows the decrypted
//    BASP stream of every socket CAF's OpenSSL module accepted: a read that
//    completes a header the gate refuses fails, before CAF sizes a buffer
//    from it.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>

#include <spdlog/spdlog.h>

#include "runtime/libs/openssl.hpp"
#include "runtime/net/listener_gate.hpp"

// Defined here: the plain names, not the table's (which binds them here).
#undef SSL_accept
#undef SSL_connect
#undef SSL_read
#undef SSL_write

namespace {

/// OpenSSL's own `name`, from libssl (loaded on demand,
/// runtime/libs/openssl.hpp: the module calling these has loaded it).
template <class Fn>
Fn real(const char* name) {
  void* ssl = flumen::libs::openssl().ssl;
  auto p = dlvsym(ssl, name, "OPENSSL_3.0.0");
  if (!p) p = dlsym(ssl, name);
  return reinterpret_cast<Fn>(p);
}

using accept_fn = int (*)(SSL*);
using io_fn = int (*)(SSL*, void*, int);
using write_fn = int (*)(SSL*, const void*, int);

std::string peer_of(SSL* ssl) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(SSL_get_fd(ssl), reinterpret_cast<sockaddr*>(&a), &len) !=
      0)
    return "an unknown peer";
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
    port = ntohs(in->sin6_port);
  }
  return std::string{host} + ":" + std::to_string(port);
}

/// At most this many refusals logged per second; the rest are counted and
/// said with the next one logged.
constexpr int max_logged_per_second = 10;
std::atomic<int64_t> window_second{0};
std::atomic<int> logged_in_window{0};
std::atomic<uint64_t> suppressed{0};

} // namespace

extern "C" int SSL_connect(SSL* ssl) {
  static auto fn = real<accept_fn>("SSL_connect");
  ERR_clear_error();
  return fn(ssl);
}

extern "C" int SSL_read(SSL* ssl, void* buf, int num) {
  namespace gate = flumen::listener_gate::hooks;
  static auto fn = real<io_fn>("SSL_read");
  ERR_clear_error();
  auto* c = gate::find(SSL_get_fd(ssl));
  if (c && !gate::claim(*c, gate::transport::tls)) c = nullptr;
  // A refused read fails with an error queued: SSL_get_error then says
  // SSL_ERROR_SSL whatever the session's state (a "want read" left from
  // an earlier call would make CAF wait and call again), and CAF closes.
  auto refuse = [] {
    ERR_raise(ERR_LIB_SSL, SSL_R_PROTOCOL_IS_SHUTDOWN);
    return -1;
  };
  if (c && gate::refused(*c)) return refuse();
  int r = fn(ssl, buf, num);
  if (c && r > 0 && !gate::inspect(*c, buf, static_cast<std::size_t>(r)))
    return refuse();
  return r;
}

extern "C" int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto fn = real<write_fn>("SSL_write");
  ERR_clear_error();
  return fn(ssl, buf, num);
}

extern "C" int SSL_accept(SSL* ssl) {
  static auto accept = real<accept_fn>("SSL_accept");
  if (!accept) return -1;
  ERR_clear_error();
  int r = accept(ssl);
  if (r == 1) return r;
  int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return r;
  // The listener gate closed it (no handshake in time) and said so.
  namespace gate = flumen::listener_gate::hooks;
  auto* c = gate::find(SSL_get_fd(ssl));
  if (c && gate::refused(*c)) return r;
  // CAF may call it once more on a session that failed: log it once. The
  // mark is on the session itself: a new session may get a freed one's
  // address (comparing pointers silenced later refusals).
  static const int logged_index =
      SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  if (SSL_get_ex_data(ssl, logged_index) != nullptr) return r;
  SSL_set_ex_data(ssl, logged_index, ssl);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  if (window_second.exchange(now) != now) logged_in_window = 0;
  if (++logged_in_window > max_logged_per_second) {
    ++suppressed;
    return r;
  }
  char reason[256] = "the connection closed during the handshake";
  if (auto code = ERR_peek_error(); code != 0)
    ERR_error_string_n(code, reason, sizeof reason);
  std::string why = reason;
  if (why.find("wrong version number") != std::string::npos ||
      why.find("http request") != std::string::npos)
    why += " (the peer does not speak TLS: a plaintext client?)";
  else if (why.find("did not return a certificate") != std::string::npos)
    why += " (the peer has no certificate)";
  else if (why.find("certificate verify failed") != std::string::npos)
    why += " (the peer's certificate is not signed by ca_file)";
  else if (why.find("unknown ca") != std::string::npos)
    why += " (the peer does not trust this agent's certificate)";
  auto more = suppressed.exchange(0);
  // The gate's address: the peer may have reset the socket already.
  spdlog::warn("TLS: refused {}: {}{}", c ? gate::peer(*c) : peer_of(ssl), why,
               more == 0 ? std::string{}
                         : " (and " + std::to_string(more) +
                               " more refusals not logged)");
  return r;
}
