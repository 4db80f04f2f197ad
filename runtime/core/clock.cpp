#include "runtime/core/clock.hpp"

#include <algorithm>
#include <climits>

namespace flumen {

namespace {

class steady final : public clock {
public:
  time_point now() override { return std::chrono::steady_clock::now(); }

  int poll(pollfd* fds, nfds_t n, time_point deadline) override {
    if (deadline == time_point::max()) return ::poll(fds, n, -1);
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now());
    return ::poll(
        fds, n,
        static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX)));
  }

  void wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
            const std::function<bool()>& ready) override {
    cv.wait(lock, ready);
  }
};

} // namespace

std::shared_ptr<clock> real_clock() {
  static const auto instance = std::make_shared<steady>();
  return instance;
}

} // namespace flumen
