#pragma once

// The hop protocol between agents (a `hop` sink and a `hop` source) and the
// link settings every network endpoint of flumen shares (hops and nodes).
// DESIGN.md, "Across processes and machines".
//
//   hop source:  (hello_atom, uint32_t version, std::string sender)
//                  -> (ok_atom, uint32_t version, uint64_t max_batch_bytes)
//                     or an error naming both versions
//                (hop_atom, std::string sender, uint64_t seq,
//                 uint32_t hold_ms, std::string buffer)
//                  -> (ok_atom)    the batch (hop_wire.hpp) is in every
//                                  required channel, or was before (a resent
//                                  batch with a seq already accepted from
//                                  this sender is not put again)
//                  -> error busy   not accepted within hold_ms: back off,
//                                  send it again with the same seq
//                  -> other error  refused (malformed, too large, stopping)
//
// A sender numbers its batches 1, 2, ... under an id that is new for every
// start of the sink; the receiver remembers per sender which numbers it
// accepted, so a batch resent after a lost answer is acknowledged without
// being put twice.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>

namespace flumen::hop {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using hop_atom = caf::atom_constant<caf::atom("hop")>;

/// `middleman.app-identifiers`: CAF refuses a peer with another one
/// (`incompatible_application_ids`) before any message, which keeps other
/// CAF programs out. It never changes: the wire version is checked by the
/// hello instead, which both sides log in words.
constexpr const char* app_identifier = "flumen";

} // namespace flumen::hop
