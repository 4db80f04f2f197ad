#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flumen::filelog {

/// CRC-32C (Castagnoli), the checksum of the file channel's records: the
/// one Kafka, ext4 and iSCSI use, with hardware support on x86 (SSE4.2's
/// crc32 instruction, 4-5 GB/s here) and a table fallback. No Debian 12
/// package ships it (STACK-NOTES.md); zlib's crc32 is the IEEE polynomial,
/// slower here and weaker for the short bursts of errors a torn write leaves.
/// `crc` continues an earlier value (0 to start). Check value:
/// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, std::size_t n, uint32_t crc = 0);

inline uint32_t crc32c(std::string_view s, uint32_t crc = 0) {
  return crc32c(s.data(), s.size(), crc);
}

/// The table version, always (for tests against the hardware one).
uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc = 0);

/// True when crc32c() uses the CPU's instruction.
bool crc32c_in_hardware();

} // namespace flumen::filelog
