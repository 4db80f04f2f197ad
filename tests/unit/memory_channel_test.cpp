// The memory channel on virtual time (CAF's test coordinator): a held put
// or take is held while every actor runs and time moves on, keep_alive and
// transaction_timeout expire exactly when virtual time reaches them.

#include "actors/channels/memory.hpp"

#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

struct memory_channel : virtual_actor_test {
  /// Close; a default (empty) error means closed.
  caf::error close_channel(caf::scoped_actor& who, const caf::actor& ch) {
    return request_ok(who, 5s, ch, close_atom::value);
  }
};

std::shared_ptr<component_metrics> channel_metrics(metrics_registry& r) {
  return r.find("a1.channels.c1");
}

} // namespace

// -- put / take / commit ------------------------------------------------------

TEST_F(memory_channel, put_then_take_returns_events_in_order_with_a_txn_id) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  ASSERT_FALSE(put(self, ch, numbered(3, 2)));
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_NE(t->id, 0u);
  EXPECT_EQ(t->events, numbered(0, 5));
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->events_put.load(), 5u);
  EXPECT_TRUE(reaches(m->events_taken, 5u)) << m->events_taken.load();
  EXPECT_TRUE(reaches(m->channel_size, 5u))
      << m->channel_size.load(); // taken but not committed
  EXPECT_TRUE(reaches(m->open_transactions, 1u)) << m->open_transactions.load();
  EXPECT_EQ(m->channel_capacity.load(), 100u);
  EXPECT_EQ(m->current_state(), component_state::running);
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_EQ(m->events_committed.load(), 5u);
  EXPECT_EQ(m->channel_size.load(), 0u);
  EXPECT_EQ(m->open_transactions.load(), 0u);
}

TEST_F(memory_channel, take_returns_at_most_max_and_transaction_capacity) {
  auto ch = channel(channel_config(100, 3));
  for (int i = 0; i < 3; ++i)
    ASSERT_FALSE(put(self, ch, numbered(3 * i, 3)));
  auto t1 = take(self, ch, 2);
  ASSERT_TRUE(t1);
  EXPECT_EQ(bodies(t1->events), (std::vector<std::string>{"e0", "e1"}));
  auto t2 = take(self, ch, 1000); // capped by transaction_capacity
  ASSERT_TRUE(t2);
  EXPECT_EQ(bodies(t2->events), (std::vector<std::string>{"e2", "e3", "e4"}));
  auto t3 = take(self, ch, 0); // zero asks for one
  ASSERT_TRUE(t3);
  EXPECT_EQ(bodies(t3->events), (std::vector<std::string>{"e5"}));
  EXPECT_NE(t1->id, t2->id);
  EXPECT_NE(t2->id, t3->id);
}

// A take may be bounded in bytes too (event_bytes: body and headers); it
// gets one event at least, however large.
TEST_F(memory_channel, take_with_max_bytes_is_cut_by_bytes_one_event_at_least) {
  auto ch = channel(channel_config(100, 100));
  batch events;
  for (auto size : {40, 40, 40, 500, 10})
    events.emplace_back().body.assign(static_cast<std::size_t>(size), 'x');
  ASSERT_FALSE(put(self, ch, events));
  auto take_bytes = [&](uint64_t max_bytes) {
    std::vector<std::size_t> sizes;
    auto h = self->request(ch, caf::infinite, take_atom::value, uint32_t{100},
                           max_bytes);
    EXPECT_TRUE(answer(
        self, h.id(), 5s,
        [&](txn_id, const batch& got) {
          for (auto& e : got)
            sizes.push_back(e.body.size());
        },
        [&](caf::error& err) { ADD_FAILURE() << to_string(err); }));
    return sizes;
  };
  // Each event counts event_overhead more than its body.
  constexpr auto max = 2 * event_overhead + 80;
  EXPECT_EQ(take_bytes(max), (std::vector<std::size_t>{40, 40}));
  EXPECT_EQ(take_bytes(max), (std::vector<std::size_t>{40}))
      << "the 500-byte event does not fit after it";
  EXPECT_EQ(take_bytes(max), (std::vector<std::size_t>{500}))
      << "one event at least";
  EXPECT_EQ(take_bytes(0), (std::vector<std::size_t>{10})) << "0: no bound";
}

TEST_F(memory_channel, a_put_that_does_not_fit_is_answered_after_a_commit) {
  auto ch = channel(channel_config(3, 3));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  self->send(ch, put_atom::value, numbered(3, 1));
  EXPECT_FALSE(ok_within(self, 200ms)) << "a full channel must hold the put";
  auto t = take(self, ch, 3);
  ASSERT_TRUE(t);
  // Taken events still count against the capacity until committed.
  EXPECT_FALSE(ok_within(self, 200ms));
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_TRUE(ok_within(self, 5s));
  auto t2 = take(self, ch, 10);
  ASSERT_TRUE(t2);
  EXPECT_EQ(t2->events, numbered(3, 1));
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->events_put.load(), 4u);
  EXPECT_TRUE(reaches(m->channel_size, 1u)) << m->channel_size.load();
}

TEST_F(memory_channel, byte_capacity_holds_a_put_until_bytes_are_freed) {
  constexpr auto o = event_overhead; // per event and per header
  auto cfg = channel_config(100, 100);
  cfg.byte_capacity = 2 * o + 10;
  auto ch = channel(cfg);
  ASSERT_FALSE(put(self, ch, {make_event("123456")}));
  // (o + 6) + (o + 5) > 2 o + 10
  self->send(ch, put_atom::value, batch{make_event("abcde")});
  EXPECT_FALSE(ok_within(self, 200ms));
  EXPECT_EQ(channel_metrics(registry_)->channel_bytes.load(), o + 6);
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_FALSE(ok_within(self, 200ms));
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_TRUE(ok_within(self, 5s));
  t = take(self, ch, 10);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, ch, t->id));
  // Headers count too: o + 3 for the event, o + 1 + 1 for its header.
  ASSERT_FALSE(put(self, ch, {make_event("abc", {{"k", "v"}})}));
  EXPECT_EQ(channel_metrics(registry_)->channel_bytes.load(), 2 * o + 5);
  self->send(ch, put_atom::value, batch{make_event("12345")});
  EXPECT_FALSE(ok_within(self, 200ms)) << "3 o + 10 would not fit";
}

TEST_F(memory_channel, held_puts_are_admitted_in_arrival_order) {
  auto ch = channel(channel_config(4, 4));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  caf::scoped_actor first{sys};
  caf::scoped_actor second{sys};
  first->send(ch, put_atom::value, numbered(3, 2)); // one event fits
  EXPECT_FALSE(ok_within(first, 100ms));
  second->send(ch, put_atom::value, numbered(5, 1)); // queues up behind
  EXPECT_FALSE(ok_within(second, 200ms));
  auto t = take(self, ch, 4);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 4)) << "the room left took one event";
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_TRUE(ok_within(first, 5s));
  EXPECT_TRUE(ok_within(second, 5s));
  auto rest = take(self, ch, 10);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->events, numbered(4, 2));
}

// A put never fails for its size (issue: Flume's channel defaults with a
// source's default batch_size lost every batch).
TEST_F(memory_channel, a_put_larger_than_transaction_capacity_goes_in_whole) {
  auto ch = channel(channel_config(100, 10));
  EXPECT_FALSE(put(self, ch, numbered(0, 11)));
  EXPECT_FALSE(put(self, ch, {})) << "an empty put is accepted";
  EXPECT_EQ(channel_metrics(registry_)->events_put.load(), 11u);
  auto t = take(self, ch, 100);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 10)) << "a take is still bounded";
}

TEST_F(memory_channel, a_put_larger_than_the_channel_goes_in_piece_by_piece) {
  auto ch = channel(channel_config(10, 10));
  caf::scoped_actor sender{sys};
  sender->send(ch, put_atom::value, numbered(0, 25));
  batch seen;
  while (seen.size() < 25) {
    auto t = take(self, ch, 10);
    ASSERT_TRUE(t);
    ASSERT_FALSE(t->events.empty());
    seen.insert(seen.end(), t->events.begin(), t->events.end());
    ASSERT_FALSE(commit(self, ch, t->id));
  }
  EXPECT_EQ(seen, numbered(0, 25)) << "in order, nothing lost";
  EXPECT_TRUE(ok_within(sender, 5s)) << "answered once all of it is in";
}

TEST_F(memory_channel, byte_capacity_splits_a_put_and_admits_a_lone_big_event) {
  auto cfg = channel_config(100, 100);
  cfg.byte_capacity = event_overhead + 4;
  auto ch = channel(cfg);
  // Larger than the whole byte capacity: let in alone, never refused.
  EXPECT_FALSE(put(self, ch, {make_event("12345")}));
  caf::scoped_actor sender{sys};
  sender->send(ch, put_atom::value,
               batch{make_event("ab"), make_event("cd"), make_event("ef")});
  EXPECT_FALSE(ok_within(sender, 100ms)) << "held: no room";
  batch seen;
  while (seen.size() < 4) {
    auto t = take(self, ch, 100);
    ASSERT_TRUE(t);
    for (auto& e : t->events)
      EXPECT_LE(e.body.size() == 5 ? 0u : e.body.size(), 4u);
    seen.insert(seen.end(), t->events.begin(), t->events.end());
    ASSERT_FALSE(commit(self, ch, t->id));
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[3].body, "ef");
  EXPECT_TRUE(ok_within(sender, 5s));
}

TEST_F(memory_channel, a_commit_puts_named_events_back_at_the_head_in_order) {
  auto ch = channel(channel_config(100, 10));
  ASSERT_FALSE(put(self, ch, numbered(0, 8)));
  auto t1 = take(self, ch, 4);
  auto t2 = take(self, ch, 4);
  ASSERT_TRUE(t1 && t2);
  // The first transaction's events 1 and 3 failed for a passing reason;
  // the second rolls back (taken after them).
  auto err = request_ok(self, 5s, ch, commit_atom::value, t1->id,
                        std::vector<uint32_t>{1, 3});
  ASSERT_FALSE(err) << sys.render(err);
  ASSERT_FALSE(rollback(self, ch, t2->id));
  auto again = take(self, ch, 10);
  ASSERT_TRUE(again);
  batch expected{numbered(1, 1)[0], numbered(3, 1)[0]};
  auto later = numbered(4, 4);
  expected.insert(expected.end(), later.begin(), later.end());
  EXPECT_EQ(again->events, expected);
  EXPECT_EQ(channel_metrics(registry_)->events_committed.load(), 2u);
}

// -- rollback -----------------------------------------------------------------

TEST_F(memory_channel, rollback_returns_events_to_the_head_in_their_order) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  auto t1 = take(self, ch, 2);
  auto t2 = take(self, ch, 2);
  ASSERT_TRUE(t1 && t2);
  EXPECT_EQ(bodies(t2->events), (std::vector<std::string>{"e2", "e3"}));
  // Rolled back in the order they were taken, as a sink with two batches
  // in flight does when both fail: the oldest events still come first.
  ASSERT_FALSE(rollback(self, ch, t1->id));
  ASSERT_FALSE(rollback(self, ch, t2->id));
  auto again = take(self, ch, 100);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->events, numbered(0, 6));
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->events_rolled_back.load(), 4u);
  EXPECT_TRUE(reaches(m->events_taken, 10u)) << m->events_taken.load();
  EXPECT_TRUE(reaches(m->channel_size, 6u)) << m->channel_size.load();
  EXPECT_TRUE(reaches(m->open_transactions, 1u)) << m->open_transactions.load();
}

TEST_F(memory_channel, rollback_in_reverse_order_keeps_the_oldest_first) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  auto t1 = take(self, ch, 2);
  auto t2 = take(self, ch, 2);
  ASSERT_TRUE(t1 && t2);
  ASSERT_FALSE(rollback(self, ch, t2->id));
  ASSERT_FALSE(rollback(self, ch, t1->id));
  auto again = take(self, ch, 3); // takes part of the returned events
  ASSERT_TRUE(again);
  EXPECT_EQ(again->events, numbered(0, 3));
  ASSERT_FALSE(rollback(self, ch, again->id));
  auto all = take(self, ch, 100);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->events, numbered(0, 6));
}

TEST_F(memory_channel, rollback_ahead_of_a_partly_taken_returned_batch) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  auto t1 = take(self, ch, 2); // e0 e1
  auto t2 = take(self, ch, 2); // e2 e3
  ASSERT_TRUE(t1 && t2);
  ASSERT_FALSE(rollback(self, ch, t2->id));
  auto t3 = take(self, ch, 1); // e2 again
  ASSERT_TRUE(t3);
  EXPECT_EQ(bodies(t3->events), (std::vector<std::string>{"e2"}));
  ASSERT_FALSE(rollback(self, ch, t1->id));
  auto rest = take(self, ch, 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(bodies(rest->events),
            (std::vector<std::string>{"e0", "e1", "e3", "e4", "e5"}));
}

TEST_F(memory_channel, commit_and_rollback_of_an_unknown_txn_are_errors) {
  auto ch = channel(channel_config(10, 10));
  EXPECT_TRUE(is(commit(self, ch, 42), errc::unknown_transaction));
  EXPECT_TRUE(is(rollback(self, ch, 42), errc::unknown_transaction));
  ASSERT_FALSE(put(self, ch, numbered(0, 1)));
  auto t = take(self, ch, 1);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, ch, t->id));
  auto err = commit(self, ch, t->id); // twice
  EXPECT_TRUE(is(err, errc::unknown_transaction));
  EXPECT_NE(sys.render(err).find("unknown_transaction"), std::string::npos);
  EXPECT_TRUE(is(rollback(self, ch, t->id), errc::unknown_transaction));
  EXPECT_EQ(channel_metrics(registry_)->events_committed.load(), 1u);
}

// -- takes on an empty channel
// -------------------------------------------------

// A take without a sender (CAF may hand one over from a link that is gone:
// runtime/README.md, hop invariant 10): its batch would reach no one and sit
// in a transaction until transaction_timeout. It is refused; the events stay
// for the next taker.
TEST_F(memory_channel, a_take_without_a_sender_takes_nothing) {
  auto ch = channel(channel_config(10, 10, 10s));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  caf::anon_send(ch, take_atom::value, uint32_t{10});
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 3));
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->open_transactions.load(), 1u);
  EXPECT_FALSE(commit(self, ch, t->id));
}

TEST_F(memory_channel, a_take_on_an_empty_channel_is_answered_by_a_put) {
  auto ch = channel(channel_config(10, 10, 10s));
  self->send(ch, take_atom::value, uint32_t{10});
  // Held for all of its keep_alive but the last millisecond.
  EXPECT_FALSE(receive_within(self, 9999ms, [&](txn_id, batch&) {}))
      << "an empty channel must hold the take";
  caf::scoped_actor producer{sys};
  ASSERT_FALSE(put(producer, ch, numbered(0, 2)));
  std::optional<taken> got;
  receive_within(self, 0ms, [&](txn_id id, batch& events) {
    got = taken{id, events};
  });
  ASSERT_TRUE(got);
  EXPECT_NE(got->id, 0u);
  EXPECT_EQ(got->events, numbered(0, 2));
  EXPECT_FALSE(commit(self, ch, got->id));
}

TEST_F(memory_channel, a_take_on_an_empty_channel_times_out_empty) {
  auto ch = channel(channel_config(10, 10, 150ms));
  auto began = now();
  auto t = take(self, ch, 10);
  auto waited = now() - began;
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, 0u);
  EXPECT_TRUE(t->events.empty());
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 5s);
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->open_transactions.load(), 0u);
  EXPECT_EQ(m->events_taken.load(), 0u);
}

// Held takes share one timer (a timer per take was an entry in CAF's clock
// and a wakeup of its thread for nearly every take of a sink faster than
// its source), and each is still answered empty exactly when its own
// keep_alive passes.
TEST_F(memory_channel, held_takes_share_one_timer_and_each_expires_on_time) {
  auto ch = channel(channel_config(10, 10, 1s));
  run();
  auto timers = [&] { return sched.clock().schedule().size(); };
  auto before = timers();
  caf::scoped_actor a{sys};
  caf::scoped_actor b{sys};
  a->send(ch, take_atom::value, uint32_t{10});
  advance(400ms);
  b->send(ch, take_atom::value, uint32_t{10});
  run();
  EXPECT_EQ(timers(), before + 1) << "one timer for both held takes";
  auto empty = [](bool& got) {
    return
        [&got](txn_id id, batch& events) { got = id == 0 && events.empty(); };
  };
  bool got = false;
  EXPECT_FALSE(receive_within(a, 599ms, empty(got))) << "1 ms early";
  EXPECT_TRUE(receive_within(a, 1ms, empty(got)));
  EXPECT_TRUE(got) << "answered empty at its keep_alive";
  got = false;
  EXPECT_FALSE(receive_within(b, 399ms, empty(got))) << "1 ms early";
  EXPECT_TRUE(receive_within(b, 1ms, empty(got)));
  EXPECT_TRUE(got);
  EXPECT_EQ(timers(), before) << "no timer once no take is held";
  // A stream of takes, each held and then answered by a put, leaves one
  // timer at most.
  caf::scoped_actor producer{sys};
  for (int i = 0; i < 20; ++i) {
    a->send(ch, take_atom::value, uint32_t{10});
    run();
    EXPECT_LE(timers(), before + 1);
    ASSERT_FALSE(put(producer, ch, numbered(i, 1)));
    std::optional<taken> t;
    ASSERT_TRUE(receive_within(a, 0ms, [&](txn_id id, batch& events) {
      t = taken{id, events};
    }));
    ASSERT_TRUE(t);
    EXPECT_EQ(t->events, numbered(i, 1));
    ASSERT_FALSE(commit(a, ch, t->id));
  }
  EXPECT_LE(timers(), before + 1);
  EXPECT_TRUE(wait_until([&] { return timers() == before; }, 2s));
}

// -- a taker that dies
// ---------------------------------------------------------

TEST_F(memory_channel, a_dead_takers_transaction_rolls_back) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 5)));
  auto taker = track(sys.spawn(holding_taker, ch, uint32_t{3},
                               caf::actor_cast<caf::actor>(self)));
  std::optional<taken> held;
  receive_within(self, 5s, [&](txn_id id, batch& events) {
    held = taken{id, events};
  });
  ASSERT_TRUE(held);
  EXPECT_EQ(held->events, numbered(0, 3));
  auto m = channel_metrics(registry_);
  EXPECT_TRUE(reaches(m->open_transactions, 1u)) << m->open_transactions.load();
  caf::anon_send_exit(taker, caf::exit_reason::kill);
  ASSERT_TRUE(wait_until([&] { return m->events_rolled_back.load() == 3; }));
  EXPECT_TRUE(reaches(m->open_transactions, 0u)) << m->open_transactions.load();
  EXPECT_TRUE(reaches(m->channel_size, 5u)) << m->channel_size.load();
  auto again = take(self, ch, 100);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->events, numbered(0, 5));
  ASSERT_FALSE(commit(self, ch, again->id));
  // The dead taker's transaction is gone for good.
  EXPECT_TRUE(is(commit(self, ch, held->id), errc::unknown_transaction));
  EXPECT_EQ(m->events_committed.load(), 5u);
  EXPECT_EQ(m->channel_size.load(), 0u);
}

TEST_F(memory_channel, a_dead_takers_waiting_take_gets_no_events) {
  auto ch = channel(channel_config(100, 100, 10s));
  auto taker = track(sys.spawn(holding_taker, ch, uint32_t{100},
                               caf::actor_cast<caf::actor>(self)));
  auto m = channel_metrics(registry_);
  caf::anon_send_exit(taker, caf::exit_reason::kill);
  // The channel sees it die (the take may or may not have arrived first).
  self->monitor(taker);
  receive_within(self, 5s, [](caf::down_msg&) {});
  ASSERT_FALSE(put(self, ch, numbered(0, 4)));
  auto t = take(self, ch, 100);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 4));
  EXPECT_TRUE(reaches(m->open_transactions, 1u)) << m->open_transactions.load();
}

// -- parse_memory
// --------------------------------------------------------------

namespace {

struct parse_memory_test : ::testing::Test {
  channels::memory_config parse(const std::string& yaml) {
    node = YAML::Load(yaml);
    option_reader r{node, "agents.a1.channels.c1", "t.yaml", errors};
    auto cfg = channels::parse_memory(r);
    r.finish();
    return cfg;
  }
  YAML::Node node;
  error_list errors;
};

} // namespace

TEST_F(parse_memory_test, defaults) {
  auto cfg = parse("{}");
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.capacity, 50000u);
  EXPECT_EQ(cfg.byte_capacity, 4u << 20);
  EXPECT_EQ(cfg.transaction_capacity, 10000u);
  EXPECT_EQ(cfg.keep_alive, 500ms);
}

// A transaction_capacity left at its default fits a smaller capacity; a
// stated one above it is an error.
TEST_F(parse_memory_test, default_transaction_capacity_fits_the_capacity) {
  auto cfg = parse("capacity: 5000\n");
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.transaction_capacity, 5000u);
  parse("capacity: 5000\ntransaction_capacity: 6000\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.front().to_string().find("must not exceed capacity"),
            std::string::npos);
}

TEST_F(parse_memory_test, values) {
  auto cfg = parse("capacity: 5\ntransaction_capacity: 5\n"
                   "byte_capacity: 64KB\nkeep_alive: 250ms\n");
  EXPECT_TRUE(errors.empty()) << errors.front().to_string();
  EXPECT_EQ(cfg.capacity, 5u);
  EXPECT_EQ(cfg.transaction_capacity, 5u);
  EXPECT_EQ(cfg.byte_capacity, 64u * 1024);
  EXPECT_EQ(cfg.keep_alive, 250ms);
}

TEST_F(parse_memory_test, transaction_capacity_above_capacity_is_an_error) {
  parse("capacity: 5\ntransaction_capacity: 6\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:2:23: agents.a1.channels.c1.transaction_capacity: must "
            "not exceed capacity (5)");
}

TEST_F(parse_memory_test, bad_values_are_located_errors) {
  parse("capacity: 0\nkeep_alive: soon\ncapacty: 3\n");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:1:11: agents.a1.channels.c1.capacity: must be at least 1");
  EXPECT_EQ(errors[1].path, "agents.a1.channels.c1.keep_alive");
  EXPECT_EQ(errors[2].to_string(),
            "t.yaml:3:1: agents.a1.channels.c1: unknown key 'capacty' (did "
            "you mean 'capacity'?)");
}

// A stray reply once killed a channel: the sink got an `ok` it had not asked
// for, CAF's default handler answered `unexpected_message`, and the
// channel's default error handler quit, losing every event it held.
TEST_F(memory_channel, a_stray_message_or_error_does_not_kill_it) {
  auto ch = channel(channel_config(10, 10));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  self->monitor(ch);
  self->send(ch, std::string{"what is this"});
  self->send(ch, make_error(errc::delivery_failed, "stray"));
  caf::anon_send(ch, ok_atom::value);
  bool down = false;
  // Every message that comes (errors answering the strays) until none does.
  while (receive_within(
      self, 100ms, [&](caf::down_msg&) { down = true; }, [](caf::error&) {},
      [](caf::message&) {})) {
  }
  EXPECT_FALSE(down);
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t) << "the channel still serves";
  EXPECT_EQ(t->events, numbered(0, 3));
}

// A take once spanned a returned run and fresh events; rolled back, the
// fresh events jumped ahead of batches returned later (a partition's order
// broke in kafka_errors.retried_batches_keep_partition_order).
TEST_F(memory_channel, a_take_never_mixes_returned_and_fresh_events) {
  auto ch = channel(channel_config(100, 10));
  ASSERT_FALSE(put(self, ch, numbered(0, 8)));
  auto t1 = take(self, ch, 2);
  auto t2 = take(self, ch, 2);
  auto t3 = take(self, ch, 2);
  ASSERT_TRUE(t1 && t2 && t3);
  auto err = request_ok(self, 5s, ch, commit_atom::value, t1->id,
                        std::vector<uint32_t>{1});
  ASSERT_FALSE(err);
  auto t4 = take(self, ch, 10); // before t2 and t3 come back
  ASSERT_TRUE(t4);
  EXPECT_EQ(t4->events, numbered(1, 1)) << "only the returned run";
  ASSERT_FALSE(rollback(self, ch, t3->id));
  ASSERT_FALSE(rollback(self, ch, t2->id));
  ASSERT_FALSE(rollback(self, ch, t4->id));
  EXPECT_EQ(drain(self, ch, 7), numbered(1, 7)) << "in the order taken";
}

// -- revoke (a taker on a hung node) -----------------------------------------

// `(rollback_atom, actor_addr)`: everything the taker holds goes back at
// once, its late commit is refused, and it may take nothing more; others
// go on.
TEST_F(memory_channel, a_revoked_taker_loses_its_leases_and_its_late_commit) {
  auto ch = channel(channel_config(100, 100));
  ASSERT_FALSE(put(self, ch, numbered(0, 4)));
  caf::scoped_actor lost{sys};
  auto t = take(lost, ch, 3);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->events, numbered(0, 3));
  caf::anon_send(ch, rollback_atom::value,
                 caf::actor_cast<caf::actor_addr>(lost.ptr()));
  // Back at the head, in order, for another taker.
  auto again = take(self, ch, 10);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->events, numbered(0, 4));
  auto late = commit(lost, ch, t->id);
  ASSERT_TRUE(late);
  EXPECT_EQ(late.code(), static_cast<uint8_t>(errc::unknown_transaction));
  EXPECT_FALSE(take(lost, ch, 1)); // refused: it is cut off
  ASSERT_FALSE(commit(self, ch, again->id));
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->events_committed.load(), 4u);
  EXPECT_EQ(m->channel_size.load(), 0u);
}

// -- close (a reload removes the channel, or the agent stops)
// ------------------

// A put held for room goes back to its sender with its events (so it can
// put them where its route leads now); one partly in goes in whole; later
// puts are refused the same way; takes and commits go on.
TEST_F(memory_channel, close_answers_every_held_put_and_refuses_new_ones) {
  auto ch = channel(channel_config(3, 3));
  ASSERT_FALSE(put(self, ch, numbered(0, 2)));
  // 2..5: one event fits now, three wait (a put partly in).
  self->send(ch, put_atom::value, numbered(2, 4));
  // 6..7: not begun.
  self->send(ch, put_atom::value, numbered(6, 2));
  auto m = channel_metrics(registry_);
  ASSERT_TRUE(reaches(m->channel_size, 3u));
  ASSERT_FALSE(close_channel(self, ch));
  // Both answers arrive: the partly admitted put ok, the other refused
  // with its events.
  bool ok = false;
  caf::error refused;
  for (int i = 0; i < 2; ++i)
    receive_within(
        self, 5s, [&](ok_atom) { ok = true; },
        [&](caf::error& err) { refused = std::move(err); });
  EXPECT_TRUE(ok);
  EXPECT_TRUE(is(refused, errc::channel_closed));
  EXPECT_EQ(bodies(closed_events(refused)), bodies(numbered(6, 2)));
  EXPECT_EQ(m->channel_size.load(), 6u) << "the begun put went in whole";
  auto late = put(self, ch, numbered(8, 1));
  EXPECT_TRUE(is(late, errc::channel_closed));
  EXPECT_EQ(bodies(drain(self, ch, 6)), bodies(numbered(0, 6)));
}

// A sender that dies while its put waits for room: the put still goes in
// as room frees (its events are counted nowhere else); if the channel
// closes first, the channel counts them as never accepted.
TEST_F(memory_channel, a_dead_senders_held_put_goes_in_or_is_counted_at_close) {
  auto m = channel_metrics(registry_);
  for (bool close_first : {false, true}) {
    auto ch = channel(channel_config(2, 2));
    m = registry_.find("a1.channels.c1");
    ASSERT_FALSE(put(self, ch, numbered(0, 2)));
    caf::actor me = self;
    auto sender =
        sys.spawn([ch, me](caf::event_based_actor* s) -> caf::behavior {
          s->request(ch, caf::infinite, put_atom::value, numbered(2, 2))
              .then([](ok_atom) {});
          // Messages from one sender arrive in order: once this is
          // answered, the channel holds the put.
          s->request(ch, caf::infinite, get_atom::value, txn_id{0})
              .then([](batch&) {},
                    [s, me](caf::error&) { s->send(me, tick_atom::value); });
          return {[](tick_atom) {}};
        });
    // Its put is held (the channel is full); then it dies.
    if (!receive_within(self, 5s, [](tick_atom) {}))
      FAIL() << "close_first " << close_first;
    self->monitor(sender);
    caf::anon_send_exit(sender, caf::exit_reason::kill);
    ASSERT_TRUE(receive_within(self, 5s, [](caf::down_msg&) {}));
    if (close_first) {
      ASSERT_FALSE(close_channel(self, ch));
      EXPECT_TRUE(reaches(m->events_undelivered, 2u)) << "counted at close";
      EXPECT_EQ(bodies(drain(self, ch, 2)), bodies(numbered(0, 2)));
    } else {
      EXPECT_EQ(bodies(drain(self, ch, 4)), bodies(numbered(0, 4)))
          << "the held put goes in as room frees";
    }
    caf::anon_send_exit(ch, caf::exit_reason::kill);
  }
}

// A taker that holds a transaction past transaction_timeout (a sink stuck
// on a dead peer) is revoked: its events go to the other takers, its late
// commit is refused, and it may take nothing more (its restart may).
TEST_F(memory_channel, a_transaction_held_past_its_timeout_is_revoked) {
  auto cfg = channel_config(100, 100);
  cfg.transaction_timeout = 1s;
  auto ch = channel(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  caf::scoped_actor stuck{sys};
  auto t = take(stuck, ch, 3);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->events, numbered(0, 3));
  // Another sink goes on taking; once the stuck one is past its timeout,
  // its events come back at the head.
  batch got;
  ASSERT_TRUE(wait_until(
      [&] {
        auto x = take(self, ch, 10, 100ms);
        if (!x || x->events.empty()) return false;
        for (auto& e : x->events)
          got.push_back(e);
        EXPECT_FALSE(commit(self, ch, x->id));
        return got.size() == 6;
      },
      10s));
  auto expect = bodies(numbered(3, 3));
  for (auto& b : bodies(numbered(0, 3)))
    expect.push_back(b);
  EXPECT_EQ(bodies(got), expect)
      << "the fresh events first, then the revoked ones";
  EXPECT_TRUE(is(commit(stuck, ch, t->id), errc::unknown_transaction));
  EXPECT_FALSE(take(stuck, ch, 1));
}

// -- puts with a hold (the http source's) ------------------------------------

TEST_F(memory_channel,
       a_held_put_with_a_hold_is_refused_at_its_end_and_left_out) {
  auto ch = channel(channel_config(3, 3));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  caf::error result;
  auto h = self->request(ch, caf::infinite, put_atom::value, numbered(3, 2),
                         caf::timespan{std::chrono::milliseconds{500}});
  // Held while full, up to its hold: no answer 400 ms in.
  EXPECT_FALSE(answer(
      self, h.id(), 400ms, [&](ok_atom) {},
      [&](caf::error& err) { result = std::move(err); }))
      << "answered before its hold was over";
  ASSERT_TRUE(answer(
      self, h.id(), 200ms, [&](ok_atom) {},
      [&](caf::error& err) { result = std::move(err); }));
  EXPECT_TRUE(is(result, errc::channel_full)) << sys.render(result);
  // None of it went in: room freed now does not bring it in.
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 3));
  ASSERT_FALSE(commit(self, ch, t->id));
  auto m = channel_metrics(registry_);
  EXPECT_EQ(m->events_put.load(), 3u);
  auto after = take(self, ch, 10, 200ms);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->events.empty());
}

TEST_F(memory_channel, a_put_with_a_hold_goes_in_when_room_comes_in_time) {
  auto ch = channel(channel_config(3, 3));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto h = self->request(ch, caf::infinite, put_atom::value, numbered(3, 2),
                         caf::timespan{std::chrono::seconds{5}});
  auto t = take(self, ch, 3);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, ch, t->id));
  caf::error result = caf::make_error(caf::sec::request_timeout);
  EXPECT_TRUE(answer(
      self, h.id(), 1s, [&](ok_atom) { result = caf::error{}; },
      [&](caf::error& err) { result = std::move(err); }));
  EXPECT_FALSE(result) << sys.render(result);
  auto t2 = take(self, ch, 10);
  ASSERT_TRUE(t2);
  EXPECT_EQ(t2->events, numbered(3, 2));
}

TEST_F(memory_channel, a_put_with_a_hold_that_began_goes_in_whole) {
  // Larger than the channel: its first piece goes in at once, so its hold
  // no longer refuses it; it is answered once all of it is in.
  auto ch = channel(channel_config(3, 3));
  auto h = self->request(ch, caf::infinite, put_atom::value, numbered(0, 5),
                         caf::timespan{std::chrono::milliseconds{100}});
  batch got = drain(self, ch, 5);
  EXPECT_EQ(got, numbered(0, 5));
  caf::error result = caf::make_error(caf::sec::request_timeout);
  EXPECT_TRUE(answer(
      self, h.id(), 1s, [&](ok_atom) { result = caf::error{}; },
      [&](caf::error& err) { result = std::move(err); }));
  EXPECT_FALSE(result) << sys.render(result);
}
