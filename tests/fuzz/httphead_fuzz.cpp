// The HTTP endpoint's request head parser on arbitrary bytes: it must never
// crash, and what it accepts must be a GET or HEAD of a path.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/http/http_head.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto end = flumen::http_head_end(in);
  if (end != std::string_view::npos && end > in.size()) std::abort();
  auto head = flumen::parse_http_head(
      end == std::string_view::npos ? in : in.substr(0, end));
  if (head.status == 0) {
    const auto& m = head.request.method;
    if (m != "GET" && m != "HEAD") std::abort();
    if (in.find('/') == std::string_view::npos) std::abort(); // a path
  } else if (head.status != 400 && head.status != 405 && head.status != 505) {
    std::abort();
  }
  return 0;
}
