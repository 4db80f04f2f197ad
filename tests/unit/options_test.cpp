// Option tables (runtime/config/options.hpp): a reader with a table
// declared reads through it (its bounds, its choices), says when a parser
// reads a key the table lacks or as another kind, and records the default
// each getter used; the reference table is generated from both.

#include "runtime/config/options.hpp"

#include <gtest/gtest.h>

#include "runtime/config/config.hpp"

using namespace flumen;
using namespace std::chrono_literals;

namespace {

const option_list table = {
    {.name = "batch_size",
     .kind = option_kind::count,
     .min = 1,
     .max = 1024,
     .doc = "events per batch"},
    {.name = "policy",
     .kind = option_kind::choice,
     .choices = "keep|drop",
     .doc = "what happens"},
    {.name = "timeout", .kind = option_kind::duration, .doc = "how long"},
    {.name = "buffer", .kind = option_kind::size, .doc = "how much"},
    {.name = "name", .kind = option_kind::string, .doc = "what"},
    {.name = "nested", .kind = option_kind::node, .doc = "a mapping"},
    {.name = "nested.depth",
     .kind = option_kind::count,
     .min = 2,
     .doc = "how deep"},
};

struct read_result {
  error_list errors;
  std::map<std::string, std::string> defaults;
};

// Reads `yaml` with `table` declared, as `parse` does.
template <class Parse>
read_result read(const std::string& yaml, Parse parse) {
  read_result out;
  option_reader r{YAML::Load(yaml), "x", "x.yaml", out.errors};
  r.declare(&table);
  parse(r);
  r.finish();
  out.defaults = r.defaults_seen();
  return out;
}

TEST(option_table, its_bounds_apply_whatever_the_getter_says) {
  auto res = read("batch_size: 2000", [](option_reader& r) {
    EXPECT_EQ(r.count("batch_size", 10), 10u); // the default, refused
  });
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_NE(res.errors[0].message.find("must be at most 1024"),
            std::string::npos)
      << res.errors[0].to_string();
}

TEST(option_table, its_choices_apply) {
  auto res = read("policy: split", [](option_reader& r) {
    r.choice("policy", "keep", {"keep", "drop", "split"});
  });
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_NE(res.errors[0].message.find("must be one of: keep, drop"),
            std::string::npos)
      << res.errors[0].to_string();
}

TEST(option_table, a_key_it_lacks_is_an_internal_error) {
  auto res = read("{}", [](option_reader& r) { r.str("colour", "red"); });
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_NE(res.errors[0].message.find(
                "internal error: the parser reads option 'colour' that its "
                "type's option table does not declare"),
            std::string::npos)
      << res.errors[0].to_string();
}

TEST(option_table, a_key_read_as_another_kind_is_an_internal_error) {
  auto res = read("{}", [](option_reader& r) { r.boolean("timeout", false); });
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_NE(res.errors[0].message.find("as another kind"), std::string::npos)
      << res.errors[0].to_string();
}

TEST(option_table, a_nested_reader_reads_parent_dot_key) {
  auto res = read("nested: {depth: 1}", [](option_reader& r) {
    option_reader n{r, "nested"};
    EXPECT_EQ(n.count("depth", 5), 5u); // below the table's 2
    n.finish();
  });
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].path, "x.nested.depth");
  EXPECT_NE(res.errors[0].message.find("must be at least 2"),
            std::string::npos);
  EXPECT_EQ(res.defaults.at("nested.depth"), "5");
}

TEST(option_table, records_each_default_as_a_user_writes_it) {
  auto res = read("name: n", [](option_reader& r) {
    r.count("batch_size", 100);
    r.duration("timeout", 90s);
    r.bytes("buffer", 64 * 1024);
    r.choice("policy", "drop", {"keep", "drop"});
    r.required_str("name");
  });
  EXPECT_TRUE(res.errors.empty());
  EXPECT_EQ(res.defaults.at("batch_size"), "100");
  EXPECT_EQ(res.defaults.at("timeout"), "90s");
  EXPECT_EQ(res.defaults.at("buffer"), "64KB");
  EXPECT_EQ(res.defaults.at("policy"), "drop");
  EXPECT_EQ(res.defaults.at("name"), "required");
}

TEST(option_table, markdown_shows_kind_bounds_default_and_doc) {
  auto md = options_markdown(std::span{table}.first(3),
                             {{"batch_size", "100"}, {"policy", "drop"}});
  EXPECT_EQ(md, "| option | type | default | meaning |\n"
                "|---|---|---|---|\n"
                "| `batch_size` | count, 1–1024 | `100` | events per batch |\n"
                "| `policy` | one of `keep`, `drop` | `drop` | what happens |\n"
                "| `timeout` | duration | none | how long |\n");
}

TEST(option_table, formats_durations_and_sizes_in_their_largest_unit) {
  EXPECT_EQ(format_duration_ms(1500), "1500ms");
  EXPECT_EQ(format_duration_ms(120'000), "2m");
  EXPECT_EQ(format_duration_ms(7'200'000), "2h");
  EXPECT_EQ(format_size(2048), "2KB");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(256u << 20), "256MB");
}

// Without a table (a test's own types, the topology's own keys), a reader
// reads as before.
TEST(option_table, none_declared_reads_freely) {
  error_list errors;
  option_reader r{YAML::Load("anything: 5"), "x", "x.yaml", errors};
  EXPECT_EQ(r.count("anything", 1), 5u);
  r.finish();
  EXPECT_TRUE(errors.empty());
}

} // namespace
