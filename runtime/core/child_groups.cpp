#include "runtime/core/child_groups.hpp"

#include <signal.h>

#include <array>
#include <atomic>

namespace flumen {

namespace {

std::array<std::atomic<pid_t>, 1024> groups{};

} // namespace

void register_child_group(pid_t pgid) {
  for (auto& slot : groups) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pgid)) return;
  }
}

void unregister_child_group(pid_t pgid) {
  for (auto& slot : groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void kill_child_groups() {
  for (auto& slot : groups)
    if (auto pgid = slot.load(); pgid > 0) ::kill(-pgid, SIGKILL);
}

} // namespace flumen
