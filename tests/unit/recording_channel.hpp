#pragma once

// A fake channel for source tests: it records every put and can hold its
// answers (a channel that is full, or slow to sync).

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "runtime/flow/protocol.hpp"
#include "tests/unit/events.hpp"

namespace flumen::test {

using release_atom = caf::atom_constant<caf::atom("release")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;

/// What the fake channel was put, in order.
struct recorded {
  std::mutex mtx;
  batch events;
  std::atomic<std::size_t> puts{0};

  batch all() {
    std::lock_guard guard{mtx};
    return events;
  }
  std::vector<std::string> bodies() { return test::bodies(all()); }
  std::size_t size() {
    std::lock_guard guard{mtx};
    return events.size();
  }
};

struct fake_channel_state {
  bool hold = false;
  std::deque<caf::response_promise> held;
  static inline const char* name = "fake_channel";
};

/// Accepts every put and records it; with `hold`, answers none until told:
/// `(answer_atom, n)` answers the `n` oldest held puts (and keeps holding),
/// `(answer_atom, n, skip)` the `n` after the `skip` oldest,
/// `release_atom` answers every held one and every later put at once.
inline caf::behavior fake_channel(caf::stateful_actor<fake_channel_state>* self,
                                  std::shared_ptr<recorded> out, bool hold) {
  self->state.hold = hold;
  // A put: the same with or without a receipt (a source wired straight
  // to the channel; nothing is filtered on the way).
  auto put = [self, out](batch& events) -> caf::result<ok_atom> {
    {
      std::lock_guard guard{out->mtx};
      for (auto& e : events)
        out->events.push_back(std::move(e));
    }
    ++out->puts;
    if (!self->state.hold) return ok_atom::value;
    self->state.held.push_back(self->make_response_promise());
    return caf::delegated<ok_atom>{};
  };
  return {
      [put](put_atom, batch& events) { return put(events); },
      [put](put_atom, batch& events, std::shared_ptr<put_receipt>&) {
        return put(events);
      },
      [self](answer_atom, int n) {
        auto& held = self->state.held;
        for (; n > 0 && !held.empty(); --n) {
          held.front().deliver(ok_atom::value);
          held.pop_front();
        }
      },
      [self](answer_atom, int n, int skip) {
        // Out of order: the `n` held puts after the `skip` oldest.
        auto& held = self->state.held;
        auto first =
            held.begin() + std::min<std::ptrdiff_t>(skip, std::ssize(held));
        auto last = first + std::min<std::ptrdiff_t>(n, held.end() - first);
        for (auto i = first; i != last; ++i)
          i->deliver(ok_atom::value);
        held.erase(first, last);
      },
      [self](release_atom) {
        self->state.hold = false;
        for (auto& rp : self->state.held)
          rp.deliver(ok_atom::value);
        self->state.held.clear();
      },
  };
}

} // namespace flumen::test
