// What the two ends of a hop keep (runtime/wire/hop_flow.hpp): the receiver's
// record of accepted event numbers (bounded across receiver restarts and
// refused batches) and the sender's link estimate (messages that cross a
// slow link within its timeout). No actors, time passed in.

#include "runtime/wire/hop_flow.hpp"

#include <chrono>
#include <cstdint>

#include <gtest/gtest.h>

using namespace flumen::hop;
using namespace std::chrono_literals;

// -- accepted_numbers ---------------------------------------------------------

TEST(hop_accepted_numbers, contiguous_batches_keep_no_ranges) {
  accepted_numbers a;
  uint64_t next = 1;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(a.has(next, 100));
    a.add(next, 100);
    EXPECT_TRUE(a.has(next, 100));
    next += 100;
  }
  EXPECT_EQ(a.below(), next);
  EXPECT_EQ(a.ranges(), 0u);
  // Any piece of what was accepted is a resend.
  EXPECT_TRUE(a.has(1, 1));
  EXPECT_TRUE(a.has(500, 37));
  EXPECT_FALSE(a.has(next, 1));
}

TEST(hop_accepted_numbers, out_of_order_batches_merge) {
  accepted_numbers a;
  a.add(201, 100); // [201, 301) before [1, 201)
  EXPECT_EQ(a.ranges(), 1u);
  EXPECT_TRUE(a.has(201, 100));
  EXPECT_TRUE(a.has(250, 10));
  EXPECT_FALSE(a.has(1, 100));
  EXPECT_FALSE(a.has(150, 100)); // straddles what is not accepted
  a.add(101, 100);
  EXPECT_EQ(a.ranges(), 1u); // [101, 301)
  a.add(1, 100);
  EXPECT_EQ(a.ranges(), 0u);
  EXPECT_EQ(a.below(), 301u);
}

/// Pieces of a batch split for a resend ([a, b) -> [a, m), [m, b)) are
/// recognised whichever was accepted: the whole or the pieces.
TEST(hop_accepted_numbers, split_resends_are_recognised) {
  accepted_numbers a;
  a.add(1, 10);
  a.add(21, 10); // [11, 21) was lost on the way
  EXPECT_TRUE(a.has(21, 5));
  EXPECT_TRUE(a.has(26, 5));
  EXPECT_FALSE(a.has(11, 5));
  EXPECT_FALSE(a.has(16, 5));
  a.add(11, 5);
  a.add(16, 5);
  EXPECT_EQ(a.ranges(), 0u);
  EXPECT_EQ(a.below(), 31u);
}

/// Issue 17, item 7: a receiver restarted while its senders go on numbering
/// starts a fresh record. Without the sender's statement every accepted
/// number stayed above `below` for the sender's life; the hello's lowest
/// unsettled number resynchronises it.
TEST(hop_accepted_numbers, stays_bounded_across_a_receiver_restart) {
  accepted_numbers a; // the restarted receiver's record
  // The sender got to 1,000,000 with the receiver before it; its hello
  // states its lowest unsettled number.
  uint64_t next = 1'000'000;
  a.settled_below(next);
  EXPECT_EQ(a.below(), next);
  EXPECT_TRUE(a.has(1, 999'999)) << "settled numbers are never put again";
  // Batches in flight when the receiver went are sent again and accepted.
  for (int i = 0; i < 100'000; ++i) {
    // A batch in flight ahead of one still held (out of order) now and then.
    if (i % 10 == 0) {
      a.add(next + 50, 50);
      a.add(next, 50);
    } else {
      a.add(next, 100);
    }
    next += 100;
    ASSERT_LE(a.ranges(), 1u) << "after batch " << i;
  }
  EXPECT_EQ(a.below(), next);
  EXPECT_EQ(a.forgotten(), 0u);
}

/// A refused batch (malformed, too large) is never accepted: it left a
/// permanent gap below which nothing was ever released. The sender settles
/// it (rejected, or back to its channel to be numbered again) and its next
/// hello moves past it.
TEST(hop_accepted_numbers, stays_bounded_across_refused_batches) {
  accepted_numbers a;
  uint64_t next = 1;
  for (int i = 0; i < 10'000; ++i) {
    if (i % 3 == 0) {
      // Refused: not added. The sender settles it and says so.
      next += 100;
      continue;
    }
    a.add(next, 100);
    next += 100;
    if (i % 7 == 0) a.settled_below(next); // a hello now and then
    ASSERT_LE(a.ranges(), 8u) << "after batch " << i;
  }
  a.settled_below(next);
  EXPECT_EQ(a.ranges(), 0u);
  EXPECT_EQ(a.below(), next);
}

/// A sender that never states its lowest unsettled number (or states it
/// rarely) can't make the record grow past its bound: the oldest ranges are
/// forgotten, which can only make a resend of them a duplicate.
TEST(hop_accepted_numbers, is_bounded_without_any_hello) {
  accepted_numbers a{64};
  uint64_t next = 1;
  for (int i = 0; i < 100'000; ++i) {
    next += 100; // a gap: refused
    a.add(next, 100);
    next += 100;
  }
  EXPECT_LE(a.ranges(), 64u);
  EXPECT_EQ(a.forgotten(), 100'000u - 64u);
  // What is kept is still recognised; what was forgotten is not.
  EXPECT_TRUE(a.has(next - 100, 100));
  EXPECT_FALSE(a.has(101, 100));
}

TEST(hop_accepted_numbers, hostile_numbers_do_not_wrap) {
  accepted_numbers a;
  auto top = UINT64_MAX;
  a.add(top - 10, 100); // the end saturates
  EXPECT_TRUE(a.has(top - 10, 5));
  EXPECT_FALSE(a.has(1, 10));
  a.settled_below(top);
  EXPECT_LE(a.ranges(), 1u);
  a.add(0, 0);
  EXPECT_TRUE(a.has(5, 10));
}

// -- link_estimate ------------------------------------------------------------

namespace {

using clock_type = link_estimate::clock;

/// Sends messages of the estimate's size over a link of `rate` bytes/s (one
/// at a time, answered when its last byte arrived) for `total` bytes; the
/// largest time one message took.
clock_type::duration drive(link_estimate& e, double rate, std::size_t total,
                           clock_type::time_point& now) {
  clock_type::duration longest{};
  while (total > 0) {
    auto n = std::min(total, e.message_bytes());
    e.on_send(now, n);
    auto took = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(static_cast<double>(n) / rate));
    now += took;
    e.on_answer(now, n, true);
    longest = std::max(longest, took);
    total -= n;
  }
  return longest;
}

} // namespace

TEST(hop_link_estimate, starts_small_and_grows_with_a_fast_link) {
  link_estimate e{5s, 20s};
  EXPECT_EQ(e.rate(), 0);
  EXPECT_EQ(e.message_bytes(), link_estimate::first_message);
  EXPECT_EQ(e.window_bytes(), link_estimate::first_message);
  auto now = clock_type::time_point{} + 1h;
  drive(e, 500e6, 500'000'000, now); // 500 MB/s
  EXPECT_GT(e.rate(), 400e6);
  // A quarter of the 5 s link timeout's worth per message, a quarter of the
  // 20 s request timeout's in flight.
  EXPECT_GT(e.message_bytes(), 400'000'000u);
  EXPECT_GT(e.window_bytes(), e.message_bytes());
}

/// Issue 17, item 4: over 400 KB/s a message crosses well within the link's
/// 5 s timeout (a quarter of it, measured), from the first message on.
TEST(hop_link_estimate, messages_cross_a_slow_link_within_its_timeout) {
  link_estimate e{5s, 20s};
  auto now = clock_type::time_point{} + 1h;
  auto longest = drive(e, 400e3, 7'200'000, now);
  EXPECT_LT(longest, 2s);
  EXPECT_NEAR(e.rate(), 400e3, 40e3);
  EXPECT_LE(e.message_bytes(), 550'000u);
  EXPECT_GE(e.message_bytes(), 450'000u);
}

TEST(hop_link_estimate, a_loss_halves_until_messages_cross) {
  link_estimate e{5s, 20s};
  auto now = clock_type::time_point{} + 1h;
  drive(e, 10e6, 50'000'000, now); // 10 MB/s: messages of ~12 MB
  auto before = e.message_bytes();
  EXPECT_GT(before, 10'000'000u);
  // The link slows to 100 KB/s: each message too large is lost.
  int losses = 0;
  while (static_cast<double>(e.message_bytes()) / 100e3 > 5.0) {
    e.on_send(now, e.message_bytes());
    now += 5s;
    e.on_answer(now, e.message_bytes(), false);
    e.on_loss(now);
    ++losses;
    ASSERT_LT(losses, 20);
  }
  EXPECT_LE(losses, 8);
  auto longest = drive(e, 100e3, 2'000'000, now);
  EXPECT_LT(longest, 5s);
  EXPECT_NEAR(e.rate(), 100e3, 20e3);
}

TEST(hop_link_estimate, an_unmeasured_link_halves_down_to_the_floor) {
  link_estimate e{5s, 20s};
  auto now = clock_type::time_point{} + 1h;
  for (int i = 0; i < 20; ++i)
    e.on_loss(now);
  EXPECT_EQ(e.message_bytes(), link_estimate::min_message);
}

/// Answers released together after a full receiver held them are not a
/// fast link: the time they were held counts.
TEST(hop_link_estimate, answers_released_together_are_not_a_fast_link) {
  link_estimate e{5s, 20s};
  auto now = clock_type::time_point{} + 1h;
  for (int i = 0; i < 4; ++i)
    e.on_send(now, 100'000);
  now += 3s; // held
  for (int i = 0; i < 4; ++i) {
    e.on_answer(now, 100'000, true);
    now += 1ms;
  }
  EXPECT_LT(e.rate(), 200e3);
  EXPECT_EQ(e.in_flight(), 0u);
}
