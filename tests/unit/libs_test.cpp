// runtime/libs: a library loaded when first called says what needs it and
// which package has it when it cannot be loaded, and a table whose load
// failed is loaded again by the next call.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "runtime/libs/on_demand.hpp"
#include "runtime/libs/zstd.hpp"

namespace {

using namespace flumen::libs;

TEST(libs, a_missing_library_names_what_needs_it_and_its_package) {
  try {
    open_library("libflumen-none.so.7", "The test source", "flumen-none7");
    FAIL() << "loaded a library that does not exist";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("The test source needs libflumen-none.so.7"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("apt-get install flumen-none7"), std::string::npos)
        << what;
  }
}

TEST(libs, a_missing_function_is_an_error_not_a_null_pointer) {
  void* lib = open_library("libzstd.so.1", "zstd", "libzstd1");
  EXPECT_THROW(symbol(lib, "libzstd.so.1", "ZSTD_no_such_function", "libzstd1"),
               std::runtime_error);
  EXPECT_NE(symbol(lib, "libzstd.so.1", "ZSTD_compress", "libzstd1"), nullptr);
}

struct counted {
  int value = 0;
};
int attempts = 0;
counted fails_once() {
  if (++attempts == 1) throw std::runtime_error{"not yet"};
  return counted{attempts};
}

TEST(libs, a_table_whose_load_failed_is_loaded_by_the_next_call) {
  using table = on_demand<counted, fails_once>;
  EXPECT_THROW(table::get(), std::runtime_error);
  EXPECT_EQ(table::get().value, 2);
  EXPECT_EQ(table::get().value, 2); // filled once
  EXPECT_EQ(attempts, 2);
}

TEST(libs, a_loaded_table_calls_the_library) {
  const char text[] =
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  char packed[256];
  char back[sizeof text];
  auto n = ZSTD_compress(packed, sizeof packed, text, sizeof text, 1);
  ASSERT_FALSE(ZSTD_isError(n));
  EXPECT_EQ(ZSTD_decompress(back, sizeof back, packed, n), sizeof text);
  EXPECT_EQ(std::string(back, sizeof text), std::string(text, sizeof text));
}

} // namespace
