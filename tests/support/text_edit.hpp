#pragma once

// Editing topology text in tests: a base topology changed in one place
// (`edit`), placeholders filled (`replace_all`, `fill`).

#include <initializer_list>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace flumen::test {

/// `text` with its first `from` replaced by `to`; a `from` that is not
/// there fails the test (the edit would silently test the base).
inline std::string edit(std::string text, const std::string& from,
                        const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

/// `text` with every `from` replaced by `to`.
inline std::string replace_all(std::string text, const std::string& from,
                               const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

/// `text` with each placeholder replaced by its value.
inline std::string
fill(std::string text,
     std::initializer_list<std::pair<std::string, std::string>> values) {
  for (auto& [from, to] : values)
    text = replace_all(std::move(text), from, to);
  return text;
}

} // namespace flumen::test
