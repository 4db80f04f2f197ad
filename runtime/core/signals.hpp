#pragma once

#include <signal.h>

namespace flumen {

/// The signals flumen's commands wait for in their main thread (SIGINT and
/// SIGTERM stop, SIGHUP reloads): every other thread keeps them blocked.
inline sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

} // namespace flumen
