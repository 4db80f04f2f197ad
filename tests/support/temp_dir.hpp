#pragma once

// A fresh directory per test under the system's temporary directory,
// removed with everything in it when the test ends.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace flumen::test {

class temp_dir {
public:
  /// `/tmp/<prefix>-XXXXXX`, made at once.
  explicit temp_dir(const std::string& prefix = "flumen-test") {
    auto tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX"))
                    .string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp " + tmpl + " failed");
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() { remove(); }

  /// Removes it and everything in it now; what went wrong, if anything.
  std::error_code remove() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    return ec;
  }

  const std::filesystem::path& path() const { return path_; }
  operator const std::filesystem::path&() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }
  std::string string() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

} // namespace flumen::test
