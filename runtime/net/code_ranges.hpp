#pragma once

// The executable segments of loaded libraries, found by name: the hooks of
// the executable (listener_gate_hooks.cpp, sigpipe_hooks.cpp) act only on
// the calls one library makes, told by the caller's return address.

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <vector>

namespace flumen::net {

class code_ranges {
public:
  /// The executable segments of each loaded library whose path contains
  /// one of `names` (at most 8 segments).
  explicit code_ranges(const std::vector<const char*>& names);

  /// True when `address` is code of one of those libraries.
  bool contains(const void* address) const {
    auto a = reinterpret_cast<uintptr_t>(address);
    for (int i = 0; i < count_; ++i)
      if (a >= ranges_[i].begin && a < ranges_[i].end) return true;
    return false;
  }

  bool empty() const { return count_ == 0; }

private:
  struct range {
    uintptr_t begin = 0;
    uintptr_t end = 0;
  };
  range ranges_[8];
  int count_ = 0;
};

/// The code_ranges of libraries of which some are loaded on demand
/// (runtime/libs, CAF's OpenSSL module): looked up again after a library has
/// been loaded, so a hook that ran first at the start still sees them.
class loaded_code_ranges {
public:
  explicit loaded_code_ranges(std::initializer_list<const char*> names)
      : names_(names) {}

  /// The ranges as of the last library loaded (thread-safe; a lookup when
  /// one was loaded since the last call, else two atomic loads).
  const code_ranges& get();

private:
  std::vector<const char*> names_;
  std::mutex mutex_;
  std::atomic<const code_ranges*> current_{nullptr};
  std::atomic<unsigned> generation_{0};
};

} // namespace flumen::net
