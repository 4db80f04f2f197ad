#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/channels/filelog/journal.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::channels {

/// Options of the `file` channel (see README, "file channel" and
/// "Durability").
struct file_config {
  std::string directory;
  /// Events held (on disk, uncommitted, taken ones included); puts wait
  /// for room beyond it. Flume's default.
  std::size_t capacity = 1000000;
  /// Bytes of the log's uncommitted records held; 0: no bound.
  std::size_t byte_capacity = 0;
  std::size_t transaction_capacity = 10000; ///< most events in a take
  /// A segment file is closed and a new one started past this size; a
  /// segment is deleted once all of it is committed.
  std::size_t max_file_size = 64 << 20;
  /// Puts are held while the file system has less free space than this.
  std::size_t min_free_space = 64 << 20;
  filelog::fsync_policy fsync = filelog::fsync_policy::batch;
  std::chrono::milliseconds fsync_interval{1000};
  /// How long an empty take is held before it is answered empty.
  std::chrono::milliseconds keep_alive{500};
  /// A taker holding a transaction open longer is revoked (its events go
  /// back, its late commit is refused); 0: never.
  std::chrono::milliseconds transaction_timeout{600000};
  /// The events kept in memory at most (queued and taken): a prefix of the
  /// log; the rest is read back from disk in order as room frees. Not an
  /// option: 8 x transaction_capacity and memory_bytes.
  std::size_t memory_events = 80000;
  std::size_t memory_bytes = 32 << 20;
  /// The most bytes (as event_bytes counts them) one record holds: a
  /// larger put is written as several records and answered once all are
  /// in (one event is never split). Not an option.
  std::size_t record_bytes = 64 << 20;
};

/// Its options (runtime/config/options.hpp).
const option_list& file_options();

/// Pure: reads the options, touches nothing.
file_config parse_file(option_reader& r);

/// Opens (creates 0700, locks, recovers) the channel's directory and
/// spawns the channel, speaking the channel protocol of
/// runtime/flow/protocol.hpp. Throws std::runtime_error when the directory
/// cannot be used (another agent holds it, it cannot be created or read).
caf::actor spawn_file(caf::actor_system& sys, const file_config& cfg,
                      const wiring& w);

} // namespace flumen::channels
