// The taildir source on real files in a fresh temporary directory per test,
// putting to a fake channel that records every put and can hold its answers
// (all of them, or answer a given number of the oldest): rotation both ways,
// deleted and new files, positions only for accepted batches and restarts,
// multiline, skip_to_end, overlong lines, option errors and a memory bound.
// The reader runs on a manual clock (tests/support/manual_clock.hpp): "no
// duplicate", "not before its timeout" and "no position saved" are proven
// by moving its time on and seeing it come to rest, not by real windows.

#include "actors/sources/taildir.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/manual_clock.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/actor_test_support.hpp"
#include "tests/unit/recording_channel.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;
namespace fs = std::filesystem;

namespace {

using strs = std::vector<std::string>;
void append(const fs::path& p, const std::string& text) {
  std::ofstream out{p, std::ios::binary | std::ios::app};
  out << text;
}

/// Creates `p` with `text` in one step (written under a name no glob of
/// the tests matches, then renamed): the file is complete when first seen.
void create_whole(const fs::path& p, const std::string& text) {
  auto tmp = p.parent_path() / ("." + p.filename().string() + ".tmp");
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << text;
  }
  fs::rename(tmp, p);
}

/// `prefix-from` ... `prefix-to`.
strs lines(const std::string& prefix, int from, int to) {
  strs out;
  for (int i = from; i <= to; ++i)
    out.push_back(prefix + "-" + std::to_string(i));
  return out;
}

std::string text_of(const strs& ls) {
  std::string out;
  for (auto& l : ls)
    out += l + "\n";
  return out;
}

strs concat(std::initializer_list<strs> parts) {
  strs out;
  for (auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

strs sorted(strs v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// The bodies of `got` that start with `prefix` + "-", in the order got.
strs with_prefix(const strs& got, const std::string& prefix) {
  strs out;
  for (auto& b : got)
    if (b.rfind(prefix + "-", 0) == 0) out.push_back(b);
  return out;
}

/// How `got` differs from `want` (as multisets): how many bodies came too
/// often, are missing, or were not wanted at all, and the first few of each.
std::string differences(const strs& got, const strs& want) {
  std::map<std::string, int> wanted, count;
  for (auto& w : want)
    ++wanted[w];
  for (auto& g : got)
    ++count[g];
  strs twice, missing, unwanted;
  for (auto& [body, n] : count)
    if (!wanted.count(body))
      unwanted.push_back(body);
    else if (n > wanted[body])
      twice.push_back(body);
  for (auto& [body, n] : wanted)
    if (count[body] < n) missing.push_back(body);
  std::string out;
  auto list = [&](const char* what, const strs& v) {
    out += std::string{" "} + what + ": " + std::to_string(v.size());
    for (std::size_t i = 0; i < v.size() && i < 5; ++i)
      out += " '" + v[i].substr(0, 40) + "'";
  };
  list("too often", twice);
  list("missing", missing);
  list("unwanted", unwanted);
  return out;
}

uint64_t inode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

/// Resident memory of this process in KiB.
long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

class taildir_test : public actor_test {
protected:
  taildir_test() { fs::create_directories(dir_ / "logs"); }
  ~taildir_test() override {
    // The sources go first: one still running would write its positions
    // into the directory being removed.
    for (auto& src : sources_) {
      caf::anon_send_exit(src, caf::exit_reason::kill);
      self->wait_for(src);
    }
    auto ec = tmp_.remove();
    EXPECT_FALSE(ec) << ec.message();
  }

  taildir_config config() {
    taildir_config cfg;
    cfg.filegroups["app"] = (dir_ / "logs" / "*.log").string();
    cfg.positions_file = positions_path().string();
    cfg.poll_interval = 50ms;
    cfg.batch_size = 10;
    cfg.time = clock_;
    return cfg;
  }

  /// A source with `cfg` putting to a new recording channel (`got_`,
  /// `channel_`, `metrics_` are this source's).
  caf::actor start(const taildir_config& cfg, bool hold = false) {
    got_ = std::make_shared<recorded>();
    channel_ = track(sys.spawn(fake_channel, got_, hold));
    auto w = wire("sources", "t" + std::to_string(++starts_), "taildir");
    metrics_ = w.metrics;
    w.downstream = channel_;
    sources_.push_back(track(spawn_taildir(sys, cfg, w)));
    return sources_.back();
  }

  /// A graceful stop: stop_atom, answered with ok.
  void stop(const caf::actor& src) {
    bool ok = false;
    self->request(src, 10s, stop_atom::value)
        .receive([&](ok_atom) { ok = true; },
                 [&](caf::error& err) { ADD_FAILURE() << to_string(err); });
    EXPECT_TRUE(ok) << "the stop is answered";
    caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
  }

  void release() { caf::anon_send(channel_, release_atom::value); }
  void answer(int n) { caf::anon_send(channel_, answer_atom::value, n); }

  bool arrived(std::size_t n, std::chrono::milliseconds t = 10s) {
    return wait_until([&] { return got_->size() >= n; }, t);
  }

  /// True when more than `n` events arrived once the reader came to rest,
  /// then `t` more of its clock's time passed and it came to rest again (a
  /// duplicate or a premature event had its chance, in order).
  bool more_than(std::size_t n, std::chrono::milliseconds t = 300ms) {
    settled();
    clock_->advance(t);
    settled();
    return got_->size() > n;
  }

  /// Waits until the reader waits in poll(2) with nothing to do (it read
  /// and handed over everything there was, and acted on every deadline
  /// due) and what it handed over arrived.
  void settled() {
    EXPECT_TRUE(clock_->settle()) << "the reader never came to rest";
    EXPECT_TRUE(wait_until([&] {
      return got_->size() == metrics_->events_received.load();
    })) << got_->size()
        << " of " << metrics_->events_received.load();
  }

  /// Waits until the reader waits for the channel (a full window) and has
  /// handed over all but the batch it holds (at most `batch_size`); true
  /// then. It can go no further until the channel answers.
  bool held_back(std::size_t batch_size) {
    if (!clock_->blocked()) return false;
    return wait_until([&] {
      return got_->size() + batch_size >= metrics_->events_received.load();
    });
  }

  /// True when the source has no file open. Idle files are closed when
  /// the reader wakes up: an event in the directory (a file no glob
  /// matches grows) wakes it.
  bool all_closed() {
    append(log("wake-up.txt"), ".");
    return metrics_->connections_open == 0;
  }

  fs::path log(const std::string& name = "app.log") {
    return dir_ / "logs" / name;
  }

  fs::path positions_path() { return dir_ / "state" / "positions.json"; }

  /// inode -> saved position, as the positions file holds them now (empty
  /// when there is none yet).
  std::map<uint64_t, uint64_t> positions() {
    std::map<uint64_t, uint64_t> out;
    std::ifstream in{positions_path()};
    if (!in) return out;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "the positions file is not JSON";
      return out;
    }
    for (auto& e : j)
      out[e.at("inode").get<uint64_t>()] = e.at("pos").get<uint64_t>();
    return out;
  }

  /// The saved position of `file` (by its inode), or -1.
  int64_t position_of(const fs::path& file) {
    auto all = positions();
    auto i = all.find(inode_of(file));
    return i == all.end() ? -1 : static_cast<int64_t>(i->second);
  }

  /// Waits until the saved position of `file` is its size.
  bool saved_to_end(const fs::path& file) {
    auto size = static_cast<int64_t>(fs::file_size(file));
    return wait_until([&] { return position_of(file) == size; }, 10s);
  }

  /// The readers' clock: runs with the real one, moved on by the tests.
  std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();
  temp_dir tmp_{"flumen-taildir-test"};
  fs::path dir_ = tmp_.path();
  int starts_ = 0;
  caf::actor channel_;
  std::shared_ptr<recorded> got_;
  std::shared_ptr<component_metrics> metrics_;
  std::vector<caf::actor> sources_;
};

} // namespace

// -- reading -----------------------------------------------------------------

TEST_F(taildir_test, existing_then_appended_lines_arrive_in_order) {
  append(log(), text_of(lines("a", 1, 25)));
  auto cfg = config();
  // Idle files are closed quickly: the partial line outlives its file's
  // descriptor and is completed after the file is opened again.
  cfg.idle_timeout = 200ms;
  auto src = start(cfg);
  ASSERT_TRUE(arrived(25));
  append(log(), text_of(lines("a", 26, 30)) + "a-3");
  ASSERT_TRUE(arrived(30));
  // The partial "a-3" waits for its newline, even past the idle timeout.
  EXPECT_FALSE(more_than(30, 500ms)) << got_->bodies().back();
  EXPECT_TRUE(wait_until([&] { return metrics_->connections_open == 0; }))
      << "an idle file is closed";
  append(log(), "1\na-32\n");
  ASSERT_TRUE(arrived(32));
  EXPECT_FALSE(more_than(32));
  EXPECT_EQ(got_->bodies(), lines("a", 1, 32));
  EXPECT_EQ(metrics_->events_received.load(), 32u);
  EXPECT_TRUE(reaches(metrics_->events_accepted, 32));
  stop(src);
}

TEST_F(taildir_test, group_headers_file_header_and_byte_offsets) {
  auto cfg = config();
  cfg.filegroups["app"] = (dir_ / "logs" / "app*.log").string();
  cfg.filegroups["audit"] = (dir_ / "logs" / "audit-*.txt").string();
  cfg.headers["app"] = {{"service", "web"}, {"tier", "front"}};
  cfg.headers["audit"] = {{"service", "audit"}};
  cfg.file_header = true;
  cfg.file_header_key = "path";
  cfg.byte_offset_header = true;
  // Offsets of "ab", "", "cdef" (a CRLF line), "xyz".
  append(log("app.log"), "ab\n\ncdef\r\nxyz\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(4));
  append(log("audit-1.txt"), "who\nwhat\n");
  ASSERT_TRUE(arrived(6));
  append(log("app.log"), "later\n");
  ASSERT_TRUE(arrived(7));
  auto events = got_->all();
  ASSERT_EQ(bodies(events),
            (strs{"ab", "", "cdef", "xyz", "who", "what", "later"}));
  const strs offsets{"0", "3", "4", "10", "0", "4", "14"};
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto& e = events[i];
    bool app = i < 4 || i == 6;
    SCOPED_TRACE(e.body);
    EXPECT_EQ(header(e, "byteoffset"), offsets[i]);
    EXPECT_EQ(header(e, "path"),
              (app ? log("app.log") : log("audit-1.txt")).string());
    EXPECT_EQ(header(e, "file"), "<none>") << "the key is file_header_key";
    EXPECT_EQ(header(e, "service"), app ? "web" : "audit");
    EXPECT_EQ(header(e, "tier"), app ? "front" : "<none>");
    EXPECT_EQ(e.headers.size(), app ? 4u : 3u);
  }
}

TEST_F(taildir_test, no_headers_unless_asked) {
  append(log(), "plain\n");
  auto src = start(config());
  ASSERT_TRUE(arrived(1));
  EXPECT_TRUE(got_->all()[0].headers.empty());
}

// -- rotation ----------------------------------------------------------------

// Rename + create (logrotate's default) while running, with writes to the
// renamed file before and after the new file appears.
TEST_F(taildir_test, rename_rotation_while_running_reads_every_line_once) {
  append(log(), text_of(lines("r", 1, 10)));
  auto src = start(config());
  ASSERT_TRUE(arrived(10));
  append(log(), text_of(lines("r", 11, 20))); // maybe unread at the rename
  fs::rename(log(), log("app.log.1"));
  append(log("app.log.1"), text_of(lines("r", 21, 30))); // late writes
  append(log(), text_of(lines("n", 1, 10)));
  ASSERT_TRUE(arrived(40)) << got_->size();
  // The new file was found; the renamed one is still followed.
  append(log("app.log.1"), text_of(lines("r", 31, 35)));
  append(log(), text_of(lines("n", 11, 15)));
  ASSERT_TRUE(arrived(50)) << got_->size();
  EXPECT_FALSE(more_than(50));
  auto got = got_->bodies();
  auto want = concat({lines("r", 1, 35), lines("n", 1, 15)});
  EXPECT_EQ(sorted(got), sorted(want)) << differences(got, want);
  EXPECT_EQ(with_prefix(got, "r"), lines("r", 1, 35));
  EXPECT_EQ(with_prefix(got, "n"), lines("n", 1, 15));
}

// copytruncate while running: the source lags (the channel holds its
// answers), lines are appended that it has not read, then the file is
// copied and truncated: those lines are read from the copy.
TEST_F(taildir_test, copytruncate_while_running_reads_every_line_once) {
  append(log(), text_of(lines("c", 1, 100)));
  auto cfg = config();
  cfg.max_inflight = 1;
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 1; }));
  append(log(), text_of(lines("c", 101, 300)));
  // The reader waits for room for its second batch: it read at most the
  // first 100 lines, none of those just appended.
  ASSERT_LE(metrics_->events_received.load(), 20u);
  fs::copy_file(log(), log("app.log.1"));
  fs::resize_file(log(), 0);
  append(log(), text_of(lines("t", 1, 20))); // shorter than what was read
  release();
  ASSERT_TRUE(arrived(320)) << got_->size();
  EXPECT_FALSE(more_than(320));
  auto got = got_->bodies();
  auto want = concat({lines("c", 1, 300), lines("t", 1, 20)});
  EXPECT_EQ(sorted(got), sorted(want)) << differences(got, want);
  EXPECT_EQ(with_prefix(got, "c"), lines("c", 1, 300));
  EXPECT_EQ(with_prefix(got, "t"), lines("t", 1, 20));
  // The truncated file goes on being followed.
  append(log(), text_of(lines("t", 21, 25)));
  ASSERT_TRUE(arrived(325));
  EXPECT_EQ(with_prefix(got_->bodies(), "t"), lines("t", 1, 25));
}

// The reader waits for the window in the middle of a read (the channel
// holds its answers) when the file is copied, truncated and written past
// where the reader stands: what it reads next must not be taken from the
// new contents as if it were the old file's.
TEST_F(taildir_test,
       copytruncate_while_the_reader_waits_in_the_middle_of_a_read) {
  auto fixed = [](const std::string& prefix, int from, int to) {
    strs out;
    for (int i = from; i <= to; ++i) {
      char line[16];
      std::snprintf(line, sizeof(line), "%s-%06d", prefix.c_str(), i);
      out.push_back(line);
    }
    return out;
  };
  auto old_lines = fixed("c", 1, 20000); // 180,000 bytes
  append(log(), text_of(old_lines));
  auto cfg = config();
  cfg.max_inflight = 1;
  auto src = start(cfg, true);
  // It read the first 64 KiB and waits with the second batch of them.
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 1; }));
  fs::copy_file(log(), log("app.log.1"));
  fs::resize_file(log(), 0);
  auto new_lines = fixed("n", 1, 12000); // 108,000 bytes
  append(log(), text_of(new_lines));
  release();
  ASSERT_TRUE(arrived(32000)) << got_->size();
  EXPECT_FALSE(more_than(32000));
  auto got = got_->bodies();
  auto want = concat({old_lines, new_lines});
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(sorted(got) == sorted(want)) << differences(got, want);
  EXPECT_TRUE(with_prefix(got, "c") == old_lines);
  EXPECT_TRUE(with_prefix(got, "n") == new_lines);
}

// A rename to a name the glob still matches is the same file (by inode):
// nothing is read twice.
TEST_F(taildir_test, a_file_renamed_to_a_matching_name_is_not_read_again) {
  append(log(), text_of(lines("m", 1, 10)));
  auto cfg = config();
  cfg.file_header = true;
  auto src = start(cfg);
  ASSERT_TRUE(arrived(10));
  fs::rename(log(), log("app-1.log"));
  append(log("app-1.log"), text_of(lines("m", 11, 15)));
  ASSERT_TRUE(arrived(15));
  EXPECT_FALSE(more_than(15)); // (several listings meanwhile)
  append(log("app-1.log"), "m-16\n");
  ASSERT_TRUE(arrived(16));
  EXPECT_FALSE(more_than(16));
  EXPECT_EQ(got_->bodies(), lines("m", 1, 16));
  EXPECT_EQ(header(got_->all().back(), "file"), log("app-1.log").string())
      << "the file header follows the name";
}

// A group's directory that appears after the start is listed once it is
// there.
TEST_F(taildir_test, a_directory_created_after_the_start_is_read) {
  auto cfg = config();
  cfg.filegroups["app"] = (dir_ / "later" / "*.log").string();
  auto src = start(cfg);
  EXPECT_FALSE(more_than(0, 100ms));
  fs::create_directories(dir_ / "later");
  append(dir_ / "later" / "x.log", text_of(lines("x", 1, 3)));
  ASSERT_TRUE(arrived(3));
  EXPECT_EQ(got_->bodies(), lines("x", 1, 3));
}

TEST_F(taildir_test, a_deleted_file_is_read_to_its_end_then_let_go) {
  append(log(), text_of(lines("d", 1, 5)));
  auto cfg = config();
  cfg.max_inflight = 1;
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 1; }));
  auto ino = inode_of(log());
  // Appended and deleted while the source lags: only its open descriptor
  // reaches these; the last line has no newline (nobody will write it).
  append(log(), text_of(lines("d", 6, 100)) + "d-101");
  fs::remove(log());
  release();
  ASSERT_TRUE(arrived(101)) << got_->size();
  EXPECT_EQ(got_->bodies(), lines("d", 1, 101));
  EXPECT_TRUE(wait_until([&] { return metrics_->connections_open == 0; }))
      << "its descriptor is closed";
  EXPECT_TRUE(wait_until([&] {
    return fs::exists(positions_path()) && positions().count(ino) == 0;
  })) << "its position is forgotten";
  EXPECT_FALSE(more_than(101));
  stop(src);
}

TEST_F(taildir_test, a_new_matching_file_is_found_others_are_ignored) {
  auto src = start(config());
  // Give the source time to list the (empty) directory first.
  EXPECT_FALSE(more_than(0, 100ms));
  append(log("notes.txt"), "txt\n");
  append(log(".hidden.log"), "hidden\n");
  append(log("app.log.1"), "rotated\n");
  fs::create_directory(log("dir.log"));
  append(log("dir.log") / "inner.log", "inner\n");
  append(log("new.log"), text_of(lines("new", 1, 3)));
  ASSERT_TRUE(arrived(3));
  // Listed at least twice more after the others were made (poll 50 ms).
  EXPECT_FALSE(more_than(3, 300ms));
  EXPECT_EQ(got_->bodies(), lines("new", 1, 3));
  append(log("second.log"), "second-1\n");
  ASSERT_TRUE(arrived(4));
  EXPECT_EQ(got_->bodies().back(), "second-1");
}

// A file written in one go and renamed out of the glob before the source
// listed the directory (it waits for its window here, so it cannot list):
// inotify saw it appear, so it is followed to its new name and read whole.
TEST_F(taildir_test, a_file_renamed_away_before_its_first_read_is_read_whole) {
  append(log(), text_of(lines("a", 1, 30)));
  auto cfg = config();
  cfg.max_inflight = 1;
  cfg.poll_interval = 30s; // no listing finds it by chance
  cfg.file_header = true;
  auto src = start(cfg, true);
  // One batch held, the reader waits for the window with two more read.
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 1; }));
  create_whole(log("burst.log"), text_of(lines("b", 1, 40)));
  fs::rename(log("burst.log"), log("burst.log.1"));
  // And one that is renamed twice, the second time back into the glob.
  create_whole(log("twice.log"), text_of(lines("t", 1, 5)));
  fs::rename(log("twice.log"), log("twice.log.1"));
  fs::rename(log("twice.log.1"), log("twice-again.log"));
  release();
  ASSERT_TRUE(arrived(75)) << differences(
      got_->bodies(),
      concat({lines("a", 1, 30), lines("b", 1, 40), lines("t", 1, 5)}));
  EXPECT_FALSE(more_than(75));
  auto got = got_->bodies();
  EXPECT_EQ(with_prefix(got, "a"), lines("a", 1, 30));
  EXPECT_EQ(with_prefix(got, "b"), lines("b", 1, 40));
  EXPECT_EQ(with_prefix(got, "t"), lines("t", 1, 5));
  for (auto& e : got_->all())
    if (e.body == "b-1") {
      EXPECT_EQ(header(e, "file"), log("burst.log.1").string());
    }
  // Lines appended to it later are read too, until it is let go.
  append(log("burst.log.1"), "b-41\n");
  ASSERT_TRUE(arrived(76));
  EXPECT_EQ(got_->bodies().back(), "b-41");
  stop(src);
}

// A file closed while idle, appended to and renamed out of the glob before
// the source looked again: followed by its inode, its rest is read.
TEST_F(taildir_test, a_closed_file_renamed_away_is_followed_by_its_inode) {
  append(log(), text_of(lines("c", 1, 5)));
  auto cfg = config();
  cfg.max_inflight = 1;
  cfg.idle_timeout = 100ms;
  cfg.poll_interval = 30s;
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 1; }));
  answer(1);
  ASSERT_TRUE(wait_until([&] { return all_closed(); }))
      << "the idle file is closed";
  // Another file keeps the reader waiting for its window meanwhile.
  create_whole(log("other.log"), text_of(lines("o", 1, 30)));
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 2; }));
  append(log(), text_of(lines("c", 6, 9)));
  fs::rename(log(), log("app.log.1"));
  release();
  ASSERT_TRUE(arrived(39)) << differences(
      got_->bodies(), concat({lines("c", 1, 9), lines("o", 1, 30)}));
  EXPECT_FALSE(more_than(39));
  EXPECT_EQ(with_prefix(got_->bodies(), "c"), lines("c", 1, 9));
  stop(src);
}

// inotify fires on every append, so the globs are listed at most every
// 20 ms; an event that comes sooner after a listing must still lead to one
// within about 20 ms, not after poll_interval (30 s here): a closed file
// that grows is opened again only by a listing. Each round makes a file
// appear (a listing) and appends to the closed file 5 ms later.
TEST_F(taildir_test, an_event_just_after_a_listing_leads_to_the_next_one) {
  append(log(), "g-0\n");
  auto cfg = config();
  cfg.idle_timeout = 100ms;
  cfg.poll_interval = 30s;
  auto src = start(cfg);
  ASSERT_TRUE(arrived(1));
  for (int round = 1; round <= 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(wait_until([&] { return all_closed(); }));
    auto before = got_->size();
    create_whole(log("x" + std::to_string(round) + ".log"), "x\n");
    std::this_thread::sleep_for(5ms); // a writer's pace, not a wait
    append(log(), "g-" + std::to_string(round) + "\n");
    ASSERT_TRUE(arrived(before + 2, 3s))
        << "the append waited for poll_interval";
  }
  EXPECT_EQ(with_prefix(got_->bodies(), "g"), lines("g", 0, 10));
  stop(src);
}

TEST(taildir_wait, an_event_read_after_a_listing_waits_at_most_the_spacing) {
  using namespace std::chrono;
  auto t0 = steady_clock::now();
  EXPECT_EQ(taildir_wait(t0, t0 - 5ms, false, 1000ms), 1000ms);
  EXPECT_EQ(taildir_wait(t0, t0 - 5ms, true, 1000ms), 15ms);
  EXPECT_EQ(taildir_wait(t0, t0 - 25ms, true, 1000ms), 0ms);
  EXPECT_EQ(taildir_wait(t0, t0, true, 10ms), 10ms);
}

// -- positions ---------------------------------------------------------------

// Two sources (two agents) on one positions file would both read every
// file and overwrite each other's positions: the second waits for its
// lock, `degraded` and naming the first's process, and takes over (from
// the saved positions) once the first is gone.
TEST_F(taildir_test, a_second_source_on_one_positions_file_waits_for_it) {
  append(log(), text_of(lines("p", 1, 5)));
  auto cfg = config();
  auto first = start(cfg);
  ASSERT_TRUE(arrived(5));
  auto first_metrics = metrics_;
  auto first_got = got_;
  start(cfg);
  ASSERT_TRUE(wait_until(
      [&] { return metrics_->current_state() == component_state::degraded; }));
  EXPECT_NE(metrics_->reason().find("is used by another running agent (pid " +
                                    std::to_string(::getpid()) + ")"),
            std::string::npos)
      << metrics_->reason();
  EXPECT_NE(metrics_->reason().find(positions_path().string() + ".lock"),
            std::string::npos)
      << metrics_->reason();
  append(log(), "p-6\n");
  EXPECT_TRUE(wait_until([&] { return first_got->size() == 6; }));
  EXPECT_EQ(first_got->bodies(), lines("p", 1, 6));
  EXPECT_EQ(first_metrics->current_state(), component_state::running);
  EXPECT_EQ(got_->size(), 0u);
  stop(first);
  append(log(), "p-7\n");
  ASSERT_TRUE(arrived(1));
  EXPECT_FALSE(more_than(1));
  EXPECT_EQ(got_->bodies(), strs{"p-7"});
  EXPECT_EQ(metrics_->current_state(), component_state::running);
}

TEST_F(taildir_test, positions_are_saved_only_for_accepted_batches) {
  // 100 lines of 8 bytes: the batches are lines 1-10, 11-20, ...
  std::string text;
  for (int i = 1; i <= 100; ++i) {
    char line[16];
    std::snprintf(line, sizeof(line), "pos-%03d\n", i);
    text += line;
  }
  ASSERT_EQ(text.size(), 800u);
  append(log(), text);
  auto cfg = config();
  cfg.max_inflight = 2;
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 2; }));
  // Nothing answered: no position beyond 0, with the reader as far as the
  // window lets it go.
  ASSERT_TRUE(held_back(cfg.batch_size));
  EXPECT_FALSE(position_of(log()) > 0) << position_of(log());
  // A reader held back by the window saves what was accepted meanwhile as
  // it hands over its next batch, at most every 100 ms.
  clock_->advance(100ms);
  answer(1);
  ASSERT_TRUE(wait_until([&] { return position_of(log()) == 80; }))
      << position_of(log());
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 3; }));
  ASSERT_TRUE(held_back(cfg.batch_size));
  EXPECT_FALSE(position_of(log()) > 80)
      << "batch 2 is not answered yet: " << position_of(log());
  clock_->advance(100ms);
  answer(1);
  ASSERT_TRUE(wait_until([&] { return position_of(log()) == 160; }))
      << position_of(log());
  ASSERT_TRUE(held_back(cfg.batch_size));
  EXPECT_FALSE(position_of(log()) > 160);
  release();
  ASSERT_TRUE(arrived(100));
  EXPECT_TRUE(saved_to_end(log())) << position_of(log());
  stop(src);
  EXPECT_EQ(position_of(log()), 800);
  EXPECT_EQ(got_->bodies().size(), 100u);

  // A new source on the same positions file reads only what is new.
  append(log(), text_of(lines("more", 1, 10)));
  auto again = start(cfg);
  ASSERT_TRUE(arrived(10));
  EXPECT_FALSE(more_than(10));
  EXPECT_EQ(got_->bodies(), lines("more", 1, 10));
  EXPECT_TRUE(saved_to_end(log()));
  stop(again);
}

TEST_F(taildir_test, a_partial_line_at_a_stop_is_read_whole_after_a_restart) {
  append(log(), text_of(lines("p", 1, 5)) + "p-");
  auto src = start(config());
  ASSERT_TRUE(arrived(5));
  EXPECT_TRUE(wait_until([&] { return position_of(log()) > 0; }));
  stop(src);
  EXPECT_EQ(position_of(log()), static_cast<int64_t>(fs::file_size(log())) - 2)
      << "the position stays before the partial line";
  append(log(), "6\n");
  auto again = start(config());
  ASSERT_TRUE(arrived(1));
  EXPECT_FALSE(more_than(1));
  EXPECT_EQ(got_->bodies(), (strs{"p-6"}));
}

// Two files renamed while the source was down, new ones created: the rest
// of each renamed file (found by its inode) and the new files arrive.
TEST_F(taildir_test, restart_after_rename_while_down_reads_the_rest_once) {
  append(log("app.log"), text_of(lines("a", 1, 20)));
  append(log("web.log"), text_of(lines("w", 1, 20)));
  auto cfg = config();
  cfg.idle_timeout = 300ms; // the renamed files are let go soon
  auto src = start(cfg);
  ASSERT_TRUE(arrived(40));
  ASSERT_TRUE(saved_to_end(log("app.log")));
  ASSERT_TRUE(saved_to_end(log("web.log")));
  stop(src);
  append(log("app.log"), text_of(lines("a", 21, 30)));
  append(log("web.log"), text_of(lines("w", 21, 25)));
  fs::rename(log("app.log"), log("app.log.1"));
  fs::rename(log("web.log"), log("web.log.1"));
  append(log("app.log"), text_of(lines("A", 1, 10)));
  append(log("web.log"), text_of(lines("W", 1, 10)));
  auto again = start(cfg);
  ASSERT_TRUE(arrived(35)) << got_->size();
  EXPECT_FALSE(more_than(35));
  auto got = got_->bodies();
  auto want = concat({lines("a", 21, 30), lines("w", 21, 25), lines("A", 1, 10),
                      lines("W", 1, 10)});
  EXPECT_EQ(sorted(got), sorted(want)) << differences(got, want);
  EXPECT_EQ(with_prefix(got, "a"), lines("a", 21, 30));
  EXPECT_EQ(with_prefix(got, "w"), lines("w", 21, 25));
  // The renamed files are let go (their positions forgotten); a third
  // start reads nothing again.
  auto app1 = inode_of(log("app.log.1")), web1 = inode_of(log("web.log.1"));
  EXPECT_TRUE(wait_until([&] {
    auto p = positions();
    return p.count(app1) == 0 && p.count(web1) == 0;
  }));
  EXPECT_TRUE(saved_to_end(log("app.log")));
  EXPECT_TRUE(saved_to_end(log("web.log")));
  stop(again);
  auto third = start(cfg);
  EXPECT_FALSE(more_than(0, 500ms)) << got_->bodies().front();
}

// copytruncate while the source was down; the truncated file was written
// past the saved position again (told apart by its first bytes).
TEST_F(taildir_test, restart_after_copytruncate_while_down_reads_the_copy) {
  append(log(), text_of(lines("c", 1, 20)));
  auto src = start(config());
  ASSERT_TRUE(arrived(20));
  ASSERT_TRUE(saved_to_end(log()));
  auto saved = position_of(log());
  stop(src);
  append(log(), text_of(lines("c", 21, 30)));
  fs::copy_file(log(), log("app.log.1"));
  fs::resize_file(log(), 0);
  append(log(), text_of(lines("n", 1, 60)));
  ASSERT_GT(static_cast<int64_t>(fs::file_size(log())), saved);
  auto again = start(config());
  ASSERT_TRUE(arrived(70)) << got_->size();
  EXPECT_FALSE(more_than(70));
  auto got = got_->bodies();
  auto want = concat({lines("c", 21, 30), lines("n", 1, 60)});
  EXPECT_EQ(sorted(got), sorted(want)) << differences(got, want);
  EXPECT_EQ(with_prefix(got, "c"), lines("c", 21, 30));
  EXPECT_EQ(with_prefix(got, "n"), lines("n", 1, 60));
}

TEST_F(taildir_test, restart_after_a_shorter_copytruncate_while_down) {
  append(log(), text_of(lines("c", 1, 50)));
  auto src = start(config());
  ASSERT_TRUE(arrived(50));
  ASSERT_TRUE(saved_to_end(log()));
  stop(src);
  append(log(), text_of(lines("c", 51, 55)));
  fs::copy_file(log(), log("app.log.1"));
  fs::resize_file(log(), 0);
  append(log(), text_of(lines("n", 1, 3)));
  auto again = start(config());
  ASSERT_TRUE(arrived(8)) << got_->size();
  EXPECT_FALSE(more_than(8));
  auto got = got_->bodies();
  auto want = concat({lines("c", 51, 55), lines("n", 1, 3)});
  EXPECT_EQ(sorted(got), sorted(want)) << differences(got, want);
}

// -- multiline ---------------------------------------------------------------

TEST_F(taildir_test, multiline_joins_continuation_lines_to_the_event_before) {
  auto cfg = config();
  cfg.multiline_start = "^\\d{4}-";
  cfg.multiline_timeout = 5s; // only a start line ends an event here
  cfg.byte_offset_header = true;
  append(log(), "  orphan\n2026-01-01 first\n  at a\n\n  at b\n"
                "2026-01-02 second\n2026-01-03 third\n  at c\n"
                "2026-01-04 fourth\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(4));
  EXPECT_FALSE(more_than(4));
  auto events = got_->all();
  EXPECT_EQ(bodies(events),
            (strs{"  orphan", "2026-01-01 first\n  at a\n\n  at b",
                  "2026-01-02 second", "2026-01-03 third\n  at c"}));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(header(events[1], "byteoffset"), "9");
  EXPECT_EQ(header(events[3], "byteoffset"), "59");
}

TEST_F(taildir_test, multiline_event_is_handed_over_after_the_timeout) {
  auto cfg = config();
  cfg.multiline_start = "^\\d{4}-";
  cfg.multiline_timeout = 400ms;
  auto src = start(cfg);
  // No real time passes for the reader from here to the resume: its lines
  // are read at t0, and 399 ms later the event is still being built.
  clock_->freeze();
  auto t0 = clock_->now();
  append(log(), "2026-01-01 boom\n  at a\n  at b\n");
  EXPECT_FALSE(more_than(0, 399ms)) << "handed over before its timeout";
  clock_->resume();
  ASSERT_TRUE(arrived(1, 5s));
  EXPECT_GE(clock_->now() - t0, 400ms);
  EXPECT_EQ(got_->bodies(), (strs{"2026-01-01 boom\n  at a\n  at b"}));
  // The next event after a pause.
  append(log(), "2026-01-02 next\n");
  ASSERT_TRUE(arrived(2, 5s));
  EXPECT_EQ(got_->bodies().back(), "2026-01-02 next");
}

TEST_F(taildir_test, multiline_max_lines_caps_a_joined_event) {
  auto cfg = config();
  cfg.multiline_start = "^\\d{4}-";
  cfg.multiline_max_lines = 3;
  cfg.multiline_timeout = 200ms;
  append(log(), "2026-01-01 a\n  1\n  2\n  3\n  4\n2026-01-02 b\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(3));
  EXPECT_FALSE(more_than(3));
  EXPECT_EQ(got_->bodies(),
            (strs{"2026-01-01 a\n  1\n  2", "  3\n  4", "2026-01-02 b"}));
}

// A joined event being built at a stop is not cut: its position stays
// before it, and the next start reads it again, whole.
TEST_F(taildir_test,
       multiline_event_being_built_at_a_stop_is_read_whole_later) {
  auto cfg = config();
  cfg.multiline_start = "^\\d{4}-";
  cfg.multiline_timeout = 5s;
  append(log(), "2026-01-01 a\n2026-01-02 b\n  at x\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(1));
  EXPECT_TRUE(wait_until([&] { return position_of(log()) == 13; }));
  stop(src);
  EXPECT_EQ(got_->bodies(), (strs{"2026-01-01 a"}));
  EXPECT_EQ(position_of(log()), 13) << "before the joined event";
  append(log(), "  at y\n2026-01-03 c\n");
  auto again = start(cfg);
  ASSERT_TRUE(arrived(1));
  EXPECT_FALSE(more_than(1));
  EXPECT_EQ(got_->bodies(), (strs{"2026-01-02 b\n  at x\n  at y"}));
}

// -- skip_to_end -------------------------------------------------------------

TEST_F(taildir_test, skip_to_end_skips_existing_content_new_lines_arrive) {
  append(log(), text_of(lines("old", 1, 50)));
  auto cfg = config();
  cfg.skip_to_end = true;
  auto src = start(cfg);
  // Tailing (the file is open at its end) before anything is appended.
  EXPECT_TRUE(wait_until([&] { return metrics_->connections_open == 1; }));
  append(log(), text_of(lines("new", 1, 5)));
  ASSERT_TRUE(arrived(5)) << got_->size();
  EXPECT_FALSE(more_than(5));
  EXPECT_EQ(got_->bodies(), lines("new", 1, 5));
  EXPECT_TRUE(saved_to_end(log()));
}

// skip_to_end is for files there at the start (Flume's skipToEnd): a file
// that appears later (e.g. the new file of a rotation) is read from its
// start, or its first lines would be lost.
TEST_F(taildir_test, skip_to_end_reads_a_file_created_later_from_its_start) {
  append(log(), text_of(lines("old", 1, 5)));
  auto cfg = config();
  cfg.skip_to_end = true;
  auto src = start(cfg);
  EXPECT_TRUE(wait_until([&] { return metrics_->connections_open == 1; }));
  create_whole(log("next.log"), text_of(lines("next", 1, 5)));
  ASSERT_TRUE(arrived(5)) << got_->size();
  EXPECT_FALSE(more_than(5));
  EXPECT_EQ(got_->bodies(), lines("next", 1, 5));
}

// -- overlong lines ----------------------------------------------------------

TEST_F(taildir_test, overlong_lines_are_truncated_and_counted) {
  auto cfg = config();
  cfg.max_line_length = 10;
  cfg.policy = overlong_policy::truncate;
  // The second overlong line spans several 64 KiB reads.
  append(log(), "short\n" + std::string(25, 'x') + "\nmid\n" +
                    std::string(200000, 'y') + "\r\nafter\n0123456789\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(6));
  EXPECT_FALSE(more_than(6));
  EXPECT_EQ(got_->bodies(), (strs{"short", "xxxxxxxxxx", "mid", "yyyyyyyyyy",
                                  "after", "0123456789"}));
  EXPECT_EQ(metrics_->events_truncated.load(), 2u);
  EXPECT_EQ(metrics_->events_dropped.load(), 0u);
}

TEST_F(taildir_test, overlong_lines_are_dropped_and_counted) {
  auto cfg = config();
  cfg.max_line_length = 10;
  cfg.policy = overlong_policy::drop;
  cfg.byte_offset_header = true;
  append(log(), "short\n" + std::string(25, 'x') + "\nmid\n" +
                    std::string(200000, 'y') + "\nafter\n0123456789\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(4));
  EXPECT_FALSE(more_than(4));
  auto events = got_->all();
  EXPECT_EQ(bodies(events), (strs{"short", "mid", "after", "0123456789"}));
  EXPECT_EQ(header(events[2], "byteoffset"),
            std::to_string(6 + 26 + 4 + 200001));
  EXPECT_EQ(metrics_->events_dropped.load(), 2u);
  EXPECT_EQ(metrics_->events_truncated.load(), 0u);
  // Every line was dealt with: the position is at the end.
  EXPECT_TRUE(saved_to_end(log()));
}

TEST_F(taildir_test, overlong_lines_are_split_into_pieces) {
  auto cfg = config();
  cfg.max_line_length = 30000;
  cfg.policy = overlong_policy::split;
  cfg.byte_offset_header = true;
  // 70000 bytes: pieces of 30000, 30000 and 10000, across 64 KiB reads;
  // then a line of exactly two pieces (no empty third one).
  std::string big;
  for (int i = 0; i < 70000; ++i)
    big += static_cast<char>('a' + i % 26);
  append(log(), "short\n" + big + "\n" + std::string(60000, 'z') + "\nend\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(7));
  EXPECT_FALSE(more_than(7));
  auto events = got_->all();
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0].body, "short");
  EXPECT_EQ(events[1].body, big.substr(0, 30000));
  EXPECT_EQ(events[2].body, big.substr(30000, 30000));
  EXPECT_EQ(events[3].body, big.substr(60000));
  EXPECT_EQ(events[4].body, std::string(30000, 'z'));
  EXPECT_EQ(events[5].body, std::string(30000, 'z'));
  EXPECT_EQ(events[6].body, "end");
  const strs offsets{"0", "6", "30006", "60006", "70007", "100007", "130008"};
  for (std::size_t i = 0; i < events.size(); ++i)
    EXPECT_EQ(header(events[i], "byteoffset"), offsets[i]) << i;
  EXPECT_EQ(metrics_->events_truncated.load(), 0u);
  EXPECT_EQ(metrics_->events_dropped.load(), 0u);
}

// -- memory ------------------------------------------------------------------

// A 50 MiB file while the channel answers nothing: the reader stops at the
// window (max_inflight batches), it does not read the file into memory.
TEST_F(taildir_test, memory_is_bounded_by_the_window_not_the_file) {
  constexpr int count = 51200; // lines of 1024 bytes: 50 MiB
  constexpr std::size_t width = 1024;
  auto body_of = [](int i) {
    char head[32];
    std::snprintf(head, sizeof(head), "big-%07d ", i);
    std::string s{head};
    s.resize(width - 1, '.');
    return s;
  };
  {
    std::ofstream out{log(), std::ios::binary};
    std::string chunk;
    for (int i = 0; i < count; ++i) {
      chunk += body_of(i);
      chunk += '\n';
      if (chunk.size() >= (1 << 20)) {
        out << chunk;
        chunk.clear();
      }
    }
    out << chunk;
  }
  ASSERT_EQ(fs::file_size(log()), count * width);
  auto cfg = config();
  cfg.batch_size = 100;
  cfg.max_inflight = 4;
  auto rss_before = rss_kib();
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->puts.load() == 4; }));
  // Held: no more is put, and the reader holds at most one more batch (it
  // waits for the window, and all it handed over arrived).
  ASSERT_TRUE(held_back(cfg.batch_size));
  EXPECT_FALSE(got_->puts.load() > 4);
  EXPECT_LE(got_->size(), 400u);
  EXPECT_LE(metrics_->events_received.load(), 500u);
  auto rss_held = rss_kib();
  EXPECT_LT(rss_held - rss_before, 16 * 1024)
      << "KiB resident: " << rss_before << " -> " << rss_held;
  release();
  ASSERT_TRUE(arrived(count, 20s)) << got_->size();
  EXPECT_FALSE(more_than(count, 200ms));
  auto events = got_->all();
  ASSERT_EQ(events.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i)
    if (events[i].body != body_of(i)) {
      ADD_FAILURE() << "event " << i << ": " << events[i].body.substr(0, 20);
      break;
    }
}

// -- options -----------------------------------------------------------------

namespace {

/// Parses `yaml` as a taildir source's options.
taildir_config parse(const std::string& yaml, error_list& errors) {
  auto node = YAML::Load(yaml);
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_taildir(r);
  r.finish();
  return cfg;
}

/// Each error of parsing `yaml` as `flumen validate` prints it
/// (`t.yaml:line:col: path: message`).
strs errors_of(const std::string& yaml) {
  error_list errors;
  parse(yaml, errors);
  strs out;
  for (auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

/// True when an error is located, names `path` and says `part`.
bool has_error(const strs& errors, const std::string& path,
               const std::string& part) {
  return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
    return e.rfind("t.yaml:", 0) == 0 &&
           e.find(": " + path + ": ") != std::string::npos &&
           e.find(part) != std::string::npos;
  });
}

std::string joined(const strs& v) {
  std::string out;
  for (auto& s : v)
    out += "\n  " + s;
  return out;
}

} // namespace

TEST(taildir_options, parse_reads_every_option) {
  error_list errors;
  auto cfg =
      parse("filegroups: {app: /var/log/app/*.log, db: /var/db/x.log}\n"
            "positions_file: /tmp/flumen-t/pos.json\n"
            "headers: {app: {service: web, tier: front}}\n"
            "file_header: true\nfile_header_key: path\n"
            "byte_offset_header: true\nbyte_offset_header_key: off\n"
            "skip_to_end: true\nidle_timeout: 5s\npoll_interval: 200ms\n"
            "batch_size: 7\nmax_line_length: 99\n"
            "overlong_policy: split\nmax_inflight: 2\n"
            "multiline: {start: '^\\d{4}-', max_lines: 9, timeout: 2s}\n",
            errors);
  EXPECT_TRUE(errors.empty()) << errors[0].to_string();
  EXPECT_EQ(cfg.filegroups,
            (std::map<std::string, std::string>{{"app", "/var/log/app/*.log"},
                                                {"db", "/var/db/x.log"}}));
  EXPECT_EQ(cfg.positions_file, "/tmp/flumen-t/pos.json");
  EXPECT_EQ(cfg.headers["app"]["service"], "web");
  EXPECT_EQ(cfg.headers["app"]["tier"], "front");
  EXPECT_TRUE(cfg.file_header);
  EXPECT_EQ(cfg.file_header_key, "path");
  EXPECT_TRUE(cfg.byte_offset_header);
  EXPECT_EQ(cfg.byte_offset_header_key, "off");
  EXPECT_TRUE(cfg.skip_to_end);
  EXPECT_EQ(cfg.idle_timeout, 5s);
  EXPECT_EQ(cfg.poll_interval, 200ms);
  EXPECT_EQ(cfg.batch_size, 7u);
  EXPECT_EQ(cfg.max_line_length, 99u);
  EXPECT_EQ(cfg.policy, overlong_policy::split);
  EXPECT_EQ(cfg.max_inflight, 2u);
  EXPECT_EQ(cfg.multiline_start, "^\\d{4}-");
  EXPECT_EQ(cfg.multiline_max_lines, 9u);
  EXPECT_EQ(cfg.multiline_timeout, 2s);
}

TEST(taildir_options, parse_errors_each_named_and_located) {
  const std::string p = "agents.a1.sources.r1";
  const std::string ok_groups = "filegroups: {app: /var/log/app/*.log}\n";
  const std::string ok_pos = "positions_file: /tmp/flumen-t/pos.json\n";
  {
    auto errors = errors_of(ok_groups + ok_pos);
    EXPECT_TRUE(errors.empty()) << joined(errors);
  }
  {
    auto errors = errors_of(ok_pos);
    ASSERT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_EQ(errors[0], "t.yaml:1:1: agents.a1.sources.r1.filegroups: "
                         "required: group name -> path (e.g. `app: "
                         "/var/log/app/*.log`)");
    EXPECT_TRUE(has_error(errors, p + ".filegroups", "required"))
        << joined(errors);
  }
  {
    auto errors = errors_of("filegroups: {app: var/log/*.log}\n" + ok_pos);
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(
        has_error(errors, p + ".filegroups", "must be an absolute path"))
        << joined(errors);
  }
  {
    auto errors = errors_of("filegroups: {app: /var/*/app/x.log}\n" + ok_pos);
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p + ".filegroups",
                          "a glob is allowed only in the file name part"))
        << joined(errors);
  }
  {
    auto errors = errors_of("filegroups: {app: /var/log/}\n" + ok_pos);
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
  }
  {
    // Group names appear in log lines: no control characters.
    auto errors =
        errors_of("filegroups: {\"a\\npp\": /var/log/app/*.log}\n" + ok_pos);
    ASSERT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p + ".filegroups",
                          "group name 'a\\x0app' holds a control character"))
        << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups);
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p, "positions_file")) << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups + ok_pos + "multiline: {start: '(a'}\n");
    ASSERT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_EQ(errors[0], "t.yaml:3:20: agents.a1.sources.r1.multiline.start: "
                         "not a valid RE2 pattern: missing ): (a");
    EXPECT_TRUE(has_error(errors, p + ".multiline.start",
                          "not a valid RE2 pattern: missing )"))
        << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups + ok_pos + "multiline: {max_lines: 3}\n");
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p + ".multiline", "start")) << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups + ok_pos + "multiline: '^x'\n");
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p + ".multiline", "expected a mapping"))
        << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups + ok_pos +
                            "headers: {other: {k: v}, app: {a: b}}\n");
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p + ".headers", "no file group 'other'"))
        << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups + ok_pos + "skip_to_emd: true\n");
    ASSERT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_EQ(errors[0], "t.yaml:3:1: agents.a1.sources.r1: unknown key "
                         "'skip_to_emd' (did you mean 'skip_to_end'?)");
    EXPECT_TRUE(has_error(errors, p,
                          "unknown key 'skip_to_emd' (did you mean "
                          "'skip_to_end'?)"))
        << joined(errors);
  }
  {
    auto errors = errors_of(ok_groups + ok_pos + "poll_interval: 0\n");
    EXPECT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_TRUE(has_error(errors, p + ".poll_interval", "positive"))
        << joined(errors);
  }
}

// -- the first tests written, kept under their own name -------------------

namespace {

/// The first tests, on the same fixture.
using taildir_basics = taildir_test;

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_F(taildir_basics,
       reads_a_file_then_what_is_appended_a_partial_line_waits) {
  append(log(), text_of(lines("line", 1, 25)));
  auto src = start(config());
  ASSERT_TRUE(arrived(25));
  append(log(), "line-26\nline-2");
  ASSERT_TRUE(arrived(26));
  // The partial "line-2" waits for its newline.
  EXPECT_FALSE(more_than(26));
  append(log(), "7\n");
  ASSERT_TRUE(arrived(27));
  EXPECT_EQ(bodies(got_->all()), lines("line", 1, 27));
}

TEST_F(taildir_basics, headers_of_the_group_the_file_and_the_byte_offset) {
  auto cfg = config();
  cfg.headers["app"] = {{"service", "web"}};
  cfg.file_header = true;
  cfg.file_header_key = "path";
  cfg.byte_offset_header = true;
  append(log(), "ab\ncdef\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(2));
  auto events = got_->all();
  EXPECT_EQ(events[0].headers.find("service")->second, "web");
  EXPECT_EQ(events[0].headers.find("path")->second, log().string());
  EXPECT_EQ(events[0].headers.find("byteoffset")->second, "0");
  EXPECT_EQ(events[1].headers.find("byteoffset")->second, "3");
}

// Rename + create (logrotate's default), with late writes to the renamed
// file: every line once.
TEST_F(taildir_basics, rename_rotation_reads_every_line_once) {
  append(log(), text_of(lines("line", 1, 10)));
  auto src = start(config());
  ASSERT_TRUE(arrived(10));
  fs::rename(log(), log("app.log.1"));
  append(log("app.log.1"), text_of(lines("line", 11, 15)));
  append(log(), text_of(lines("line", 16, 30)));
  ASSERT_TRUE(arrived(30));
  auto got = bodies(got_->all());
  std::sort(got.begin(), got.end());
  auto want = lines("line", 1, 30);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

// copytruncate: the lines not read before the truncation are read from the
// copy, the truncated file from its start.
TEST_F(taildir_basics, copytruncate_reads_the_unread_rest_from_the_copy) {
  append(log(), text_of(lines("line", 1, 10)));
  auto src = start(config(), true); // held: the source lags
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 10; }));
  // Mostly unread by the time of the copy: the source reads 64 KiB at a
  // time and waits for its answers with the first of them.
  append(log(), text_of(lines("line", 11, 20000)));
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 40; }));
  fs::copy_file(log(), log("app.log.1"));
  fs::resize_file(log(), 0);
  append(log(), text_of(lines("line", 20001, 20010)));
  caf::anon_send(channel_, release_atom::value);
  ASSERT_TRUE(arrived(20010, 10s)) << got_->size();
  EXPECT_FALSE(more_than(20010));
  auto got = bodies(got_->all());
  std::sort(got.begin(), got.end());
  auto want = lines("line", 1, 20010);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

// Positions are saved for accepted batches only; a new source resumes
// there.
TEST_F(taildir_basics, positions_cover_accepted_batches_and_a_restart_resumes) {
  auto cfg = config();
  append(log(), text_of(lines("line", 1, 50)));
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 10; }));
  // Nothing answered: no position beyond 0 may be saved, with the reader
  // as far as the window lets it go.
  auto positions = fs::path{cfg.positions_file};
  ASSERT_TRUE(held_back(cfg.batch_size));
  EXPECT_FALSE(fs::exists(positions) &&
               read_file(positions).find("\"pos\":0") == std::string::npos &&
               read_file(positions).find("\"pos\"") != std::string::npos)
      << read_file(positions);
  caf::anon_send(channel_, release_atom::value);
  ASSERT_TRUE(arrived(50));
  auto size = std::to_string(fs::file_size(log()));
  ASSERT_TRUE(wait_until([&] {
    return read_file(positions).find("\"pos\":" + size) != std::string::npos;
  })) << read_file(positions);
  stop(src);
  caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
  append(log(), text_of(lines("line", 51, 60)));
  auto again = start(cfg);
  ASSERT_TRUE(arrived(10));
  EXPECT_FALSE(more_than(10));
  EXPECT_EQ(bodies(got_->all()), lines("line", 51, 60));
}

TEST_F(taildir_basics, multiline_joins_lines_that_do_not_start_an_event) {
  auto cfg = config();
  cfg.multiline_start = "^\\d{4}-";
  cfg.multiline_timeout = 200ms;
  append(log(), "2026-01-01 first\n  at a\n  at b\n2026-01-02 second\n");
  auto src = start(cfg);
  ASSERT_TRUE(arrived(2));
  EXPECT_EQ(bodies(got_->all()),
            (strs{"2026-01-01 first\n  at a\n  at b", "2026-01-02 second"}));
}

TEST_F(taildir_basics, a_deleted_file_is_read_to_its_end) {
  append(log(), text_of(lines("line", 1, 5)));
  auto src = start(config(), true);
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 5; }));
  append(log(), text_of(lines("line", 6, 100)));
  fs::remove(log());
  caf::anon_send(channel_, release_atom::value);
  ASSERT_TRUE(arrived(100));
  EXPECT_EQ(bodies(got_->all()), lines("line", 1, 100));
}

TEST(taildir_parse, errors_are_located_and_named) {
  auto parse = [](const std::string& yaml) {
    error_list errors;
    auto node = YAML::Load(yaml);
    option_reader r(node, "agents.a1.sources.t", "t.yaml", errors);
    parse_taildir(r);
    r.finish();
    return errors.size();
  };
  EXPECT_EQ(parse("{filegroups: {a: /var/log/*.log}, positions_file: /tmp/p}"),
            0u);
  for (auto bad :
       {"{positions_file: /tmp/p}", "{filegroups: {a: /var/log/*.log}}",
        "{filegroups: {a: var/*.log}, positions_file: /tmp/p}",
        "{filegroups: {a: /var/*/x.log}, positions_file: /tmp/p}",
        "{filegroups: {a: /x/*.log}, positions_file: /tmp/p, "
        "multiline: {start: '('}}",
        "{filegroups: {a: /x/*.log}, positions_file: /tmp/p, "
        "headers: {b: {k: v}}}",
        "{filegroups: {a: /x/*.log}, positions_file: /tmp/p, "
        "tail_speed: 3}"})
    EXPECT_GT(parse(bad), 0u) << bad;
}

TEST_F(taildir_basics, skip_to_end_starts_a_new_file_at_its_end) {
  auto cfg = config();
  cfg.skip_to_end = true;
  append(log(), text_of(lines("line", 1, 20)));
  auto src = start(cfg);
  ASSERT_TRUE(
      wait_until([&] { return metrics_->connections_open.load() == 1; }));
  append(log(), text_of(lines("line", 21, 25)));
  ASSERT_TRUE(arrived(5));
  EXPECT_FALSE(more_than(5));
  EXPECT_EQ(bodies(got_->all()), lines("line", 21, 25));
}

// An idle file is closed, and opened again when it grows.
TEST_F(taildir_basics, an_idle_file_is_closed_and_reopened_when_it_grows) {
  auto cfg = config();
  cfg.idle_timeout = 200ms;
  append(log(), text_of(lines("line", 1, 5)));
  auto src = start(cfg);
  ASSERT_TRUE(arrived(5));
  ASSERT_TRUE(
      wait_until([&] { return metrics_->connections_open.load() == 0; }, 5s))
      << "the idle file was not closed";
  append(log(), text_of(lines("line", 6, 10)));
  ASSERT_TRUE(arrived(10));
  EXPECT_EQ(bodies(got_->all()), lines("line", 1, 10));
}

// Files that appeared while the source was down are read from their start.
TEST_F(taildir_basics, a_file_created_while_down_is_read_after_a_restart) {
  auto cfg = config();
  append(log(), text_of(lines("line", 1, 5)));
  auto src = start(cfg);
  ASSERT_TRUE(arrived(5));
  stop(src);
  caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
  append(log("new.log"), text_of(lines("line", 6, 10)));
  append(log("ignored.txt"), "not matched\n");
  auto again = start(cfg);
  ASSERT_TRUE(arrived(5));
  EXPECT_FALSE(more_than(5));
  EXPECT_EQ(bodies(got_->all()), lines("line", 6, 10));
}

TEST_F(taildir_basics, overlong_lines_by_policy) {
  auto line = std::string(25, 'x');
  for (auto policy : {overlong_policy::truncate, overlong_policy::drop,
                      overlong_policy::split}) {
    fs::remove_all(dir_ / "logs");
    fs::remove_all(dir_ / "state");
    fs::create_directories(dir_ / "logs");
    auto cfg = config();
    cfg.max_line_length = 10;
    cfg.policy = policy;
    append(log(), "short\n" + line + "\nend\n");
    auto src = start(cfg);
    auto want = policy == overlong_policy::truncate
                    ? strs{"short", std::string(10, 'x'), "end"}
                : policy == overlong_policy::drop
                    ? strs{"short", "end"}
                    : strs{"short", std::string(10, 'x'), std::string(10, 'x'),
                           std::string(5, 'x'), "end"};
    ASSERT_TRUE(arrived(want.size()));
    EXPECT_EQ(bodies(got_->all()), want);
    EXPECT_EQ(metrics_->events_truncated.load(),
              policy == overlong_policy::truncate ? 1u : 0u);
    EXPECT_EQ(metrics_->events_dropped.load(),
              policy == overlong_policy::drop ? 1u : 0u);
    stop(src);
    caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
  }
}
