#include "runtime/net/code_ranges.hpp"

#include <link.h>

#include <cstring>

#include "runtime/libs/on_demand.hpp"

namespace flumen::net {

code_ranges::code_ranges(const std::vector<const char*>& names) {
  struct walk {
    code_ranges* self;
    const std::vector<const char*>& names;
  } w{this, names};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto& w = *static_cast<walk*>(data);
        if (!info->dlpi_name) return 0;
        bool wanted = false;
        for (auto* n : w.names)
          wanted = wanted || std::strstr(info->dlpi_name, n) != nullptr;
        if (!wanted) return 0;
        for (int i = 0; i < info->dlpi_phnum && w.self->count_ < 8; ++i) {
          auto& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
          auto& r = w.self->ranges_[w.self->count_++];
          r.begin = info->dlpi_addr + ph.p_vaddr;
          r.end = r.begin + ph.p_memsz;
        }
        return 0;
      },
      &w);
}

const code_ranges& loaded_code_ranges::get() {
  // generation_ holds the load generation plus one, 0 before the first.
  auto now = libs::load_generation() + 1;
  if (generation_.load(std::memory_order_acquire) != now) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (generation_.load(std::memory_order_relaxed) != now) {
      // The one replaced is kept: another thread may be reading it. One
      // per library loaded on demand (six at most: runtime/libs).
      current_.store(new code_ranges{names_}, std::memory_order_release);
      generation_.store(now, std::memory_order_release);
    }
  }
  return *current_.load(std::memory_order_acquire);
}

} // namespace flumen::net
