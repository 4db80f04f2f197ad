// The listener gate's place between CAF and its sockets
// (runtime/net/listener_gate.hpp): wrappers of the C library's `accept`, `recv`
// and `close`, linked into the flumen executable only, which exports them
// (CMakeLists.txt), so the calls CAF's libraries make resolve here first
// (as tls_audit.cpp does for OpenSSL's).
//
// - `accept`: only calls made from CAF's libraries are gated (the return
//   address says which library called; libcaf_io's acceptor serves CAF's
//   OpenSSL module too), whatever port they listen on, so a listener
//   published on port 0 is gated from its first connection. librdkafka's
//   in-process cluster and flumen's own listeners (accept4) pass untouched. A
//   refused socket is closed with a reset at once and CAF is told "nothing to
//   accept" (EAGAIN), which both of its acceptors take as a spurious wakeup.
// - `recv`: CAF's plain BASP reads; a read that completes a header the gate
//   refuses fails (ECONNRESET), so CAF never sizes a buffer from it. Every
//   other descriptor costs two loads.
// - `close`: the gate forgets the descriptor before its number can be given
//   out again. Calls the system directly: `close` runs from library
//   constructors before anything could be looked up.

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "runtime/net/code_ranges.hpp"
#include "runtime/net/listener_gate.hpp"

namespace {

namespace gate = flumen::listener_gate::hooks;

template <class Fn>
Fn next_fn(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

/// True when CAF's network code called.
bool caf_caller(void* return_address) {
  // CAF's OpenSSL module is loaded on demand (runtime/libs), after the
  // first call here maybe.
  static flumen::net::loaded_code_ranges caf{"libcaf_io", "libcaf_openssl"};
  const auto& ranges = caf.get();
  static const bool found = [&] {
    if (ranges.empty())
      spdlog::warn("listener gate: CAF's network libraries not found; "
                   "accepted sockets are not checked");
    return !ranges.empty();
  }();
  (void)found;
  return ranges.contains(return_address);
}

/// At most this many refused sockets are closed per call before CAF gets
/// "nothing to accept" (its loop comes back while the listener is ready).
constexpr int refusals_per_call = 16;

int close_now(int fd) {
  return static_cast<int>(::syscall(SYS_close, fd));
}

} // namespace

extern "C" int accept(int listener, sockaddr* addr, socklen_t* len) {
  using accept_fn = int (*)(int, sockaddr*, socklen_t*);
  static auto real = next_fn<accept_fn>("accept");
  if (!caf_caller(__builtin_return_address(0)))
    return real(listener, addr, len);
  auto size = len ? *len : 0;
  for (int i = 0; i < refusals_per_call; ++i) {
    if (len) *len = size;
    int fd = real(listener, addr, len);
    if (fd < 0) return fd;
    if (gate::admit(fd)) return fd;
    // A reset, not a FIN: nothing of it lingers.
    linger hard{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    close_now(fd);
  }
  errno = EAGAIN;
  return -1;
}

extern "C" ssize_t recv(int fd, void* buf, size_t n, int flags) {
  using recv_fn = ssize_t (*)(int, void*, size_t, int);
  static auto real = next_fn<recv_fn>("recv");
  auto* c = gate::find(fd);
  if (!c || !gate::claim(*c, gate::transport::plain))
    return real(fd, buf, n, flags);
  if (gate::refused(*c)) {
    errno = ECONNRESET;
    return -1;
  }
  auto r = real(fd, buf, n, flags);
  if (r > 0 && !(flags & MSG_PEEK) &&
      !gate::inspect(*c, buf, static_cast<std::size_t>(r))) {
    errno = ECONNRESET;
    return -1;
  }
  return r;
}

extern "C" int close(int fd) {
  gate::forget(fd);
  return close_now(fd);
}
