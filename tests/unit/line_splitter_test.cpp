#include "actors/sources/line_splitter.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <future>

#include "runtime/flow/source_pump.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

/// Feeds `chunks` one after another, then finishes.
strs split(const std::vector<std::string>& chunks, std::size_t max = 100,
           overlong_policy policy = overlong_policy::truncate) {
  line_splitter lines{max, policy};
  batch out;
  for (auto& c : chunks)
    lines.feed(c.data(), c.size(), out);
  lines.finish(out);
  return bodies(out);
}

} // namespace

// -- line_splitter
// -------------------------------------------------------------

TEST(line_splitter, cuts_lines_and_keeps_a_partial_line_between_feeds) {
  line_splitter s{100, overlong_policy::truncate};
  batch out;
  std::string a = "one\ntw";
  std::string b = "o\nthr";
  std::string c = "ee\n";
  s.feed(a.data(), a.size(), out);
  EXPECT_EQ(bodies(out), (strs{"one"}));
  s.feed(b.data(), b.size(), out);
  EXPECT_EQ(bodies(out), (strs{"one", "two"}));
  s.feed(c.data(), c.size(), out);
  EXPECT_EQ(bodies(out), (strs{"one", "two", "three"}));
  s.finish(out);
  EXPECT_EQ(out.size(), 3u) << "nothing pending at the end";
  EXPECT_TRUE(out[0].headers.empty());
}

TEST(line_splitter, strips_crlf_also_across_feeds) {
  EXPECT_EQ(split({"a\r\nb\r", "\nc\r\n"}), (strs{"a", "b", "c"}));
  EXPECT_EQ(split({"a\rb\n"}), (strs{"a\rb"})) << "a lone CR is data";
}

TEST(line_splitter, the_partial_last_line_becomes_an_event_at_finish) {
  EXPECT_EQ(split({"a\nb"}), (strs{"a", "b"}));
  EXPECT_EQ(split({"a\n"}), (strs{"a"}));
  EXPECT_EQ(split({""}), (strs{}));
}

TEST(line_splitter, empty_lines_are_empty_events) {
  EXPECT_EQ(split({"\n\na\n\n"}), (strs{"", "", "a", ""}));
  EXPECT_EQ(split({"\r\n"}), (strs{""}));
}

TEST(line_splitter, truncate_keeps_the_first_bytes_of_an_overlong_line) {
  line_splitter s{4, overlong_policy::truncate};
  batch out;
  std::string in = "abcdefgh\nxy\nabcd\n";
  s.feed(in.data(), in.size(), out);
  EXPECT_EQ(bodies(out), (strs{"abcd", "xy", "abcd"}));
  EXPECT_EQ(s.truncated(), 1u);
  EXPECT_EQ(s.dropped(), 0u);
  // Across feeds too, with the rest of the line skipped.
  EXPECT_EQ(split({"abc", "defg", "hij\nk\n"}, 4), (strs{"abcd", "k"}));
}

TEST(line_splitter, drop_drops_overlong_lines_and_counts_them) {
  line_splitter s{4, overlong_policy::drop};
  batch out;
  std::string a = "ok\nabcdefgh";
  std::string b = "ijk\nfine\nabcde";
  s.feed(a.data(), a.size(), out);
  s.feed(b.data(), b.size(), out);
  s.finish(out);
  EXPECT_EQ(bodies(out), (strs{"ok", "fine"}));
  EXPECT_EQ(s.dropped(), 2u);
  EXPECT_EQ(s.truncated(), 0u);
}

TEST(line_splitter, split_emits_an_overlong_line_in_pieces) {
  EXPECT_EQ(split({"abcdefghij\nxy\n"}, 4, overlong_policy::split),
            (strs{"abcd", "efgh", "ij", "xy"}));
  EXPECT_EQ(split({"ab", "cdef", "gh\n"}, 4, overlong_policy::split),
            (strs{"abcd", "efgh"}));
  EXPECT_EQ(split({"abcdefgh"}, 4, overlong_policy::split),
            (strs{"abcd", "efgh"}));
}

TEST(line_splitter, split_does_not_make_an_empty_piece_of_a_crlf) {
  EXPECT_EQ(split({"abcd\r\nx\n"}, 4, overlong_policy::split),
            (strs{"abcd", "x"}));
  EXPECT_EQ(split({"abcdefgh\r\n"}, 4, overlong_policy::split),
            (strs{"abcd", "efgh"}));
  EXPECT_EQ(split({"abcd\r", "\n"}, 4, overlong_policy::split), (strs{"abcd"}));
}

TEST(line_splitter, a_whole_buffer_and_single_bytes_give_the_same_events) {
  // feed() makes a line found whole in its buffer straight into a body;
  // fed a byte at a time, every line goes through the partial-line path.
  // Both must cut, strip, truncate, drop and split alike.
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1103515245u + 12345u; };
  for (int round = 0; round < 300; ++round) {
    std::string input;
    auto len = next() % 40;
    for (uint32_t i = 0; i < len; ++i)
      input += "ab\r\n\n"[(next() >> 16) % 5];
    for (std::size_t max : {1, 2, 3, 4, 8, 100})
      for (auto policy : {overlong_policy::truncate, overlong_policy::drop,
                          overlong_policy::split}) {
        line_splitter whole{max, policy}, bytes{max, policy};
        batch a, b;
        whole.feed(input.data(), input.size(), a);
        whole.finish(a);
        for (char c : input)
          bytes.feed(&c, 1, b);
        bytes.finish(b);
        ASSERT_EQ(bodies(a), bodies(b))
            << "input '" << input << "', max " << max;
        ASSERT_EQ(whole.dropped(), bytes.dropped());
        ASSERT_EQ(whole.truncated(), bytes.truncated());
      }
  }
}

TEST(line_splitter, parse_overlong_policy_reads_the_choice) {
  error_list errors;
  auto parse = [&](const std::string& yaml) {
    auto node = YAML::Load(yaml);
    option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
    return parse_overlong_policy(r);
  };
  EXPECT_EQ(parse("{}"), overlong_policy::truncate);
  EXPECT_EQ(parse("overlong_policy: drop"), overlong_policy::drop);
  EXPECT_EQ(parse("overlong_policy: split"), overlong_policy::split);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(parse("overlong_policy: dorp"), overlong_policy::truncate);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:1:18: agents.a1.sources.r1.overlong_policy: must be one "
            "of: truncate, drop, split (did you mean 'drop'?)");
}

// -- pump_lines
// ------------------------------------------------------------------

namespace {

/// pump_lines on a pipe, with the test's scoped actor in place of the source
/// actor: every emitted batch lands in `self`'s mailbox.
struct pump_lines_test : actor_test {
  void start(std::size_t batch_size, std::chrono::milliseconds timeout,
             std::size_t max_inflight = 4,
             overlong_policy policy = overlong_policy::truncate,
             std::size_t max_line = 100) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    rd = fds[0];
    wr = fds[1];
    m = metrics_of("sources", "r1", "exec");
    pump = std::make_unique<source_pump>(max_inflight, clock);
    pump->bind(caf::actor_cast<caf::actor>(self), m);
    lines.emplace(max_line, policy);
    result = std::async(std::launch::async, [this, batch_size, timeout] {
      return pump_lines(rd, *lines, *pump, batch_size, timeout);
    });
  }

  ~pump_lines_test() override {
    if (pump) pump->abort();
    if (result.valid()) result.wait();
    close_writer();
    if (rd >= 0) ::close(rd);
  }

  void write(const std::string& text) {
    ASSERT_EQ(::write(wr, text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }

  void close_writer() {
    if (wr >= 0) ::close(wr);
    wr = -1;
  }

  /// The next emitted batch's bodies (released at once unless told not
  /// to); nullopt when none came within `timeout`.
  std::optional<strs> next(std::chrono::milliseconds timeout = 5s,
                           bool release = true) {
    std::optional<strs> got;
    self->receive([&](emit_atom, batch& events) { got = bodies(events); },
                  caf::after(timeout) >> [] {});
    if (got && release) pump->release();
    return got;
  }

  int rd = -1;
  int wr = -1;
  std::shared_ptr<component_metrics> m;
  std::unique_ptr<source_pump> pump;
  std::optional<line_splitter> lines;
  std::future<bool> result;
  /// The pump waits on it: it tells when the reader waits for the window.
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
};

} // namespace

TEST_F(pump_lines_test, emits_full_batches_and_a_partial_one_after_timeout) {
  start(2, 50ms);
  write("a\nb\nc\nd\ne\n");
  EXPECT_EQ(next(), (strs{"a", "b"}));
  EXPECT_EQ(next(), (strs{"c", "d"}));
  auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(next(), (strs{"e"})) << "the partial batch after batch_timeout";
  EXPECT_GE(std::chrono::steady_clock::now() - began, 30ms);
  EXPECT_EQ(result.wait_for(0s), std::future_status::timeout)
      << "still reading: no end of input yet";
  EXPECT_EQ(m->events_received.load(), 5u);
  close_writer();
  EXPECT_TRUE(result.get()) << "end of input";
}

TEST_F(pump_lines_test, end_of_input_flushes_the_partial_last_line) {
  start(100, 10s);
  write("x\ny");
  close_writer();
  EXPECT_EQ(next(), (strs{"x", "y"}));
  EXPECT_TRUE(result.get());
}

TEST_F(pump_lines_test, counts_dropped_lines) {
  start(100, 10s, 4, overlong_policy::drop, 3);
  write("abcdef\nok\nxyzw\n");
  close_writer();
  EXPECT_EQ(next(), (strs{"ok"}));
  EXPECT_TRUE(result.get());
  EXPECT_EQ(m->events_dropped.load(), 2u);
}

TEST_F(pump_lines_test, blocks_while_the_window_is_full) {
  start(1, 10s, 1);
  write("a\nb\nc\n");
  EXPECT_EQ(next(5s, false), (strs{"a"}));
  // The reader waits for the window with "b": nothing more was emitted.
  ASSERT_TRUE(clock->blocked());
  EXPECT_EQ(next(0ms), std::nullopt) << "one batch in flight at most";
  pump->release();
  EXPECT_EQ(next(), (strs{"b"}));
  EXPECT_EQ(next(), (strs{"c"}));
  close_writer();
  EXPECT_TRUE(result.get());
}

TEST_F(pump_lines_test, a_stop_hands_over_what_was_read_and_returns_false) {
  start(1, 10s, 1);
  write("a\nb\nc\n");                      // one write: read in one go
  EXPECT_EQ(next(5s, false), (strs{"a"})); // the reader waits to emit "b"
  pump->request_stop();
  pump->release();
  EXPECT_EQ(next(), (strs{"b"}));
  EXPECT_EQ(next(), (strs{"c"}));
  EXPECT_FALSE(result.get()) << "stopped, not at end of input";
  EXPECT_EQ(m->events_received.load(), 3u);
}

TEST_F(pump_lines_test, an_abort_unblocks_the_reader) {
  start(1, 10s, 1);
  write("a\nb\n");
  EXPECT_EQ(next(5s, false), (strs{"a"}));
  pump->abort();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(result.get());
  EXPECT_FALSE(pump->emit(batch{event{}}));
}

TEST_F(pump_lines_test, counts_truncated_lines) {
  start(100, 10s, 4, overlong_policy::truncate, 3);
  write("abcdef\nok\nwxyz\n");
  close_writer();
  EXPECT_EQ(next(), (strs{"abc", "ok", "wxy"}));
  EXPECT_TRUE(result.get());
  EXPECT_EQ(m->events_truncated.load(), 2u);
  EXPECT_EQ(m->events_dropped.load(), 0u);
}

TEST_F(pump_lines_test, emit_batches_torn_down_counts_every_event_it_held) {
  m = metrics_of("sources", "r1", "exec");
  pump = std::make_unique<source_pump>(1);
  pump->bind(caf::actor_cast<caf::actor>(self), m);
  batch pending(30);
  result = std::async(std::launch::async, [this, &pending] {
    return emit_batches(pending, 10, *pump, true);
  });
  auto first = next(5s, false); // in flight, never released
  ASSERT_TRUE(first);
  EXPECT_EQ(first->size(), 10u);
  pump->abort();
  EXPECT_FALSE(result.get());
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(m->events_received.load(), 30u) << "read from outside, all of it";
  EXPECT_EQ(m->events_undelivered.load(), 20u) << "all but the one in flight";
}

// Batches are cut at max_batch_bytes of bodies too, so a source's window is
// bounded in bytes whatever its lines' length; an event larger than that
// goes alone, and without `all` a batch below both limits waits.
TEST_F(pump_lines_test, emit_batches_cuts_at_max_batch_bytes) {
  m = metrics_of("sources", "r1", "exec");
  pump = std::make_unique<source_pump>(100);
  pump->bind(caf::actor_cast<caf::actor>(self), m);
  auto quarter = max_batch_bytes / 4;
  batch pending;
  for (int i = 0; i < 10; ++i)
    pending.emplace_back().body.assign(quarter, 'x');
  pending.emplace_back().body.assign(max_batch_bytes + 1, 'y');
  pending.emplace_back().body = "z";
  ASSERT_TRUE(emit_batches(pending, 1000, *pump, false));
  // Returned: every batch it emitted is in the mailbox.
  std::vector<std::size_t> sizes;
  while (auto b = next(0ms, false))
    sizes.push_back(b->size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2, 1}))
      << "4 quarters, 4 quarters, 2 (the big one does not fit), the big one";
  ASSERT_EQ(pending.size(), 1u) << "'z' waits: below both limits";
  ASSERT_TRUE(emit_batches(pending, 1000, *pump, true));
  EXPECT_EQ(next(1s, false)->size(), 1u);
}

// Several batches out of one read keep the lines' order, and what is left
// (below batch_size) waits at the front for the next read's lines.
TEST_F(pump_lines_test, emit_batches_keeps_order_and_the_rest) {
  m = metrics_of("sources", "r1", "exec");
  pump = std::make_unique<source_pump>(100);
  pump->bind(caf::actor_cast<caf::actor>(self), m);
  auto numbered = [](int from, int to) {
    strs out;
    for (int i = from; i < to; ++i)
      out.push_back(std::to_string(i));
    return out;
  };
  batch pending;
  for (auto& b : numbered(0, 25))
    pending.emplace_back().body = b;
  uint64_t last = 0;
  ASSERT_TRUE(emit_batches(pending, 10, *pump, false, &last));
  EXPECT_EQ(next(1s, false), numbered(0, 10));
  EXPECT_EQ(next(1s, false), numbered(10, 20));
  EXPECT_FALSE(next(0ms, false)) << "5 wait: below batch_size";
  EXPECT_EQ(last, 2u) << "the number of the last batch handed over";
  EXPECT_EQ(bodies(pending), numbered(20, 25));
  for (auto& b : numbered(25, 32))
    pending.emplace_back().body = b;
  ASSERT_TRUE(emit_batches(pending, 10, *pump, true, &last));
  EXPECT_EQ(next(1s, false), numbered(20, 30));
  EXPECT_EQ(next(1s, false), numbered(30, 32)) << "with `all`, the rest";
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(last, 4u);
  EXPECT_EQ(m->events_received.load(), 32u);
}

TEST(line_splitter, take_counts_answers_what_is_new_since_the_last_call) {
  line_splitter s{2, overlong_policy::truncate};
  batch out;
  std::string in = "abc\nxyz\nok\n";
  s.feed(in.data(), in.size(), out);
  auto c = s.take_counts();
  EXPECT_EQ(c.truncated, 2u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(s.take_counts().truncated, 0u) << "nothing new";
  s.feed(in.data(), 4, out);
  EXPECT_EQ(s.take_counts().truncated, 1u);
  EXPECT_EQ(s.truncated(), 3u) << "the totals stay";
}

// A poll's timeout is rounded up to the deadline: rounded down, the last
// millisecond before it was spent in polls that returned at once.
TEST(poll_timeout, rounds_up_to_the_deadline) {
  auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(
      flumen::sources::poll_timeout(now + std::chrono::microseconds{1500}), 2);
  EXPECT_EQ(flumen::sources::poll_timeout(now - std::chrono::seconds{1}), 0);
  EXPECT_EQ(flumen::sources::poll_timeout(now + std::chrono::hours{1}), 1000);
  EXPECT_EQ(flumen::sources::poll_timeout(
                std::chrono::steady_clock::time_point::max()),
            1000);
}
