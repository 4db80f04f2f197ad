#include "runtime/net/code_ranges.hpp"

#include <link.h>

#include <cstring>

namespace flumen::net {

code_ranges::code_ranges(std::initializer_list<const char*> names) {
  struct walk {
    code_ranges* self;
    std::initializer_list<const char*> names;
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

} // namespace flumen::net
