#pragma once

// The hop protocol between agents (a `hop` sink and a `hop` source) and the
// link settings every network endpoint of flumen shares (hops and nodes).
// DESIGN.md, "Across processes and machines".
//
//   hop source:  (hello_atom, uint32_t version, std::string sender)
//                  -> (ok_atom, uint32_t version, uint64_t max_batch_bytes)
//                     or an error naming both versions
//                (hello_atom, uint32_t version, std::string sender,
//                 uint64_t lowest_unsettled)
//                  -> the same; since version 2: every event number below
//                     lowest_unsettled is settled on the sender's side
//                     (never sent again), so the receiver forgets them
//                (hop_atom, std::string sender, uint64_t first,
//                 uint32_t hold_ms, std::string buffer)
//                  -> (ok_atom)    the batch (hop_wire.hpp) is in every
//                                  required channel, or was before (a batch
//                                  whose event numbers were all accepted
//                                  from this sender is not put again)
//                  -> error busy   not accepted within hold_ms, or the
//                                  sender has sender_window_batches x
//                                  max_batch_bytes waiting already: back
//                                  off, send it again with the same numbers
//                  -> other error  refused (malformed, too large, stopping,
//                                  no hello from this actor under `sender`)
//
// A sender numbers the events it sends 1, 2, ... under an id that is new for
// every start of the sink; a batch carries events [first, first + count)
// (count in its header). The receiver remembers per sender which numbers it
// accepted, so a batch resent after a lost answer (whole, or cut into pieces
// when the link turned out slower: a piece of an accepted batch is
// accepted) is acknowledged without being put twice. A sender says the
// 3-argument hello first (the version check every version understands),
// then the 4-argument one before any batch, and that one again every
// second (its keepalive). It keeps at most sender_window_batches x
// max_batch_bytes (decoded) unanswered, and each message small enough to
// cross the link within a quarter of CAF's connection timeout
// (hop_flow.hpp).
//
// Version 1 named a batch by a batch number and had no 4-argument hello;
// agents of versions 1 and 2 refuse each other at the first hello, each
// logging both versions.

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
