// The file channel's in-memory prefix (actors/channels/file_queue.hpp):
// runs of numbered events, taken whole or in part, put back in order.
#include <gtest/gtest.h>

#include "actors/channels/file_queue.hpp"

using flumen::batch;
using flumen::event;
using flumen::channels::file_detail::memory_runs;

namespace {

batch bodies(std::initializer_list<const char*> bs) {
  batch b;
  for (auto* s : bs)
    b.push_back(event{{}, s});
  return b;
}

std::string joined(const batch& b) {
  std::string s;
  for (auto& e : b)
    s += e.body + ",";
  return s;
}

} // namespace

TEST(file_queue, a_whole_run_is_taken_as_it_came_and_runs_join_in_order) {
  memory_runs q;
  auto a = bodies({"a0", "a1", "a2"});
  auto* data = a.data();
  q.push(10, std::move(a), flumen::event_bytes(bodies({"a0", "a1", "a2"})));
  q.push(13, bodies({"b0", "b1"}), flumen::event_bytes(bodies({"b0", "b1"})));
  EXPECT_EQ(q.size(), 5u);
  batch out;
  std::vector<uint64_t> seqs;
  auto bytes = q.take(3, 0, out, seqs);
  EXPECT_EQ(out.data(), data); // the put's own vector
  EXPECT_EQ(joined(out), "a0,a1,a2,");
  EXPECT_EQ(seqs, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(bytes, flumen::event_bytes(out));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.bytes(), flumen::event_bytes(bodies({"b0", "b1"})));
}

TEST(file_queue, a_take_splits_runs_at_its_count_and_its_byte_bound) {
  memory_runs q;
  q.push(1, bodies({"a", "b", "c"}),
         flumen::event_bytes(bodies({"a", "b", "c"})));
  q.push(4, bodies({"d", "e"}), flumen::event_bytes(bodies({"d", "e"})));
  batch out;
  std::vector<uint64_t> seqs;
  q.take(2, 0, out, seqs);
  EXPECT_EQ(joined(out), "a,b,");
  out.clear();
  seqs.clear();
  // c and d, then e is over the count.
  q.take(2, 0, out, seqs);
  EXPECT_EQ(joined(out), "c,d,");
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 4}));
  // A byte bound below one event: that one event still goes.
  q.push(6, bodies({"f"}), flumen::event_bytes(bodies({"f"})));
  out.clear();
  seqs.clear();
  q.take(10, 1, out, seqs);
  EXPECT_EQ(joined(out), "e,");
  out.clear();
  seqs.clear();
  q.take(10, 0, out, seqs);
  EXPECT_EQ(joined(out), "f,");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(file_queue, put_back_restores_the_logs_order_around_gaps) {
  memory_runs q;
  // 1..3 taken; 5 and 6 held (4 is done: a gap).
  q.push(std::vector<uint64_t>{5, 6}, bodies({"e", "f"}));
  auto taken = bodies({"a", "b", "c"});
  std::vector<uint64_t> seqs{1, 2, 3};
  q.put_back(taken, seqs, {0, 2}); // b was committed
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q.bytes(), flumen::event_bytes(bodies({"a", "c", "e", "f"})));
  batch out;
  std::vector<uint64_t> got;
  q.take(10, 0, out, got);
  EXPECT_EQ(joined(out), "a,c,e,f,");
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 3, 5, 6}));
}
