// The file channel's log under faults: what a put was answered for is
// synced across rolls and failures (checked by a shim that counts every
// write, fdatasync and close of this process), a transient error while
// reading back skips nothing, damage is counted as lost events, committed
// ranges free segments and survive a restart.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actors/channels/filelog/ack_state.hpp"
#include "actors/channels/filelog/journal.hpp"
#include "actors/channels/filelog/log_dir.hpp"
#include "actors/channels/filelog/log_writer.hpp"
#include "actors/channels/filelog/queue_parts.hpp"
#include "actors/channels/filelog/record.hpp"
#include "actors/channels/filelog/tools.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace flumen;
using namespace flumen::filelog;
using namespace std::chrono_literals;
using flumen::test::wait_until;

// -- the shim: write, fdatasync and close of this process --------------------
//
// Defined in the test executable, these take the place of libc's for every
// call the (static) filelog library makes. An fd written and not synced is
// dirty; closing a dirty fd is counted.

namespace shim {

std::mutex mtx;
std::set<int> dirty;
std::atomic<int> closed_dirty{0};
std::atomic<int> syncs{0};

bool any_dirty() {
  std::lock_guard guard{mtx};
  return !dirty.empty();
}

void reset() {
  std::lock_guard guard{mtx};
  dirty.clear();
  closed_dirty = 0;
  syncs = 0;
}

} // namespace shim

extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  auto r = ::syscall(SYS_write, fd, buf, n);
  if (r > 0 && fd > 2) {
    std::lock_guard guard{shim::mtx};
    shim::dirty.insert(fd);
  }
  return r;
}

extern "C" int fdatasync(int fd) {
  auto r = static_cast<int>(::syscall(SYS_fdatasync, fd));
  if (r == 0) {
    ++shim::syncs;
    std::lock_guard guard{shim::mtx};
    shim::dirty.erase(fd);
  }
  return r;
}

extern "C" int close(int fd) {
  {
    std::lock_guard guard{shim::mtx};
    if (shim::dirty.erase(fd) > 0) ++shim::closed_dirty;
  }
  return static_cast<int>(::syscall(SYS_close, fd));
}

namespace {

struct filelog_faults : ::testing::Test {
  flumen::test::temp_dir tmp_{"flumen_faults"};
  std::string dir = tmp_.string();
  void SetUp() override { shim::reset(); }

  static batch numbered(int from, int n) {
    batch out;
    for (int i = from; i < from + n; ++i) {
      auto& e = out.emplace_back();
      e.body = "line " + std::to_string(i) + std::string(40, 'x');
    }
    return out;
  }

  static std::vector<std::string> bodies(const batch& b) {
    std::vector<std::string> out;
    for (auto& e : b)
      out.push_back(e.body);
    return out;
  }

  static std::vector<std::string> names(int from, int n) {
    return bodies(numbered(from, n));
  }

  /// Every uncommitted event recovery finds, in order.
  static batch replay(const recovery& r) {
    batch out;
    for (auto& ref : r.pending) {
      batch events;
      EXPECT_EQ(read_record(r, ref, 0, events), read_status::ok);
      for (std::size_t i = 0; i < events.size(); ++i)
        if (!r.committed.contains(ref.seq + i))
          out.push_back(std::move(events[i]));
    }
    return out;
  }

  /// Appends `records` puts of `per` events through a journal and waits
  /// for every answer; the callback checks nothing is dirty when a put is
  /// answered (under `batch`).
  void append_all(journal& j, int records, int per,
                  std::atomic<int>* dirty_answers = nullptr) {
    std::atomic<int> done{0};
    for (int i = 0; i < records; ++i)
      j.append(numbered(i * per, per), [&](journal::result r, batch&&) {
        EXPECT_FALSE(r.error) << r.error.message();
        if (dirty_answers && shim::any_dirty()) ++*dirty_answers;
        ++done;
      });
    ASSERT_TRUE(wait_until([&] { return done.load() == records; }));
  }
};

} // namespace

// -- durability across rolls -------------------------------------------------

// Every byte a put wrote is synced before it is answered, across any number
// of rolls (4 KB segments: dozens of rolls), and no segment is closed with
// writes after its last fdatasync.
TEST_F(filelog_faults,
       fsync_batch_syncs_every_rolled_segment_before_answering) {
  std::atomic<int> dirty_answers{0};
  {
    journal j{{dir, 4096, fsync_policy::batch}, {}, 0};
    append_all(j, 400, 3, &dirty_answers);
    EXPECT_GT(list_segments(dir).size(), 10u) << "the test needs rolls";
  }
  EXPECT_EQ(dirty_answers.load(), 0) << "a put answered with unsynced bytes";
  EXPECT_EQ(shim::closed_dirty.load(), 0) << "a segment closed unsynced";
}

// `interval`: rolled segments are synced by the next interval's sync (or a
// stop), never dropped unsynced.
TEST_F(filelog_faults, fsync_interval_syncs_rolled_segments_too) {
  {
    journal j{{dir, 4096, fsync_policy::interval, 20ms}, {}, 0};
    append_all(j, 200, 3);
    EXPECT_TRUE(wait_until([] { return !shim::any_dirty(); }))
        << "synced within the interval";
  }
  EXPECT_EQ(shim::closed_dirty.load(), 0);
}

// A write that fails seals its segment; what the segment held before it is
// still synced by the next sync (not dropped with the descriptor).
TEST_F(filelog_faults, a_segment_sealed_by_a_failed_write_is_still_synced) {
  log_writer w{dir, 1 << 20, 0};
  w.append(numbered(0, 2)); // written, not synced
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = std::filesystem::file_size(w.segment()) + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THROW(w.append(numbered(2, 2)), std::system_error);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(shim::closed_dirty.load(), 0) << "sealed without a sync";
  w.append(numbered(4, 2));
  w.sync();
  EXPECT_FALSE(shim::any_dirty());
  EXPECT_EQ(shim::closed_dirty.load(), 0);
  // The new segment says the failed record's 2 numbers were skipped: the
  // torn tail they left is no loss.
  auto r = recover(dir, false);
  ASSERT_EQ(r.damages.size(), 1u);
  EXPECT_EQ(r.damages[0].what, damage::kind::torn_tail);
  EXPECT_EQ(r.damages[0].events, 0u);
  EXPECT_EQ(r.lost_events, 0u);
}

// -- damage counted as lost events ------------------------------------------

namespace {

/// Three segments of two 3-event records each (numbers 0..17).
std::vector<segment_file> three_segments(const std::string& dir) {
  log_writer w{dir, segment_header_size + 2 * 200, 0};
  for (int i = 0; i < 6; ++i) {
    batch b;
    for (int k = 0; k < 3; ++k)
      b.emplace_back().body = std::string(40, static_cast<char>('a' + i));
    w.append(b);
  }
  w.sync();
  return list_segments(dir);
}

} // namespace

// A middle segment cut at a record boundary: no torn tail shows it, but the
// next segment's header says where it ended, so the cut events are lost by
// count, not silently.
TEST_F(filelog_faults, records_cut_off_a_middle_segment_are_counted_lost) {
  auto segs = three_segments(dir);
  ASSERT_EQ(segs.size(), 3u);
  auto size = std::filesystem::file_size(segs[1].path);
  std::filesystem::resize_file(
      segs[1].path, segment_header_size + (size - segment_header_size) / 2);
  auto r = recover(dir, false);
  EXPECT_EQ(r.lost_events, 3u);
  ASSERT_EQ(r.damages.size(), 1u);
  EXPECT_EQ(r.damages[0].what, damage::kind::missing);
  EXPECT_EQ(r.damages[0].events, 3u);
  EXPECT_EQ(r.pending_events, 15u);
  std::ostringstream out, err;
  EXPECT_EQ(verify_directory(dir, true, out, err), 1) << out.str();
  EXPECT_NE(out.str().find("lost: 3 uncommitted events"), std::string::npos)
      << out.str();
}

// Cut inside a record: a torn tail, and its events (and the whole record
// after it) counted lost; a repair truncates the bytes but never says ok.
TEST_F(filelog_faults, a_middle_segment_cut_inside_a_record_loses_by_count) {
  auto segs = three_segments(dir);
  std::filesystem::resize_file(segs[1].path, segment_header_size + 30);
  auto r = recover(dir, false);
  EXPECT_EQ(r.lost_events, 6u);
  ASSERT_EQ(r.damages.size(), 1u);
  EXPECT_EQ(r.damages[0].what, damage::kind::torn_tail);
  EXPECT_EQ(r.damages[0].events, 6u);
  std::ostringstream out, err;
  EXPECT_EQ(verify_directory(dir, true, out, err), 1) << out.str();
  EXPECT_EQ(out.str().find("\nok\n"), std::string::npos) << out.str();
  // What is committed is not lost: the same cut after a commit past it.
  ack_file{dir + "/ack"}.store({12, {}});
  EXPECT_EQ(recover(dir, false).lost_events, 0u);
}

// A corrupt record's events count as lost (its header still says how many).
TEST_F(filelog_faults, a_corrupt_records_events_are_counted_lost) {
  auto segs = three_segments(dir);
  {
    std::fstream f{segs[0].path,
                   std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(static_cast<std::streamoff>(segment_header_size +
                                        record_header_size + 5));
    f.put('!');
  }
  auto r = recover(dir, false);
  EXPECT_EQ(r.lost_events, 3u);
  EXPECT_EQ(r.pending_events, 15u);
}

// -- transient errors while reading back --------------------------------------

// No descriptor for a moment: the backlog reports the error, keeps the
// record first and skips nothing; once descriptors are back it reads on.
TEST_F(filelog_faults, no_descriptor_while_reading_back_skips_nothing) {
  {
    log_writer w{dir, 1 << 20, 0};
    for (int i = 0; i < 5; ++i)
      w.append(numbered(i * 2, 2));
    w.sync();
  }
  disk_backlog b{recover(dir, false)};
  ASSERT_EQ(b.events(), 10u);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  // The lowest free descriptor as the limit: the next open fails (EMFILE).
  int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit none = old_limit;
  none.rlim_cur = static_cast<rlim_t>(lowest_free);
  batch out;
  std::vector<uint64_t> seqs, lost;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
  auto failed = b.load(100, 1 << 20, out, seqs, lost);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old_limit), 0);
  EXPECT_EQ(failed.error, EMFILE);
  EXPECT_EQ(failed.events, 0u);
  EXPECT_TRUE(lost.empty()) << "a transient error is not damage";
  EXPECT_EQ(b.events(), 10u);
  auto ok = b.load(100, 1 << 20, out, seqs, lost);
  EXPECT_EQ(ok.error, 0);
  EXPECT_EQ(ok.events, 10u);
  EXPECT_EQ(bodies(out), names(0, 10));
  EXPECT_TRUE(lost.empty());
}

// A segment deleted behind the channel's back is damage (it will not come
// back): its events are lost by count.
TEST_F(filelog_faults, a_deleted_segment_is_damage_not_a_retry) {
  auto segs = three_segments(dir);
  disk_backlog b{recover(dir, false)};
  std::filesystem::remove(segs[0].path);
  batch out;
  std::vector<uint64_t> seqs, lost;
  auto got = b.load(100, 1 << 20, out, seqs, lost);
  EXPECT_EQ(got.error, 0);
  EXPECT_EQ(lost.size(), 6u);
  EXPECT_EQ(out.size(), 12u);
}

// -- committed ranges --------------------------------------------------------

TEST(filelog_ranges, the_window_keeps_what_is_done_above_a_hole_as_ranges) {
  commit_window w{0};
  w.add(0, 1000);
  // 0..9 taken and never settled; everything after it committed in runs.
  for (uint64_t s = 10; s < 1000; s += 10)
    EXPECT_EQ(w.done_run(s, 10), 10u);
  EXPECT_EQ(w.committed(), 0u);
  EXPECT_EQ(w.open(), 10u);
  auto snap = w.snapshot();
  ASSERT_EQ(snap.ranges.size(), 1u) << "adjacent runs merge";
  EXPECT_EQ(snap.ranges[0], (seq_range{10, 1000}));
  EXPECT_EQ(w.done_run(5, 10), 5u) << "only live numbers count";
  EXPECT_EQ(w.done_run(0, 5), 5u);
  EXPECT_EQ(w.committed(), 1000u);
  EXPECT_TRUE(w.snapshot().ranges.empty());
  EXPECT_FALSE(w.done(999));
}

// A lost ack file: the first segment starts at a huge number. The window
// costs the same as for a small one (it allocated a byte per number).
TEST(filelog_ranges, a_far_first_number_costs_nothing) {
  commit_window w{0};
  w.add(1'000'000'000'000ULL, 5);
  EXPECT_EQ(w.committed(), 1'000'000'000'000ULL);
  EXPECT_EQ(w.open(), 5u);
  w.skip(2'000'000'000'000ULL, 3);
  EXPECT_EQ(w.open(), 5u);
  EXPECT_EQ(w.done_run(1'000'000'000'000ULL, 5), 5u);
  EXPECT_EQ(w.committed(), 2'000'000'000'003ULL);
}

TEST(filelog_ranges, sets_answer_containment) {
  committed_set s{10, {{20, 30}, {40, 50}}};
  EXPECT_TRUE(s.contains(9));
  EXPECT_FALSE(s.contains(10));
  EXPECT_TRUE(s.contains(20));
  EXPECT_FALSE(s.contains(30));
  EXPECT_TRUE(s.covers(0, 10));
  EXPECT_TRUE(s.covers(22, 30));
  EXPECT_FALSE(s.covers(22, 31));
  EXPECT_EQ(s.open_in(0, 60), 30u);
  EXPECT_EQ(s.end(), 50u);
  auto one = s.largest(1);
  ASSERT_EQ(one.ranges.size(), 1u);
}

TEST_F(filelog_faults, the_ack_file_keeps_ranges_and_is_written_whole) {
  auto path = dir + "/ack";
  {
    ack_file a{path};
    EXPECT_EQ(std::filesystem::file_size(path), ack_file_size)
        << "no hole a full disk could not fill";
    a.store({5, {{10, 20}, {30, 40}}});
  }
  ack_file a{path};
  ASSERT_TRUE(a.loaded());
  EXPECT_EQ(a.loaded()->committed, (committed_set{5, {{10, 20}, {30, 40}}}));
  // More ranges than a slot holds: the largest are kept, in order.
  committed_set many{0, {}};
  for (uint64_t i = 0; i < 600; ++i)
    many.ranges.push_back({10 * i + 1, 10 * i + 2 + (i == 300 ? 5 : 0)});
  a.store(many);
  auto kept = ack_file{path}.loaded()->committed;
  EXPECT_EQ(kept.ranges.size(), max_ack_ranges);
  EXPECT_TRUE(kept.contains(3001 + 5)) << "the largest range is kept";
  // A torn range list (its checksum fails): the position stays.
  {
    std::fstream f{path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(static_cast<std::streamoff>(ack_slot_offset[0] + 40));
    f.put('\x55');
  }
  auto torn = ack_file{path}.loaded();
  ASSERT_TRUE(torn);
  EXPECT_EQ(torn->committed.below, 0u);
}

// One transaction that never settles: the segments after it are freed as
// soon as they are committed, and a restart brings back only the open
// events (it brought back everything after the hole).
TEST_F(filelog_faults, a_hole_does_not_pin_the_segments_after_it) {
  {
    journal j{{dir, 4096, fsync_policy::batch}, {}, 0};
    append_all(j, 200, 3);
    auto before = list_segments(dir).size();
    ASSERT_GT(before, 5u);
    // 0..2 open; 3..599 committed.
    j.commit({0, {{3, 600}}});
    ASSERT_TRUE(wait_until([&] { return j.stats().committed_stored >= 1; }));
    EXPECT_LE(list_segments(dir).size(), 2u)
        << "the first segment (holding 0..2) and the current one at most";
  }
  auto r = recover(dir, false);
  EXPECT_EQ(r.pending_events, 3u);
  EXPECT_EQ(bodies(replay(r)), names(0, 3));
  EXPECT_GE(r.next_seq, 600u) << "numbers are never used twice";
}

// Everything committed and space short: the current segment is closed and
// deleted too (the disk a channel filled itself comes back), and the next
// put starts a new segment numbered after everything before.
TEST_F(filelog_faults, a_wholly_committed_current_segment_is_freed) {
  std::atomic<uint64_t> free_bytes{1 << 30};
  {
    journal_options o{dir, 1 << 20, fsync_policy::batch};
    o.min_free_space = 1 << 20;
    o.free_space = [&] { return free_bytes.load(); };
    journal j{o, {}, 0};
    append_all(j, 50, 3);
    ASSERT_EQ(list_segments(dir).size(), 1u);
    free_bytes = 1000; // short
    j.commit({150, {}});
    std::promise<journal::result> p;
    j.append(numbered(150, 3),
             [&](journal::result r, batch&&) { p.set_value(r); });
    EXPECT_TRUE(wait_until([&] { return list_segments(dir).empty(); }))
        << "the committed current segment is deleted while space is short";
    free_bytes = 1 << 30;
    auto r = p.get_future().get();
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.seq, 150u);
  }
  auto r = recover(dir, false);
  EXPECT_EQ(bodies(replay(r)), names(150, 3));
  EXPECT_EQ(r.next_seq, 153u);
}

// A segment that cannot be created (a full disk: its header does not fit)
// leaves no file: retries for an hour must not leave thousands of them
// (each retry takes a new number, so a new name).
TEST_F(filelog_faults, a_segment_that_cannot_be_created_leaves_no_file) {
  log_writer w{dir, 200, 0};
  w.append(numbered(0, 3)); // past 200 bytes: the next append rolls
  w.sync();
  ASSERT_EQ(list_segments(dir).size(), 1u);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit none = old_limit;
  none.rlim_cur = 8; // not even a segment header
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &none), 0);
  int failed = 0;
  for (int i = 0; i < 5; ++i) {
    try {
      w.append(numbered(3 + 3 * i, 3));
    } catch (const std::system_error&) {
      ++failed;
    }
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(failed, 5);
  EXPECT_EQ(list_segments(dir).size(), 1u) << "a failed creation left a file";
  auto a = w.append(numbered(18, 3));
  w.sync();
  EXPECT_EQ(a.seq, 18u) << "the failed appends' numbers are skipped";
  auto r = recover(dir, false);
  EXPECT_EQ(r.lost_events, 0u) << "skipped numbers are no loss";
  EXPECT_EQ(r.pending_events, 6u);
}
