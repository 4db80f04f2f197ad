#include "actors/sinks/sync_sink.hpp"

#include <chrono>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/protocol.hpp"

namespace flumen::sinks {

namespace {

struct sync_state {
  deliver_fn deliver;
  caf::actor channel;
  uint32_t batch_size = 0;
  std::shared_ptr<component_metrics> metrics;
  std::function<void()> on_stop;
  bool stopping = false;
  std::vector<caf::response_promise> stop_waiters;
  std::chrono::milliseconds backoff{100};
  static inline const char* name = "sync_sink";
};

using sync_actor = caf::stateful_actor<sync_state>;

void finish(sync_actor* self) {
  auto& st = self->state;
  if (st.on_stop) st.on_stop();
  st.metrics->set_state(component_state::stopped);
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  self->quit();
}

void take_next(sync_actor* self);

void next_or_finish(sync_actor* self) {
  if (self->state.stopping)
    finish(self);
  else
    take_next(self);
}

void take_next(sync_actor* self) {
  auto& st = self->state;
  self->request(st.channel, caf::infinite, take_atom::value, st.batch_size)
      .then(
          [self](txn_id id, const batch& events) {
            auto& st = self->state;
            if (events.empty()) {
              st.metrics->batches_empty.fetch_add(1, std::memory_order_relaxed);
              next_or_finish(self);
              return;
            }
            auto n = events.size();
            st.metrics->events_taken.fetch_add(n, std::memory_order_relaxed);
            auto failure = st.deliver(events);
            if (!failure) {
              self->request(st.channel, caf::infinite, commit_atom::value, id)
                  .then([self, n](ok_atom) {
                    auto& st = self->state;
                    st.metrics->events_committed.fetch_add(
                        n, std::memory_order_relaxed);
                    st.metrics->batches.fetch_add(1, std::memory_order_relaxed);
                    st.backoff = std::chrono::milliseconds{100};
                    next_or_finish(self);
                  });
              return;
            }
            spdlog::warn("{}: delivery failed ({}), rolling back {} events",
                         st.metrics->name, *failure, n);
            st.metrics->events_rolled_back.fetch_add(n,
                                                     std::memory_order_relaxed);
            self->request(st.channel, caf::infinite, rollback_atom::value, id)
                .then([self](ok_atom) {
                  auto& st = self->state;
                  if (st.stopping) {
                    finish(self);
                    return;
                  }
                  self->delayed_send(self, st.backoff, tick_atom::value);
                  st.backoff = std::min(st.backoff * 2,
                                        std::chrono::milliseconds{30000});
                });
          },
          [self](caf::error& err) {
            // The channel is gone or refused: let the supervisor decide.
            self->quit(std::move(err));
          });
}

caf::behavior sync_sink(sync_actor* self, deliver_fn deliver,
                        caf::actor channel, std::size_t batch_size,
                        std::shared_ptr<component_metrics> metrics,
                        std::function<void()> on_stop) {
  auto& st = self->state;
  st.deliver = std::move(deliver);
  st.channel = std::move(channel);
  st.batch_size = static_cast<uint32_t>(batch_size);
  st.metrics = std::move(metrics);
  st.on_stop = std::move(on_stop);
  st.metrics->set_state(component_state::running);
  // A take the channel holds is never answered if the channel dies (CAF 0.17
  // drops pending promises): go down with it, so the supervisor decides.
  self->monitor(st.channel);
  self->set_down_handler([self](const caf::down_msg& dm) {
    self->quit(make_error(errc::channel_closed,
                          "channel down: " + self->system().render(dm.reason)));
  });
  take_next(self);
  return {
      [self](tick_atom) { take_next(self); },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        st.stopping = true;
        st.stop_waiters.push_back(self->make_response_promise());
        return caf::delegated<ok_atom>{};
      },
  };
}

} // namespace

caf::actor spawn_sync_sink(caf::actor_system& sys, deliver_fn deliver,
                           caf::actor channel, std::size_t batch_size,
                           std::shared_ptr<component_metrics> metrics,
                           std::function<void()> on_stop) {
  return sys.spawn(sync_sink, std::move(deliver), std::move(channel),
                   batch_size, std::move(metrics), std::move(on_stop));
}

} // namespace flumen::sinks
