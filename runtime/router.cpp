#include "runtime/router.hpp"

#include <caf/all.hpp>

#include "runtime/protocol.hpp"

namespace flumen {

namespace {

struct router_state {
  std::vector<caf::actor> channels;
  std::vector<std::unique_ptr<interceptor>> chain;
  std::shared_ptr<component_metrics> metrics;
  static inline const char* name = "router";
};

caf::behavior router(caf::stateful_actor<router_state>* self,
                     std::vector<caf::actor> channels,
                     std::vector<interceptor_fn> interceptors,
                     std::shared_ptr<component_metrics> metrics) {
  auto& st = self->state;
  st.channels = std::move(channels);
  for (auto& make : interceptors)
    st.chain.emplace_back(make());
  st.metrics = std::move(metrics);
  fail_on_exceptions(self, st.metrics, component_state::backing_off,
                     "router: ");
  return {
      [self](put_atom, batch& events) -> caf::result<ok_atom> {
        auto& st = self->state;
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

caf::actor spawn_router(caf::actor_system& sys,
                        std::vector<caf::actor> channels,
                        std::vector<interceptor_fn> interceptors,
                        std::shared_ptr<component_metrics> metrics) {
  return sys.spawn(router, std::move(channels), std::move(interceptors),
                   std::move(metrics));
}

} // namespace flumen
