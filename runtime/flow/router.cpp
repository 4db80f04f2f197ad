#include "runtime/flow/router.hpp"

#include <algorithm>
#include <set>

#include <caf/all.hpp>

#include "runtime/flow/protocol.hpp"

namespace flumen::detail {

/// A batch on its way to several channels: answered once every one
/// accepted it.
struct fanout {
  caf::response_promise rp;
  batch events;
  std::set<caf::actor_addr> accepted;
  std::size_t remaining = 0;
  caf::error failed; ///< the first error other than a closed channel
  caf::error closed; ///< a closed channel's (the batch may go elsewhere)
  std::set<caf::actor_addr> closed_at;
  unsigned rounds = 0;
};

} // namespace flumen::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::detail::fanout>)

namespace flumen {

namespace {

using detail::fanout;

struct router_state {
  std::shared_ptr<route_table> routes;
  uint64_t version = 0;
  std::vector<caf::actor> channels;
  std::vector<std::unique_ptr<interceptor>> chain;
  std::shared_ptr<component_metrics> metrics;
  static inline const char* name = "router";
};

// Takes the table's current channels and a fresh interceptor chain.
void adopt(router_state& st) {
  auto now = st.routes->get();
  st.version = now.version;
  st.channels = std::move(now.channels);
  st.chain.clear();
  for (auto& make : now.interceptors)
    st.chain.emplace_back(make());
}

using retry_put_atom = caf::atom_constant<caf::atom("retryput")>;

using router_actor = caf::stateful_actor<router_state>;

void round_done(router_actor* self, std::shared_ptr<fanout> f);

/// Puts the batch to `targets`; when all answered: ok, an error, or (a
/// channel closed by a reload) another round to where the route leads now.
void put_round(router_actor* self, std::shared_ptr<fanout> f,
               const std::vector<caf::actor>& targets) {
  f->remaining = targets.size();
  ++f->rounds;
  for (auto& ch : targets)
    self->request(ch, caf::infinite, put_atom::value, f->events)
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

void round_done(router_actor* self, std::shared_ptr<fanout> f) {
  auto& st = self->state;
  if (f->failed) {
    f->rp.deliver(std::move(f->failed));
    return;
  }
  if (f->closed_at.empty()) {
    f->rp.deliver(ok_atom::value);
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
    f->rp.deliver(std::move(f->closed));
    return;
  }
  f->closed_at.clear();
  self->send(self, retry_put_atom::value, f);
}

/// A put through the route: the interceptors, then the channels. The
/// events the interceptors remove are counted in `receipt` (when the
/// sender asked) before the rest goes on.
caf::result<ok_atom> route_put(router_actor* self, batch& events,
                               put_receipt* receipt) {
  auto& st = self->state;
  if (st.routes->version() != st.version) adopt(st);
  std::size_t filtered = 0;
  try {
    // Most interceptors add a header each: room for them at once instead
    // of a reallocation every few (10 interceptors: 2.7 -> 3.x M events/s,
    // bench/README.md).
    if (st.chain.size() > 1)
      for (auto& e : events)
        e.headers.reserve(e.headers.size() + st.chain.size());
    for (auto& stage : st.chain) {
      auto n = events.size();
      auto removed = stage->apply(events);
      if (events.size() > n || n - events.size() != removed)
        throw std::logic_error(
            "an interceptor said it removed " + std::to_string(removed) +
            " events of " + std::to_string(n) + ", and " + std::to_string(n) +
            " became " + std::to_string(events.size()));
      filtered += removed;
    }
  } catch (const std::exception& ex) {
    // A bug in an interceptor fails this batch, not the source: the
    // source counts it as dropped and names the reason.
    return make_error(errc::interceptor_failed, ex.what());
  }
  // The sender counts them when it asked; a put without a receipt (tests,
  // older senders) has them counted here.
  if (receipt)
    receipt->filtered.store(filtered);
  else if (filtered > 0)
    st.metrics->events_filtered.fetch_add(filtered, std::memory_order_relaxed);
  if (events.empty()) return ok_atom::value;
  // A source's events as its channels get them: after the interceptors.
  st.metrics->tap.offer(events);
  if (st.channels.size() == 1) {
    // The channel answers the source directly.
    self->delegate(st.channels.front(), put_atom::value, std::move(events));
    return caf::delegated<ok_atom>{};
  }
  auto f = std::make_shared<fanout>();
  f->rp = self->make_response_promise();
  f->events = std::move(events);
  put_round(self, f, st.channels);
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
        return route_put(self, events, nullptr);
      },
      [self](put_atom, batch& events,
             std::shared_ptr<put_receipt>& receipt) -> caf::result<ok_atom> {
        return route_put(self, events, receipt.get());
      },
      [self](retry_put_atom, std::shared_ptr<fanout>& f) {
        // A channel closed in a reload: the route's channels that have not
        // accepted the batch yet get it now.
        auto& st = self->state;
        if (st.routes->version() != st.version) adopt(st);
        std::vector<caf::actor> missing;
        for (auto& ch : st.channels)
          if (!f->accepted.contains(ch.address())) missing.push_back(ch);
        if (missing.empty())
          f->rp.deliver(ok_atom::value);
        else
          put_round(self, f, missing);
      },
  };
}

} // namespace

route_table::route_table(std::vector<caf::actor> channels,
                         std::vector<interceptor_fn> interceptors) {
  set(std::move(channels), std::move(interceptors));
}

void route_table::set(std::vector<caf::actor> channels,
                      std::vector<interceptor_fn> interceptors) {
  std::lock_guard guard{mtx_};
  current_.channels = std::move(channels);
  current_.interceptors = std::move(interceptors);
  current_.version = version_.load(std::memory_order_relaxed) + 1;
  version_.store(current_.version, std::memory_order_release);
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
