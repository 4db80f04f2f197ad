// Segments written over spares (record.hpp, version 3; log_writer.hpp): a
// delivered segment's file is kept and the next segment written over it,
// so its old records follow the new ones. They must never be read as the
// new segment's, never be taken for damage, and damage among the new
// records must still be found and counted.

#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actors/channels/filelog/crc32c.hpp"
#include "actors/channels/filelog/journal.hpp"
#include "actors/channels/filelog/log_dir.hpp"
#include "actors/channels/filelog/log_writer.hpp"
#include "actors/channels/filelog/record.hpp"
#include "actors/channels/filelog/tools.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace flumen;
using namespace flumen::filelog;
using flumen::test::wait_until;

namespace {

batch lines(uint64_t from, std::size_t n, std::size_t size = 40) {
  batch out;
  for (std::size_t i = 0; i < n; ++i) {
    auto& e = out.emplace_back();
    e.body = "line " + std::to_string(from + i);
    e.body.resize(size, '.');
    e.headers.insert_or_assign("n", std::to_string(from + i));
  }
  return out;
}

/// A segment numbered from `first`, `records` records of `per` events.
std::string segment(uint64_t first, uint32_t nonce, int records, int per) {
  auto seg = encode_segment_header(first, 0, nonce);
  for (int r = 0; r < records; ++r)
    append_record(seg, first + static_cast<uint64_t>(r * per),
                  lines(first + static_cast<uint64_t>(r * per),
                        static_cast<std::size_t>(per)),
                  nonce);
  return seg;
}

/// `fresh` written over `old` from its start, as a spare is.
std::string over(const std::string& fresh, const std::string& old) {
  return old.size() > fresh.size() ? fresh + old.substr(fresh.size()) : fresh;
}

std::vector<uint64_t> seqs_of(std::string_view bytes, scan_result& r) {
  std::vector<uint64_t> out;
  r = scan_segment(bytes,
                   [&](const scanned_record& rec) { out.push_back(rec.seq); });
  return out;
}

std::vector<uint64_t> expected(uint64_t first, int records, int per) {
  std::vector<uint64_t> out;
  for (int r = 0; r < records; ++r)
    out.push_back(first + static_cast<uint64_t>(r * per));
  return out;
}

} // namespace

TEST(filelog_segment, a_version_3_header_round_trips_and_every_byte_counts) {
  auto h = encode_segment_header(77, 3, 0x1234567);
  ASSERT_EQ(h.size(), segment_header_size);
  auto back = read_segment_header(h);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->first_seq, 77u);
  EXPECT_EQ(back->skipped, 3u);
  EXPECT_EQ(back->nonce, 0x1234567u);
  EXPECT_EQ(back->version, format_version);
  for (std::size_t i = 0; i < segment_header_size; ++i) {
    auto bad = h;
    bad[i] ^= 0x10;
    EXPECT_FALSE(read_segment_header(bad)) << "byte " << i;
  }
  // Version 2, as older agents wrote it, still reads (without a nonce).
  auto v2 = read_segment_header(encode_segment_header(5));
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version, 2u);
  EXPECT_EQ(v2->nonce, 0u);
}

// The spare's old records follow the new ones, at any alignment: none is
// read, and none is damage.
TEST(filelog_spare, old_records_after_the_new_ones_are_stale_not_damage) {
  auto old = segment(0, 0x3001, 40, 5);
  for (int records = 0; records < 12; ++records) {
    auto fresh = segment(1000, 0x5001, records, 3);
    auto file = over(fresh, old);
    scan_result r;
    EXPECT_EQ(seqs_of(file, r), expected(1000, records, 3)) << records;
    EXPECT_EQ(r.good_end, fresh.size());
    EXPECT_EQ(r.stale_bytes, file.size() - fresh.size()) << records;
    EXPECT_EQ(r.torn_bytes, 0u);
    EXPECT_EQ(r.abandoned_bytes, 0u);
    EXPECT_EQ(r.corrupt_records, 0u);
    EXPECT_EQ(r.end_seq, 1000u + static_cast<uint64_t>(records * 3));
  }
}

// Old records that start exactly where the new ones end, and even share
// the nonce: their numbers are older, so they are not this segment's.
TEST(filelog_spare, an_aligned_old_record_is_not_read) {
  for (uint32_t old_nonce : {0x3001u, 0x5001u}) {
    auto old = segment(100, old_nonce, 30, 3);
    auto fresh = segment(500, 0x5001, 4, 3);
    // The old records laid out with the same sizes: the first old record
    // after the new ones starts exactly where they end.
    ASSERT_EQ(segment(100, old_nonce, 4, 3).size(), fresh.size());
    auto file = over(fresh, old);
    scan_result r;
    EXPECT_EQ(seqs_of(file, r), expected(500, 4, 3)) << old_nonce;
    EXPECT_EQ(r.stale_bytes, file.size() - fresh.size());
    EXPECT_EQ(r.abandoned_bytes + r.torn_bytes + r.corrupt_records, 0u);
  }
}

// A crash in the middle of the last append, at every byte, over old
// contents: what was written before reads back, nothing is damage.
TEST(filelog_spare, an_interrupted_append_over_old_contents_at_every_byte) {
  auto old = segment(0, 0x3001, 30, 4);
  auto before = segment(900, 0x7001, 3, 2);
  std::string last;
  append_record(last, 906, lines(906, 3), 0x7001);
  for (std::size_t cut = 0; cut <= last.size(); ++cut) {
    auto file = over(before + last.substr(0, cut), old);
    scan_result r;
    auto seqs = seqs_of(file, r);
    auto want = expected(900, 3, 2);
    if (cut == last.size()) want.push_back(906);
    EXPECT_EQ(seqs, want) << "cut " << cut;
    EXPECT_EQ(r.abandoned_bytes, 0u) << "cut " << cut;
    EXPECT_EQ(r.corrupt_records, 0u) << "cut " << cut;
    EXPECT_EQ(r.stale_bytes + r.torn_bytes + r.good_end, file.size());
  }
}

// Damage among the new records is still found: a flipped bit in a record's
// payload skips and counts that record; in its header, the rest is
// abandoned and counted because the next record of this segment is still
// there to be found.
TEST(filelog_spare, damage_among_the_new_records_is_counted) {
  auto old = segment(0, 0x3001, 60, 4);
  auto fresh = segment(2000, 0x9001, 5, 4);
  std::string one = segment(2000, 0x9001, 1, 4);
  std::string two = segment(2000, 0x9001, 2, 4);
  auto second_at = one.size(), third_at = two.size();
  for (std::size_t byte = second_at; byte < third_at; byte += 3) {
    auto file = over(fresh, old);
    file[byte] = static_cast<char>(file[byte] ^ 0x04);
    scan_result r;
    auto seqs = seqs_of(file, r);
    if (byte < second_at + record_header_size) {
      EXPECT_EQ(seqs, expected(2000, 1, 4)) << byte;
      EXPECT_EQ(r.abandoned_at, second_at) << byte;
      EXPECT_EQ(r.abandoned_bytes, file.size() - second_at) << byte;
    } else {
      EXPECT_EQ(seqs, (std::vector<uint64_t>{2000, 2008, 2012, 2016})) << byte;
      ASSERT_EQ(r.corrupt.size(), 1u) << byte;
      EXPECT_EQ(r.corrupt[0].seq, 2004u);
      EXPECT_EQ(r.stale_bytes, file.size() - fresh.size());
    }
  }
  // The last record's payload damaged, the old contents after it: an
  // interrupted append (its put was never answered), not a loss.
  auto file = over(fresh, old);
  file[fresh.size() - 2] ^= 0x04;
  scan_result r;
  EXPECT_EQ(seqs_of(file, r), expected(2000, 4, 4));
  EXPECT_EQ(r.corrupt_records, 0u);
  auto four = segment(2000, 0x9001, 4, 4).size();
  EXPECT_EQ(r.good_end, four);
  EXPECT_EQ(r.stale_bytes, file.size() - four);
  // The same record ending the file: whole, so damage, counted.
  file = fresh;
  file[fresh.size() - 2] ^= 0x04;
  EXPECT_EQ(seqs_of(file, r), expected(2000, 4, 4));
  EXPECT_EQ(r.corrupt_records, 1u);
}

// The writer keeps delivered segments as spares and writes the next ones
// over them (the same file: its inode), and what it wrote reads back
// exactly, with no damage, after as many rolls as it takes.
TEST(filelog_spare, the_writer_writes_over_spares_and_reads_back_exactly) {
  flumen::test::temp_dir tmp{"flumen_spare"};
  auto dir = tmp.string();
  std::size_t reused = 0, rolls = 0;
  uint64_t n = 0;
  auto inode = [](const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  };
  {
    log_writer w{dir, 4096, 0};
    for (int round = 0; round < 120; ++round) {
      std::vector<ino_t> spares;
      for (auto& e : std::filesystem::directory_iterator{dir})
        if (e.path().filename().string().rfind("spare-", 0) == 0)
          spares.push_back(inode(e.path().string()));
      auto before = w.segment();
      w.append(lines(n, 7, 60 + static_cast<std::size_t>(round % 5) * 13));
      n += 7;
      w.sync();
      if (w.segment() == before) continue;
      ++rolls;
      auto now = inode(w.segment());
      for (auto ino : spares)
        if (ino == now) ++reused;
      // Everything before the current segment is delivered: recycled.
      for (auto& s : list_segments(dir)) {
        if (s.path == w.segment()) continue;
        if (!w.recycle(s.path)) std::filesystem::remove(s.path);
      }
      EXPECT_LE(w.spares(), log_writer::max_spares);
    }
  }
  EXPECT_GT(rolls, 10u);
  EXPECT_EQ(reused, rolls - 1) << "every roll but the first took a spare";
  auto r = recover(dir, false);
  EXPECT_TRUE(r.damages.empty()) << to_string(r.damages[0].what);
  EXPECT_EQ(r.next_seq, n);
  batch back;
  for (auto& ref : r.pending)
    ASSERT_EQ(read_record(r, ref, 0, back), read_status::ok);
  ASSERT_FALSE(back.empty());
  auto want = n - back.size();
  for (auto& e : back)
    EXPECT_EQ(e.headers.find("n")->second, std::to_string(want++));
  // A new writer takes the spares left in the directory.
  log_writer again{dir, 4096, n};
  EXPECT_LE(again.spares(), log_writer::max_spares);
}

// Short of space, the spares are deleted (each holds a segment's disk).
TEST(filelog_spare, spares_go_when_space_is_short) {
  flumen::test::temp_dir tmp{"flumen_spare"};
  auto dir = tmp.string();
  auto spares = [&] {
    std::size_t k = 0;
    for (auto& e : std::filesystem::directory_iterator{dir})
      k += e.path().filename().string().rfind("spare-", 0) == 0 ? 1 : 0;
    return k;
  };
  std::atomic<uint64_t> free_bytes{UINT64_MAX};
  journal_options o{dir, 600};
  o.min_free_space = 1 << 20;
  o.free_space = [&] { return free_bytes.load(); };
  journal j{o, {}, 0};
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i)
    j.append(lines(static_cast<uint64_t>(i) * 3, 3),
             [&](journal::result r, batch&&) {
               EXPECT_FALSE(r.error);
               ++done;
             });
  ASSERT_TRUE(wait_until([&] { return done.load() == 20; }));
  j.commit(committed_set{57, {}});
  ASSERT_TRUE(wait_until([&] { return spares() > 0; }))
      << "delivered segments are kept as spares while there is room";
  // Room, but not for two more segments beyond min_free_space: puts go
  // on, the spares go.
  free_bytes = (1 << 20) + 1000;
  std::atomic<bool> next{false};
  j.append(lines(60, 3), [&](journal::result r, batch&&) {
    EXPECT_FALSE(r.error);
    next = true;
  });
  ASSERT_TRUE(wait_until([&] { return next.load(); }));
  j.commit(committed_set{63, {}});
  ASSERT_TRUE(wait_until([&] { return spares() == 0; }))
      << "without room for two more segments, no spare is kept";
  free_bytes = UINT64_MAX;
  for (int i = 0; i < 10; ++i)
    j.append(lines(63 + static_cast<uint64_t>(i) * 3, 3),
             [&](journal::result r, batch&&) { EXPECT_FALSE(r.error); });
  j.commit(committed_set{90, {}});
  ASSERT_TRUE(wait_until([&] { return spares() > 0; })) << "room again";
  free_bytes = 1000;
  std::atomic<bool> answered{false};
  j.append(lines(93, 3), [&](journal::result, batch&&) { answered = true; });
  ASSERT_TRUE(wait_until([&] { return spares() == 0; }))
      << "short of space, the spares are deleted";
  free_bytes = UINT64_MAX;
  ASSERT_TRUE(wait_until([&] { return answered.load(); }));
}

// `flumen channel inspect` shows the spares and the old contents after a
// segment's records; `verify` finds no damage in them.
TEST(filelog_spare, inspect_shows_spares_and_verify_finds_them_sound) {
  flumen::test::temp_dir tmp{"flumen_spare"};
  auto dir = tmp.string();
  {
    log_writer w{dir, 4096, 0};
    uint64_t n = 0;
    // Two segments, delivered and kept as spares, then a short one over
    // the newer spare.
    for (int s = 0; s < 2; ++s) {
      auto first = w.segment();
      while (w.segment() == first) {
        w.append(lines(n, 5));
        n += 5;
      }
      w.sync();
      ASSERT_TRUE(w.recycle(first));
    }
    w.sync();
    ASSERT_EQ(w.spares(), 1u) << "the second roll took the first spare";
  }
  std::ostringstream out, err;
  ASSERT_EQ(inspect_directory(dir, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("spares: 1 ("), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("bytes are old contents of the spares"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("damage: none"), std::string::npos) << out.str();
  std::ostringstream vout;
  EXPECT_EQ(verify_directory(dir, true, vout, err), 0) << vout.str();
}

// What only looks like a spare is never written over: a link to a file
// elsewhere, a directory, a file much larger than a segment.
TEST(filelog_spare, only_a_plain_file_of_a_segments_size_is_written_over) {
  flumen::test::temp_dir tmp{"flumen_spare"};
  auto dir = tmp.string() + "/chan";
  auto outside = tmp.string() + "/precious";
  std::filesystem::create_directories(dir);
  std::string precious(10000, 'p');
  std::ofstream{outside, std::ios::binary} << precious;
  std::filesystem::create_symlink(outside,
                                  dir + "/spare-00000000000000000001.seg");
  std::filesystem::create_directory(dir + "/spare-00000000000000000002.seg");
  auto big = dir + "/spare-00000000000000000003.seg";
  std::ofstream{big, std::ios::binary} << std::string(3 * 4096, 'b');
  {
    log_writer w{dir, 4096, 10};
    w.append(lines(10, 5));
    w.sync();
    std::ifstream in{outside, std::ios::binary};
    std::string now((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
    EXPECT_EQ(now, precious) << "the link's target was written";
    EXPECT_FALSE(std::filesystem::exists(big)) << "too large: deleted";
    EXPECT_TRUE(
        std::filesystem::is_directory(dir + "/spare-00000000000000000002.seg"));
    EXPECT_LT(std::filesystem::file_size(w.segment()), 4096u) << "a new file";
  }
  auto r = recover(dir, false);
  EXPECT_TRUE(r.damages.empty());
  EXPECT_EQ(r.pending_events, 5u);
}
