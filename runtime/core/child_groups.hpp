#pragma once

#include <sys/types.h>

namespace flumen {

/// The process groups of the children flumen runs (exec sources), so that
/// an exit at once (a second SIGTERM, the stop's hard deadline) still ends
/// them: a source normally stops its group itself, which such an exit skips.
/// Lock-free; at most 1024 groups are tracked at a time.
void register_child_group(pid_t pgid);
void unregister_child_group(pid_t pgid);

/// SIGKILLs every registered group. Safe to call from any thread right
/// before `_Exit`.
void kill_child_groups();

} // namespace flumen
