#include "runtime/flow/router.hpp"

#include <future>

#include "runtime/flow/source_pump.hpp"

#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;
using strs = std::vector<std::string>;

namespace {

/// Appends `tag` to header `trace` of every event.
class tagger final : public interceptor {
public:
  explicit tagger(std::string tag) : tag_(std::move(tag)) {}
  std::size_t apply(batch& events) override {
    for (auto& e : events)
      e.headers["trace"] += tag_;
    return 0;
  }

private:
  std::string tag_;
};

/// Drops every event whose body is `drop`.
class dropper final : public interceptor {
public:
  std::size_t apply(batch& events) override {
    return std::erase_if(events,
                         [](const event& e) { return e.body == "drop"; });
  }
};

interceptor_fn tag(std::string t) {
  return [t] { return std::make_unique<tagger>(t); };
}

struct router_test : actor_test {
  caf::actor router(std::vector<caf::actor> channels,
                    std::vector<interceptor_fn> chain = {}) {
    return track(spawn_router(sys, std::move(channels), std::move(chain),
                              metrics_of("sources", "r1", "seq")));
  }
};

} // namespace

TEST_F(router_test, one_channel_answers_the_source_directly) {
  auto ch = channel(channel_config(2, 2));
  auto r = router({ch});
  ASSERT_FALSE(put(self, r, numbered(0, 2)));
  // Full: the channel's held answer is the source's held answer. The
  // router passed the put on before it answers the first round trip, the
  // channel handled it before it answers the second: an answer to it
  // would be in the mailbox by then.
  self->send(r, put_atom::value, numbered(2, 1));
  round_trip(self, r, true);
  round_trip(self, ch);
  EXPECT_FALSE(ok_already(self));
  auto t = take(self, ch, 2);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 2));
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_TRUE(ok_within(self, 5s));
}

TEST_F(router_test, a_put_is_answered_once_every_channel_accepted) {
  auto c1 = channel(channel_config(10, 10), "c1");
  auto c2 = channel(channel_config(1, 1), "c2");
  ASSERT_FALSE(put(self, c2, numbered(100, 1))); // c2 is full
  auto r = router({c1, c2});
  self->send(r, put_atom::value, numbered(0, 1));
  auto m1 = registry_.find("a1.channels.c1");
  ASSERT_TRUE(wait_until([&] { return m1->events_put.load() == 1; }));
  // In order: the router sent both puts, c1 and c2 handled theirs (c1's
  // answer is at the router before c1 answers us), the router handled
  // c1's answer; an answer to the source would be in the mailbox now.
  round_trip(self, r, true);
  round_trip(self, c1);
  round_trip(self, c2);
  round_trip(self, r, true);
  EXPECT_FALSE(ok_already(self)) << "c2 has not accepted yet";
  auto t = take(self, c2, 1);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(100, 1));
  ASSERT_FALSE(commit(self, c2, t->id));
  EXPECT_TRUE(ok_within(self, 5s));
  auto in1 = take(self, c1, 10);
  auto in2 = take(self, c2, 10);
  ASSERT_TRUE(in1 && in2);
  EXPECT_EQ(in1->events, numbered(0, 1));
  EXPECT_EQ(in2->events, numbered(0, 1));
}

TEST_F(router_test, an_error_from_any_channel_fails_the_put) {
  auto c1 = channel(channel_config(10, 10), "c1");
  auto c2 = channel(channel_config(10, 2), "c2");
  self->monitor(c2);
  caf::anon_send_exit(c2, caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {});
  auto r = router({c1, c2});
  EXPECT_TRUE(put(self, r, numbered(0, 3))) << "c2 is gone";
}

TEST_F(router_test, a_put_larger_than_a_channels_transaction_goes_in_whole) {
  auto c1 = channel(channel_config(10, 10), "c1");
  auto c2 = channel(channel_config(10, 2), "c2");
  auto r = router({c1, c2});
  ASSERT_FALSE(put(self, r, numbered(0, 3)));
  EXPECT_EQ(bodies(drain(self, c2, 3)), bodies(numbered(0, 3)));
}

namespace {

/// Throws on a batch holding the body `boom`.
class thrower final : public interceptor {
public:
  std::size_t apply(batch& events) override {
    for (auto& e : events)
      if (e.body == "boom") throw std::runtime_error("cannot parse boom");
    return 0;
  }
};

} // namespace

TEST_F(router_test, an_interceptor_that_throws_fails_that_batch_only) {
  auto ch = channel(channel_config(10, 10));
  auto r = router({ch}, {[] { return std::make_unique<thrower>(); }});
  self->monitor(r);
  auto err = put(self, r, {make_event("x"), make_event("boom")});
  EXPECT_TRUE(is(err, errc::interceptor_failed)) << sys.render(err);
  EXPECT_NE(sys.render(err).find("cannot parse boom"), std::string::npos)
      << "the exception's text reaches the source: " << sys.render(err);
  // The router lives on and passes the next batch.
  ASSERT_FALSE(put(self, r, {make_event("y")}));
  EXPECT_EQ(bodies(drain(self, ch, 1)), (strs{"y"}));
  // It answers a round trip after all that, and no down message came
  // before that answer.
  round_trip(self, r, true);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  EXPECT_FALSE(down);
}

TEST_F(router_test, interceptors_apply_in_order) {
  auto ch = channel(channel_config(10, 10));
  auto dropping = [] { return std::make_unique<dropper>(); };
  auto r = router({ch}, {tag("a"), dropping, tag("b")});
  batch in{make_event("x"), make_event("drop"),
           make_event("y", {{"trace", "0"}})};
  ASSERT_FALSE(put(self, r, in));
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  ASSERT_EQ(bodies(t->events), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(header(t->events[0], "trace"), "ab");
  EXPECT_EQ(header(t->events[1], "trace"), "0ab");
}

TEST_F(router_test, a_batch_the_interceptors_empty_is_accepted_unput) {
  auto ch = channel(channel_config(10, 10));
  auto dropping = [] { return std::make_unique<dropper>(); };
  auto r = router({ch}, {dropping});
  ASSERT_FALSE(put(self, r, {make_event("drop"), make_event("drop")}));
  ASSERT_FALSE(put(self, r, {make_event("kept")}));
  auto m = registry_.find("a1.channels.c1");
  EXPECT_EQ(m->events_put.load(), 1u);
}

TEST_F(router_test, a_changed_route_takes_effect_at_the_tick) {
  auto c1 = channel(channel_config(10, 10));
  auto c2 = channel(channel_config(10, 10), "c2");
  auto routes = std::make_shared<route_table>(std::vector<caf::actor>{c1},
                                              std::vector<interceptor_fn>{});
  auto r = track(spawn_router(sys, routes, metrics_of("sources", "r1", "seq")));
  ASSERT_FALSE(put(self, r, {make_event("before")}));
  // A reload: another channel and an interceptor; the tick says it's taken.
  routes->set({c2}, {tag("x")});
  EXPECT_EQ(caf::actor_cast<caf::actor>(routes->router()), r);
  bool ticked = false;
  self->request(r, 5s, tick_atom::value)
      .receive([&](ok_atom) { ticked = true; }, [](caf::error&) {});
  ASSERT_TRUE(ticked);
  ASSERT_FALSE(put(self, r, {make_event("after")}));
  auto t1 = take(self, c1, 10);
  ASSERT_TRUE(t1);
  EXPECT_EQ(bodies(t1->events), strs{"before"});
  auto t2 = take(self, c2, 10);
  ASSERT_TRUE(t2);
  ASSERT_EQ(bodies(t2->events), strs{"after"});
  EXPECT_EQ(header(t2->events[0], "trace"), "x");
}

TEST_F(router_test, a_changed_route_applies_to_the_next_batch_without_a_tick) {
  auto c1 = channel(channel_config(10, 10));
  auto c2 = channel(channel_config(10, 10), "c2");
  auto routes = std::make_shared<route_table>(std::vector<caf::actor>{c1},
                                              std::vector<interceptor_fn>{});
  auto r = track(spawn_router(sys, routes, metrics_of("sources", "r1", "seq")));
  routes->set({c1, c2}, {});
  ASSERT_FALSE(put(self, r, {make_event("both")}));
  for (auto& ch : {c1, c2}) {
    auto t = take(self, ch, 10);
    ASSERT_TRUE(t);
    EXPECT_EQ(bodies(t->events), strs{"both"});
  }
}

// `flumen tap`'s hooks: a source's tap sees its events as its channels get
// them (after the interceptors, without what they dropped), a channel's tap
// what it accepted.
TEST_F(router_test, taps_see_what_passes_after_the_interceptors) {
  auto ch = channel(channel_config(10, 10));
  auto r = router({ch}, {tag("x"), [] { return std::make_unique<dropper>(); }});
  auto at_source = std::make_shared<tap_queue>();
  auto at_channel = std::make_shared<tap_queue>();
  registry_.find("a1.sources.r1")->tap.subscribe(at_source, "r1");
  registry_.find("a1.channels.c1")->tap.subscribe(at_channel, "c1");
  ASSERT_FALSE(put(self, r, batch{event{{}, "keep"}, event{{}, "drop"}}));
  strs got;
  at_source->pop(got, 10);
  EXPECT_EQ(got, strs{"r1 {trace=x} \"keep\""});
  got.clear();
  at_channel->pop(got, 10);
  EXPECT_EQ(got, strs{"c1 {trace=x} \"keep\""});
}

// A reload moves a source from c1 to c2 and closes c1 while c1 holds the
// source's put for room: the router puts the batch to c2 (and only to the
// channels that do not have it: c0 accepted it already, no duplicate).
TEST_F(router_test, a_put_a_closed_channel_held_goes_where_the_route_leads) {
  auto c0 = channel(channel_config(10, 10), "c0");
  auto c1 = channel(channel_config(1, 1), "c1");
  auto c2 = channel(channel_config(10, 10), "c2");
  ASSERT_FALSE(put(self, c1, {make_event("fills c1")}));
  auto routes = std::make_shared<route_table>(std::vector<caf::actor>{c0, c1},
                                              std::vector<interceptor_fn>{});
  auto r = track(spawn_router(sys, routes, metrics_of("sources", "r1", "seq")));
  self->send(r, put_atom::value, batch{make_event("moved")});
  // c0 took it; c1 holds it.
  auto t0 = take(self, c0, 10);
  ASSERT_TRUE(t0);
  EXPECT_EQ(bodies(t0->events), strs{"moved"});
  routes->set({c0, c2}, {});
  self->request(c1, 5s, close_atom::value)
      .receive([](ok_atom) {}, [](caf::error&) {});
  self->receive([](ok_atom) {}, caf::after(5s) >> [] { FAIL(); });
  auto t2 = take(self, c2, 10);
  ASSERT_TRUE(t2);
  EXPECT_EQ(bodies(t2->events), strs{"moved"});
  ASSERT_FALSE(commit(self, c0, t0->id));
  auto again = take(self, c0, 10, 200ms);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->events.empty()) << "c0 got it twice";
}

namespace {

/// Removes every event whose body is `drop` and says it removed none.
class miscounting_dropper final : public interceptor {
public:
  std::size_t apply(batch& events) override {
    std::erase_if(events, [](const event& e) { return e.body == "drop"; });
    return 0;
  }
};

} // namespace

// received = accepted + filtered: what the interceptors remove is counted
// filtered by the source (the router's receipt), never accepted.
TEST_F(router_test, a_source_counts_what_its_interceptors_filter) {
  auto ch = channel(channel_config(100, 100));
  auto m = metrics_of("sources", "r1", "probe");
  auto r = router({ch}, {[] { return std::make_unique<dropper>(); }});
  auto done = std::make_shared<std::promise<void>>();
  track(spawn_source(
      sys,
      [done](source_pump& pump) {
        pump.emit({make_event("a"), make_event("drop"), make_event("b")});
        pump.emit({make_event("drop"), make_event("drop")});
        auto last = pump.emit_numbered({make_event("c")});
        pump.wait_accepted(last);
        done->set_value();
      },
      r, m, 4));
  ASSERT_EQ(done->get_future().wait_for(10s), std::future_status::ready);
  // The last batch was accepted; the two before it were answered first
  // (each wait_accepted covers every number below).
  EXPECT_EQ(m->events_received.load(), 6u);
  EXPECT_EQ(m->events_accepted.load(), 3u);
  EXPECT_EQ(m->events_filtered.load(), 3u);
  EXPECT_EQ(m->events_dropped.load() + m->events_undelivered.load(), 0u);
  EXPECT_EQ(bodies(drain(self, ch, 3)), (strs{"a", "b", "c"}));
}

// An interceptor that removes events without saying so would make an
// event go uncounted: the batch fails (dropped, named) instead.
TEST_F(router_test, an_interceptor_that_miscounts_fails_the_batch) {
  auto ch = channel(channel_config(10, 10));
  auto r =
      router({ch}, {[] { return std::make_unique<miscounting_dropper>(); }});
  auto err = put(self, r, {make_event("drop"), make_event("kept")});
  ASSERT_TRUE(err);
  EXPECT_TRUE(is_error(err, errc::interceptor_failed)) << sys.render(err);
  EXPECT_NE(sys.render(err).find("said it removed 0 events of 2"),
            std::string::npos)
      << sys.render(err);
  ASSERT_FALSE(put(self, r, {make_event("kept")}));
  EXPECT_EQ(registry_.find("a1.channels.c1")->events_put.load(), 1u);
}

// A source runs on CAF's scheduler and never waits for its reader thread.
// Killed while its reader goes on reading (here one that ignores the abort
// until released), it ends at once, and the scheduler's only worker goes
// on serving the others meanwhile; the reader is joined once it returns.
// (Joining it in the source's destructor held that worker, and the source's
// end, until the reader returned.)
TEST_F(router_test, an_ended_source_never_waits_for_its_reader) {
  flumen_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system one_worker{cfg};
  auto downstream = one_worker.spawn([]() -> caf::behavior {
    return {
        [](put_atom, batch&, std::shared_ptr<put_receipt>&) {
          return ok_atom::value;
        },
        [](get_atom) { return ok_atom::value; },
    };
  });
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto put_in = std::make_shared<std::atomic<bool>>(false);
  auto returned = std::make_shared<std::atomic<bool>>(false);
  auto m = metrics_of("sources", "r1", "probe");
  auto source = spawn_source(
      one_worker,
      [release, put_in, returned](source_pump& pump) {
        pump.wait_accepted(pump.emit_numbered({make_event("a")}));
        put_in->store(true);
        while (!release->load())
          std::this_thread::sleep_for(5ms);
        returned->store(true);
      },
      downstream, m, 4);
  caf::scoped_actor s{one_worker};
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!put_in->load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(put_in->load());
  s->monitor(source);
  caf::anon_send_exit(source, caf::exit_reason::kill);
  bool ended = false;
  s->receive([&](caf::down_msg&) { ended = true; },
             caf::after(std::chrono::seconds{5}) >> [] {});
  EXPECT_TRUE(ended) << "the source waited for its reader";
  EXPECT_FALSE(returned->load());
  bool served = false;
  s->request(downstream, 5s, get_atom::value)
      .receive([&](ok_atom) { served = true; }, [](caf::error&) {});
  EXPECT_TRUE(served) << "the scheduler's worker is held";
  EXPECT_FALSE(returned->load());
  release->store(true);
  until = std::chrono::steady_clock::now() + 10s;
  while (!returned->load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(returned->load());
  caf::anon_send_exit(downstream, caf::exit_reason::kill);
}
