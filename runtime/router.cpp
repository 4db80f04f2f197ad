#include "runtime/router.hpp"

#include <caf/all.hpp>

#include "runtime/protocol.hpp"

namespace flumen {

namespace {

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
        auto& st = self->state;
        if (st.routes->version() != st.version) adopt(st);
        try {
          // Most interceptors add a header each: room for them at once
          // instead of a reallocation every few (10 interceptors: 2.7 ->
          // 3.x M events/s, bench/README.md).
          if (st.chain.size() > 1)
            for (auto& e : events)
              e.headers.reserve(e.headers.size() + st.chain.size());
          for (auto& stage : st.chain)
            stage->apply(events);
        } catch (const std::exception& ex) {
          // A bug in an interceptor fails this batch, not the source: the
          // source counts it as dropped and names the reason.
          return make_error(errc::interceptor_failed, ex.what());
        }
        if (events.empty()) return ok_atom::value;
        // A source's events as its channels get them: after the interceptors.
        st.metrics->tap.offer(events);
        if (st.channels.size() == 1) {
          // The channel answers the source directly.
          self->delegate(st.channels.front(), put_atom::value,
                         std::move(events));
          return caf::delegated<ok_atom>{};
        }
        auto rp = self->make_response_promise();
        auto remaining = std::make_shared<std::size_t>(st.channels.size());
        for (auto& ch : st.channels)
          self->request(ch, caf::infinite, put_atom::value, events)
              .then(
                  [rp, remaining](ok_atom) mutable {
                    if (--*remaining == 0 && rp.pending())
                      rp.deliver(ok_atom::value);
                  },
                  [rp](caf::error& err) mutable {
                    if (rp.pending()) rp.deliver(std::move(err));
                  });
        return caf::delegated<ok_atom>{};
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
