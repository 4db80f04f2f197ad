#include "actors/channels/file.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "actors/channels/filelog/log_dir.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;
namespace fs = std::filesystem;

namespace {

class file_channel : public actor_test {
protected:
  ~file_channel() override {
    // Channels end first: a running journal deletes committed segments,
    // and a removal racing with that throws.
    for (auto& ch : channels_) {
      self->monitor(ch);
      caf::anon_send_exit(ch, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {}, caf::after(10s) >> [] {});
    }
    tmp_.remove();
  }

  channels::file_config config(std::size_t capacity = 1000,
                               std::size_t txc = 100) {
    channels::file_config cfg;
    cfg.directory = (dir_ / "ch").string();
    cfg.capacity = capacity;
    cfg.transaction_capacity = txc;
    cfg.keep_alive = 100ms;
    cfg.min_free_space = 0;
    cfg.memory_events = 4 * txc;
    return cfg;
  }

  /// A channel on the test's directory (a fresh metrics entry each start).
  caf::actor open(const channels::file_config& cfg) {
    auto w = wire("channels", "c" + std::to_string(++starts_), "file");
    metrics_ = w.metrics;
    channels_.push_back(track(channels::spawn_file(sys, cfg, w)));
    return channels_.back();
  }

  /// Ends the channel as a stop does and waits until it is gone (its
  /// journal flushed, its lock let go).
  void close(const caf::actor& ch) {
    self->monitor(ch);
    caf::anon_send_exit(ch, caf::exit_reason::user_shutdown);
    bool down = false;
    self->receive([&](caf::down_msg&) { down = true; },
                  caf::after(10s) >> [] {});
    ASSERT_TRUE(down);
  }

  temp_dir tmp_{"flumen-fc"};
  fs::path dir_ = tmp_.path();
  std::vector<caf::actor> channels_;
  int starts_ = 0;
  std::shared_ptr<component_metrics> metrics_;
};

/// The one segment file of a channel directory.
std::vector<fs::path> segments_of(const fs::path& dir) {
  std::vector<fs::path> out;
  for (auto& s : filelog::list_segments(dir.string()))
    out.emplace_back(s.path);
  return out;
}

} // namespace

TEST_F(file_channel, put_take_commit_in_order_with_its_counters) {
  auto ch = open(config());
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  ASSERT_FALSE(put(self, ch, numbered(3, 2)));
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 5));
  EXPECT_EQ(metrics_->events_put.load(), 5u);
  EXPECT_TRUE(reaches(metrics_->channel_size, 5u));
  EXPECT_TRUE(metrics_->durable.load());
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_EQ(metrics_->events_committed.load(), 5u);
  EXPECT_TRUE(reaches(metrics_->channel_size, 0u));
  EXPECT_EQ(metrics_->current_state(), component_state::running);
}

// `flumen tap`'s hook: what the channel accepted, once it is in the log.
TEST_F(file_channel, a_tap_sees_accepted_puts) {
  auto ch = open(config());
  auto q = std::make_shared<tap_queue>();
  metrics_->tap.subscribe(q, "c1");
  ASSERT_FALSE(put(self, ch, numbered(0, 2)));
  std::vector<std::string> got;
  q->pop(got, 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], format_tap_line("c1", numbered(0, 2)[1]));
}

TEST_F(file_channel, the_directory_is_created_with_mode_0700) {
  auto ch = open(config());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "ch").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

// The log is the queue: what was accepted and not committed is there after
// a restart; what was committed is not.
TEST_F(file_channel, a_restart_delivers_what_was_not_committed) {
  auto cfg = config();
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 10)));
  ASSERT_FALSE(put(self, ch, numbered(10, 10)));
  auto t = take(self, ch, 5);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, ch, t->id));
  auto open_txn = take(self, ch, 5); // taken, never committed
  ASSERT_TRUE(open_txn);
  EXPECT_EQ(open_txn->events, numbered(5, 5));
  close(ch);
  ch = open(cfg);
  EXPECT_TRUE(reaches(metrics_->channel_size, 15u))
      << metrics_->channel_size.load();
  EXPECT_EQ(bodies(drain(self, ch, 15)), bodies(numbered(5, 15)));
}

// A stop that drains the channels (`--exit-on-eof`) reads their size: a
// restarted channel shows its backlog as soon as spawn_file returns, not
// once its actor first runs on its own thread (a 0 in between let an agent
// stop with the whole backlog undelivered: e2e.file_channel_faults in CI).
TEST_F(file_channel, a_restart_shows_its_backlog_before_its_actor_runs) {
  auto cfg = config();
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 12)));
  close(ch);
  open(cfg);
  EXPECT_EQ(metrics_->channel_size.load(), 12u);
  EXPECT_TRUE(metrics_->durable.load());
}

// Sinks commit out of order: the position only passes what is done, and
// what is committed above it is kept as ranges, so after a restart only
// the open transaction's events come back (never lost, and the committed
// ones after it are not delivered twice).
TEST_F(file_channel, out_of_order_commits_hold_the_position_back) {
  auto cfg = config();
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 4)));
  auto t1 = take(self, ch, 2);
  auto t2 = take(self, ch, 2);
  ASSERT_TRUE(t1 && t2);
  ASSERT_FALSE(commit(self, ch, t2->id));
  EXPECT_TRUE(reaches(metrics_->channel_size, 2u));
  close(ch);
  ch = open(cfg);
  EXPECT_EQ(bodies(drain(self, ch, 2)), bodies(numbered(0, 2)));
  EXPECT_EQ(metrics_->channel_size.load(), 0u) << "2 and 3 were committed";
  // Now all is committed: nothing comes back after another restart.
  close(ch);
  ch = open(cfg);
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->events.empty());
}

TEST_F(file_channel, rollbacks_in_any_order_keep_the_logs_order) {
  auto ch = open(config());
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  auto t1 = take(self, ch, 2);
  auto t2 = take(self, ch, 2);
  ASSERT_TRUE(t1 && t2);
  ASSERT_FALSE(rollback(self, ch, t2->id));
  ASSERT_FALSE(rollback(self, ch, t1->id));
  EXPECT_EQ(bodies(drain(self, ch, 6)), bodies(numbered(0, 6)));
  EXPECT_EQ(metrics_->events_rolled_back.load(), 4u);
}

TEST_F(file_channel, a_commit_puts_named_events_back_in_order) {
  auto ch = open(config());
  ASSERT_FALSE(put(self, ch, numbered(0, 5)));
  auto t = take(self, ch, 5);
  ASSERT_TRUE(t);
  caf::error err;
  self->request(ch, 5s, commit_atom::value, t->id, std::vector<uint32_t>{3, 1})
      .receive([](ok_atom) {}, [&](caf::error& e) { err = e; });
  ASSERT_FALSE(err);
  EXPECT_EQ(bodies(drain(self, ch, 2)), (std::vector<std::string>{"e1", "e3"}));
  EXPECT_TRUE(reaches(metrics_->channel_size, 0u));
}

// A taker that dies: its transaction goes back.
TEST_F(file_channel, a_dead_takers_transaction_goes_back) {
  auto ch = open(config());
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  auto taker = sys.spawn(holding_taker, ch, uint32_t{3},
                         caf::actor_cast<caf::actor>(self));
  self->receive([](txn_id, batch&) {}, caf::after(5s) >> [] {});
  caf::anon_send_exit(taker, caf::exit_reason::kill);
  EXPECT_EQ(bodies(drain(self, ch, 3)), bodies(numbered(0, 3)));
}

// Memory holds a bounded prefix of the log; the rest is read back in order.
TEST_F(file_channel, more_than_memory_holds_is_read_back_in_order) {
  auto cfg = config(100000, 100);
  cfg.memory_events = 150;
  auto ch = open(cfg);
  for (int i = 0; i < 50; ++i)
    ASSERT_FALSE(put(self, ch, numbered(100 * i, 100)));
  auto got = drain(self, ch, 5000, 20s, 100);
  EXPECT_EQ(bodies(got), bodies(numbered(0, 5000)));
}

TEST_F(file_channel, a_restart_reads_back_more_than_memory_holds) {
  auto cfg = config(100000, 100);
  cfg.memory_events = 150;
  cfg.max_file_size = 8192; // many segments
  auto ch = open(cfg);
  for (int i = 0; i < 30; ++i)
    ASSERT_FALSE(put(self, ch, numbered(100 * i, 100)));
  auto first = drain(self, ch, 1000, 20s, 100);
  ASSERT_EQ(first.size(), 1000u);
  close(ch);
  auto before = segments_of(dir_ / "ch").size();
  ch = open(cfg);
  EXPECT_TRUE(reaches(metrics_->channel_size, 2000u))
      << metrics_->channel_size.load();
  EXPECT_EQ(bodies(drain(self, ch, 2000, 20s, 100)),
            bodies(numbered(1000, 2000)));
  // Everything committed: whole segments are deleted.
  EXPECT_TRUE(
      wait_until([&] { return segments_of(dir_ / "ch").size() < before; }, 5s));
}

// Capacity counts the log's uncommitted events; a put waits for room.
TEST_F(file_channel, a_put_that_does_not_fit_is_answered_after_a_commit) {
  auto ch = open(config(10, 10));
  ASSERT_FALSE(put(self, ch, numbered(0, 8)));
  self->send(ch, put_atom::value, numbered(8, 5));
  // Held, not answered: the channel says so (no real-time window).
  ASSERT_TRUE(
      wait_until([&] { return metrics_->value("events_held") == 5; }, 5s))
      << metrics_->summary();
  EXPECT_FALSE(ok_within(self, 0ms));
  auto t = take(self, ch, 8);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, ch, t->id));
  EXPECT_TRUE(ok_within(self, 5s));
  EXPECT_EQ(metrics_->value("events_held"), 0u);
  EXPECT_EQ(bodies(drain(self, ch, 5)), bodies(numbered(8, 5)));
}

TEST_F(file_channel, a_put_larger_than_the_channel_goes_in_when_it_is_empty) {
  auto ch = open(config(10, 10));
  ASSERT_FALSE(put(self, ch, numbered(0, 25)));
  EXPECT_EQ(bodies(drain(self, ch, 25, 20s, 10)), bodies(numbered(0, 25)));
}

// A second agent on the same directory is refused, naming the holder.
TEST_F(file_channel, a_held_directory_is_refused_with_the_holders_pid) {
  auto cfg = config();
  auto ch = open(cfg);
  try {
    open(cfg);
    FAIL() << "a second channel opened the same directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("held by another running agent"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string{e.what()}.find(std::to_string(::getpid())),
              std::string::npos)
        << e.what();
  }
}

// A record damaged on disk is skipped and counted at start; the others are
// delivered.
TEST_F(file_channel, a_corrupt_record_is_skipped_and_counted_at_start) {
  auto cfg = config();
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 3, "aaaa")));
  ASSERT_FALSE(put(self, ch, numbered(3, 3, "bbbb")));
  ASSERT_FALSE(put(self, ch, numbered(6, 3, "cccc")));
  close(ch);
  auto segs = segments_of(dir_ / "ch");
  ASSERT_EQ(segs.size(), 1u);
  // Flip a byte of the second record's payload (its body "bbbb3").
  std::string data;
  {
    std::ifstream in{segs[0], std::ios::binary};
    data.assign(std::istreambuf_iterator<char>{in}, {});
  }
  auto at = data.find("bbbb4");
  ASSERT_NE(at, std::string::npos);
  data[at] ^= 0x20;
  {
    std::ofstream out{segs[0], std::ios::binary | std::ios::trunc};
    out << data;
  }
  ch = open(cfg);
  EXPECT_EQ(metrics_->value("corrupt_records"), 1u); // counted before spawning
  EXPECT_GT(metrics_->value("damaged_bytes"), 0u);
  auto got = bodies(drain(self, ch, 6));
  auto want = bodies(numbered(0, 3, "aaaa"));
  for (auto& b : bodies(numbered(6, 3, "cccc")))
    want.push_back(b);
  EXPECT_EQ(got, want);
}

// A torn tail (a crash in the middle of a write) is cut off; the agent
// starts and delivers every whole record.
TEST_F(file_channel, a_torn_tail_is_truncated_at_start) {
  auto cfg = config();
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  ASSERT_FALSE(put(self, ch, numbered(3, 3)));
  close(ch);
  auto seg = segments_of(dir_ / "ch").front();
  auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 7);
  ch = open(cfg);
  EXPECT_EQ(bodies(drain(self, ch, 3)), bodies(numbered(0, 3)));
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->events.empty());
}

TEST(parse_file, options_defaults_and_errors) {
  auto parse = [](const std::string& yaml, error_list& errors) {
    auto node = YAML::Load(yaml);
    option_reader r(node, "agents.a1.channels.c1", "t.yaml", errors);
    auto cfg = channels::parse_file(r);
    r.finish();
    return cfg;
  };
  error_list errors;
  auto cfg = parse("{directory: /tmp/x}", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.capacity, 1000000u);
  EXPECT_EQ(cfg.transaction_capacity, 10000u);
  EXPECT_EQ(cfg.fsync, filelog::fsync_policy::batch);
  EXPECT_EQ(cfg.memory_events, 80000u);
  cfg = parse("{directory: /tmp/x, fsync: interval, fsync_interval: 200ms}",
              errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.fsync_interval, 200ms);
  for (auto bad : {"{capacity: 10}", "{directory: /x, fsync: sometimes}",
                   "{directory: /x, fsync_interval: 1s}",
                   "{directory: /x, max_file_size: 1KB}",
                   "{directory: /x, byte_capacity: 1MB, max_file_size: 1MB}",
                   "{directory: /x, capacity: 10, transaction_capacity: 20}"}) {
    error_list e;
    parse(bad, e);
    EXPECT_FALSE(e.empty()) << bad;
  }
}

// -- faults (issue 17) -------------------------------------------------------

// One transaction that never settles (a sink stuck on a dead peer) pins
// nothing: the segments after it are freed as they are committed, bytes
// held count only what is open, and a restart delivers only its events.
TEST_F(file_channel, a_stuck_transaction_does_not_pin_the_log) {
  auto cfg = config(100000, 100);
  cfg.max_file_size = 4096;
  cfg.byte_capacity = 3 * 4096;
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 10)));
  auto stuck = take(self, ch, 10); // held, never settled
  ASSERT_TRUE(stuck && stuck->events.size() == 10u);
  // Far more than byte_capacity passes while it is held.
  for (int i = 1; i <= 100; ++i) {
    ASSERT_FALSE(put(self, ch, numbered(10 * i, 10)));
    auto got = drain(self, ch, 10, 20s, 10);
    ASSERT_EQ(got.size(), 10u) << i;
  }
  EXPECT_TRUE(reaches(metrics_->channel_size, 10u));
  EXPECT_TRUE(wait_until([&] { return segments_of(dir_ / "ch").size() <= 3; }))
      << segments_of(dir_ / "ch").size() << " segments left";
  close(ch);
  ch = open(cfg);
  EXPECT_TRUE(reaches(metrics_->channel_size, 10u))
      << metrics_->channel_size.load() << ": only the stuck events come back";
  EXPECT_EQ(bodies(drain(self, ch, 10)), bodies(numbered(0, 10)));
}

// No descriptor while the backlog is read back: the channel is degraded,
// retries, and delivers every event once descriptors are back (it used to
// skip the whole backlog as damaged and report a clean stop).
TEST_F(file_channel,
       reading_back_without_descriptors_retries_and_loses_nothing) {
  auto cfg = config(100000, 100);
  cfg.memory_events = 100;
  auto ch = open(cfg);
  for (int i = 0; i < 20; ++i)
    ASSERT_FALSE(put(self, ch, numbered(100 * i, 100)));
  close(ch);
  ch = open(cfg);
  ASSERT_TRUE(reaches(metrics_->channel_size, 2000u));
  auto first = take(self, ch, 100);
  ASSERT_TRUE(first && first->events.size() == 100u);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit none = old_limit;
  none.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
  // A descriptor closed since the probe (the first channel's threads end
  // as they like) left a hole the read could take: filled.
  std::vector<int> fillers;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    fillers.push_back(fd);
  // Room frees: the channel reads on, and cannot open a segment.
  auto committed = commit(self, ch, first->id);
  auto degraded = wait_until(
      [&] { return metrics_->current_state() == component_state::degraded; });
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old_limit), 0);
  for (auto fd : fillers)
    ::close(fd);
  ASSERT_FALSE(committed);
  EXPECT_TRUE(degraded) << "the read failure shows";
  EXPECT_NE(metrics_->reason().find("Too many open files"), std::string::npos)
      << metrics_->reason();
  auto rest = drain(self, ch, 1900);
  EXPECT_EQ(bodies(rest), bodies(numbered(100, 1900)));
  EXPECT_EQ(metrics_->value("damaged_events"), 0u);
  EXPECT_EQ(metrics_->value("corrupt_records"), 0u);
  EXPECT_TRUE(wait_until(
      [&] { return metrics_->current_state() == component_state::running; }));
}

// A put larger than a record may be goes in as several records, answered
// once; after a restart it reads back whole and in order.
TEST_F(file_channel, a_put_larger_than_a_record_is_written_in_parts) {
  auto cfg = config(100000, 1000);
  cfg.record_bytes = 2000; // ~20 events of these
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 500)));
  close(ch);
  auto r = filelog::recover((dir_ / "ch").string(), false);
  EXPECT_GT(r.pending.size(), 10u) << "written as many records";
  ch = open(cfg);
  EXPECT_EQ(bodies(drain(self, ch, 500)), bodies(numbered(0, 500)));
}

// Everything delivered on a small disk: the one segment is freed although
// it never reached max_file_size, so puts held for space go on.
TEST_F(file_channel, a_wholly_committed_segment_is_freed_on_a_small_disk) {
  auto cfg = config(100000, 100);
  auto ch = open(cfg);
  for (int i = 0; i < 20; ++i)
    ASSERT_FALSE(put(self, ch, numbered(100 * i, 100)));
  ASSERT_EQ(drain(self, ch, 2000).size(), 2000u);
  close(ch);
  auto seg = segments_of(dir_ / "ch");
  ASSERT_EQ(seg.size(), 1u) << "below the 1 MiB threshold: kept";
  // Now with a free-space floor above what the disk has: puts are held,
  // and the wholly committed segment goes (it used to stay until the
  // channel passed max_file_size, which a small disk never let it reach).
  cfg.min_free_space = std::numeric_limits<std::size_t>::max() / 2;
  ch = open(cfg);
  self->send(ch, put_atom::value, numbered(2000, 1));
  EXPECT_TRUE(wait_until([&] {
    auto now = segments_of(dir_ / "ch");
    return std::find(now.begin(), now.end(), seg[0]) == now.end();
  })) << "the wholly committed segment is freed while space is short";
  EXPECT_TRUE(wait_until([&] {
    return metrics_->current_state() == component_state::degraded;
  })) << "puts held for space show as degraded";
  EXPECT_NE(metrics_->reason().find("bytes free"), std::string::npos)
      << metrics_->reason();
}

// The same for the file channel: a transaction held past its timeout goes
// back, so a stuck sink neither pins its events nor holds them from the
// other sinks.
TEST_F(file_channel, a_transaction_held_past_its_timeout_is_revoked) {
  auto cfg = config(1000, 100);
  cfg.transaction_timeout = 1s;
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 6)));
  caf::scoped_actor stuck{sys};
  auto t = take(stuck, ch, 3);
  ASSERT_TRUE(t);
  batch got;
  ASSERT_TRUE(wait_until(
      [&] {
        auto x = take(self, ch, 10, 200ms);
        if (!x || x->events.empty()) return false;
        for (auto& e : x->events)
          got.push_back(e);
        EXPECT_FALSE(commit(self, ch, x->id));
        return got.size() == 6;
      },
      10s));
  EXPECT_EQ(got.size(), 6u);
  EXPECT_TRUE(is(commit(stuck, ch, t->id), errc::unknown_transaction));
  EXPECT_TRUE(reaches(metrics_->channel_size, 0u));
}

// -- puts with a hold (the http source's) ------------------------------------

// A put with a hold that finds the channel full to its end is refused and
// never written: nothing of it comes back after a restart either (a ghost
// of a 503 would be delivered twice once the client posted again).
TEST_F(file_channel, a_put_refused_at_the_end_of_its_hold_is_never_written) {
  auto cfg = config(3, 3);
  auto ch = open(cfg);
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  caf::error result;
  self->request(ch, 10s, put_atom::value, numbered(3, 2),
                caf::timespan{std::chrono::milliseconds{300}})
      .receive([&](ok_atom) {},
               [&](caf::error& err) { result = std::move(err); });
  EXPECT_TRUE(is(result, errc::channel_full)) << sys.render(result);
  close(ch);
  auto again = open(cfg);
  batch got;
  ASSERT_TRUE(wait_until(
      [&] {
        auto x = take(self, again, 10, 200ms);
        if (!x || x->events.empty()) return got.size() >= 3;
        for (auto& e : x->events)
          got.push_back(e);
        EXPECT_FALSE(commit(self, again, x->id));
        return false;
      },
      10s));
  EXPECT_EQ(got, numbered(0, 3)) << "the refused put came back";
}

// Room that comes within the hold takes the put in.
TEST_F(file_channel, a_put_with_a_hold_goes_in_when_room_comes_in_time) {
  auto ch = open(config(3, 3));
  ASSERT_FALSE(put(self, ch, numbered(0, 3)));
  caf::scoped_actor sender{sys};
  auto h = sender->request(ch, 20s, put_atom::value, numbered(3, 2),
                           caf::timespan{std::chrono::seconds{10}});
  auto t = take(self, ch, 3);
  ASSERT_TRUE(t);
  ASSERT_FALSE(commit(self, ch, t->id));
  caf::error result = caf::make_error(caf::sec::request_timeout);
  h.receive([&](ok_atom) { result = caf::error{}; },
            [&](caf::error& err) { result = std::move(err); });
  EXPECT_FALSE(result) << sys.render(result);
  EXPECT_EQ(drain(self, ch, 2), numbered(3, 2));
}
