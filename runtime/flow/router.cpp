#include "runtime/flow/router.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/flow/protocol.hpp"
#include "runtime/flow/route_eval.hpp"

namespace flumen::detail {

/// The events of a batch that go to optional channels only (multiplexing:
/// a value with optional channels and no required one): each must be
/// taken by one of them at least, or it is dropped, by the selector's
/// policy, and counted so (never delivered silently to nowhere).
struct optional_watch {
  std::vector<char> placed;   ///< per such event: some channel took it
  std::size_t remaining = 0;  ///< optional parts holding them, unanswered
  std::function<void()> done; ///< runs once, when `remaining` is 0
};

/// A batch on its way to several channels: answered once every one
/// accepted it (and its optional-only events were placed or counted).
struct fanout {
  caf::response_promise rp;
  std::shared_ptr<optional_watch> watch; ///< none without such events
  bool answered = false;                 ///< the channels' answer is in
  caf::error answer;                     ///< it: none is ok
  batch events;
  std::set<caf::actor_addr> accepted;
  std::size_t remaining = 0;
  caf::error failed; ///< the first error other than a closed channel
  caf::error closed; ///< a closed channel's (the batch may go elsewhere)
  std::set<caf::actor_addr> closed_at;
  unsigned rounds = 0;
  /// A put with a hold: each channel's part is put with it.
  std::optional<caf::timespan> hold;
};

} // namespace flumen::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::detail::fanout>)

namespace flumen {

namespace {

using detail::fanout;
using detail::optional_watch;

struct router_state {
  std::shared_ptr<route_table> routes;
  uint64_t version = 0;
  std::vector<caf::actor> channels;
  std::vector<std::unique_ptr<interceptor>> chain;
  compiled_selector selector;
  std::vector<std::shared_ptr<component_metrics>> channel_metrics;
  std::shared_ptr<component_metrics> metrics;
  static inline const char* name = "router";
};

// Takes the table's current route and a fresh interceptor chain.
void adopt(router_state& st) {
  auto now = st.routes->get();
  st.version = now.version;
  st.selector = compiled_selector{now.selector, now.names, now.channels.size()};
  st.channels = std::move(now.channels);
  st.channel_metrics = std::move(now.channel_metrics);
  st.chain.clear();
  for (auto& make : now.interceptors)
    st.chain.emplace_back(make());
}

/// The family a channel counts an optional put in that failed or found
/// the previous one still pending.
const own_family_spec optional_failed{
    "optional_failed",
    "Events of a source's optional puts this channel failed or had no room "
    "for (a selector's optional channel; the batch went on without them)."};

using retry_put_atom = caf::atom_constant<caf::atom("retryput")>;

using router_actor = caf::stateful_actor<router_state>;

void round_done(router_actor* self, std::shared_ptr<fanout> f);

/// One channel's part of a batch.
struct part {
  uint32_t index; ///< of the channel in the route
  caf::actor channel;
  batch events;
  /// Optional parts: which of the batch's optional-only events it holds
  /// (indices into optional_watch::placed).
  std::vector<uint32_t> only;
};

struct split_parts {
  std::vector<part> required, optional;
  std::size_t optional_only = 0; ///< events with optional channels only
};

/// A batch's parts under the route now: what each channel must accept
/// (required) and what it may (optional), each channel's events in batch
/// order. Events go to no channel only when the caller removed them.
using selection = std::pair<const compiled_selector::targets*,
                            const compiled_selector::targets*>;

split_parts split(router_state& st, const batch& events,
                  const std::vector<selection>* chosen = nullptr) {
  auto n = st.channels.size();
  std::vector<batch> req(n), opt(n);
  std::vector<std::vector<uint32_t>> only(n);
  split_parts out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto& e = events[i];
    // What the caller chose already (each event's choice read once).
    auto [r, o] = chosen ? (*chosen)[i] : st.selector.of(e);
    for (auto c : *r)
      req[c].push_back(e);
    for (auto c : *o)
      opt[c].push_back(e);
    if (r->empty() && !o->empty()) {
      for (auto c : *o)
        only[c].push_back(static_cast<uint32_t>(out.optional_only));
      ++out.optional_only;
    }
  }
  for (uint32_t c = 0; c < n; ++c) {
    if (!req[c].empty())
      out.required.push_back({c, st.channels[c], std::move(req[c]), {}});
    if (!opt[c].empty())
      out.optional.push_back(
          {c, st.channels[c], std::move(opt[c]), std::move(only[c])});
  }
  return out;
}

/// The sender's answer once the channels' is in and the optional-only
/// events are placed or counted.
void finish(std::shared_ptr<fanout> f, caf::error answer) {
  f->answered = true;
  f->answer = std::move(answer);
  if (f->watch && f->watch->remaining > 0) return; // the watch answers
  if (f->answer)
    f->rp.deliver(std::move(f->answer));
  else
    f->rp.deliver(ok_atom::value);
}

/// An optional channel's part: a try_put, in now or refused at once (no
/// room), never held and never waited for; a refusal or failure is counted
/// in that channel's `optional_failed`. What is pending is bounded by the
/// channel's capacity (it accepts only what fits).
void put_optional(router_actor* self, part p,
                  std::shared_ptr<optional_watch> watch) {
  auto& st = self->state;
  auto m = p.index < st.channel_metrics.size() ? st.channel_metrics[p.index]
                                               : nullptr;
  auto n = p.events.size();
  if (p.only.empty()) watch = nullptr; // this part does not concern it
  auto settle = [watch](const std::vector<uint32_t>* took) {
    if (!watch) return;
    if (took)
      for (auto i : *took)
        watch->placed[i] = 1;
    if (--watch->remaining == 0 && watch->done) {
      // Moved out first: it holds the fanout, which holds the watch.
      auto done = std::move(watch->done);
      watch->done = nullptr;
      done();
    }
  };
  self->request(p.channel, caf::infinite, try_put_atom::value,
                std::move(p.events))
      .then([settle, only = std::move(p.only)](ok_atom) { settle(&only); },
            [n, m, settle](caf::error&) {
              if (m)
                m->own(optional_failed).fetch_add(n, std::memory_order_relaxed);
              settle(nullptr);
            });
}

/// Puts each part to its channel; when all answered: ok, an error, or (a
/// channel closed by a reload) another round to where the route leads now.
void put_round(router_actor* self, std::shared_ptr<fanout> f,
               std::vector<part> parts) {
  f->remaining = parts.size();
  ++f->rounds;
  for (auto& [index, ch, events, only] : parts) {
    auto msg = f->hold ? caf::make_message(put_atom::value, std::move(events),
                                           *f->hold)
                       : caf::make_message(put_atom::value, std::move(events));
    self->request(ch, caf::infinite, std::move(msg))
        .then(
            [self, f, addr = ch.address()](ok_atom) {
              f->accepted.insert(addr);
              if (--f->remaining == 0) round_done(self, f);
            },
            [self, f, addr = ch.address()](caf::error& err) {
              if (is_error(err, errc::channel_closed)) {
                f->closed_at.insert(addr);
                // Its events back, so that the sender can have them.
                f->closed = closed_error(self->system().render(err), f->events);
              } else if (!f->failed) {
                f->failed = std::move(err);
              }
              if (--f->remaining == 0) round_done(self, f);
            });
  }
}

void round_done(router_actor* self, std::shared_ptr<fanout> f) {
  auto& st = self->state;
  if (f->failed) {
    finish(f, std::move(f->failed));
    return;
  }
  if (f->closed_at.empty()) {
    finish(f, caf::error{});
    return;
  }
  // A reload routed the source elsewhere and closed a channel it left: the
  // batch goes to the route's channels that do not have it yet. A closed
  // channel still on the route (a stop) ends it: the sender hears it.
  if (st.routes->version() != st.version) adopt(st);
  bool moved = std::none_of(st.channels.begin(), st.channels.end(),
                            [&](const caf::actor& ch) {
                              return f->closed_at.contains(ch.address());
                            });
  if (!moved || f->rounds > 100) {
    finish(f, std::move(f->closed));
    return;
  }
  f->closed_at.clear();
  self->send(self, retry_put_atom::value, f);
}

/// A put through the route: the interceptors, then the channels. The
/// events the interceptors remove are counted in `receipt` (when the
/// sender asked) before the rest goes on.
caf::result<ok_atom> route_put(router_actor* self, batch& events,
                               std::shared_ptr<put_receipt> receipt,
                               std::optional<caf::timespan> hold) {
  auto& st = self->state;
  if (st.routes->version() != st.version) adopt(st);
  std::size_t filtered = 0;
  // Events the selector sends to no channel (multiplexing: an unmapped
  // value and no default) are removed, as by a filter.
  // Each event's channels, in step with `events` (not with a plain
  // selector, whose choice is the same for every event).
  std::vector<selection> chosen;
  auto unrouted = [&] {
    if (st.selector.plain) return;
    chosen.reserve(events.size());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto choice = st.selector.of(events[i]);
      if (choice.first->empty() && choice.second->empty()) continue;
      if (kept != i) events[kept] = std::move(events[i]);
      chosen.push_back(choice);
      ++kept;
    }
    filtered += events.size() - kept;
    events.resize(kept);
  };
  try {
    filtered += apply_chain(st.chain, events);
  } catch (const std::exception& ex) {
    // A bug in an interceptor fails this batch, not the source: the
    // source counts it as dropped and names the reason.
    return make_error(errc::interceptor_failed, ex.what());
  }
  unrouted();
  // The sender counts them when it asked; a put without a receipt (tests,
  // older senders) has them counted here.
  if (receipt)
    receipt->filtered.store(filtered);
  else if (filtered > 0)
    st.metrics->events_filtered.fetch_add(filtered, std::memory_order_relaxed);
  if (events.empty()) return ok_atom::value;
  // A source's events as its channels get them: after the interceptors.
  st.metrics->tap.offer(events);
  if (st.channels.size() == 1 && st.selector.plain) {
    // The channel answers the source directly.
    if (hold)
      self->delegate(st.channels.front(), put_atom::value, std::move(events),
                     *hold);
    else
      self->delegate(st.channels.front(), put_atom::value, std::move(events));
    return caf::delegated<ok_atom>{};
  }
  auto parts = split(st, events, chosen.empty() ? nullptr : &chosen);
  auto f = std::make_shared<fanout>();
  if (parts.optional_only > 0) {
    // Answered once each of these events was taken by an optional channel
    // or counted dropped, so the sender counts it so and not accepted.
    auto w = std::make_shared<optional_watch>();
    w->placed.assign(parts.optional_only, 0);
    for (auto& p : parts.optional)
      if (!p.only.empty()) ++w->remaining;
    w->done = [f, w = w.get(), receipt, m = st.metrics,
               name = st.metrics->name] {
      auto dropped = static_cast<uint64_t>(
          std::count(w->placed.begin(), w->placed.end(), 0));
      if (dropped > 0) {
        if (receipt)
          receipt->dropped.fetch_add(dropped);
        else
          m->events_dropped.fetch_add(dropped, std::memory_order_relaxed);
        spdlog::warn("{}: {} events routed to optional channels only were "
                     "refused by all of them (full or failed): dropped, as "
                     "the selector's optional channels allow",
                     name, dropped);
      }
      if (f->answered) finish(f, std::move(f->answer));
    };
    f->watch = w;
  }
  for (auto& p : parts.optional)
    put_optional(self, std::move(p), f->watch);
  if (parts.required.empty()) {
    if (!f->watch) return ok_atom::value;
    f->rp = self->make_response_promise();
    f->answered = true; // nothing required: ok once the watch is done
    return caf::delegated<ok_atom>{};
  }
  f->rp = self->make_response_promise();
  f->hold = hold;
  f->events = std::move(events);
  put_round(self, f, std::move(parts.required));
  return caf::delegated<ok_atom>{};
}

caf::behavior router(caf::stateful_actor<router_state>* self,
                     std::shared_ptr<route_table> routes,
                     std::shared_ptr<component_metrics> metrics) {
  auto& st = self->state;
  st.routes = std::move(routes);
  st.routes->set_router(self->address());
  adopt(st);
  st.metrics = std::move(metrics);
  fail_on_exceptions(self, st.metrics, component_state::backing_off,
                     "router: ");
  return {
      [self](tick_atom) {
        adopt(self->state);
        return ok_atom::value;
      },
      [self](put_atom, batch& events) -> caf::result<ok_atom> {
        return route_put(self, events, nullptr, std::nullopt);
      },
      [self](put_atom, batch& events,
             std::shared_ptr<put_receipt>& receipt) -> caf::result<ok_atom> {
        return route_put(self, events, receipt, std::nullopt);
      },
      [self](put_atom, batch& events, std::shared_ptr<put_receipt>& receipt,
             caf::timespan hold) -> caf::result<ok_atom> {
        return route_put(self, events, receipt, hold);
      },
      [self](retry_put_atom, std::shared_ptr<fanout>& f) {
        // A channel closed in a reload: the route's channels that have not
        // accepted the batch yet get it now.
        auto& st = self->state;
        if (st.routes->version() != st.version) adopt(st);
        auto parts = std::move(split(st, f->events).required);
        std::erase_if(parts, [&](const part& p) {
          return f->accepted.contains(p.channel.address());
        });
        if (parts.empty())
          finish(f, caf::error{});
        else
          put_round(self, f, std::move(parts));
      },
  };
}

} // namespace

route_table::route_table(std::vector<caf::actor> channels,
                         std::vector<interceptor_fn> interceptors) {
  set(std::move(channels), std::move(interceptors));
}

route_table::route_table(route r) {
  set(std::move(r));
}

void route_table::set(route r) {
  std::lock_guard guard{mtx_};
  static_cast<route&>(current_) = std::move(r);
  current_.version = version_.load(std::memory_order_relaxed) + 1;
  version_.store(current_.version, std::memory_order_release);
}

void route_table::set(std::vector<caf::actor> channels,
                      std::vector<interceptor_fn> interceptors) {
  route r;
  r.channels = std::move(channels);
  r.interceptors = std::move(interceptors);
  set(std::move(r));
}

void route_table::set_router(caf::actor_addr router) {
  std::lock_guard guard{mtx_};
  router_ = std::move(router);
}

caf::actor_addr route_table::router() const {
  std::lock_guard guard{mtx_};
  return router_;
}

route_table::snapshot route_table::get() const {
  std::lock_guard guard{mtx_};
  return current_;
}

caf::actor spawn_router(caf::actor_system& sys,
                        std::shared_ptr<route_table> routes,
                        std::shared_ptr<component_metrics> metrics) {
  return sys.spawn(router, std::move(routes), std::move(metrics));
}

caf::actor spawn_router(caf::actor_system& sys,
                        std::vector<caf::actor> channels,
                        std::vector<interceptor_fn> interceptors,
                        std::shared_ptr<component_metrics> metrics) {
  return spawn_router(sys,
                      std::make_shared<route_table>(std::move(channels),
                                                    std::move(interceptors)),
                      std::move(metrics));
}

} // namespace flumen
