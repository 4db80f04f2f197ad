// The file channel's log format: checksums, framing, torn tails at every
// byte, bit flips, implausible lengths, and the ack state's two slots.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actors/channels/filelog/ack_state.hpp"
#include "actors/channels/filelog/crc32c.hpp"
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

namespace {

batch sample_events(std::size_t n, const std::string& tag) {
  batch out;
  for (std::size_t i = 0; i < n; ++i) {
    auto& e = out.emplace_back();
    e.body = tag + "-" + std::to_string(i);
    if (i % 2 == 0) e.headers.insert_or_assign("host", "web-1");
    if (i % 3 == 0) e.headers.insert_or_assign("seq", std::to_string(i));
  }
  return out;
}

std::vector<scanned_record> records_of(std::string_view segment,
                                       scan_result* result = nullptr) {
  std::vector<scanned_record> out;
  auto r = scan_segment(segment,
                        [&](const scanned_record& rec) { out.push_back(rec); });
  if (result) *result = r;
  return out;
}

} // namespace

TEST(crc32c, check_value_in_hardware_and_by_table) {
  EXPECT_EQ(crc32c(std::string_view{"123456789"}), 0xE3069283u);
  EXPECT_EQ(crc32c_portable("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string_view{}), 0u);
}

TEST(crc32c, hardware_and_table_agree_and_continue) {
  std::mt19937 rng{42};
  std::string data(4099, '\0');
  for (auto& c : data)
    c = static_cast<char>(rng());
  for (std::size_t n = 0; n < data.size(); n += 1 + n / 7) {
    EXPECT_EQ(crc32c(data.data(), n), crc32c_portable(data.data(), n)) << n;
    // Continuing over two pieces gives the checksum of the whole.
    auto half = n / 2;
    EXPECT_EQ(crc32c(data.data() + half, n - half, crc32c(data.data(), half)),
              crc32c(data.data(), n))
        << n;
  }
}

TEST(filelog_segment, header_round_trip_and_damage) {
  auto h = encode_segment_header(1234567);
  ASSERT_EQ(h.size(), segment_header_size);
  EXPECT_EQ(decode_segment_header(h), 1234567u);
  for (std::size_t i = 0; i < 28; ++i) {
    auto bad = h;
    bad[i] ^= 0x10;
    EXPECT_FALSE(decode_segment_header(bad)) << "byte " << i;
  }
  EXPECT_FALSE(decode_segment_header(h.substr(0, 31)));
}

TEST(filelog_record, events_round_trip_with_headers_and_empty_bodies) {
  auto events = sample_events(7, "a");
  events[3].body.clear();
  events.emplace_back().body = std::string(100000, 'x');
  std::string seg = encode_segment_header(10);
  append_record(seg, 10, events);
  EXPECT_EQ(seg.size(),
            segment_header_size + record_header_size + payload_size(events));
  scan_result r;
  auto recs = records_of(seg, &r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].seq, 10u);
  EXPECT_EQ(recs[0].count, events.size());
  batch back;
  ASSERT_TRUE(decode_events(recs[0].payload, recs[0].count, back));
  EXPECT_EQ(back, events);
  EXPECT_EQ(r.good_end, seg.size());
  EXPECT_EQ(r.torn_bytes + r.corrupt_records + r.abandoned_bytes, 0u);
}

TEST(filelog_record, records_come_back_in_order) {
  std::string seg = encode_segment_header(0);
  uint64_t seq = 0;
  for (int i = 0; i < 50; ++i) {
    auto events = sample_events(1 + i % 5, std::to_string(i));
    append_record(seg, seq, events);
    seq += events.size();
  }
  scan_result r;
  auto recs = records_of(seg, &r);
  ASSERT_EQ(recs.size(), 50u);
  uint64_t expect = 0;
  for (auto& rec : recs) {
    EXPECT_EQ(rec.seq, expect);
    expect += rec.count;
  }
  EXPECT_EQ(r.records, 50u);
  EXPECT_EQ(r.good_end, seg.size());
}

// A crash mid-append leaves any prefix of the last record: every one of
// them reads as the records before it plus a torn tail of that many bytes.
TEST(filelog_record, a_torn_tail_at_every_byte_offset) {
  std::string seg = encode_segment_header(0);
  append_record(seg, 0, sample_events(3, "first"));
  auto before = seg.size();
  std::string last;
  append_record(last, 3, sample_events(4, "last"));
  for (std::size_t cut = 0; cut < last.size(); ++cut) {
    auto torn = seg + last.substr(0, cut);
    scan_result r;
    auto recs = records_of(torn, &r);
    ASSERT_EQ(recs.size(), 1u) << "cut " << cut;
    EXPECT_EQ(r.good_end, before) << "cut " << cut;
    EXPECT_EQ(r.torn_bytes, cut) << "cut " << cut;
    EXPECT_EQ(r.corrupt_records, 0u) << "cut " << cut;
    EXPECT_EQ(r.abandoned_bytes, 0u) << "cut " << cut;
  }
}

// A file extended by a crash before its data was written reads zeros.
TEST(filelog_record, zeros_after_the_last_record_are_a_torn_tail) {
  std::string seg = encode_segment_header(0);
  append_record(seg, 0, sample_events(3, "x"));
  auto end = seg.size();
  seg.append(4096, '\0');
  scan_result r;
  EXPECT_EQ(records_of(seg, &r).size(), 1u);
  EXPECT_EQ(r.good_end, end);
  EXPECT_EQ(r.torn_bytes, 4096u);
  EXPECT_EQ(r.abandoned_bytes, 0u);
}

// One flipped bit anywhere in a record: in its payload, the record is
// skipped and counted and the next one is read; in its header, the rest of
// the segment is abandoned and counted. Never a wrong event.
TEST(filelog_record, a_flipped_bit_anywhere_in_a_record) {
  std::string seg = encode_segment_header(0);
  append_record(seg, 0, sample_events(2, "one"));
  auto second_at = seg.size();
  append_record(seg, 2, sample_events(3, "two"));
  auto third_at = seg.size();
  append_record(seg, 5, sample_events(2, "three"));
  for (std::size_t byte = second_at; byte < third_at; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = seg;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      scan_result r;
      auto recs = records_of(bad, &r);
      if (byte < second_at + record_header_size) {
        ASSERT_EQ(recs.size(), 1u) << byte << ":" << bit;
        EXPECT_EQ(r.abandoned_at, second_at);
        EXPECT_EQ(r.abandoned_bytes, bad.size() - second_at);
        EXPECT_EQ(r.corrupt_records, 0u);
      } else {
        ASSERT_EQ(recs.size(), 2u) << byte << ":" << bit;
        EXPECT_EQ(recs[1].seq, 5u);
        EXPECT_EQ(r.corrupt_records, 1u);
        ASSERT_EQ(r.corrupt.size(), 1u);
        EXPECT_EQ(r.corrupt[0].offset, second_at);
        EXPECT_EQ(r.corrupt[0].bytes, third_at - second_at);
        EXPECT_EQ(r.corrupt_bytes, third_at - second_at);
        EXPECT_EQ(r.abandoned_bytes, 0u);
      }
      EXPECT_EQ(recs[0].seq, 0u);
    }
  }
}

TEST(filelog_record, an_implausible_length_abandons_the_rest) {
  std::string seg = encode_segment_header(0);
  append_record(seg, 0, sample_events(1, "ok"));
  auto at = seg.size();
  // A header whose checksum holds but claims 2 GiB.
  std::string h(20, '\0');
  uint32_t len = 2u << 30, count = 1;
  uint64_t seq = 1;
  std::memcpy(h.data(), &len, 4);
  std::memcpy(h.data() + 4, &count, 4);
  std::memcpy(h.data() + 8, &seq, 8);
  uint32_t crc = crc32c(h);
  h.append(reinterpret_cast<const char*>(&crc), 4);
  seg += h + "some bytes";
  scan_result r;
  EXPECT_EQ(records_of(seg, &r).size(), 1u);
  EXPECT_EQ(r.abandoned_at, at);
  EXPECT_EQ(r.abandoned_bytes, seg.size() - at);
}

TEST(filelog_record, a_segment_without_a_valid_header_reads_nothing) {
  std::string seg = encode_segment_header(0);
  append_record(seg, 0, sample_events(1, "x"));
  seg[0] = 'X';
  scan_result r;
  EXPECT_TRUE(records_of(seg, &r).empty());
  EXPECT_FALSE(r.header_ok);
}

TEST(filelog_record, decode_events_refuses_malformed_payloads) {
  std::string seg;
  auto events = sample_events(3, "p");
  append_record(seg, 0, events);
  auto payload = std::string_view{seg}.substr(record_header_size);
  batch out;
  out.emplace_back().body = "kept";
  EXPECT_FALSE(decode_events(payload, 4, out)) << "more events than held";
  EXPECT_FALSE(decode_events(payload, 2, out)) << "bytes left over";
  EXPECT_FALSE(decode_events(payload.substr(0, payload.size() - 1), 3, out));
  // A header count no payload could hold.
  std::string absurd;
  uint32_t body = 0, headers = 0xFFFFFFFF;
  absurd.append(reinterpret_cast<const char*>(&body), 4);
  absurd.append(reinterpret_cast<const char*>(&headers), 4);
  EXPECT_FALSE(decode_events(absurd, 1, out));
  ASSERT_EQ(out.size(), 1u) << "a failed decode leaves out as it was";
  EXPECT_EQ(out[0].body, "kept");
  EXPECT_TRUE(decode_events(payload, 3, out));
  EXPECT_EQ(out.size(), 4u);
}

// -- the ack state ------------------------------------------------------

TEST(filelog_ack, slots_round_trip_and_the_newer_valid_one_wins) {
  std::string file(ack_file_size, '\0');
  auto put_slot = [&](int i, ack_slot s) {
    auto b = encode_ack_slot(s);
    file.replace(ack_slot_offset[i], ack_slot_size, b);
  };
  EXPECT_FALSE(read_ack_state(file)) << "a new file holds nothing";
  put_slot(1, {1, {100, {}}});
  ASSERT_TRUE(read_ack_state(file));
  EXPECT_EQ(read_ack_state(file)->committed.below, 100u);
  put_slot(0, {2, {250, {}}});
  EXPECT_EQ(read_ack_state(file)->committed.below, 250u);
  // The write of generation 2 torn (any byte of its slot): generation 1
  // holds.
  for (std::size_t i = 0; i < 28; ++i) {
    auto torn = file;
    torn[ack_slot_offset[0] + i] ^= 0x04;
    auto s = read_ack_state(torn);
    ASSERT_TRUE(s) << i;
    EXPECT_EQ(s->generation, 1u) << i;
    EXPECT_EQ(s->committed.below, 100u) << i;
  }
  // A file cut short keeps what its first slot holds.
  EXPECT_EQ(
      read_ack_state(std::string_view{file}.substr(0, 100))->committed.below,
      250u);
}

TEST(filelog_ack, a_file_alternates_slots_and_reopens_at_the_last_value) {
  flumen::test::temp_dir dir{"flumen_ack"};
  auto path = (dir / "ack").string();
  {
    ack_file a{path};
    EXPECT_FALSE(a.loaded());
    a.store({10, {}});
    a.store({20, {}});
    a.store({30, {}});
    EXPECT_EQ(a.committed().below, 30u);
  }
  {
    ack_file a{path};
    ASSERT_TRUE(a.loaded());
    EXPECT_EQ(a.loaded()->committed.below, 30u);
    EXPECT_EQ(a.loaded()->generation, 3u);
    a.store({40, {}}); // generation 4, the other slot than 3
  }
  // Tear the last write: the one before it is what a restart sees.
  {
    std::fstream f{path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(static_cast<std::streamoff>(ack_slot_offset[0] + 17));
    f.put('\x7f');
  }
  ack_file a{path};
  ASSERT_TRUE(a.loaded());
  EXPECT_EQ(a.loaded()->committed.below, 30u);
  a.store({35, {}});
  EXPECT_EQ(ack_file{path}.loaded()->committed.below, 35u);
}

// -- a directory: writer and recovery -------------------------------------

namespace {

struct filelog_dir : ::testing::Test {
  flumen::test::temp_dir tmp_{"flumen_filelog"};
  std::string dir = tmp_.string();

  /// Every pending event of a recovery, read back from `from` on.
  batch replay(const recovery& r) {
    batch out;
    for (auto& ref : r.pending)
      EXPECT_EQ(read_record(r, ref, r.committed.below, out), read_status::ok);
    return out;
  }

  static std::vector<std::string> bodies(const batch& b) {
    std::vector<std::string> out;
    for (auto& e : b)
      out.push_back(e.body);
    return out;
  }

  static batch numbered(int from, int n) {
    batch out;
    for (int i = from; i < from + n; ++i) {
      auto& e = out.emplace_back();
      e.body = "line " + std::to_string(i);
      e.headers.insert_or_assign("n", std::to_string(i));
    }
    return out;
  }

  static std::vector<std::string> names(int from, int n) {
    return bodies(numbered(from, n));
  }

  /// Writes one record per batch (synced) into one segment; its path and
  /// each record's offset.
  struct written {
    std::string segment;
    std::vector<std::size_t> offsets;
  };
  written write(const std::vector<batch>& records) {
    written out;
    log_writer w{dir, 1 << 20, 0};
    for (auto& r : records)
      out.offsets.push_back(w.append(r).offset);
    w.sync();
    out.segment = w.segment();
    return out;
  }

  /// The nonce in a segment's header (its records' checksums need it).
  static uint32_t nonce_of(const std::string& path) {
    std::ifstream f{path, std::ios::binary};
    std::string head(segment_header_size, '\0');
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    auto h = read_segment_header(head);
    EXPECT_TRUE(h.has_value()) << path;
    return h ? h->nonce : 0;
  }

  void flip(const std::string& path, std::size_t offset) {
    std::fstream f{path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x20));
  }
};

} // namespace

TEST_F(filelog_dir, what_was_written_is_read_back_in_order) {
  {
    log_writer w{dir, 1 << 20, 0};
    w.append(numbered(0, 3));
    w.append(numbered(3, 2));
    w.sync();
    EXPECT_EQ(w.next_seq(), 5u);
  }
  auto r = recover(dir, false);
  EXPECT_EQ(r.committed.below, 0u);
  EXPECT_EQ(r.pending.size(), 2u);
  EXPECT_EQ(r.pending_events, 5u);
  EXPECT_EQ(r.next_seq, 5u);
  EXPECT_TRUE(r.damages.empty());
  EXPECT_EQ(bodies(replay(r)), names(0, 5));
}

TEST_F(filelog_dir, segments_roll_over_at_max_file_size) {
  {
    log_writer w{dir, 600, 0};
    for (int i = 0; i < 20; ++i)
      w.append(numbered(i * 4, 4));
    w.sync();
  }
  auto segs = list_segments(dir);
  EXPECT_GT(segs.size(), 3u);
  for (auto& s : segs)
    EXPECT_LE(std::filesystem::file_size(s.path), 600u) << s.path;
  auto r = recover(dir, false);
  EXPECT_EQ(r.pending.size(), 20u);
  EXPECT_EQ(bodies(replay(r)), names(0, 80));
}

// The ack state says where the committed part ends, possibly inside a
// record: only what follows is read back.
TEST_F(filelog_dir, only_what_follows_the_committed_position_comes_back) {
  write({numbered(0, 4), numbered(4, 4), numbered(8, 4)});
  ack_file{dir + "/ack"}.store({6, {}});
  auto r = recover(dir, false);
  EXPECT_EQ(r.committed.below, 6u);
  EXPECT_EQ(r.pending.size(), 2u) << "the record holding 4..7, and 8..11";
  EXPECT_EQ(r.pending_events, 6u);
  EXPECT_EQ(bodies(replay(r)), names(6, 6));
}

TEST_F(filelog_dir, a_torn_tail_is_reported_then_truncated_on_repair) {
  auto seg = write({numbered(0, 2)}).segment;
  auto good = std::filesystem::file_size(seg);
  std::string half;
  append_record(half, 2, numbered(2, 2), nonce_of(seg));
  {
    std::ofstream f{seg, std::ios::app | std::ios::binary};
    f.write(half.data(), static_cast<std::streamsize>(half.size() / 2));
  }
  auto r = recover(dir, false);
  ASSERT_EQ(r.damages.size(), 1u);
  EXPECT_EQ(r.damages[0].what, damage::kind::torn_tail);
  EXPECT_EQ(r.damages[0].path, seg);
  EXPECT_EQ(r.damages[0].offset, good);
  EXPECT_EQ(r.damages[0].bytes, half.size() / 2);
  EXPECT_EQ(std::filesystem::file_size(seg), good + half.size() / 2)
      << "reading does not change the directory";
  EXPECT_EQ(bodies(replay(r)), names(0, 2));
  recover(dir, true);
  EXPECT_EQ(std::filesystem::file_size(seg), good);
  EXPECT_TRUE(recover(dir, false).damages.empty());
}

TEST_F(filelog_dir, a_corrupt_record_is_skipped_and_reported_the_rest_read) {
  auto w = write({numbered(0, 2), numbered(2, 2), numbered(4, 2)});
  auto seg = w.segment;
  auto second_at = w.offsets[1];
  flip(seg, second_at + record_header_size + 3); // in its payload
  auto r = recover(dir, true);
  ASSERT_EQ(r.damages.size(), 1u);
  EXPECT_EQ(r.damages[0].what, damage::kind::corrupt_record);
  EXPECT_EQ(r.damages[0].offset, second_at);
  auto back = bodies(replay(r));
  auto expect = names(0, 2);
  for (auto& n : names(4, 2))
    expect.push_back(n);
  EXPECT_EQ(back, expect);
}

TEST_F(filelog_dir, a_new_writer_goes_on_after_what_recovery_found) {
  {
    log_writer w{dir, 1 << 20, 0};
    w.append(numbered(0, 3));
    w.sync();
  }
  auto r1 = recover(dir, true);
  {
    log_writer w{dir, 1 << 20, r1.next_seq};
    w.append(numbered(3, 3));
    w.sync();
  }
  auto r2 = recover(dir, false);
  EXPECT_EQ(r2.segments.size(), 2u);
  EXPECT_EQ(bodies(replay(r2)), names(0, 6));
  EXPECT_EQ(r2.next_seq, 6u);
}

// A write that fails (here: the file size limit, as a full disk would)
// fails that append, seals the segment, and skips its numbers; the next
// append starts a new segment, and nothing acknowledged is lost.
TEST_F(filelog_dir, a_failed_write_seals_the_segment_and_skips_its_numbers) {
  log_writer w{dir, 1 << 20, 0};
  w.append(numbered(0, 2));
  w.sync();
  auto first = w.segment();
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = std::filesystem::file_size(first) + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THROW(w.append(numbered(2, 2)), std::system_error);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(w.next_seq(), 4u) << "the failed record's numbers are skipped";
  w.append(numbered(4, 2));
  w.sync();
  EXPECT_NE(w.segment(), first);
  auto r = recover(dir, false);
  // The failed record's first 10 bytes reached the file: a torn tail.
  ASSERT_EQ(r.damages.size(), 1u);
  EXPECT_EQ(r.damages[0].what, damage::kind::torn_tail);
  auto expect = names(0, 2);
  for (auto& n : names(4, 2))
    expect.push_back(n);
  EXPECT_EQ(bodies(replay(r)), expect);
}

// -- the journal: group commit, policies, commits, failures ---------------

// Puts that wait while a sync runs share the next one: here 50 puts queue
// up while the first one's callback holds the journal's thread, and all
// 50 are made durable by one fdatasync.
TEST_F(filelog_dir, puts_waiting_for_a_sync_share_the_next_one) {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> holding{false};
  std::atomic<int> done{0};
  std::vector<uint64_t> seqs;
  {
    journal j{{dir}, {}, 0};
    j.append(numbered(0, 1), [&](journal::result r, batch&&) {
      EXPECT_FALSE(r.error);
      holding = true;
      std::unique_lock guard{m};
      cv.wait(guard, [&] { return release; });
      ++done;
    });
    ASSERT_TRUE(wait_until([&] { return holding.load(); }));
    for (int i = 1; i <= 50; ++i)
      j.append(numbered(i, 1), [&](journal::result r, batch&& events) {
        EXPECT_FALSE(r.error);
        EXPECT_EQ(events.size(), 1u) << "the events come back";
        std::lock_guard guard{m};
        seqs.push_back(r.seq);
        ++done;
      });
    {
      std::lock_guard guard{m};
      release = true;
    }
    cv.notify_all();
    ASSERT_TRUE(wait_until([&] { return done.load() == 51; }));
    auto s = j.stats();
    EXPECT_EQ(s.appends, 51u);
    EXPECT_EQ(s.syncs, 2u) << "one for the first put, one for the 50";
  }
  ASSERT_EQ(seqs.size(), 50u);
  for (std::size_t i = 0; i < seqs.size(); ++i)
    EXPECT_EQ(seqs[i], i + 1);
  EXPECT_EQ(bodies(replay(recover(dir, false))), names(0, 51));
}

// Committed positions are stored, and a segment is deleted once every
// event in it is committed (never the one being written).
TEST_F(filelog_dir, committed_segments_are_deleted_and_the_rest_replayed) {
  {
    journal j{{dir, 400}, {}, 0};
    std::atomic<int> done{0};
    for (int i = 0; i < 30; ++i)
      j.append(numbered(i * 2, 2), [&](journal::result r, batch&&) {
        EXPECT_FALSE(r.error);
        ++done;
      });
    ASSERT_TRUE(wait_until([&] { return done.load() == 30; }));
    EXPECT_GT(list_segments(dir).size(), 4u);
    j.commit_below(50);
    ASSERT_TRUE(wait_until([&] { return j.stats().committed_stored >= 1; }));
    EXPECT_GT(j.stats().segments_deleted, 0u);
  }
  auto r = recover(dir, false);
  EXPECT_EQ(r.committed.below, 50u);
  // Every segment left holds an event at or after 50: the one after the
  // first starts beyond it.
  ASSERT_FALSE(r.segments.empty());
  EXPECT_LE(r.segments[0].first_seq, 50u);
  if (r.segments.size() > 1) {
    EXPECT_GT(r.segments[1].first_seq, 50u);
  }
  EXPECT_EQ(bodies(replay(r)), names(50, 10));
}

// A put that cannot be written fails (the sender retries it); the next one
// goes to a new segment.
TEST_F(filelog_dir, a_put_that_cannot_be_written_fails_and_the_next_goes_on) {
  journal j{{dir}, {}, 0};
  std::promise<journal::result> first, second, third;
  j.append(numbered(0, 2),
           [&](journal::result r, batch&&) { first.set_value(r); });
  ASSERT_FALSE(first.get_future().get().error);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  j.append(numbered(2, 2),
           [&](journal::result r, batch&&) { second.set_value(r); });
  auto r2 = second.get_future().get();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(r2.error) << "the put fails";
  j.append(numbered(4, 2),
           [&](journal::result r, batch&&) { third.set_value(r); });
  EXPECT_FALSE(third.get_future().get().error);
  EXPECT_EQ(j.stats().failed, 1u);
}

// `interval`: answered once written, synced within the interval.
TEST_F(filelog_dir, interval_answers_first_and_syncs_within_the_interval) {
  journal j{{dir, 1 << 20, fsync_policy::interval, 50ms}, {}, 0};
  std::promise<journal::result> p;
  j.append(numbered(0, 1), [&](journal::result r, batch&&) { p.set_value(r); });
  EXPECT_FALSE(p.get_future().get().error);
  EXPECT_TRUE(wait_until([&] { return j.stats().syncs >= 1; }))
      << "synced within the interval";
}

// -- flumen channel inspect / verify ----------------------------------------

TEST_F(filelog_dir, inspect_and_verify_a_healthy_directory) {
  {
    journal j{{dir}, {}, 0};
    std::promise<void> p;
    j.append(numbered(0, 3), {});
    j.append(numbered(3, 3), [&](journal::result, batch&&) { p.set_value(); });
    p.get_future().get();
    j.commit_below(2);
  }
  std::ostringstream out, err;
  EXPECT_EQ(inspect_directory(dir, out, err), 0) << err.str();
  auto text = out.str();
  EXPECT_NE(text.find("segments: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("records: 2 readable"), std::string::npos) << text;
  EXPECT_NE(text.find("committed: events below 2"), std::string::npos) << text;
  EXPECT_NE(text.find("uncommitted: 4 events in 2 records"), std::string::npos)
      << text;
  EXPECT_NE(text.find("oldest uncommitted event: 2 in "), std::string::npos)
      << text;
  EXPECT_NE(text.find("damage: none"), std::string::npos) << text;
  std::ostringstream vout;
  EXPECT_EQ(verify_directory(dir, false, vout, err), 0) << vout.str();
  EXPECT_NE(vout.str().find("ok"), std::string::npos);
}

TEST_F(filelog_dir, verify_finds_a_torn_tail_and_repair_truncates_it) {
  auto seg = write({numbered(0, 2)}).segment;
  auto good = std::filesystem::file_size(seg);
  {
    std::ofstream f{seg, std::ios::app | std::ios::binary};
    f << "partial";
  }
  std::ostringstream out, err;
  EXPECT_EQ(verify_directory(dir, false, out, err), 1) << out.str();
  EXPECT_NE(out.str().find("torn tail: " + seg + " at offset " +
                           std::to_string(good) + ", 7 bytes"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(std::filesystem::file_size(seg), good + 7) << "read-only";
  std::ostringstream rout;
  EXPECT_EQ(verify_directory(dir, true, rout, err), 0) << rout.str();
  EXPECT_NE(rout.str().find("repaired: truncated"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(seg), good);
  std::ostringstream again;
  EXPECT_EQ(verify_directory(dir, false, again, err), 0) << again.str();
}

TEST_F(filelog_dir, verify_reports_a_corrupt_record_with_its_file_and_offset) {
  auto w = write({numbered(0, 2), numbered(2, 2)});
  auto seg = w.segment;
  auto at = w.offsets[1];
  flip(seg, at + record_header_size + 1);
  std::ostringstream out, err;
  EXPECT_EQ(verify_directory(dir, true, out, err), 1)
      << "repair leaves a corrupt record for the channel to skip";
  EXPECT_NE(out.str().find("record with a bad checksum: " + seg +
                           " at offset " + std::to_string(at)),
            std::string::npos)
      << out.str();
  std::ostringstream iout;
  EXPECT_EQ(inspect_directory(dir, iout, err), 0);
  EXPECT_NE(iout.str().find("damage: 1"), std::string::npos) << iout.str();
}

TEST_F(filelog_dir, repair_is_refused_while_an_agent_holds_the_directory) {
  {
    log_writer w{dir, 1 << 20, 0};
    w.append(numbered(0, 1));
  }
  dir_lock agent{dir};
  ASSERT_TRUE(agent.held());
  std::ostringstream out, err;
  EXPECT_EQ(verify_directory(dir, true, out, err), 2);
  EXPECT_NE(err.str().find("held by a running agent (pid " +
                           std::to_string(::getpid()) + ")"),
            std::string::npos)
      << err.str();
  // Read-only verify and inspect still work.
  EXPECT_EQ(verify_directory(dir, false, out, err), 0) << out.str();
  EXPECT_EQ(inspect_directory(dir, out, err), 0);
}

TEST_F(filelog_dir, inspect_refuses_what_is_not_a_directory) {
  std::ostringstream out, err;
  EXPECT_EQ(inspect_directory(dir + "/missing", out, err), 2);
  EXPECT_NE(err.str().find("not a directory"), std::string::npos);
}

// -- the channel's parts: the commit window and the disk backlog ----------

TEST(commit_window, the_position_moves_over_the_done_prefix_only) {
  commit_window w{10};
  w.add(10, 5); // 10..14
  EXPECT_TRUE(w.done(12));
  EXPECT_TRUE(w.done(13));
  EXPECT_EQ(w.committed(), 10u) << "10 and 11 are still open";
  EXPECT_TRUE(w.done(10));
  EXPECT_EQ(w.committed(), 11u);
  EXPECT_TRUE(w.done(11));
  EXPECT_EQ(w.committed(), 14u);
  EXPECT_EQ(w.open(), 1u);
  EXPECT_FALSE(w.done(12)) << "done twice";
  EXPECT_FALSE(w.done(9)) << "below the position";
  EXPECT_FALSE(w.done(15)) << "never added";
  EXPECT_TRUE(w.done(14));
  EXPECT_EQ(w.committed(), 15u);
  EXPECT_EQ(w.open(), 0u);
}

TEST(commit_window, numbers_a_failed_append_skipped_are_done_at_once) {
  commit_window w;
  w.add(0, 2);
  w.add(5, 2); // 2..4 were a failed put's
  EXPECT_EQ(w.end(), 7u);
  EXPECT_EQ(w.open(), 4u);
  w.done(0);
  w.done(1);
  EXPECT_EQ(w.committed(), 5u);
  w.add(3, 4); // what is below end() is ignored: only 7..
  EXPECT_EQ(w.end(), 7u);
}

TEST_F(filelog_dir, the_backlog_reads_back_in_order_from_the_committed_event) {
  {
    journal j{{dir, 500}, {}, 0};
    std::promise<void> p;
    for (int i = 0; i < 9; ++i)
      j.append(numbered(i * 3, 3), {});
    j.append(numbered(27, 3), [&](journal::result, batch&&) { p.set_value(); });
    p.get_future().get();
    j.commit_below(4);
  }
  disk_backlog b{recover(dir, true)};
  EXPECT_EQ(b.events(), 26u);
  batch out;
  std::vector<uint64_t> seqs, lost;
  // Whole records within 7 events: 4..5 (the rest of 3..5), 6..8.
  EXPECT_EQ(b.load(7, 1 << 20, out, seqs, lost).events, 5u);
  EXPECT_EQ(bodies(out), names(4, 5));
  EXPECT_EQ(seqs, (std::vector<uint64_t>{4, 5, 6, 7, 8}));
  // One record at least, whatever the bounds, when nothing is loaded.
  out.clear();
  seqs.clear();
  EXPECT_EQ(b.load(1, 1, out, seqs, lost).events, 3u);
  EXPECT_EQ(bodies(out), names(9, 3));
  out.clear();
  EXPECT_EQ(b.load(1000, 1 << 20, out, seqs, lost).events, 18u);
  EXPECT_EQ(bodies(out), names(12, 18));
  EXPECT_TRUE(b.empty());
  EXPECT_TRUE(lost.empty());
}

TEST_F(filelog_dir, the_backlog_reports_a_record_damaged_since_and_goes_on) {
  auto w = write({numbered(0, 2), numbered(2, 2), numbered(4, 2)});
  auto seg = w.segment;
  auto second_at = w.offsets[1];
  disk_backlog b{recover(dir, false)};
  flip(seg, second_at + record_header_size + 2); // after recovery read it
  batch out;
  std::vector<uint64_t> seqs, lost;
  EXPECT_EQ(b.load(100, 1 << 20, out, seqs, lost).events, 4u);
  auto expect = names(0, 2);
  for (auto& n : names(4, 2))
    expect.push_back(n);
  EXPECT_EQ(bodies(out), expect);
  EXPECT_EQ(lost, (std::vector<uint64_t>{2, 3}));
}

TEST_F(filelog_dir, records_pushed_behind_the_backlog_come_after_it) {
  log_writer w{dir, 1 << 20, 0};
  w.append(numbered(0, 2));
  w.sync();
  disk_backlog b{recover(dir, false)};
  auto a = w.append(numbered(2, 3));
  w.sync();
  b.push(a.segment, a.offset, a.size, a.seq, 3);
  EXPECT_EQ(b.events(), 5u);
  batch out;
  std::vector<uint64_t> seqs, lost;
  EXPECT_EQ(b.load(100, 1 << 20, out, seqs, lost).events, 5u);
  EXPECT_EQ(bodies(out), names(0, 5));
}

// An agent opens its channel directory: created 0700, locked, recovered
// with torn tails truncated; a second agent on it is refused by name.
TEST_F(filelog_dir, an_agent_opens_its_directory_and_a_second_is_refused) {
  auto sub = dir + "/a/chan";
  {
    auto opened = open_directory(sub);
    auto mode = std::filesystem::status(sub).permissions();
    EXPECT_EQ(mode & std::filesystem::perms::all,
              std::filesystem::perms::owner_all);
    EXPECT_TRUE(opened.lock->held());
    try {
      open_directory(sub);
      ADD_FAILURE() << "a second agent was let in";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(
          std::string{e.what()}.find("held by another running agent (pid " +
                                     std::to_string(::getpid()) + ")"),
          std::string::npos)
          << e.what();
    }
    log_writer w{sub, 1 << 20, 0};
    w.append(numbered(0, 2));
    w.sync();
    std::ofstream f{w.segment(), std::ios::app | std::ios::binary};
    f << "torn";
  }
  auto again = open_directory(sub); // the first agent is gone
  ASSERT_EQ(again.recovered.damages.size(), 1u);
  EXPECT_EQ(again.recovered.damages[0].what, damage::kind::torn_tail);
  EXPECT_TRUE(recover(sub, false).damages.empty()) << "truncated on open";
  EXPECT_EQ(bodies(replay(again.recovered)), names(0, 2));
  std::ofstream{dir + "/afile"} << "x";
  EXPECT_THROW(open_directory(dir + "/afile"), std::runtime_error);
}

// Below min_free_space puts are held, not refused: their answers wait until
// there is room again (commits go on meanwhile: they free segments).
TEST_F(filelog_dir, puts_are_held_while_free_space_is_short) {
  std::atomic<uint64_t> free{1000};
  journal_options o{dir};
  o.min_free_space = 1 << 20;
  o.free_space = [&] { return free.load(); };
  journal j{o, {}, 0};
  std::promise<journal::result> p;
  j.append(numbered(0, 2), [&](journal::result r, batch&&) { p.set_value(r); });
  ASSERT_TRUE(wait_until([&] { return j.stats().waiting_for_space; }));
  auto answer = p.get_future();
  // Decided before any append: nothing was written or answered.
  EXPECT_EQ(j.stats().appends + j.stats().failed, 0u);
  EXPECT_EQ(answer.wait_for(0s), std::future_status::timeout);
  j.commit_below(0); // no-op; commits would still be served
  free = 10 << 20;
  ASSERT_EQ(answer.wait_for(20s), std::future_status::ready);
  EXPECT_FALSE(answer.get().error);
  EXPECT_FALSE(j.stats().waiting_for_space);
}

// At a stop while space is still short, held puts fail (ENOSPC) rather
// than vanish.
TEST_F(filelog_dir, puts_held_for_space_fail_at_a_stop) {
  std::promise<journal::result> p;
  auto answer = p.get_future();
  {
    journal_options o{dir};
    o.min_free_space = 1 << 20;
    o.free_space = [] { return uint64_t{0}; };
    journal j{o, {}, 0};
    j.append(numbered(0, 1),
             [&](journal::result r, batch&&) { p.set_value(r); });
    ASSERT_TRUE(wait_until([&] { return j.stats().waiting_for_space; }));
  }
  ASSERT_EQ(answer.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(answer.get().error, std::errc::no_space_on_device);
}
