#pragma once

// The fixture of suite `source_test` (seq_test.cpp, netcat_test.cpp,
// exec_test.cpp): a source puts into a real memory channel and the test
// takes from it. One type in a named namespace: gtest wants one fixture
// class per suite across files.

#include "tests/unit/actor_test_support.hpp"

namespace flumen::test {

struct source_test : actor_test {
  wiring source_wiring(const std::string& name, const std::string& type,
                       const caf::actor& downstream) {
    auto w = wire("sources", name, type);
    w.downstream = downstream;
    return w;
  }

  /// A source's stop_atom request, answered within `timeout`.
  bool stop(const caf::actor& source, std::chrono::milliseconds timeout = 10s) {
    bool ok = false;
    self->request(source, timeout, stop_atom::value)
        .receive([&](ok_atom) { ok = true; }, [](caf::error&) {});
    return ok;
  }
};

} // namespace flumen::test
