// The taildir source on real files, putting to a fake channel that records
// what it gets and can hold its answers.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/sources/taildir.hpp"
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

std::string read_all(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class taildir_basics : public actor_test {
protected:
  taildir_basics() {
    char tmpl[] = "/tmp/flumen-taildir-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::create_directories(dir_ / "logs");
  }
  ~taildir_basics() override {
    // Sources stop first: one writes its positions file into dir_ while it
    // runs, and a removal racing with that throws.
    for (auto& src : sources_) {
      self->monitor(src);
      caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {}, caf::after(5s) >> [] {});
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  taildir_config config() {
    taildir_config cfg;
    cfg.filegroups["app"] = (dir_ / "logs" / "*.log").string();
    cfg.positions_file = (dir_ / "state" / "positions.json").string();
    cfg.poll_interval = 50ms;
    cfg.batch_size = 10;
    return cfg;
  }

  /// A source with `cfg` putting to a recording channel.
  caf::actor start(const taildir_config& cfg, bool hold = false) {
    channel_ = track(
        sys.spawn(fake_channel, got_ = std::make_shared<recorded>(), hold));
    auto w = wire("sources", "t" + std::to_string(++starts_), "taildir");
    metrics_ = w.metrics;
    w.downstream = channel_;
    sources_.push_back(track(spawn_taildir(sys, cfg, w)));
    return sources_.back();
  }

  void stop(const caf::actor& src) {
    bool ok = false;
    self->request(src, 10s, stop_atom::value)
        .receive([&](ok_atom) { ok = true; },
                 [&](caf::error& err) { ADD_FAILURE() << to_string(err); });
    EXPECT_TRUE(ok);
  }

  bool arrived(std::size_t n, std::chrono::milliseconds t = 5s) {
    return wait_until([&] { return got_->size() >= n; }, t);
  }

  fs::path log(const std::string& name = "app.log") {
    return dir_ / "logs" / name;
  }

  fs::path dir_;
  std::vector<caf::actor> sources_;
  int starts_ = 0;
  caf::actor channel_;
  std::shared_ptr<recorded> got_;
  std::shared_ptr<component_metrics> metrics_;
};

strs numbered_lines(int from, int to) {
  strs out;
  for (int i = from; i <= to; ++i)
    out.push_back("line-" + std::to_string(i));
  return out;
}

std::string text_of(const strs& lines) {
  std::string out;
  for (auto& l : lines)
    out += l + "\n";
  return out;
}

} // namespace

TEST_F(taildir_basics,
       reads_a_file_then_what_is_appended_a_partial_line_waits) {
  append(log(), text_of(numbered_lines(1, 25)));
  auto src = start(config());
  ASSERT_TRUE(arrived(25));
  append(log(), "line-26\nline-2");
  ASSERT_TRUE(arrived(26));
  // The partial "line-2" waits for its newline.
  EXPECT_FALSE(wait_until([&] { return got_->size() > 26; }, 300ms));
  append(log(), "7\n");
  ASSERT_TRUE(arrived(27));
  EXPECT_EQ(bodies(got_->all()), numbered_lines(1, 27));
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
  append(log(), text_of(numbered_lines(1, 10)));
  auto src = start(config());
  ASSERT_TRUE(arrived(10));
  fs::rename(log(), log("app.log.1"));
  append(log("app.log.1"), text_of(numbered_lines(11, 15)));
  append(log(), text_of(numbered_lines(16, 30)));
  ASSERT_TRUE(arrived(30));
  auto got = bodies(got_->all());
  std::sort(got.begin(), got.end());
  auto want = numbered_lines(1, 30);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

// copytruncate: the lines not read before the truncation are read from the
// copy, the truncated file from its start.
TEST_F(taildir_basics, copytruncate_reads_the_unread_rest_from_the_copy) {
  append(log(), text_of(numbered_lines(1, 10)));
  auto src = start(config(), true); // held: the source lags
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 10; }));
  // Mostly unread by the time of the copy: the source reads 64 KiB at a
  // time and waits for its answers with the first of them.
  append(log(), text_of(numbered_lines(11, 20000)));
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 40; }));
  fs::copy_file(log(), log("app.log.1"));
  fs::resize_file(log(), 0);
  append(log(), text_of(numbered_lines(20001, 20010)));
  caf::anon_send(channel_, release_atom::value);
  ASSERT_TRUE(arrived(20010, 10s)) << got_->size();
  EXPECT_FALSE(wait_until([&] { return got_->size() > 20010; }, 300ms));
  auto got = bodies(got_->all());
  std::sort(got.begin(), got.end());
  auto want = numbered_lines(1, 20010);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

// Positions are saved for accepted batches only; a new source resumes
// there.
TEST_F(taildir_basics, positions_cover_accepted_batches_and_a_restart_resumes) {
  auto cfg = config();
  append(log(), text_of(numbered_lines(1, 50)));
  auto src = start(cfg, true);
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 10; }));
  // Nothing answered: no position beyond 0 may be saved.
  auto positions = fs::path{cfg.positions_file};
  EXPECT_FALSE(wait_until(
      [&] {
        return fs::exists(positions) &&
               read_all(positions).find("\"pos\":0") == std::string::npos &&
               read_all(positions).find("\"pos\"") != std::string::npos;
      },
      300ms))
      << read_all(positions);
  caf::anon_send(channel_, release_atom::value);
  ASSERT_TRUE(arrived(50));
  auto size = std::to_string(fs::file_size(log()));
  ASSERT_TRUE(wait_until([&] {
    return read_all(positions).find("\"pos\":" + size) != std::string::npos;
  })) << read_all(positions);
  stop(src);
  caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
  append(log(), text_of(numbered_lines(51, 60)));
  auto again = start(cfg);
  ASSERT_TRUE(arrived(10));
  EXPECT_FALSE(wait_until([&] { return got_->size() > 10; }, 300ms));
  EXPECT_EQ(bodies(got_->all()), numbered_lines(51, 60));
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
  append(log(), text_of(numbered_lines(1, 5)));
  auto src = start(config(), true);
  ASSERT_TRUE(wait_until([&] { return got_->size() >= 5; }));
  append(log(), text_of(numbered_lines(6, 100)));
  fs::remove(log());
  caf::anon_send(channel_, release_atom::value);
  ASSERT_TRUE(arrived(100));
  EXPECT_EQ(bodies(got_->all()), numbered_lines(1, 100));
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
  append(log(), text_of(numbered_lines(1, 20)));
  auto src = start(cfg);
  ASSERT_TRUE(
      wait_until([&] { return metrics_->connections_open.load() == 1; }));
  append(log(), text_of(numbered_lines(21, 25)));
  ASSERT_TRUE(arrived(5));
  EXPECT_FALSE(wait_until([&] { return got_->size() > 5; }, 300ms));
  EXPECT_EQ(bodies(got_->all()), numbered_lines(21, 25));
}

// An idle file is closed, and opened again when it grows.
TEST_F(taildir_basics, an_idle_file_is_closed_and_reopened_when_it_grows) {
  auto cfg = config();
  cfg.idle_timeout = 200ms;
  append(log(), text_of(numbered_lines(1, 5)));
  auto src = start(cfg);
  ASSERT_TRUE(arrived(5));
  ASSERT_TRUE(
      wait_until([&] { return metrics_->connections_open.load() == 0; }, 5s))
      << "the idle file was not closed";
  append(log(), text_of(numbered_lines(6, 10)));
  ASSERT_TRUE(arrived(10));
  EXPECT_EQ(bodies(got_->all()), numbered_lines(1, 10));
}

// Files that appeared while the source was down are read from their start.
TEST_F(taildir_basics, a_file_created_while_down_is_read_after_a_restart) {
  auto cfg = config();
  append(log(), text_of(numbered_lines(1, 5)));
  auto src = start(cfg);
  ASSERT_TRUE(arrived(5));
  stop(src);
  caf::anon_send_exit(src, caf::exit_reason::user_shutdown);
  append(log("new.log"), text_of(numbered_lines(6, 10)));
  append(log("ignored.txt"), "not matched\n");
  auto again = start(cfg);
  ASSERT_TRUE(arrived(5));
  EXPECT_FALSE(wait_until([&] { return got_->size() > 5; }, 300ms));
  EXPECT_EQ(bodies(got_->all()), numbered_lines(6, 10));
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
