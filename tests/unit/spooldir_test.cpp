// The spooldir source on real files in a temporary directory, putting to a
// fake channel that records what it gets and can hold its answers. The
// reader waits on a manual clock (tests/support/manual_clock.hpp), which
// tells when it waits for the channel and can go no further.

#include "actors/sources/spooldir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

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

/// Keeps what spdlog logs while it lives.
struct log_capture {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);

  log_capture() { spdlog::default_logger()->sinks().push_back(ring); }
  ~log_capture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), ring), sinks.end());
  }

  /// True when a line logged so far holds all of `parts`.
  bool has(std::initializer_list<std::string> parts) {
    for (auto& line : ring->last_formatted())
      if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) {
            return line.find(p) != std::string::npos;
          }))
        return true;
    return false;
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append(const fs::path& p, const std::string& text) {
  std::ofstream out{p, std::ios::binary | std::ios::app};
  out << text;
}

struct spooldir_test : actor_test {
  /// Puts a file into the spool directory as a producer should: written
  /// under a hidden name, then renamed into place. Its mtime is `age`
  /// seconds before a fixed time an hour ago (larger age: older).
  void drop(const std::string& name, const std::string& text, int age = 0) {
    auto tmp = dir / ("." + name + ".tmp");
    {
      std::ofstream out{tmp, std::ios::binary};
      out << text;
    }
    timespec times[2];
    times[0].tv_sec = times[1].tv_sec = base_time_ - age;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, tmp.c_str(), times, 0), 0);
    fs::rename(tmp, dir / name);
  }

  spooldir_config config() {
    spooldir_config cfg;
    cfg.spool_dir = dir.string();
    cfg.poll_delay = 20ms;
    cfg.time = clock_;
    return cfg;
  }

  /// A fake channel recording into `out`.
  caf::actor collector(std::shared_ptr<recorded> out, bool hold = false) {
    return track(sys.spawn(fake_channel, std::move(out), hold));
  }

  caf::actor source(const spooldir_config& cfg, const caf::actor& downstream,
                    const std::string& name = "r1") {
    auto w = wire("sources", name, "spooldir");
    w.downstream = downstream;
    return track(spawn_spooldir(sys, cfg, w));
  }

  bool exists(const std::string& name) const { return fs::exists(dir / name); }

  /// Waits until `name` was marked done (renamed with the default suffix).
  bool done(const std::string& name, std::chrono::milliseconds t = 10s) {
    return wait_until(
        [&] { return exists(name + ".COMPLETED") && !exists(name); }, t);
  }

  /// A source's stop_atom request, answered within `timeout`.
  bool stop(const caf::actor& src, std::chrono::milliseconds timeout = 10s) {
    bool ok = false;
    self->request(src, timeout, stop_atom::value)
        .receive([&](ok_atom) { ok = true; }, [](caf::error&) {});
    return ok;
  }

  temp_dir tmp_{"flumen-spooldir"};
  fs::path dir = tmp_.path();
  /// The readers' clock: runs with the real one.
  std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();

private:
  time_t base_time_ = ::time(nullptr) - 3600;
};

/// Parses `yaml` as a spooldir source's options.
spooldir_config parse(const std::string& yaml, error_list& errors) {
  auto node = YAML::Load(yaml);
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_spooldir(r);
  r.finish();
  return cfg;
}

} // namespace

TEST_F(spooldir_test, reads_every_line_of_two_files_in_order_and_marks_them) {
  // Oldest first whatever the names; the last line has no newline.
  drop("z_first.log", "f1\nf2\nf3\r\nf4\n", 10);
  drop("a_second.log", "s1\ns2\ns3", 5);
  auto out = std::make_shared<recorded>();
  auto cfg = config();
  cfg.batch_size = 2;
  cfg.file_header = true;
  cfg.basename_header = true;
  cfg.basename_header_key = "name";
  auto src = source(cfg, collector(out));
  EXPECT_TRUE(done("z_first.log"));
  EXPECT_TRUE(done("a_second.log"));
  auto events = out->all();
  EXPECT_EQ(bodies(events), (strs{"f1", "f2", "f3", "f4", "s1", "s2", "s3"}));
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(header(events[0], "file"), (dir / "z_first.log").string());
  EXPECT_EQ(header(events[0], "name"), "z_first.log");
  EXPECT_EQ(header(events[6], "file"), (dir / "a_second.log").string());
  EXPECT_EQ(header(events[6], "name"), "a_second.log");
  EXPECT_EQ(header(events[6], "basename"), "<none>");
  // Batches of 2; a file's last batch is not filled up with the next file.
  EXPECT_EQ(out->puts.load(), 4u);
  EXPECT_EQ(read_all(dir / "z_first.log.COMPLETED"), "f1\nf2\nf3\r\nf4\n");
  auto m = registry_.find("a1.sources.r1");
  EXPECT_TRUE(reaches(m->events_accepted, 7));
  EXPECT_EQ(m->events_received.load(), 7u);
  EXPECT_EQ(m->current_state(), component_state::running);
  EXPECT_TRUE(stop(src));
  EXPECT_EQ(out->size(), 7u) << "done files are not read again";
}

TEST_F(spooldir_test, consume_order_youngest_reads_the_newest_file_first) {
  drop("old.log", "old\n", 10);
  drop("new.log", "new\n", 5);
  auto out = std::make_shared<recorded>();
  auto cfg = config();
  cfg.consume_order = spool_consume_order::youngest;
  source(cfg, collector(out));
  EXPECT_TRUE(done("old.log"));
  EXPECT_TRUE(done("new.log"));
  EXPECT_EQ(out->bodies(), (strs{"new", "old"}));
}

TEST_F(spooldir_test, delete_policy_immediate_removes_files) {
  drop("a.log", "a1\na2\n", 10);
  drop("b.log", "b1\n", 5);
  auto out = std::make_shared<recorded>();
  auto cfg = config();
  cfg.delete_policy = spool_delete_policy::immediate;
  source(cfg, collector(out));
  // Nothing left but the lock the source holds (hidden, never read).
  EXPECT_TRUE(wait_until([&] {
    return std::distance(fs::directory_iterator{dir},
                         fs::directory_iterator{}) == 1 &&
           exists(".flumen.lock");
  }));
  EXPECT_EQ(out->bodies(), (strs{"a1", "a2", "b1"}));
}

// A newline is a byte like any other in a file name: RE2's `.` left it
// out by default, so the default include_pattern `^.*$` matched no such
// name and the file was skipped without a word.
TEST_F(spooldir_test, a_file_whose_name_holds_a_newline_is_read) {
  drop("two\nlines.log", "n1\nn2\n", 10);
  drop("plain.log", "p1\n", 5);
  auto out = std::make_shared<recorded>();
  auto cfg = config();
  cfg.basename_header = true;
  source(cfg, collector(out));
  EXPECT_TRUE(done("two\nlines.log"));
  EXPECT_TRUE(done("plain.log"));
  auto events = out->all();
  EXPECT_EQ(bodies(events), (strs{"n1", "n2", "p1"}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(header(events[0], "basename"), "two\nlines.log");
}

// Two sources (two agents) on one spool directory both read every file:
// the second waits for the directory's lock, `degraded` and naming the
// first's process, and takes over once the first is gone; every file is
// read once.
TEST_F(spooldir_test, a_second_source_on_one_directory_waits_for_the_first) {
  log_capture log;
  auto first = std::make_shared<recorded>();
  auto second = std::make_shared<recorded>();
  auto a = source(config(), collector(first), "r1");
  drop("a.log", "a1\n", 10);
  ASSERT_TRUE(done("a.log"));
  source(config(), collector(second), "r2");
  auto m2 = registry_.find("a1.sources.r2");
  ASSERT_TRUE(wait_until(
      [&] { return m2->current_state() == component_state::degraded; }));
  auto holder = "is read by another running agent (pid " +
                std::to_string(::getpid()) + ")";
  EXPECT_NE(m2->reason().find(holder), std::string::npos) << m2->reason();
  EXPECT_NE(m2->reason().find("two agents must not share a spool directory"),
            std::string::npos)
      << m2->reason();
  EXPECT_TRUE(log.has({"a1.sources.r2: spool directory", holder}));
  drop("b.log", "b1\n", 5);
  ASSERT_TRUE(done("b.log"));
  EXPECT_EQ(first->bodies(), (strs{"a1", "b1"}));
  EXPECT_EQ(second->size(), 0u);
  // The first goes: the second takes the lock and reads on.
  EXPECT_TRUE(stop(a));
  drop("c.log", "c1\n", 1);
  ASSERT_TRUE(done("c.log"));
  EXPECT_EQ(second->bodies(), strs{"c1"});
  EXPECT_EQ(first->bodies(), (strs{"a1", "b1"}));
  EXPECT_TRUE(wait_until(
      [&] { return m2->current_state() == component_state::running; }));
}

TEST_F(spooldir_test, reads_only_the_files_the_patterns_admit) {
  // Everything that must be left alone is older than the one file that is
  // read: when that one is done, the others were passed over.
  drop("a.log", "a\n", 1);
  drop("b.txt", "b\n", 10);
  drop("c.log", "c\n", 10);
  drop("d.log.COMPLETED", "d\n", 10);
  drop("d.log.X", "dx\n", 10);
  ASSERT_TRUE(fs::create_directory(dir / "e.log"));
  {
    std::ofstream hidden{dir / ".f.log"};
    hidden << "f\n";
  }
  auto out = std::make_shared<recorded>();
  auto cfg = config();
  cfg.include_pattern = R"([a-z]\.log.*)";
  cfg.ignore_pattern = "c.*";
  cfg.file_suffix = ".X";
  source(cfg, collector(out));
  EXPECT_TRUE(
      wait_until([&] { return exists("a.log.X") && !exists("a.log"); }));
  EXPECT_EQ(out->bodies(), (strs{"d", "a"}))
      << "d.log.COMPLETED is no done file under file_suffix .X";
  EXPECT_TRUE(exists("b.txt"));
  EXPECT_TRUE(exists("c.log"));
  EXPECT_TRUE(exists("d.log.COMPLETED.X"));
  EXPECT_EQ(read_all(dir / "d.log.X"), "dx\n") << "ends with the suffix";
  EXPECT_TRUE(fs::is_directory(dir / "e.log"));
  EXPECT_TRUE(exists(".f.log"));
}

TEST_F(spooldir_test, a_file_is_not_marked_done_while_its_batch_is_unanswered) {
  drop("a.log", "1\n2\n3\n");
  auto out = std::make_shared<recorded>();
  auto ch = collector(out, true);
  auto src = source(config(), ch);
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 1; }));
  EXPECT_EQ(out->bodies(), (strs{"1", "2", "3"}));
  // The reader waits for the channel's answer and can go no further.
  ASSERT_TRUE(clock_->blocked()) << "the reader does not wait for the answer";
  EXPECT_TRUE(exists("a.log")) << "renamed before its batch was accepted";
  EXPECT_FALSE(exists("a.log.COMPLETED"));
  caf::anon_send(ch, release_atom::value);
  EXPECT_TRUE(done("a.log"));
  EXPECT_EQ(read_all(dir / "a.log.COMPLETED"), "1\n2\n3\n");
  EXPECT_TRUE(stop(src));
}

TEST_F(spooldir_test, a_file_that_grows_while_read_is_reported_not_marked) {
  log_capture log;
  drop("grow.log", "a\nb\nc\n", 10);
  auto out = std::make_shared<recorded>();
  auto ch = collector(out, true);
  auto cfg = config();
  cfg.batch_size = 1;
  cfg.max_inflight = 1;
  auto src = source(cfg, ch);
  auto m = registry_.find("a1.sources.r1");
  // The reader read the file and waits for room for its second batch.
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 1; }));
  append(dir / "grow.log", "d\n");
  caf::anon_send(ch, release_atom::value);
  auto path = (dir / "grow.log").string();
  EXPECT_TRUE(wait_until([&] {
    return log.has({"a1.sources.r1", path, "changed while"});
  })) << "the error names the file";
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::degraded; }));
  EXPECT_NE(m->reason().find(path), std::string::npos) << m->reason();
  // What it read is delivered (its last batch may still be on its way when
  // the error is logged).
  EXPECT_TRUE(wait_until([&] {
    return out->bodies() == strs{"a", "b", "c", "d"};
  })) << testing::PrintToString(out->bodies());
  EXPECT_EQ(m->events_dropped.load(), 0u);
  // Skipped while it stays as it is: a file dropped later is read, this
  // one is not read again.
  drop("later.log", "L\n", 1);
  EXPECT_TRUE(done("later.log"));
  EXPECT_TRUE(exists("grow.log"));
  EXPECT_FALSE(exists("grow.log.COMPLETED"));
  EXPECT_EQ(out->bodies(), (strs{"a", "b", "c", "d", "L"}));
  // Changed again: read again from its beginning, and now marked done.
  append(dir / "grow.log", "e\n");
  EXPECT_TRUE(done("grow.log"));
  EXPECT_EQ(out->bodies(),
            (strs{"a", "b", "c", "d", "L", "a", "b", "c", "d", "e"}));
  EXPECT_TRUE(wait_until([&] {
    return m->current_state() == component_state::running;
  })) << "no file is in error any more";
  EXPECT_TRUE(stop(src));
}

TEST_F(spooldir_test, a_taken_done_name_is_never_overwritten) {
  log_capture log;
  drop("a.log", "new a\n", 10);
  drop("a.log.COMPLETED", "old a\n", 20);
  drop("b.log", "b\n", 5);
  auto out = std::make_shared<recorded>();
  source(config(), collector(out));
  EXPECT_TRUE(done("b.log"));
  EXPECT_EQ(out->bodies(), (strs{"b"})) << "a.log is not read";
  EXPECT_EQ(read_all(dir / "a.log"), "new a\n");
  EXPECT_EQ(read_all(dir / "a.log.COMPLETED"), "old a\n");
  EXPECT_TRUE(
      log.has({"a1.sources.r1", (dir / "a.log.COMPLETED").string(), "exists"}));
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(m->current_state(), component_state::degraded);
  // Once the name is free, the file is read and marked done.
  fs::remove(dir / "a.log.COMPLETED");
  EXPECT_TRUE(done("a.log"));
  EXPECT_EQ(out->bodies(), (strs{"b", "new a"}));
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::running; }));
}

TEST_F(spooldir_test, a_stop_in_the_middle_of_a_file_leaves_it_to_read_again) {
  // Far more than one read (64 KiB): the stop comes while most of the file
  // is still unread.
  std::string text;
  constexpr std::size_t lines = 20000;
  for (std::size_t i = 0; i < lines; ++i)
    text += "line " + std::to_string(i) + " ...........\n";
  drop("big.log", text);
  auto out = std::make_shared<recorded>();
  auto ch = collector(out, true);
  auto cfg = config();
  cfg.max_inflight = 1;
  auto src = source(cfg, ch);
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 1; }));
  self->send(src, stop_atom::value);
  caf::anon_send(ch, release_atom::value);
  ASSERT_TRUE(ok_within(self, 10s)) << "the stop is answered";
  auto first = out->bodies();
  ASSERT_GT(first.size(), 0u);
  EXPECT_LT(first.size(), lines);
  for (std::size_t i = 0; i < first.size(); ++i)
    ASSERT_EQ(first[i], "line " + std::to_string(i) + " ...........");
  EXPECT_TRUE(exists("big.log"));
  EXPECT_FALSE(exists("big.log.COMPLETED"));
  // The next start reads it whole, from its beginning.
  auto again = std::make_shared<recorded>();
  source(config(), collector(again), "r2");
  EXPECT_TRUE(done("big.log"));
  auto second = again->bodies();
  ASSERT_EQ(second.size(), lines);
  EXPECT_EQ(second.front(), "line 0 ...........");
  EXPECT_EQ(second.back(), "line 19999 ...........");
}

TEST_F(spooldir_test, a_spool_dir_that_goes_away_is_logged_and_waited_for) {
  log_capture log;
  auto out = std::make_shared<recorded>();
  auto src = source(config(), collector(out));
  auto m = registry_.find("a1.sources.r1");
  fs::remove_all(dir);
  EXPECT_TRUE(wait_until([&] {
    return log.has({"cannot list", dir.string()});
  }));
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::degraded; }));
  fs::create_directory(dir);
  drop("a.log", "back\n");
  EXPECT_TRUE(done("a.log"));
  EXPECT_EQ(out->bodies(), (strs{"back"}));
  EXPECT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::running; }));
  EXPECT_TRUE(stop(src));
}

TEST_F(spooldir_test, overlong_lines_follow_the_policy_and_are_counted) {
  drop("a.log", "short\n" + std::string(25, 'x') + "\nafter\n");
  auto out = std::make_shared<recorded>();
  auto cfg = config();
  cfg.max_line_length = 10;
  source(cfg, collector(out));
  EXPECT_TRUE(done("a.log"));
  EXPECT_EQ(out->bodies(), (strs{"short", "xxxxxxxxxx", "after"}));
  auto m = registry_.find("a1.sources.r1");
  EXPECT_EQ(m->events_truncated.load(), 1u);
}

// -- options -----------------------------------------------------------------

TEST_F(spooldir_test, parse_defaults_are_flumes) {
  error_list errors;
  auto cfg = parse("spool_dir: " + dir.string() + "\n", errors);
  EXPECT_TRUE(errors.empty()) << errors[0].to_string();
  EXPECT_EQ(cfg.spool_dir, dir.string());
  EXPECT_EQ(cfg.file_suffix, ".COMPLETED");
  EXPECT_EQ(cfg.delete_policy, spool_delete_policy::never);
  EXPECT_EQ(cfg.include_pattern, "^.*$");
  EXPECT_EQ(cfg.ignore_pattern, "^$");
  EXPECT_FALSE(cfg.file_header);
  EXPECT_EQ(cfg.file_header_key, "file");
  EXPECT_FALSE(cfg.basename_header);
  EXPECT_EQ(cfg.basename_header_key, "basename");
  EXPECT_EQ(cfg.batch_size, 100u);
  EXPECT_EQ(cfg.max_line_length, 2048u);
  EXPECT_EQ(cfg.policy, overlong_policy::truncate);
  EXPECT_EQ(cfg.poll_delay, 500ms);
  EXPECT_EQ(cfg.consume_order, spool_consume_order::oldest);
  EXPECT_EQ(cfg.max_inflight, 4u);
}

TEST_F(spooldir_test, parse_reads_every_option_and_states_facts) {
  error_list errors;
  auto node = YAML::Load(
      "spool_dir: " + dir.string() +
      "\nfile_suffix: .done\ndelete_policy: immediate\n"
      "include_pattern: '.*\\.log'\nignore_pattern: 'tmp.*'\n"
      "file_header: true\nfile_header_key: path\nbasename_header: true\n"
      "basename_header_key: base\nbatch_size: 7\ndeserializer: line\n"
      "max_line_length: 99\noverlong_policy: split\npoll_delay: 2s\n"
      "consume_order: random\nmax_inflight: 2\n");
  option_reader r{node, "agents.a1.sources.r1", "t.yaml", errors};
  auto cfg = parse_spooldir(r);
  r.finish();
  EXPECT_TRUE(errors.empty()) << errors[0].to_string();
  EXPECT_EQ(cfg.file_suffix, ".done");
  EXPECT_EQ(cfg.delete_policy, spool_delete_policy::immediate);
  EXPECT_EQ(cfg.include_pattern, ".*\\.log");
  EXPECT_EQ(cfg.ignore_pattern, "tmp.*");
  EXPECT_TRUE(cfg.file_header);
  EXPECT_EQ(cfg.file_header_key, "path");
  EXPECT_TRUE(cfg.basename_header);
  EXPECT_EQ(cfg.basename_header_key, "base");
  EXPECT_EQ(cfg.batch_size, 7u);
  EXPECT_EQ(cfg.max_line_length, 99u);
  EXPECT_EQ(cfg.policy, overlong_policy::split);
  EXPECT_EQ(cfg.poll_delay, 2s);
  EXPECT_EQ(cfg.consume_order, spool_consume_order::random);
  EXPECT_EQ(cfg.max_inflight, 2u);
  EXPECT_EQ(r.facts().batch_size, 7u);
  EXPECT_TRUE(r.facts().batch_size_stated);
}

TEST_F(spooldir_test, parse_requires_an_existing_spool_dir) {
  {
    error_list errors;
    parse("batch_size: 5\n", errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(),
              "t.yaml:1:1: agents.a1.sources.r1: missing required key "
              "'spool_dir'");
  }
  {
    error_list errors;
    parse("spool_dir: " + (dir / "missing").string() + "\n", errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(),
              "t.yaml:1:12: agents.a1.sources.r1.spool_dir: cannot use '" +
                  (dir / "missing").string() + "': No such file or directory");
  }
  {
    drop("plain", "x\n");
    error_list errors;
    parse("spool_dir: " + (dir / "plain").string() + "\n", errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].message,
              "'" + (dir / "plain").string() + "' is not a directory");
  }
}

TEST_F(spooldir_test, parse_reports_invalid_patterns_with_re2s_message) {
  error_list errors;
  parse("spool_dir: " + dir.string() +
            "\ninclude_pattern: '(a'\nignore_pattern: '[z'\n",
        errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:2:18: agents.a1.sources.r1.include_pattern: invalid RE2 "
            "pattern '(a': missing ): (a");
  EXPECT_EQ(errors[1].path, "agents.a1.sources.r1.ignore_pattern");
  EXPECT_NE(errors[1].message.find("missing ]"), std::string::npos)
      << errors[1].message;
}

TEST_F(spooldir_test, parse_rejects_values_it_cannot_use) {
  error_list errors;
  parse("spool_dir: " + dir.string() +
            "\ndeserializer: avro\ndelete_policy: later\n"
            "consume_order: newest\nfile_suffix: ''\npoll_delay: 0\n"
            "batch_size: 0\nbasename_header_key: ''\nfile_heder: true\n",
        errors);
  strs got;
  for (auto& e : errors)
    got.push_back(e.path + ": " + e.message);
  std::sort(got.begin(), got.end());
  auto p = std::string{"agents.a1.sources.r1"};
  EXPECT_EQ(got,
            (strs{
                p + ".basename_header_key: must not be empty",
                p + ".batch_size: must be at least 1",
                p + ".consume_order: must be one of: oldest, youngest, random",
                p + ".delete_policy: must be one of: never, immediate",
                p + ".deserializer: 'avro' is not supported; the only "
                    "deserializer is 'line' (Flume's LINE)",
                p + ".file_suffix: must not be empty",
                p + ".poll_delay: must be more than 0",
                p + ": unknown key 'file_heder' (did you mean 'file_header'?)",
            }));
}
