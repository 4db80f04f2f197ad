// The backoff policy (pure), then the supervisor on virtual time (CAF's
// test coordinator): a restart comes when virtual time reaches its backoff,
// and restart intensity counts failures by the actor system's clock.

#include "runtime/flow/supervisor.hpp"

#include <atomic>

#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;
using std::chrono::milliseconds;

// -- backoff_policy (pure)
// -------------------------------------------------------

TEST(backoff_policy, doubles_from_100ms_up_to_30s) {
  backoff_policy p;
  auto t = backoff_policy::clock::time_point{} + std::chrono::hours{1};
  std::vector<int64_t> got;
  for (int i = 0; i < 12; ++i) {
    got.push_back(p.on_failure(t).count());
    t += std::chrono::seconds{1};
  }
  EXPECT_EQ(got, (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 6400,
                                       12800, 25600, 30000, 30000, 30000}));
}

TEST(backoff_policy, starts_again_after_the_quiet_period) {
  backoff_policy p{milliseconds{100}, std::chrono::seconds{30},
                   std::chrono::seconds{60}};
  auto t = backoff_policy::clock::time_point{} + std::chrono::hours{1};
  EXPECT_EQ(p.on_failure(t), milliseconds{100});
  EXPECT_EQ(p.on_failure(t += std::chrono::seconds{1}), milliseconds{200});
  EXPECT_EQ(p.on_failure(t += std::chrono::seconds{59}), milliseconds{400})
      << "59 s without a failure is not quiet enough";
  EXPECT_EQ(p.on_failure(t += std::chrono::seconds{60}), milliseconds{100});
  EXPECT_EQ(p.on_failure(t += milliseconds{10}), milliseconds{200});
}

TEST(backoff_policy, a_failure_at_the_clocks_epoch_is_a_first_failure) {
  backoff_policy p{milliseconds{5}, milliseconds{20}, milliseconds{1000}};
  backoff_policy::clock::time_point t{};
  EXPECT_EQ(p.on_failure(t), milliseconds{5});
  EXPECT_EQ(p.on_failure(t), milliseconds{10});
  EXPECT_EQ(p.on_failure(t), milliseconds{20});
  EXPECT_EQ(p.on_failure(t), milliseconds{20});
}

// -- the supervisor actor
// ----------------------------------------------------------

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

/// A child that quits with an error on `fail` and normally on `finish`.
caf::behavior child(caf::event_based_actor* self) {
  return {
      [self](fail_atom) {
        self->quit(make_error(errc::component_failed, "told to"));
      },
      [self](finish_atom) { self->quit(); },
  };
}

struct supervisor_test : virtual_actor_test {
  ~supervisor_test() override {
    // The supervisor first, so it restarts nothing (and calls nothing of
    // this fixture) while children go.
    if (sup) {
      caf::anon_send_exit(sup, caf::exit_reason::kill);
      run();
    }
    for (auto& a : children)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    run();
  }

  void start(std::size_t failing_starts = 0,
             restart_limit limit = restart_limit{}) {
    m = metrics_of("sources", "r1", "test");
    auto spawn = [this, failing_starts]() -> caf::actor {
      if (starts.fetch_add(1) < static_cast<int>(failing_starts)) return {};
      auto a = sys.spawn(child);
      std::lock_guard guard{mtx};
      children.push_back(a);
      return a;
    };
    std::vector<child_spec> specs{child_spec{"a1.sources.r1", spawn, m}};
    // Short delays: the real policy's values are covered above.
    sup = spawn_supervisor(sys, std::move(specs),
                           backoff_policy{milliseconds{10}, milliseconds{40},
                                          std::chrono::seconds{60}},
                           limit);
  }

  caf::actor current(const std::string& name = "a1.sources.r1") {
    caf::actor result;
    auto h = self->request(sup, caf::infinite, caf::get_atom::value, name);
    answer(
        self, h.id(), 5s, [&](caf::actor& a) { result = std::move(a); },
        [](caf::error&) {});
    return result;
  }

  /// A request to the supervisor answered `ok`.
  template <class... Ts>
  void ok_from_sup(Ts... xs) {
    auto err = request_ok(self, 5s, sup, xs...);
    EXPECT_FALSE(err) << sys.render(err);
  }

  /// What `(retire_atom, name)` answers.
  caf::actor retire(const std::string& name) {
    caf::actor result;
    auto h = self->request(sup, caf::infinite, retire_atom::value, name);
    answer(
        self, h.id(), 5s, [&](caf::actor& a) { result = std::move(a); },
        [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
    return result;
  }

  /// Waits for an instance other than `old` and returns it.
  caf::actor next_after(const caf::actor& old) {
    caf::actor a;
    wait_until([&] {
      a = current();
      return a && a != old;
    });
    return a;
  }

  caf::actor sup;
  std::shared_ptr<component_metrics> m;
  std::atomic<int> starts{0};
  std::mutex mtx;
  std::vector<caf::actor> children;
};

} // namespace

TEST_F(supervisor_test, restarts_a_child_that_quits_with_an_error) {
  start();
  auto first = next_after({});
  ASSERT_TRUE(first);
  EXPECT_EQ(starts.load(), 1);
  self->send(first, fail_atom::value);
  auto second = next_after(first);
  ASSERT_TRUE(second);
  EXPECT_NE(second, first);
  EXPECT_EQ(starts.load(), 2);
  EXPECT_EQ(m->restarts.load(), 1u);
  self->send(second, fail_atom::value);
  auto third = next_after(second);
  ASSERT_TRUE(third);
  EXPECT_EQ(m->restarts.load(), 2u);
}

TEST_F(supervisor_test, restarts_a_killed_child) {
  start();
  auto first = next_after({});
  ASSERT_TRUE(first);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  auto second = next_after(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(m->restarts.load(), 1u);
  EXPECT_EQ(starts.load(), 2);
}

// A restart waits for its backoff on the actor system's clock: on virtual
// time it comes exactly then (10 ms, doubling up to the 40 ms cap), not a
// millisecond before.
TEST_F(supervisor_test, a_restart_comes_exactly_after_its_backoff) {
  start();
  auto previous = next_after({});
  ASSERT_TRUE(previous);
  for (auto backoff : {10ms, 20ms, 40ms, 40ms}) {
    auto before = starts.load();
    self->send(previous, fail_atom::value);
    advance(backoff - 1ms);
    EXPECT_EQ(starts.load(), before)
        << "restarted before its backoff of " << backoff.count() << " ms";
    EXPECT_EQ(m->current_state(), component_state::backing_off);
    advance(1ms);
    EXPECT_EQ(starts.load(), before + 1) << backoff.count() << " ms";
    previous = current();
    ASSERT_TRUE(previous);
  }
  EXPECT_EQ(m->restarts.load(), 4u);
}

TEST_F(supervisor_test, does_not_restart_a_child_that_exits_normally) {
  start();
  auto first = next_after({});
  ASSERT_TRUE(first);
  self->send(first, finish_atom::value);
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  // The down handler decided: no restart was scheduled.
  EXPECT_FALSE(current());
  EXPECT_EQ(starts.load(), 1);
  EXPECT_EQ(m->restarts.load(), 0u);
}

TEST_F(supervisor_test, restarts_nothing_after_stop) {
  start();
  auto first = next_after({});
  ASSERT_TRUE(first);
  ok_from_sup(stop_atom::value);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_FALSE(current());
  EXPECT_EQ(starts.load(), 1);
  EXPECT_EQ(m->restarts.load(), 0u);
}

TEST_F(supervisor_test, retries_a_child_that_fails_to_start) {
  start(2);
  auto first = next_after({});
  ASSERT_TRUE(first);
  EXPECT_EQ(starts.load(), 3);
}

TEST_F(supervisor_test, an_unknown_name_has_no_instance) {
  start();
  ASSERT_TRUE(next_after({}));
  caf::actor result = caf::actor_cast<caf::actor>(self);
  auto h = self->request(sup, caf::infinite, caf::get_atom::value,
                         std::string{"a1.sinks.nope"});
  answer(
      self, h.id(), 5s, [&](caf::actor& a) { result = std::move(a); },
      [](caf::error&) {});
  EXPECT_FALSE(result);
}

TEST_F(supervisor_test, marks_a_child_failed_past_the_restart_intensity) {
  start(0, restart_limit{2, std::chrono::seconds{60}});
  auto a = next_after({});
  ASSERT_TRUE(a);
  self->send(a, fail_atom::value);
  auto b = next_after(a);
  ASSERT_TRUE(b);
  self->send(b, fail_atom::value);
  auto c = next_after(b);
  ASSERT_TRUE(c);
  EXPECT_EQ(m->restarts.load(), 2u);
  // The third failure within the window exceeds max_restarts: no restart.
  self->send(c, fail_atom::value);
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::failed; }));
  EXPECT_FALSE(current());
  EXPECT_EQ(starts.load(), 3);
  EXPECT_EQ(m->restarts.load(), 2u);
}

TEST_F(supervisor_test, failures_outside_the_window_do_not_count) {
  start(0, restart_limit{1, milliseconds{50}});
  auto a = next_after({});
  ASSERT_TRUE(a);
  auto previous = a;
  for (int i = 0; i < 3; ++i) {
    // Each failure comes after the last one left the 50 ms window.
    advance(milliseconds{80});
    self->send(previous, fail_atom::value);
    auto next = next_after(previous);
    ASSERT_TRUE(next) << "restart " << i;
    previous = next;
  }
  EXPECT_EQ(m->restarts.load(), 3u);
  EXPECT_NE(m->current_state(), component_state::failed);
}

// A component that can never start used to back off for ever: failed starts
// did not count. Now each counts, and the limit is reached.
TEST_F(supervisor_test, a_child_that_never_starts_reaches_failed) {
  start(1000, restart_limit{3, std::chrono::seconds{60}});
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::failed; }));
  EXPECT_EQ(starts.load(), 4) << "the first start and 3 restarts";
  EXPECT_EQ(m->restarts.load(), 3u);
  EXPECT_FALSE(m->reason().empty());
}

TEST_F(supervisor_test, a_start_that_throws_is_counted_with_its_text) {
  m = metrics_of("sources", "r1", "test");
  auto spawn = [this]() -> caf::actor {
    starts.fetch_add(1);
    throw std::runtime_error("cannot listen on 127.0.0.1:80: in use");
  };
  std::vector<child_spec> specs{child_spec{"a1.sources.r1", spawn, m}};
  sup = spawn_supervisor(sys, std::move(specs),
                         backoff_policy{milliseconds{5}, milliseconds{10},
                                        std::chrono::seconds{60}},
                         restart_limit{2, std::chrono::seconds{60}});
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::failed; }));
  EXPECT_EQ(starts.load(), 3);
  EXPECT_NE(m->reason().find("in use"), std::string::npos) << m->reason();
  EXPECT_TRUE(sup) << "the supervisor survives";
  EXPECT_FALSE(current());
}

// docs/guarantees.md states the bound: with the defaults a component that can
// never start is failed after at most this long (plus its own start attempts).
TEST(restart_limit, defaults_reach_failed_within_82_seconds) {
  backoff_policy p;
  restart_limit limit;
  auto t = backoff_policy::clock::time_point{} + std::chrono::hours{1};
  milliseconds total{0};
  for (std::size_t i = 0; i < limit.max_restarts; ++i) {
    auto d = p.on_failure(t);
    total += d;
    t += d;
    // Each restart fails at once, inside the window: counting goes on.
    ASSERT_LT(d, limit.window);
  }
  EXPECT_EQ(total, milliseconds{81100});
}

TEST_F(supervisor_test, a_watched_channel_that_dies_is_marked_failed) {
  auto cm = metrics_of("channels", "c1", "memory");
  auto ch = sys.spawn(child);
  sup = spawn_supervisor(sys, {}, backoff_policy{}, restart_limit{},
                         {watched_spec{ch, cm}});
  self->send(ch, fail_atom::value);
  ASSERT_TRUE(wait_until(
      [&] { return cm->current_state() == component_state::failed; }));
  EXPECT_NE(cm->reason().find("told to"), std::string::npos) << cm->reason();
}

// -- reload: adopt and retire
// ------------------------------------------------------

TEST_F(supervisor_test, a_retired_child_is_not_restarted) {
  start();
  auto first = next_after({});
  ASSERT_TRUE(first);
  auto retired = retire("a1.sources.r1");
  EXPECT_EQ(retired, first);
  // Gone from the names: a successor of the same name can be adopted.
  EXPECT_FALSE(current());
  self->send(first, fail_atom::value);
  // `stopped`, not `backing_off`: the down handler took the no-restart
  // branch (a restart is counted and its state set in the same handler).
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::stopped; }));
  EXPECT_EQ(m->restarts.load(), 0u);
  EXPECT_EQ(starts.load(), 1);
}

TEST_F(supervisor_test, an_adopted_child_is_started_and_restarted) {
  start();
  ASSERT_TRUE(next_after({}));
  auto m2 = metrics_of("sinks", "k9", "test");
  std::atomic<int> starts2{0};
  auto more = std::make_shared<adoption>();
  more->children.push_back(child_spec{"a1.sinks.k9",
                                      [&]() -> caf::actor {
                                        starts2.fetch_add(1);
                                        auto a = sys.spawn(child);
                                        std::lock_guard guard{mtx};
                                        children.push_back(a);
                                        return a;
                                      },
                                      m2});
  ok_from_sup(adopt_atom::value, more);
  EXPECT_EQ(starts2.load(), 1);
  auto k9 = current("a1.sinks.k9");
  ASSERT_TRUE(k9);
  self->send(k9, fail_atom::value);
  ASSERT_TRUE(wait_until([&] { return starts2.load() == 2; }));
  EXPECT_EQ(m2->restarts.load(), 1u);
}

TEST_F(supervisor_test, a_retired_channel_ending_is_not_a_failure) {
  auto cm = metrics_of("channels", "c1", "memory");
  auto ch = sys.spawn(child);
  sup = spawn_supervisor(sys, {}, backoff_policy{}, restart_limit{},
                         {watched_spec{ch, cm}});
  cm->set_state(component_state::running);
  ok_from_sup(retire_atom::value, ch);
  self->monitor(ch);
  caf::anon_send_exit(ch, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(receive_within(self, 5s, [](caf::down_msg&) {}));
  // Every actor ran: the supervisor saw its down message (if it still
  // watched the channel).
  run();
  EXPECT_EQ(cm->current_state(), component_state::running);
}

// Fifty reloads that each adopt a child and retire it: the supervisor keeps
// only what runs (a retired child is dropped once it is down; it kept them
// all, with their wiring, for the process's life).
TEST_F(supervisor_test, retired_children_are_dropped_once_down) {
  start();
  ASSERT_TRUE(next_after({}));
  auto count = [&] {
    uint64_t n = 0;
    auto h = self->request(sup, caf::infinite, caf::get_atom::value);
    answer(
        self, h.id(), 5s, [&](uint64_t x) { n = x; }, [](caf::error&) {});
    return n;
  };
  ASSERT_EQ(count(), 1u);
  for (int i = 0; i < 50; ++i) {
    auto more = std::make_shared<adoption>();
    more->children.push_back(child_spec{"a1.sinks.k9",
                                        [&]() -> caf::actor {
                                          auto a = sys.spawn(child);
                                          std::lock_guard guard{mtx};
                                          children.push_back(a);
                                          return a;
                                        },
                                        metrics_of("sinks", "k9", "test")});
    ok_from_sup(adopt_atom::value, more);
    auto retired = retire("a1.sinks.k9");
    ASSERT_TRUE(retired);
    self->send(retired, finish_atom::value);
  }
  EXPECT_TRUE(wait_until([&] { return count() == 1u; })) << count();
}
