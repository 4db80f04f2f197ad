// The Java properties reader (runtime/flume/properties.hpp) against Java's
// own java.util.Properties: tests/data/flume/properties/*.properties and
// the *.expected files Dump.java wrote from them (generate.sh), plus the
// bounds and the order and lines only our reader keeps.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "runtime/flume/properties.hpp"

using namespace flumen::flume;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Dump.java's escaping: UTF-16 units outside printable ASCII, `\` and
/// `=` as \uXXXX.
std::string java_escape(const std::string& utf8) {
  std::string out;
  auto unit = [&](uint32_t u) {
    if (u >= 0x20 && u < 0x7f && u != '\\' && u != '=') {
      out += static_cast<char>(u);
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    }
  };
  for (std::size_t i = 0; i < utf8.size();) {
    auto c = static_cast<unsigned char>(utf8[i]);
    uint32_t cp = c;
    std::size_t n = 0;
    if (c >= 0xF0)
      cp = c & 0x07, n = 3;
    else if (c >= 0xE0)
      cp = c & 0x0F, n = 2;
    else if (c >= 0xC0)
      cp = c & 0x1F, n = 1;
    for (std::size_t k = 1; k <= n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    i += n + 1;
    if (cp >= 0x10000) {
      unit(0xD800 + ((cp - 0x10000) >> 10));
      unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return out;
}

} // namespace

TEST(flume_properties, reads_every_case_as_java_does) {
  fs::path dir = fs::path(FLUMEN_SOURCE_DIR) / "tests/data/flume/properties";
  std::size_t cases = 0;
  for (auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".properties") continue;
    ++cases;
    auto expected_path = entry.path();
    expected_path.replace_extension(".expected");
    auto expected = slurp(expected_path);
    auto result = read_properties(slurp(entry.path()));
    std::string got;
    if (!result.ok()) {
      got = "ERROR\n";
    } else {
      std::vector<std::string> lines;
      for (auto& p : result.entries)
        lines.push_back(java_escape(p.key) + "=" + java_escape(p.value));
      std::sort(lines.begin(), lines.end());
      for (auto& l : lines)
        got += l + "\n";
    }
    EXPECT_EQ(got, expected) << entry.path();
  }
  EXPECT_GE(cases, 7u);
}

TEST(flume_properties, keeps_file_order_and_the_line_of_each_key) {
  auto r = read_properties("# c\n\nb = 1\na = x \\\n  y\r\nc=3\nb=4\n");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[0].key, "b");
  EXPECT_EQ(r.entries[0].value, "4"); // the last value, the first place
  EXPECT_EQ(r.entries[0].line, 7u);
  EXPECT_EQ(r.entries[1].key, "a");
  EXPECT_EQ(r.entries[1].value, "x y");
  EXPECT_EQ(r.entries[1].line, 4u);
  EXPECT_EQ(r.entries[2].line, 6u);
  ASSERT_EQ(r.duplicates.size(), 1u);
  EXPECT_EQ(r.duplicates[0].first_line, 3u);
  EXPECT_EQ(r.duplicates[0].line, 7u);
}

TEST(flume_properties, bounds_are_clear_errors) {
  properties_limits small;
  small.max_file_bytes = 100;
  small.max_line_bytes = 20;
  small.max_key_bytes = 8;
  auto big = read_properties(std::string(101, 'a'), small);
  EXPECT_FALSE(big.ok());
  EXPECT_NE(big.error.find("more than the 100"), std::string::npos);
  auto line = read_properties("a=1\nb=" + std::string(30, 'x') + "\n", small);
  EXPECT_FALSE(line.ok());
  EXPECT_EQ(line.error_line, 2u);
  auto key = read_properties("a=1\n\nabcdefghij=1\n", small);
  EXPECT_FALSE(key.ok());
  EXPECT_EQ(key.error_line, 3u);
  EXPECT_NE(key.error.find("key"), std::string::npos);
  // The default bounds: 16 MiB.
  EXPECT_FALSE(read_properties(std::string((16u << 20) + 1, '#')).ok());
}

TEST(flume_properties, refuses_what_is_not_utf8_and_lone_surrogates) {
  auto bad = read_properties("a=1\nb=\xff\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error_line, 2u);
  EXPECT_FALSE(read_properties("a=\xc3").ok());         // truncated
  EXPECT_FALSE(read_properties("a=\xc0\xaf").ok());     // overlong
  EXPECT_FALSE(read_properties("a=\xed\xa0\x80").ok()); // a surrogate
  EXPECT_FALSE(read_properties("a=\\ud83d").ok());
  EXPECT_FALSE(read_properties("a=\\ude00x").ok());
  EXPECT_FALSE(read_properties("a=\\ud83dx").ok());
  auto pair = read_properties("a=\\uD83D\\uDE00");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair.entries[0].value, "\xf0\x9f\x98\x80");
}
