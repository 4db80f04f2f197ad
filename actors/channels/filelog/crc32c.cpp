#include "actors/channels/filelog/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace flumen::filelog {

namespace {

constexpr uint32_t polynomial = 0x82F63B78; // reflected Castagnoli

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ polynomial : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr auto table = make_table();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t
crc32c_sse42(const void* data, std::size_t n, uint32_t crc) {
  auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0)
    c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool has_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

} // namespace

uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc) {
  auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (n-- > 0)
    c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

uint32_t crc32c(const void* data, std::size_t n, uint32_t crc) {
#if defined(__x86_64__)
  if (has_sse42()) return crc32c_sse42(data, n, crc);
#endif
  return crc32c_portable(data, n, crc);
}

bool crc32c_in_hardware() {
#if defined(__x86_64__)
  return has_sse42();
#else
  return false;
#endif
}

} // namespace flumen::filelog
