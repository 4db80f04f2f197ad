// CAF 0.17's OpenSSL module blocks SIGPIPE around every SSL call it makes
// (its session.cpp, CAF_BLOCK_SIGPIPE): pthread_sigmask to block it,
// sigtimedwait to drop one that came meanwhile, pthread_sigmask to restore,
// three system calls per SSL_read or SSL_write. A TLS hop's collector made
// 22,000 of them per million 100-byte lines, more than its reads (13,500),
// and perf put them at a tenth of its CPU (bench/README.md, part 13).
//
// flumen ignores SIGPIPE in the whole process before any thread starts
// (app/cli.cpp): a write to a closed peer fails with EPIPE and no signal is
// ever pending, so blocking it changes nothing. These wrappers, exported by
// the executable like tls_audit.cpp's, make exactly those calls of the
// module free when SIGPIPE is ignored: the block writes a marked "saved
// mask", the restore of a marked mask does nothing, and the wait for SIGPIPE
// finds none (EAGAIN, as the system would say). Every other call, from
// anywhere else or of any other shape, goes to the C library unchanged.

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "runtime/net/code_ranges.hpp"

namespace {

template <class Fn>
Fn next_fn(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

/// The words of a sigset_t the kernel reads (64 signals).
constexpr int kernel_words = (_NSIG - 1 + 63) / 64;

/// Asked at the module's first call, long after main ignored SIGPIPE (the
/// executable's own first pthread_sigmask comes before that).
bool sigpipe_ignored() {
  static const bool ignored = [] {
    struct sigaction now {};
    return sigaction(SIGPIPE, nullptr, &now) == 0 && now.sa_handler == SIG_IGN;
  }();
  return ignored;
}

/// True when CAF's OpenSSL module called and SIGPIPE is ignored.
bool needless(void* return_address) {
  static flumen::net::loaded_code_ranges module{"libcaf_openssl"};
  return module.get().contains(return_address) && sigpipe_ignored();
}

/// Exactly {SIGPIPE}: the set the module builds. Only the words the kernel
/// reads are compared: glibc's sigemptyset clears just those, the rest of
/// the module's set is whatever its stack held.
bool only_sigpipe(const sigset_t* set) {
  sigset_t pipe;
  std::memset(&pipe, 0, sizeof pipe);
  sigaddset(&pipe, SIGPIPE);
  return set &&
         std::memcmp(set, &pipe, kernel_words * sizeof(unsigned long)) == 0;
}

/// The mark of a saved mask that was never changed: a word of glibc's
/// sigset_t beyond the signals the kernel knows, which nothing reads.
constexpr unsigned long unchanged_mark = 0x666c756d656e5047UL;
constexpr int mark_word = sizeof(sigset_t) / sizeof(unsigned long) - 1;
static_assert(mark_word >= kernel_words, "sigset_t has no spare word");

unsigned long& mark_of(sigset_t* set) {
  return reinterpret_cast<unsigned long*>(set)[mark_word];
}
unsigned long mark_of(const sigset_t* set) {
  return reinterpret_cast<const unsigned long*>(set)[mark_word];
}

} // namespace

extern "C" int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  using mask_fn = int (*)(int, const sigset_t*, sigset_t*);
  static auto real = next_fn<mask_fn>("pthread_sigmask");
  if (set && needless(__builtin_return_address(0))) {
    if (how == SIG_BLOCK && only_sigpipe(set)) {
      if (old) {
        sigemptyset(old);
        mark_of(old) = unchanged_mark;
      }
      return 0;
    }
    if (how == SIG_SETMASK && mark_of(set) == unchanged_mark) return 0;
  }
  return real(how, set, old);
}

extern "C" int sigtimedwait(const sigset_t* set, siginfo_t* info,
                            const timespec* timeout) {
  using wait_fn = int (*)(const sigset_t*, siginfo_t*, const timespec*);
  static auto real = next_fn<wait_fn>("sigtimedwait");
  if (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0 &&
      only_sigpipe(set) && needless(__builtin_return_address(0))) {
    errno = EAGAIN;
    return -1;
  }
  return real(set, info, timeout);
}
