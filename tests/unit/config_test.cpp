#include "runtime/config/config.hpp"
#include "runtime/core/event.hpp"

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

using namespace flumen;
using namespace std::chrono_literals;

namespace {

/// The errors as printed by `flumen validate`, one per element.
std::vector<std::string> strings(const error_list& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

/// An option_reader over YAML text, as a sink `k1` of agent `a1`.
struct reader_test : ::testing::Test {
  option_reader& read(const std::string& text) {
    node = YAML::Load(text);
    reader.emplace(node, "agents.a1.sinks.k1", "t.yaml", errors);
    return *reader;
  }
  /// Same, and the reader knows the text (as the topology loader's do).
  option_reader& read_with_text(const std::string& text) {
    source = text;
    node = YAML::Load(source);
    reader.emplace(node, "agents.a1.sinks.k1", "t.yaml", errors, source);
    return *reader;
  }
  std::vector<std::string> errs() const { return strings(errors); }

  std::string source;
  YAML::Node node;
  error_list errors;
  std::optional<option_reader> reader;
};

using strs = std::vector<std::string>;

} // namespace

// -- config_error, location_of
// --------------------------------------------------

TEST(config_error, to_string_names_file_line_column_path_and_message) {
  config_error e{{"q.yaml", 12, 5}, "agents.a1.sinks.k1", "unknown key 'x'"};
  EXPECT_EQ(e.to_string(), "q.yaml:12:5: agents.a1.sinks.k1: unknown key 'x'");
}

TEST(config_error, to_string_leaves_out_an_empty_path) {
  config_error e{{"q.yaml", 0, 0}, "", "cannot read file: denied"};
  EXPECT_EQ(e.to_string(), "q.yaml:0:0: cannot read file: denied");
}

TEST(location_of, is_one_based) {
  auto root = YAML::Load("a: 1\nb:\n  c: x\n");
  auto loc = location_of(root["b"]["c"], "f.yaml");
  EXPECT_EQ(loc.file, "f.yaml");
  EXPECT_EQ(loc.line, 3);
  EXPECT_EQ(loc.col, 6);
}

TEST(location_of, is_zero_for_undefined_nodes) {
  const YAML::Node root = YAML::Load("a: 1\n");
  auto loc = location_of(root["missing"], "f.yaml");
  EXPECT_EQ(loc.line, 0);
  EXPECT_EQ(loc.col, 0);
}

// -- closest_match ------------------------------------------------------------

TEST(closest_match, finds_typos) {
  strs keys{"bind", "port", "topic", "batch_size"};
  EXPECT_EQ(closest_match("topik", keys), "topic");
  EXPECT_EQ(closest_match("tpoic", keys), "topic"); // a swap is one edit
  EXPECT_EQ(closest_match("batchsize", keys), "batch_size");
  EXPECT_EQ(closest_match("btch_sze", keys), "batch_size");
  EXPECT_EQ(closest_match("prt", keys), "port");
}

TEST(closest_match, ignores_words_too_far_away) {
  strs keys{"bind", "port", "topic"};
  EXPECT_EQ(closest_match("colour", keys), std::nullopt);
  EXPECT_EQ(closest_match("tpk", keys), std::nullopt); // short: one edit
  EXPECT_EQ(closest_match("anything", {}), std::nullopt);
}

TEST(closest_match, prefers_the_smallest_distance_then_the_first) {
  EXPECT_EQ(closest_match("c2", {"c1", "c3"}), "c1");
  EXPECT_EQ(closest_match("memory", {"memoir", "memorx"}), "memorx");
  EXPECT_EQ(closest_match("cat", {"bat", "cut"}), "bat");
}

// -- expand_env ---------------------------------------------------------------

TEST(expand_env, replaces_variables) {
  setenv("FLUMEN_T_HOST", "kafka1", 1);
  EXPECT_EQ(expand_env("${FLUMEN_T_HOST}:9092"), "kafka1:9092");
  EXPECT_EQ(expand_env("${FLUMEN_T_HOST}-${FLUMEN_T_HOST}"), "kafka1-kafka1");
  EXPECT_EQ(expand_env("${FLUMEN_T_HOST:-other}"), "kafka1");
}

TEST(expand_env, uses_the_default_when_unset_or_empty) {
  unsetenv("FLUMEN_T_UNSET");
  setenv("FLUMEN_T_EMPTY", "", 1);
  EXPECT_EQ(expand_env("${FLUMEN_T_UNSET:-localhost:9092}"), "localhost:9092");
  EXPECT_EQ(expand_env("${FLUMEN_T_UNSET:-}x"), "x");
  EXPECT_EQ(expand_env("${FLUMEN_T_EMPTY:-d}"), "d");
  EXPECT_EQ(expand_env("${FLUMEN_T_EMPTY}"), "");
}

TEST(expand_env, reports_an_unset_variable_without_default) {
  unsetenv("FLUMEN_T_UNSET");
  std::string missing;
  EXPECT_EQ(expand_env("a ${FLUMEN_T_UNSET} b", &missing), std::nullopt);
  EXPECT_EQ(missing, "FLUMEN_T_UNSET");
  EXPECT_EQ(expand_env("${FLUMEN_T_UNSET}"), std::nullopt); // no out-param
}

TEST(expand_env, leaves_everything_else_alone) {
  setenv("FLUMEN_T_HOST", "kafka1", 1);
  EXPECT_EQ(expand_env("plain"), "plain");
  EXPECT_EQ(expand_env("$FLUMEN_T_HOST"), "$FLUMEN_T_HOST");
  EXPECT_EQ(expand_env("${unclosed"), "${unclosed");
  EXPECT_EQ(expand_env("${}"), "${}");
  EXPECT_EQ(expand_env("${1x} ${a b}"), "${1x} ${a b}");
  EXPECT_EQ(expand_env("$${FLUMEN_T_HOST}"), "$kafka1"); // `$$` not special
  EXPECT_EQ(expand_env("^[a-z]{3}$"), "^[a-z]{3}$");
}

// -- option_reader: scalars ---------------------------------------------------

TEST_F(reader_test, reads_strings_and_defaults) {
  auto& r = read("topic: logs\nempty: ''\n");
  EXPECT_EQ(r.str("topic"), "logs");
  EXPECT_EQ(r.str("empty", "d"), "");
  EXPECT_EQ(r.str("absent", "d"), "d");
  EXPECT_TRUE(r.has("topic"));
  EXPECT_FALSE(r.has("absent"));
  r.finish();
  EXPECT_EQ(errs(), strs{});
}

TEST_F(reader_test, string_of_wrong_type) {
  auto& r = read("topic: [a, b]\n");
  EXPECT_EQ(r.str("topic", "d"), "d");
  EXPECT_EQ(errs(),
            strs{"t.yaml:1:8: agents.a1.sinks.k1.topic: expected a string"});
}

TEST_F(reader_test, required_string) {
  auto& r = read("bootstrap: x\nname: ''\n");
  EXPECT_EQ(r.required_str("topic"), "");
  EXPECT_EQ(r.required_str("name"), "");
  EXPECT_EQ(r.required_str("bootstrap"), "x");
  EXPECT_EQ(errs(),
            (strs{"t.yaml:1:1: agents.a1.sinks.k1: missing required key "
                  "'topic'",
                  "t.yaml:2:7: agents.a1.sinks.k1.name: must not be empty"}));
}

TEST_F(reader_test, unquoted_null_type_hints_to_quote_it) {
  // `null` is a sink type, but YAML reads it (and ~) as no value.
  for (std::string word : {"null", "Null", "NULL", "~"}) {
    errors.clear();
    auto& r = read_with_text("channel: c1\ntype: " + word + "\n");
    EXPECT_EQ(r.required_str("type"), "");
    EXPECT_EQ(errs(), strs{"t.yaml:2:7: agents.a1.sinks.k1.type: expected a "
                           "string: YAML reads an unquoted " +
                           word +
                           " as no value (for the null sink, quote it: "
                           "type: \"null\")"})
        << word;
  }
  errors.clear();
  auto& r = read_with_text("{channel: c1, type: null}");
  EXPECT_EQ(r.required_str("type"), "");
  EXPECT_EQ(errs(), strs{"t.yaml:1:21: agents.a1.sinks.k1.type: expected a "
                         "string: YAML reads an unquoted null as no value "
                         "(for the null sink, quote it: type: \"null\")"});
  errors.clear();
  read_with_text("type: \"null\"\n");
  EXPECT_EQ(reader->required_str("type"), "null");
  EXPECT_EQ(errs(), strs{});
}

TEST_F(reader_test, unquoted_null_string_hints_to_quote_it) {
  auto& r = read_with_text("topic: null  # the word\n"
                           "group: NULL\n"
                           "header: null\n"
                           "tilde: ~\n"
                           "empty:\n"
                           "null: 1\n");
  EXPECT_EQ(r.required_str("topic"), "");
  EXPECT_EQ(r.required_str("group"), "");
  EXPECT_EQ(r.str("header", "d"), "d");
  EXPECT_EQ(r.required_str("tilde"), "");
  // An empty value's mark is at the next token, here a key named null.
  EXPECT_EQ(r.required_str("empty"), "");
  const std::string hint = " as no value (quote it: ";
  EXPECT_EQ(errs(),
            (strs{"t.yaml:1:8: agents.a1.sinks.k1.topic: expected a string: "
                  "YAML reads an unquoted null" +
                      hint + "\"null\")",
                  "t.yaml:2:8: agents.a1.sinks.k1.group: expected a string: "
                  "YAML reads an unquoted NULL" +
                      hint + "\"NULL\")",
                  "t.yaml:3:9: agents.a1.sinks.k1.header: expected a string: "
                  "YAML reads an unquoted null" +
                      hint + "\"null\")",
                  "t.yaml:4:8: agents.a1.sinks.k1.tilde: expected a string",
                  "t.yaml:5:1: agents.a1.sinks.k1.empty: expected a string"}));
}

TEST_F(reader_test, null_hints_need_the_text) {
  // A reader without the file's text can't tell `null` from an empty value.
  auto& r = read("topic: null\n");
  EXPECT_EQ(r.required_str("topic"), "");
  EXPECT_EQ(errs(),
            strs{"t.yaml:1:1: agents.a1.sinks.k1.topic: expected a string"});
  errors.clear();
  // yaml-cpp's positions leave out a byte order mark.
  read_with_text("\xEF\xBB\xBFtopic: null\n");
  EXPECT_EQ(reader->required_str("topic"), "");
  EXPECT_EQ(errs(), strs{"t.yaml:1:8: agents.a1.sinks.k1.topic: expected a "
                         "string: YAML reads an unquoted null as no value "
                         "(quote it: \"null\")"});
}

TEST_F(reader_test, expands_environment_variables) {
  setenv("FLUMEN_T_TOPIC", "events", 1);
  setenv("FLUMEN_T_PORT", "9092", 1);
  unsetenv("FLUMEN_T_UNSET");
  auto& r = read("topic: ${FLUMEN_T_TOPIC}\n"
                 "port: ${FLUMEN_T_PORT}\n"
                 "host: ${FLUMEN_T_UNSET:-localhost}\n"
                 "group: ${FLUMEN_T_UNSET}\n");
  EXPECT_EQ(r.str("topic"), "events");
  EXPECT_EQ(r.integer("port", 0), 9092);
  EXPECT_EQ(r.str("host"), "localhost");
  EXPECT_EQ(r.str("group", "d"), "d");
  EXPECT_EQ(errs(), strs{"t.yaml:4:8: agents.a1.sinks.k1.group: environment "
                         "variable 'FLUMEN_T_UNSET' is not set"});
}

TEST_F(reader_test, integers) {
  auto& r = read("a: 42\nb: -7\nc: abc\nd: 1.5\ne: {x: 1}\nf: 0\ng: 70000\n"
                 "h: 99999999999999999999\n");
  EXPECT_EQ(r.integer("a", 0), 42);
  EXPECT_EQ(r.integer("b", 0), -7);
  EXPECT_EQ(r.integer("c", 3), 3);
  EXPECT_EQ(r.integer("d", 3), 3);
  EXPECT_EQ(r.integer("e", 3), 3);
  EXPECT_EQ(r.integer("f", 3, 1, 65535), 3);
  EXPECT_EQ(r.integer("g", 3, 1, 65535), 3);
  EXPECT_EQ(r.integer("h", 3), 3);
  EXPECT_EQ(r.integer("absent", 3), 3);
  EXPECT_EQ(errs(),
            (strs{
                "t.yaml:3:4: agents.a1.sinks.k1.c: expected an integer",
                "t.yaml:4:4: agents.a1.sinks.k1.d: expected an integer",
                "t.yaml:5:4: agents.a1.sinks.k1.e: expected an integer",
                "t.yaml:6:4: agents.a1.sinks.k1.f: must be at least 1",
                "t.yaml:7:4: agents.a1.sinks.k1.g: must be at most 65535",
                "t.yaml:8:4: agents.a1.sinks.k1.h: must be at most "
                "9223372036854775807",
            }));
}

TEST_F(reader_test, counts) {
  auto& r = read("a: 500\nb: 0\nc: -3\nd: 11\ne: x\n");
  EXPECT_EQ(r.count("a", 1), 500u);
  EXPECT_EQ(r.count("b", 1), 1u);
  EXPECT_EQ(r.count("c", 1), 1u);
  EXPECT_EQ(r.count("d", 1, 1, 10), 1u);
  EXPECT_EQ(r.count("e", 1), 1u);
  EXPECT_EQ(r.count("absent", 100), 100u);
  EXPECT_EQ(errs(), (strs{
                        "t.yaml:2:4: agents.a1.sinks.k1.b: must be at least 1",
                        "t.yaml:3:4: agents.a1.sinks.k1.c: must be at least 1",
                        "t.yaml:4:4: agents.a1.sinks.k1.d: must be at most 10",
                        "t.yaml:5:4: agents.a1.sinks.k1.e: expected an integer",
                    }));
}

TEST_F(reader_test, durations) {
  auto& r = read("a: 500ms\nb: 5s\nc: 2m\nd: 1h\ne: 30\nf: 0\ng: 10 s\n");
  EXPECT_EQ(r.duration("a", 1s), 500ms);
  EXPECT_EQ(r.duration("b", 1s), 5s);
  EXPECT_EQ(r.duration("c", 1s), 2min);
  EXPECT_EQ(r.duration("d", 1s), 1h);
  EXPECT_EQ(r.duration("e", 1s), 30s);
  EXPECT_EQ(r.duration("f", 1s), 0ms);
  EXPECT_EQ(r.duration("g", 1s), 10s);
  EXPECT_EQ(r.duration("absent", 7s), 7s);
  EXPECT_EQ(errs(), strs{});
}

TEST_F(reader_test, bad_durations) {
  auto& r = read("a: 5x\nb: -5s\nc: ms\nd: 1.5s\ne: [1]\n"
                 "f: 99999999999999999h\n");
  for (auto key : {"a", "b", "c", "d", "e", "f"})
    EXPECT_EQ(r.duration(key, 1s), 1s) << key;
  const std::string expected = "expected a duration like 500ms, 5s, 2m or 1h";
  EXPECT_EQ(errs(), (strs{
                        "t.yaml:1:4: agents.a1.sinks.k1.a: " + expected,
                        "t.yaml:2:4: agents.a1.sinks.k1.b: " + expected,
                        "t.yaml:3:4: agents.a1.sinks.k1.c: " + expected,
                        "t.yaml:4:4: agents.a1.sinks.k1.d: " + expected,
                        "t.yaml:5:4: agents.a1.sinks.k1.e: " + expected,
                        "t.yaml:6:4: agents.a1.sinks.k1.f: is too large",
                    }));
}

TEST_F(reader_test, byte_sizes) {
  auto& r = read("a: 512\nb: 64KB\nc: 64KiB\nd: 16MB\ne: 1GB\nf: 2 mb\n"
                 "g: 3k\nh: 10B\n");
  EXPECT_EQ(r.bytes("a", 1), 512u);
  EXPECT_EQ(r.bytes("b", 1), 64u * 1024);
  EXPECT_EQ(r.bytes("c", 1), 64u * 1024);
  EXPECT_EQ(r.bytes("d", 1), 16u * 1024 * 1024);
  EXPECT_EQ(r.bytes("e", 1), 1024u * 1024 * 1024);
  EXPECT_EQ(r.bytes("f", 1), 2u * 1024 * 1024);
  EXPECT_EQ(r.bytes("g", 1), 3u * 1024);
  EXPECT_EQ(r.bytes("h", 1), 10u);
  EXPECT_EQ(r.bytes("absent", 77), 77u);
  EXPECT_EQ(errs(), strs{});
}

TEST_F(reader_test, bad_byte_sizes) {
  auto& r = read("a: 12XB\nb: -1\nc: 1.5MB\nd: MB\ne: 99999999999TB\n");
  for (auto key : {"a", "b", "c", "d", "e"})
    EXPECT_EQ(r.bytes(key, 1), 1u) << key;
  const std::string expected = "expected a size like 512, 64KB, 16MB or 1GB";
  EXPECT_EQ(errs(), (strs{
                        "t.yaml:1:4: agents.a1.sinks.k1.a: " + expected,
                        "t.yaml:2:4: agents.a1.sinks.k1.b: " + expected,
                        "t.yaml:3:4: agents.a1.sinks.k1.c: " + expected,
                        "t.yaml:4:4: agents.a1.sinks.k1.d: " + expected,
                        "t.yaml:5:4: agents.a1.sinks.k1.e: is too large",
                    }));
}

TEST_F(reader_test, booleans) {
  auto& r = read("a: true\nb: false\nc: TRUE\nd: yes\ne: 1\n");
  EXPECT_TRUE(r.boolean("a", false));
  EXPECT_FALSE(r.boolean("b", true));
  EXPECT_TRUE(r.boolean("c", false));
  EXPECT_FALSE(r.boolean("d", false));
  EXPECT_TRUE(r.boolean("e", true));
  EXPECT_TRUE(r.boolean("absent", true));
  EXPECT_EQ(errs(),
            (strs{"t.yaml:4:4: agents.a1.sinks.k1.d: expected true or false",
                  "t.yaml:5:4: agents.a1.sinks.k1.e: expected true or false"}));
}

TEST_F(reader_test, choices) {
  strs codecs{"none", "gzip", "snappy"};
  auto& r = read("a: gzip\nb: gzp\nc: zstd-ish\n");
  EXPECT_EQ(r.choice("a", "none", codecs), "gzip");
  EXPECT_EQ(r.choice("b", "none", codecs), "none");
  EXPECT_EQ(r.choice("c", "none", codecs), "none");
  EXPECT_EQ(r.choice("absent", "none", codecs), "none");
  EXPECT_EQ(errs(), (strs{"t.yaml:2:4: agents.a1.sinks.k1.b: must be one of: "
                          "none, gzip, snappy (did you mean 'gzip'?)",
                          "t.yaml:3:4: agents.a1.sinks.k1.c: must be one of: "
                          "none, gzip, snappy"}));
}

// -- option_reader: collections -----------------------------------------------

TEST_F(reader_test, string_maps) {
  setenv("FLUMEN_T_ACKS", "all", 1);
  auto& r = read("producer:\n"
                 "  acks: ${FLUMEN_T_ACKS}\n"
                 "  linger.ms: 5\n"
                 "empty:\n");
  auto m = r.string_map("producer");
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"acks", "all"},
                                                   {"linger.ms", "5"}}));
  EXPECT_TRUE(r.string_map("empty").empty());
  EXPECT_TRUE(r.string_map("absent").empty());
  r.finish();
  EXPECT_EQ(errs(), strs{});
}

TEST_F(reader_test, bad_string_maps) {
  auto& r = read("a: [x]\nb:\n  ok: 1\n  bad: [1, 2]\n");
  EXPECT_TRUE(r.string_map("a").empty());
  EXPECT_EQ(r.string_map("b"),
            (std::map<std::string, std::string>{{"ok", "1"}}));
  EXPECT_EQ(errs(),
            (strs{"t.yaml:1:4: agents.a1.sinks.k1.a: expected a mapping of "
                  "strings",
                  "t.yaml:4:8: agents.a1.sinks.k1.b.bad: expected a string"}));
}

TEST_F(reader_test, string_lists) {
  auto& r = read("a: [c1, c2]\nb: c3\nc:\n  - x\n  - {y: 1}\nd: {k: v}\n");
  EXPECT_EQ(r.string_list("a"), (strs{"c1", "c2"}));
  EXPECT_EQ(r.string_list("b"), strs{"c3"});
  EXPECT_EQ(r.string_list("c"), strs{"x"});
  EXPECT_EQ(r.string_list("d"), strs{});
  EXPECT_EQ(r.string_list("absent"), strs{});
  EXPECT_EQ(errs(),
            (strs{"t.yaml:5:5: agents.a1.sinks.k1.c[1]: expected a string",
                  "t.yaml:6:4: agents.a1.sinks.k1.d: expected a list of "
                  "strings"}));
}

TEST_F(reader_test, raw_nodes) {
  auto& r = read("nested:\n  x: 1\n");
  auto n = r.node("nested");
  ASSERT_TRUE(n.IsMap());
  EXPECT_EQ(n["x"].as<int>(), 1);
  EXPECT_FALSE(r.node("absent").IsDefined());
  r.finish();
  EXPECT_EQ(errs(), strs{});
}

// -- option_reader: unknown keys
// ------------------------------------------------

TEST_F(reader_test, finish_reports_unknown_keys_with_a_hint) {
  auto& r = read("type: snk\n"
                 "topik: logs\n"
                 "colour: red\n"
                 "batch_size: 5\n");
  r.known({"type"});
  r.str("topic");
  r.count("batch_size", 100);
  r.finish();
  EXPECT_EQ(errs(), (strs{"t.yaml:2:1: agents.a1.sinks.k1: unknown key "
                          "'topik' (did you mean 'topic'?)",
                          "t.yaml:3:1: agents.a1.sinks.k1: unknown key "
                          "'colour'"}));
}

TEST_F(reader_test, finish_reports_duplicate_keys) {
  auto& r = read("topic: a\ntopic: b\n");
  EXPECT_EQ(r.str("topic"), "a");
  r.finish();
  EXPECT_EQ(errs(),
            strs{"t.yaml:2:1: agents.a1.sinks.k1: duplicate key 'topic'"});
}

TEST_F(reader_test, errors_at_keys_and_at_the_mapping) {
  auto& r = read("  a: 1\n  b:\n");
  r.error("a", "bad a");
  r.error("b", "bad b"); // empty value: points at its key
  r.error("absent", "bad absent");
  r.error("bad mapping");
  EXPECT_EQ(errs(), (strs{"t.yaml:1:6: agents.a1.sinks.k1.a: bad a",
                          "t.yaml:2:3: agents.a1.sinks.k1.b: bad b",
                          "t.yaml:1:3: agents.a1.sinks.k1.absent: bad absent",
                          "t.yaml:1:3: agents.a1.sinks.k1: bad mapping"}));
}

TEST_F(reader_test, checks_know_which_values_failed_to_parse) {
  auto& r = read("capacity: lots\ntransaction_capacity: 500\n");
  EXPECT_TRUE(r.values_parsed());
  EXPECT_EQ(r.count("capacity", 100), 100u);
  EXPECT_EQ(r.count("transaction_capacity", 100), 500u);
  EXPECT_FALSE(r.values_parsed());
  EXPECT_TRUE(r.failed("capacity"));
  EXPECT_FALSE(r.failed("transaction_capacity"));
  // A check of one against the other would judge the default 100, which
  // the file does not state.
  EXPECT_FALSE(r.parsed({"capacity", "transaction_capacity"}));
  EXPECT_TRUE(r.parsed({"transaction_capacity", "absent"}));
  // A missing required key, and a value its caller refuses, fail too.
  EXPECT_FALSE(r.require("port"));
  EXPECT_TRUE(r.require("capacity"));
  r.invalid("transaction_capacity", "must be even");
  EXPECT_TRUE(r.failed("port"));
  EXPECT_FALSE(r.parsed({"transaction_capacity"}));
  // An error of a check fails nothing.
  r.error("absent", "a check");
  EXPECT_TRUE(r.parsed({"absent"}));
  EXPECT_EQ(errs(),
            (strs{"t.yaml:1:11: agents.a1.sinks.k1.capacity: expected an "
                  "integer",
                  "t.yaml:1:1: agents.a1.sinks.k1: missing required key "
                  "'port'",
                  "t.yaml:2:23: agents.a1.sinks.k1.transaction_capacity: "
                  "must be even",
                  "t.yaml:1:1: agents.a1.sinks.k1.absent: a check"}));
}

TEST_F(reader_test, a_failed_value_of_a_nested_mapping_fails_its_key) {
  auto& r = read("host: 10.0.0.1\ntls: {certificate: [x]}\n");
  EXPECT_EQ(r.str("host"), "10.0.0.1");
  option_reader t{r, "tls"};
  EXPECT_EQ(t.path(), "agents.a1.sinks.k1.tls");
  EXPECT_EQ(t.required_str("certificate"), "");
  // Without its tls, the host would look unprotected: no check of both.
  EXPECT_TRUE(r.failed("tls"));
  EXPECT_FALSE(r.failed("host"));
  EXPECT_FALSE(r.parsed({"host", "tls"}));
  t.finish();
  r.finish();
  EXPECT_EQ(errs(), strs{"t.yaml:2:20: agents.a1.sinks.k1.tls.certificate: "
                         "expected a string"});
}

TEST(relative_paths, are_resolved_from_the_base_and_say_from_what) {
  EXPECT_EQ(resolve_path("certs/a.pem", "/etc/flumen/"),
            "/etc/flumen/certs/a.pem");
  EXPECT_EQ(resolve_path("./certs/../a.pem", "/etc/flumen/"),
            "/etc/flumen/a.pem");
  EXPECT_EQ(resolve_path("/abs/a.pem", "/etc/flumen/"), "/abs/a.pem");
  EXPECT_EQ(resolve_path("certs/a.pem", ""), "certs/a.pem");
  EXPECT_EQ(describe_path("/abs/a.pem", "/etc/flumen/"), "'/abs/a.pem'");
  EXPECT_EQ(describe_path("certs/a.pem", "/etc/flumen/"),
            "'certs/a.pem' (relative to /etc/flumen/, the topology file's "
            "directory)");
  auto cwd = std::filesystem::current_path().string();
  EXPECT_EQ(describe_path("certs/a.pem", ""),
            "'certs/a.pem' (relative to the current directory, " + cwd + "/)");
}

TEST(option_reader, paths) {
  error_list errors;
  option_reader top(YAML::Load("agents: {}"), "", "t.yaml", errors);
  EXPECT_EQ(top.path_of("agents"), "agents");
  option_reader sub(YAML::Load("x: 1"), "agents.a1", "t.yaml", errors);
  EXPECT_EQ(sub.path_of("sources"), "agents.a1.sources");
  EXPECT_EQ(sub.path(), "agents.a1");
  EXPECT_EQ(sub.file(), "t.yaml");
}

// ---------------------------------------------------------------------------
// header_map: an event's headers.

TEST(header_map, keeps_the_order_headers_were_set_in) {
  flumen::header_map h;
  h.insert_or_assign("seq", "1");
  h.emplace("app", "web");
  h.insert_or_assign("k3", "v3");
  h.insert_or_assign("k4", "v4");
  h.insert_or_assign("app", "db"); // overwritten: keeps its place
  h.emplace("seq", "2");           // emplace keeps an existing value
  std::vector<std::string> order;
  for (auto& [k, v] : h)
    order.push_back(k + "=" + v);
  EXPECT_EQ(order,
            (std::vector<std::string>{"seq=1", "app=db", "k3=v3", "k4=v4"}));
  EXPECT_EQ(h.find("k4")->second, "v4");
  EXPECT_EQ(h.find("k5"), h.end());
  EXPECT_EQ(h.find("k"), h.end()) << "a prefix is not the key";
  EXPECT_TRUE(h.contains("k3"));
  EXPECT_EQ(h.erase("k3"), 1u);
  EXPECT_EQ(h.erase("k3"), 0u);
  EXPECT_EQ(h.size(), 3u);
  h[""] = "empty key";
  EXPECT_EQ(h.find("")->second, "empty key");
}

TEST(header_map, equal_whatever_the_order) {
  flumen::header_map a{{"x", "1"}, {"y", "2"}};
  flumen::header_map b{{"y", "2"}, {"x", "1"}};
  flumen::header_map c{{"y", "2"}, {"x", "3"}};
  flumen::header_map d{{"y", "2"}};
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_NE(d, a);
}
