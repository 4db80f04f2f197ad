#pragma once

#include <chrono>
#include <thread>

namespace flumen::test {

/// Polls `pred` until it holds or `timeout` passes; returns its last value.
/// Tests wait on conditions with a deadline, never on a bare sleep.
template <class Pred>
bool wait_until(Pred pred,
                std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

} // namespace flumen::test
