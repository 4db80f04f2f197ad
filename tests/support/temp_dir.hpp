#pragma once

// A fresh directory per test under the system's temporary directory,
// removed with everything in it when the test ends.

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

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
  /// A thread still finishing its last write may rename or add a file
  /// while the tree is walked (a killed source's reader is not waited for,
  /// runtime/flow/source_pump.cpp, and may be inside a positions save, a
  /// write and a rename, it began before the kill). The walk then fails
  /// with ENOENT or ENOTEMPTY, and is walked again, for at most 5 s.
  std::error_code remove() {
    std::error_code ec;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    for (;;) {
      ec.clear();
      std::filesystem::remove_all(path_, ec);
      if (!ec ||
          (ec != std::errc::no_such_file_or_directory &&
           ec != std::errc::directory_not_empty) ||
          std::chrono::steady_clock::now() >= deadline)
        return ec;
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
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
