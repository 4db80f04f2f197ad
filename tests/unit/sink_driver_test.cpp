// The sink driver with a scripted backend: the test decides when each
// delivery finishes and how, so window, order, retries, refusals and stops
// are checked deterministically, on virtual time (CAF's test coordinator:
// "never more than the window" holds while every actor runs and time
// moves on). The Kafka backend is tested against the in-process cluster in
// tests/integration.

#include "runtime/flow/sink_driver.hpp"

#include <deque>
#include <functional>
#include <mutex>

#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

/// Deliveries the test finishes by hand.
struct script {
  struct pending {
    batch events;
    delivery_done done;
    /// The owner the driver passed, and where its events were.
    batch_owner owner;
    const batch* where = nullptr;
  };
  std::mutex mtx;
  std::deque<pending> open;
  std::size_t window = 1;
  std::atomic<int> stops{0};
  /// The fixture's wait: it runs the actors on virtual time.
  std::function<bool(std::function<bool()>)> wait;

  std::size_t size() {
    std::lock_guard guard{mtx};
    return open.size();
  }

  /// Waits for `n` open deliveries.
  bool wait_open(std::size_t n) {
    return wait([&] { return size() >= n; });
  }

  /// Finishes delivery `i` (0: the oldest still open) with `r`; returns its
  /// events.
  batch finish(std::size_t i, delivery_report r = {}) {
    pending p;
    {
      std::lock_guard guard{mtx};
      p = std::move(open.at(i));
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
    }
    p.done(std::move(r));
    return p.events;
  }
};

class scripted_backend : public sink_backend {
public:
  explicit scripted_backend(std::shared_ptr<script> s) : s_(std::move(s)) {}
  std::size_t window() const override { return s_->window; }
  void deliver(const batch& events, delivery_done done,
               const batch_owner& owner) override {
    std::lock_guard guard{s_->mtx};
    s_->open.push_back({events, std::move(done), owner, &events});
  }
  void stop() override { ++s_->stops; }

private:
  std::shared_ptr<script> s_;
};

struct sink_driver_test : virtual_actor_test {
  sink_driver_test() {
    s->wait = [this](std::function<bool()> pred) { return wait_until(pred); };
  }

  std::shared_ptr<script> s = std::make_shared<script>();

  caf::actor driver(
      const caf::actor& ch, std::size_t window, std::size_t batch_size,
      permanent_error_policy on_permanent_error = permanent_error_policy::drop,
      caf::actor dead_letter = {}) {
    sink_driver_config cfg;
    cfg.batch_size = batch_size;
    cfg.on_permanent_error = on_permanent_error;
    return driver(ch, window, std::move(cfg), std::move(dead_letter));
  }

  /// A driver with `cfg` (its backoff made short for tests). Not detached:
  /// the scripted backend never blocks, and every actor runs on the test
  /// coordinator.
  caf::actor driver(const caf::actor& ch, std::size_t window,
                    sink_driver_config cfg, caf::actor dead_letter = {}) {
    s->window = window;
    auto w = wire("sinks", "k1", "scripted");
    w.channel = ch;
    w.dead_letter = dead_letter;
    cfg.backoff_first = 10ms;
    cfg.backoff_cap = 20ms;
    cfg.blocking = false;
    auto sc = s;
    return track(spawn_sink_driver(
        sys,
        [sc](sink_context&) -> std::unique_ptr<sink_backend> {
          return std::make_unique<scripted_backend>(sc);
        },
        cfg, w));
  }

  component_metrics& channel_metrics(const std::string& name = "c1") {
    return *registry_.find("a1.channels." + name);
  }
};

} // namespace

TEST_F(sink_driver_test, keeps_a_window_and_settles_in_take_order) {
  auto ch = channel(channel_config(100, 100));
  // Four batches' worth: a fourth could be taken if the window let it.
  ASSERT_FALSE(put(self, ch, numbered(0, 12)));
  auto d = driver(ch, 3, 3);
  ASSERT_TRUE(s->wait_open(3));
  EXPECT_FALSE(wait_until([&] { return s->size() > 3; }, 100ms))
      << "never more than the window in flight";
  auto& cm = channel_metrics();
  s->finish(2); // the newest first: nothing may commit before the oldest
  s->finish(1);
  EXPECT_FALSE(
      wait_until([&] { return cm.events_committed.load() > 0; }, 100ms));
  s->finish(0);
  EXPECT_TRUE(reaches(cm.events_committed, 9u));
  EXPECT_EQ(registry_.find("a1.sinks.k1")->current_state(),
            component_state::running);
}

// The backend gets the channel's own reply as the events' owner (no copy):
// the events stay where they are for as long as it holds the owner, also
// after the channel committed them.
TEST_F(sink_driver_test, the_backend_may_keep_the_events_it_was_given) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 9)));
  auto d = driver(ch, 1, 10);
  ASSERT_TRUE(s->wait_open(1));
  batch_owner owner;
  const batch* where = nullptr;
  {
    std::lock_guard guard{s->mtx};
    owner = s->open.front().owner;
    where = s->open.front().where;
  }
  ASSERT_TRUE(owner) << "the memory channel's reply is shared, not copied";
  auto events = s->finish(0);
  EXPECT_TRUE(reaches(channel_metrics().events_committed, 9u));
  EXPECT_EQ(*where, events) << "still readable through the owner";
}

// The bytes in flight follow the destination's rate x round trip (four
// times it), within [floor, cap]; times are injected.
TEST(window_estimate, follows_rate_times_round_trip_within_its_bounds) {
  using clock = window_estimate::clock;
  window_estimate w;
  constexpr std::size_t mib = 1 << 20;
  EXPECT_EQ(w.target(2 * mib, 16 * mib), 2 * mib) << "nothing measured yet";
  auto t = clock::time_point{} + std::chrono::hours{1};
  // 25 ms round trips, 1 MiB settled every 10 ms: 100 MiB/s.
  for (int i = 0; i <= 10; ++i) {
    w.on_report(std::chrono::milliseconds{25});
    w.on_settled(mib, t + std::chrono::milliseconds{10 * i});
  }
  // 4 x 100 MiB/s x 25 ms = 10 MiB.
  auto target = w.target(2 * mib, 16 * mib);
  EXPECT_GT(target, 9 * mib);
  EXPECT_LT(target, 11 * mib);
  EXPECT_EQ(w.target(2 * mib, 4 * mib), 4 * mib) << "never above the cap";
  // A near destination: 1 ms round trips at the same rate hold little.
  for (int i = 0; i < 50; ++i)
    w.on_report(std::chrono::milliseconds{1});
  EXPECT_EQ(w.target(2 * mib, 16 * mib), 2 * mib) << "never below the floor";
  EXPECT_EQ(w.target(32 * mib, 16 * mib), 16 * mib) << "a floor above the cap";
}

// With max_inflight_bytes, the window holds batches while their bytes are
// below the target (at first: two batches' worth of batch_bytes), whatever
// its count of batches allows; a take asks for batch_bytes at most.
TEST_F(sink_driver_test, bytes_in_flight_bound_the_window) {
  auto ch = channel(channel_config(1000, 100));
  batch events;
  for (int i = 0; i < 100; ++i)
    events.emplace_back().body.assign(100, 'x');
  ASSERT_FALSE(put(self, ch, events));
  sink_driver_config cfg;
  cfg.batch_size = 50;
  // 10 events of 100 bytes (and event_overhead each); at first the target
  // is the floor, two batches' worth.
  cfg.batch_bytes = 10 * (event_overhead + 100);
  cfg.max_inflight_bytes = 100000;
  driver(ch, 16, cfg);
  ASSERT_TRUE(s->wait_open(2));
  EXPECT_FALSE(wait_until([&] { return s->size() > 2; }, 100ms))
      << "two batches fill the window";
  {
    std::lock_guard guard{s->mtx};
    for (auto& p : s->open)
      EXPECT_EQ(p.events.size(), 10u) << "a take is cut at batch_bytes";
  }
  s->finish(0);
  EXPECT_TRUE(s->wait_open(2)) << "a settled batch makes room";
}

TEST_F(sink_driver_test, a_retry_puts_back_from_the_first_failure_in_order) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  auto d = driver(ch, 2, 3);
  ASSERT_TRUE(s->wait_open(2));
  s->finish(1); // [3,4,5] delivered, but it must go again after [1,2]
  delivery_report r;
  r.retry = {1};
  r.reason = "broker said no";
  s->finish(0, r);
  auto& cm = channel_metrics();
  ASSERT_TRUE(reaches(cm.events_committed, 1u)) << "event 0 stays delivered";
  auto m = registry_.find("a1.sinks.k1");
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::degraded; }));
  EXPECT_EQ(m->reason(), "broker said no");
  // After the backoff everything from event 1 on comes again, in order.
  batch again;
  while (again.size() < 5) {
    ASSERT_TRUE(s->wait_open(1));
    auto b = s->finish(0);
    again.insert(again.end(), b.begin(), b.end());
  }
  EXPECT_EQ(again, numbered(1, 5));
  EXPECT_TRUE(reaches(cm.events_committed, 6u));
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::running; }));
}

// A retry waits for its backoff (10 ms here, with up to 20 % jitter either
// way) on the actor system's clock: on virtual time nothing is taken again
// before 8 ms, and the batch is taken again by 12 ms.
TEST_F(sink_driver_test, a_retry_waits_for_its_backoff) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto d = driver(ch, 1, 3);
  ASSERT_TRUE(s->wait_open(1));
  delivery_report r;
  r.retry = {0};
  r.reason = "broker said no";
  s->finish(0, r);
  advance(7ms);
  EXPECT_EQ(s->size(), 0u) << "taken again before its backoff";
  EXPECT_EQ(registry_.find("a1.sinks.k1")->current_state(),
            component_state::degraded);
  advance(5ms);
  ASSERT_EQ(s->size(), 1u) << "not taken again after its backoff";
  EXPECT_EQ(s->finish(0), numbered(0, 3));
}

TEST_F(sink_driver_test, refused_events_are_dropped_and_counted) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto d = driver(ch, 1, 3);
  ASSERT_TRUE(s->wait_open(1));
  delivery_report r;
  r.rejected.push_back({1, "too large", {}});
  s->finish(0, r);
  auto& cm = channel_metrics();
  EXPECT_TRUE(reaches(cm.events_committed, 3u));
  EXPECT_TRUE(reaches(registry_.find("a1.sinks.k1")->events_dropped, 1u));
  EXPECT_EQ(registry_.find("a1.sinks.k1")->events_committed.load(), 2u);
}

TEST_F(sink_driver_test, refused_events_go_to_the_dead_letter_channel) {
  auto ch = channel(channel_config(100, 100));
  auto dlq = channel(channel_config(100, 100), "dlq");
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto d = driver(ch, 1, 3, permanent_error_policy::dead_letter, dlq);
  ASSERT_TRUE(s->wait_open(1));
  delivery_report r;
  r.rejected.push_back({2, "too large", {{"flumen.topic", "t"}}});
  s->finish(0, r);
  EXPECT_TRUE(reaches(channel_metrics().events_committed, 3u));
  auto dead = drain(self, dlq, 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, numbered(2, 1)[0].body);
  EXPECT_EQ(dead[0].headers.find("flumen.error")->second, "too large");
  EXPECT_EQ(dead[0].headers.find("flumen.topic")->second, "t");
  EXPECT_EQ(dead[0].headers.find("flumen.sink")->second, "a1.sinks.k1");
}

TEST_F(sink_driver_test, on_permanent_error_fail_quits_and_rolls_back) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto d = driver(ch, 1, 3, permanent_error_policy::fail);
  self->monitor(d);
  ASSERT_TRUE(s->wait_open(1));
  delivery_report r;
  r.rejected.push_back({0, "too large", {}});
  s->finish(0, r);
  std::optional<caf::error> reason;
  receive_within(self, 5s, [&](caf::down_msg& dm) { reason = dm.reason; });
  ASSERT_TRUE(reason) << registry_.find("a1.sinks.k1")->summary();
  EXPECT_TRUE(is(*reason, errc::delivery_failed)) << sys.render(*reason);
  EXPECT_TRUE(reaches(channel_metrics().events_rolled_back, 3u));
  EXPECT_EQ(channel_metrics().events_committed.load(), 0u);
}

TEST_F(sink_driver_test, a_fatal_report_quits_and_everything_rolls_back) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  auto d = driver(ch, 2, 3);
  self->monitor(d);
  ASSERT_TRUE(s->wait_open(2));
  s->finish(0, delivery_report::fatal_error("producer fenced"));
  std::optional<caf::error> reason;
  receive_within(self, 5s, [&](caf::down_msg& dm) { reason = dm.reason; });
  ASSERT_TRUE(reason);
  EXPECT_NE(sys.render(*reason).find("producer fenced"), std::string::npos);
  EXPECT_TRUE(reaches(channel_metrics().events_rolled_back, 6u));
  EXPECT_EQ(drain(self, ch, 6), numbered(0, 6)) << "back in order";
}

TEST_F(sink_driver_test, a_stop_waits_for_the_window_then_stops_the_backend) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto d = driver(ch, 1, 3);
  ASSERT_TRUE(s->wait_open(1));
  self->send(d, stop_atom::value);
  EXPECT_FALSE(ok_within(self, 100ms)) << "a batch is still in flight";
  EXPECT_EQ(s->stops.load(), 0);
  s->finish(0);
  EXPECT_TRUE(ok_within(self, 5s));
  EXPECT_EQ(s->stops.load(), 1);
  EXPECT_EQ(channel_metrics().events_committed.load(), 3u);
}

// Takes and commits carry no timeout: a channel that dies while the driver
// waits on it (here a take it holds for its keep_alive, a minute) ends the
// driver through its monitor, not after a timeout.
TEST_F(sink_driver_test, a_channel_that_dies_holding_a_take_ends_the_sink) {
  auto ch = channel(channel_config(100, 100, std::chrono::minutes{1}));
  auto d = driver(ch, 3, 3);
  auto& sm = *registry_.find("a1.sinks.k1");
  ASSERT_TRUE(wait_until(
      [&] { return sm.current_state() == component_state::running; }));
  self->monitor(d);
  caf::anon_send_exit(ch, caf::exit_reason::kill);
  bool down = false;
  receive_within(self, 5s,
                 [&](const caf::down_msg& dm) { down = dm.source == d; });
  EXPECT_TRUE(down) << "the sink must end with its channel";
}

// `flumen tap`'s hook in a sink: the batches it takes, as it takes them.
TEST_F(sink_driver_test, a_tap_sees_what_the_sink_takes) {
  auto ch = channel(channel_config(100, 100));
  auto q = std::make_shared<tap_queue>();
  registry_.get("a1.sinks.k1", "sinks", "scripted")->tap.subscribe(q, "k1");
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto d = driver(ch, 1, 10);
  ASSERT_TRUE(s->wait_open(1));
  std::vector<std::string> got;
  q->pop(got, 10);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], format_tap_line("k1", numbered(0, 3)[0]));
  s->finish(0);
}
