// The option table of the `file` channel (options.hpp): what its parser
// reads and its reference page shows.

#include "actors/channels/file.hpp"

namespace flumen::channels {

/// The options of the `file` channel (docs/reference/channels/file.md shows
/// them, generated).
const option_list& file_options() {
  static const option_list table = {
      {.name = "directory",
       .kind = option_kind::string,
       .doc = "the channel's log (created with mode 0700: "
              "`file_channel.the_directory_is_created_with_mode_0700`; "
              "locked: a second agent on it is refused, naming the holder's"
              " pid: "
              "`file_channel.a_held_directory_is_refused_with_the_holders_pid`;"
              " two channels of one file on one directory, or one that "
              "cannot be created, are config errors)"},
      {.name = "capacity",
       .kind = option_kind::count,
       .doc = "events held (on disk, taken ones included); puts wait for "
              "room beyond it (Flume's default)"},
      {.name = "byte_capacity",
       .kind = option_kind::size,
       .doc = "bytes of the log's uncommitted records held; `0`: no bound. "
              "At least twice `max_file_size` (segments are freed whole)"},
      {.name = "transaction_capacity",
       .kind = option_kind::count,
       .def = "`10000`, or `capacity` if smaller",
       .doc = "most events in one take (Flume's default); a put of any size"
              " goes in, as one record of at most 64 MiB (a larger put as "
              "several, answered once all are in: "
              "`file_channel.a_put_larger_than_a_record_is_written_in_parts`;"
              " one event over 1 GiB is refused with an error its sender "
              "sees)"},
      {.name = "max_file_size",
       .kind = option_kind::size,
       .type = "size, at least `4KB`",
       .doc = "a segment is closed and the next one started past this size;"
              " a segment is deleted once all of it is committed (the "
              "current one too, once 1 MiB or more and all committed, or "
              "whatever its size while space is short). Up to two delivered "
              "segments are kept as spares (`spare-<number>.seg`) and the "
              "next segments written over them, which costs the kernel "
              "about half the CPU of growing new files; they are kept "
              "only while the file system has room for two more segments "
              "beyond `min_free_space`. Flume's 2 GB would keep up to 2 GB "
              "of delivered events on disk"},
      {.name = "min_free_space",
       .kind = option_kind::size,
       .doc = "puts are held (not refused) while the file system has less "
              "free space; the source stops reading meanwhile. Flume's "
              "default is 500 MB and refuses puts; flumen waits, so a "
              "smaller margin is enough"},
      {.name = "fsync",
       .kind = option_kind::choice,
       .choices = "batch|interval|never",
       .doc =
           "`batch`: a put is answered after its record is synced "
           "(fdatasync); puts waiting meanwhile share one sync. "
           "`interval`: answered once written, synced every "
           "`fsync_interval`. `never`: answered once written, synced "
           "when the kernel likes. See "
           "[durability](../../durability.md#what-each-fsync-mode-guarantees)"},
      {.name = "fsync_interval",
       .kind = option_kind::duration,
       .type = "duration > 0",
       .doc = "only with `fsync: interval` (a config error otherwise)"},
      {.name = "keep_alive",
       .kind = option_kind::duration,
       .doc = "as [memory](memory.md)"},
      {.name = "transaction_timeout",
       .kind = option_kind::duration,
       .type = "duration: `0` or at least `1s`",
       .doc =
           "as memory "
           "(`file_channel.a_transaction_held_past_its_timeout_is_revoked`)"},
  };
  return table;
}

} // namespace flumen::channels
