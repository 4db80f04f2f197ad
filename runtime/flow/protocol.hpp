#pragma once

// The edge protocol, declared once (see DESIGN.md, "The edges"):
//
//   channel:  (put_atom, batch)            -> (ok_atom)   held while full;
//                                             a put larger than the room
//                                             goes in piece by piece: never
//                                             refused for its size
//             (take_atom, uint32_t max)    -> (uint64_t txn, batch)
//                                             held while empty, up to a poll
//                                             interval; an empty batch then
//             (take_atom, uint32_t max, uint64_t max_bytes)
//                                          -> (uint64_t txn, batch)   also at
//                                             most max_bytes (event_bytes),
//                                             but at least one event
//             (commit_atom, uint64_t txn)  -> (ok_atom)
//             (commit_atom, uint64_t txn, vector<uint32_t> put_back)
//                                          -> (ok_atom)   commits all but
//                                             the events named, which go
//                                             back to the head in order
//             (rollback_atom, uint64_t txn)-> (ok_atom)   back to the head
//             (rollback_atom, actor_addr taker)           revoke: every
//                                             transaction of the taker goes
//                                             back; it may take and commit
//                                             nothing more (a hung node)
//             (get_atom, uint64_t txn)     -> (batch)     the events of an
//                                             open transaction (rare path:
//                                             a sink sorting out failures)
//             (close_atom)                 -> (ok_atom)   no more puts: each
//                                             put not begun is refused with
//                                             channel_closed carrying its
//                                             events (closed_error), one
//                                             begun goes in whole, and later
//                                             puts are refused the same way;
//                                             answered once every put it
//                                             held is answered. Takes and
//                                             commits go on (it drains).
//   router:   (put_atom, batch)            -> (ok_atom)   once every
//                                             required channel accepted
//             (put_atom, batch, receipt)   -> the same; before the batch
//                                             goes on, the receipt says how
//                                             many events the interceptors
//                                             filtered out (put_receipt)
//             (put_atom, batch, receipt, timespan hold)
//                                          -> the same, each required
//                                             channel's part put with `hold`
//                                             (channel_full when one stayed
//                                             full; the parts other channels
//                                             took stay there)
//   source,
//   sink:     (stop_atom)                  -> (ok_atom)   after draining what
//                                             it holds (graceful stop)
//
// Every type that crosses the network is registered in
// `add_message_types`: CAF 0.17 drops unregistered types silently.

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "runtime/core/event.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

using caf::get_atom;
using caf::ok_atom;
using caf::put_atom;
using take_atom = caf::atom_constant<caf::atom("take")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using rollback_atom = caf::atom_constant<caf::atom("rollback")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
/// Internal: a source's reader thread hands a batch to its actor.
using emit_atom = caf::atom_constant<caf::atom("emit")>;
/// Internal: the Kafka sink's delivery reports for one transaction are in.
using delivered_atom = caf::atom_constant<caf::atom("delivered")>;
/// Internal: a timer fired.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// A put that goes in now or not at all: `(try_put_atom, batch) ->
/// (ok_atom)`, or `channel_full` at once when the channel has no room (a
/// selector's optional channel: Flume's put that fails when full).
using try_put_atom = caf::atom_constant<caf::atom("tryput")>;
/// Internal (channels): the hold of put number N is over; a put with a
/// hold that none of went in yet is refused `channel_full`.
using put_expired_atom = caf::atom_constant<caf::atom("putexpire")>;
/// A channel takes no more puts (a reload removes it, or the agent stops).
using close_atom = caf::atom_constant<caf::atom("close")>;

/// Transaction ids are unique per channel instance.
using txn_id = uint64_t;

/// Registers every protocol type with the actor system's config.
void add_message_types(caf::actor_system_config& cfg);

/// Errors of flumen's own (category `flumen`), sent across actor edges.
enum class errc : uint8_t {
  none = 0,
  batch_too_large, ///< unused since puts are split (kept for the wire)
  unknown_transaction,
  channel_closed,
  delivery_failed,
  component_failed,
  interceptor_failed, ///< an interceptor threw on a batch
  version_mismatch,   ///< a hop peer speaks another wire version
  malformed_batch,    ///< a hop batch that does not decode
  busy, ///< a hop batch held by a full channel as long as its sender waits
  channel_full, ///< a try_put the channel had no room for
};

std::string to_string(errc x);

caf::error make_error(errc x, std::string msg = {});

/// True when `err` is flumen's error `x`.
bool is_error(const caf::error& err, errc x);

/// A put refused by a closed channel: `channel_closed`, carrying the
/// events back to their sender, who puts them again where its route now
/// leads (a reload), or counts them undelivered (a stop). Nothing of them
/// is in the channel.
caf::error closed_error(std::string why, batch events);

/// The events a closed_error carries (moved out); empty otherwise.
batch closed_events(caf::error& err);

/// What a router tells the sender of a put beside its answer: how many of
/// the batch's events its interceptors filtered out. Set before the rest
/// goes on to a channel, so it is there when the answer (ok or an error)
/// arrives; the sender counts those `filtered`, the rest accepted or not.
struct put_receipt {
  std::atomic<uint64_t> filtered{0};
  /// Events the route could put nowhere: every channel they go to is an
  /// optional one, and each refused them (full or failed). Dropped by the
  /// selector's policy; the sender counts them `dropped`, not accepted.
  std::atomic<uint64_t> dropped{0};
};

/// The text of an exception caught by an actor's exception handler.
std::string describe(const std::exception_ptr& eptr);

/// Makes `self` log (naming `name`) and drop a message it has no handler
/// for, and an error message nobody asked for, instead of CAF's defaults:
/// those answer the first with an error, which kills a sender that did not
/// ask for one, and quit on the second. (A stray reply once made a sink
/// answer `unexpected_message` to its channel, which then died with its
/// events.)
void tolerate_strays(caf::scheduled_actor* self, std::string name);

/// Makes an exception thrown in `self` end it with `component_failed` (the
/// exception's text after `prefix`), its metrics set to `state` with that
/// text as the reason.
void fail_on_exceptions(caf::scheduled_actor* self,
                        std::shared_ptr<component_metrics> metrics,
                        component_state state, std::string prefix = {});

} // namespace flumen

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::put_receipt>)
