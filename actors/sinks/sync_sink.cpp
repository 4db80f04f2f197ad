#include "actors/sinks/sync_sink.hpp"

#include <caf/all.hpp>

#include "runtime/config/registry.hpp"
#include "runtime/flow/sink_driver.hpp"

namespace flumen::sinks {

namespace {

// A sink whose delivery is a plain call: window 1, run on the sink's own
// thread by the driver.
class sync_backend : public sink_backend {
public:
  sync_backend(deliver_fn deliver, std::function<void()> on_stop)
      : deliver_(std::move(deliver)), on_stop_(std::move(on_stop)) {}

  void deliver(const batch& events, delivery_done done,
               const batch_owner&) override {
    if (auto failure = deliver_(events))
      done(delivery_report::all_failed(events.size(), *failure));
    else
      done(delivery_report{});
  }

  void stop() override {
    if (on_stop_) on_stop_();
  }

private:
  deliver_fn deliver_;
  std::function<void()> on_stop_;
};

} // namespace

caf::actor spawn_sync_sink(caf::actor_system& sys, deliver_fn deliver,
                           const wiring& w, std::size_t batch_size,
                           std::function<void()> on_stop, bool blocking) {
  sink_driver_config cfg;
  cfg.batch_size = batch_size;
  cfg.blocking = blocking;
  return spawn_sink_driver(
      sys,
      [deliver = std::move(deliver), on_stop = std::move(on_stop)](
          sink_context&) -> std::unique_ptr<sink_backend> {
        return std::make_unique<sync_backend>(deliver, on_stop);
      },
      cfg, w);
}

} // namespace flumen::sinks
