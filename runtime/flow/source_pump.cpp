#include "runtime/flow/source_pump.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/core/signals.hpp"
#include "runtime/flow/protocol.hpp"

namespace flumen {

using done_atom = caf::atom_constant<caf::atom("done")>;

source_pump::source_pump(std::size_t max_inflight, std::shared_ptr<clock> time)
    : max_inflight_(max_inflight == 0 ? 1 : max_inflight),
      time_(time ? std::move(time) : real_clock()) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

source_pump::~source_pump() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void source_pump::bind(caf::actor self,
                       std::shared_ptr<component_metrics> metrics) {
  self_ = std::make_unique<caf::actor>(std::move(self));
  metrics_ = std::move(metrics);
}

bool source_pump::emit(batch&& events) {
  if (events.empty()) return !aborted();
  return emit_numbered(std::move(events)) != 0;
}

uint64_t source_pump::emit_numbered(batch&& events) {
  if (events.empty()) return 0;
  uint64_t number = 0;
  metrics_->events_received.fetch_add(events.size(), std::memory_order_relaxed);
  {
    std::unique_lock guard{mtx_};
    time_->wait(guard, cv_,
                [this] { return inflight_ < max_inflight_ || aborted(); });
    if (aborted()) {
      // Read from outside and never accepted: counted, never silent.
      metrics_->events_undelivered.fetch_add(events.size(),
                                             std::memory_order_relaxed);
      return 0;
    }
    ++inflight_;
    number = ++batches_emitted_;
  }
  emitted_.fetch_add(events.size(), std::memory_order_relaxed);
  // Sent from this one thread, batches reach the actor in number order.
  caf::anon_send(*self_, emit_atom::value, std::move(events));
  return number;
}

void source_pump::accepted(uint64_t number) {
  {
    std::lock_guard guard{mtx_};
    acceptances_.fetch_add(1);
    auto below = accepted_below_.load();
    if (number != below) {
      // Out of order: a reader waiting for this one (wait_accepted_until)
      // is woken too.
      accepted_ahead_.insert(number);
    } else {
      ++below;
      while (!accepted_ahead_.empty() && *accepted_ahead_.begin() == below) {
        accepted_ahead_.erase(accepted_ahead_.begin());
        ++below;
      }
      accepted_below_ = below;
    }
  }
  cv_.notify_all();
}

bool source_pump::wait_accepted(uint64_t number) {
  std::unique_lock guard{mtx_};
  time_->wait(guard, cv_,
              [&] { return accepted_below_.load() > number || aborted(); });
  return accepted_below_.load() > number;
}

bool source_pump::has_room() {
  std::lock_guard guard{mtx_};
  return inflight_ < max_inflight_ && !aborted();
}

bool source_pump::wait_room_until(
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock guard{mtx_};
  cv_.wait_until(guard, deadline,
                 [this] { return inflight_ < max_inflight_ || aborted(); });
  return inflight_ < max_inflight_ && !aborted();
}

bool source_pump::is_accepted(uint64_t number) {
  std::lock_guard guard{mtx_};
  return number < accepted_below_.load() || accepted_ahead_.contains(number);
}

bool source_pump::wait_accepted_until(
    const std::vector<uint64_t>& numbers,
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock guard{mtx_};
  auto all = [&] {
    for (auto n : numbers)
      if (n >= accepted_below_.load() && !accepted_ahead_.contains(n))
        return false;
    return true;
  };
  cv_.wait_until(guard, deadline, [&] { return all() || aborted(); });
  return all();
}

bool source_pump::wait_idle() {
  std::unique_lock guard{mtx_};
  time_->wait(guard, cv_, [this] { return inflight_ == 0 || aborted(); });
  return inflight_ == 0;
}

void source_pump::release() {
  {
    std::lock_guard guard{mtx_};
    --inflight_;
  }
  cv_.notify_all();
}

bool source_pump::sleep_for(std::chrono::milliseconds d) {
  pollfd p{wake_fd_, POLLIN, 0};
  time_->poll(&p, 1, time_->now() + d);
  return !stopping() && !aborted();
}

void source_pump::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void source_pump::request_stop() {
  stopping_ = true;
  wake();
}

void source_pump::abort() {
  {
    std::lock_guard guard{mtx_};
    aborted_ = true;
  }
  cv_.notify_all();
  wake();
}

namespace {

/// Reader threads that had not returned when their source ended (it was
/// killed, or its downstream went down, with the reader still reading): a
/// source runs on CAF's scheduler, whose workers must not wait for one. The
/// abort makes each return soon; they are joined at the next hand-over and
/// at exit at the latest (the stop's own deadline bounds that).
class reader_reaper {
public:
  static void adopt(std::thread t, std::shared_ptr<source_pump> pump) {
    auto& r = instance();
    std::lock_guard guard{r.mtx_};
    // Those that returned since: joined now, so a source failing over and
    // over leaves no threads behind.
    std::erase_if(r.threads_, [](auto& e) {
      if (!e.second->has_reader_exited()) return false;
      e.first.join();
      return true;
    });
    r.threads_.emplace_back(std::move(t), std::move(pump));
  }

  ~reader_reaper() {
    for (auto& e : threads_)
      if (e.first.joinable()) e.first.join();
  }

private:
  static reader_reaper& instance() {
    static reader_reaper r;
    return r;
  }

  std::mutex mtx_;
  std::vector<std::pair<std::thread, std::shared_ptr<source_pump>>> threads_;
};

struct source_state {
  std::shared_ptr<source_pump> pump;
  std::thread reader;
  caf::actor downstream;
  std::shared_ptr<component_metrics> metrics;
  std::size_t inflight = 0;
  uint64_t forwarded = 0;         ///< events of emitted batches put downstream
  uint64_t batches_forwarded = 0; ///< numbers them as the pump does
  bool reader_done = false;
  bool stopping = false; ///< asked to stop: a closed channel is not retried
  uint64_t refused_at_stop = 0; ///< events closed channels refused at a stop
  std::vector<caf::response_promise> stop_waiters;
  static inline const char* name = "source";

  ~source_state() {
    if (pump) pump->abort();
    if (reader.joinable()) {
      if (!pump || pump->has_reader_exited())
        reader.join();
      else
        reader_reaper::adopt(std::move(reader), pump);
    }
    // Batches the reader handed over that this actor never forwarded died
    // in its mailbox: read, never accepted, and counted as such. (Its puts
    // not answered yet are its channels' to count: one a channel holds for
    // room goes in later, or is counted by the channel if it closes first.)
    if (pump && metrics && pump->emitted() > forwarded)
      metrics->events_undelivered.fetch_add(pump->emitted() - forwarded,
                                            std::memory_order_relaxed);
  }
};

using source_actor = caf::stateful_actor<source_state>;

void maybe_finished(source_actor* self) {
  auto& st = self->state;
  if (!st.reader_done || st.inflight != 0) return;
  if (st.refused_at_stop > 0)
    spdlog::warn("{}: {} events read were not accepted before the stop (the "
                 "channels were full and closed)",
                 st.metrics->name, std::exchange(st.refused_at_stop, 0));
  st.metrics->set_state(component_state::stopped);
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  st.stop_waiters.clear();
}

using retry_put_atom = caf::atom_constant<caf::atom("retryput")>;

/// Puts batch `number` (again, after a closed channel: `attempt` > 0).
void send_put(source_actor* self, batch events, uint64_t number,
              unsigned attempt) {
  auto n = events.size();
  auto receipt = std::make_shared<put_receipt>();
  self->request(self->state.downstream, caf::infinite, put_atom::value,
                std::move(events), receipt)
      .then(
          [self, n, number, receipt](ok_atom) {
            auto& st = self->state;
            // What the interceptors removed is filtered, what the route
            // could put nowhere (optional channels only, all refused)
            // dropped, the rest accepted.
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            st.metrics->events_filtered.fetch_add(filtered,
                                                  std::memory_order_relaxed);
            st.metrics->events_dropped.fetch_add(dropped,
                                                 std::memory_order_relaxed);
            st.metrics->events_accepted.fetch_add(n - filtered - dropped,
                                                  std::memory_order_relaxed);
            st.metrics->batches.fetch_add(1, std::memory_order_relaxed);
            --st.inflight;
            st.pump->accepted(number);
            st.pump->release();
            maybe_finished(self);
          },
          [self, n, number, attempt, receipt](caf::error& err) mutable {
            auto& st = self->state;
            // Removed by the interceptors before the put failed: filtered
            // all the same; what follows is about the rest.
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            st.metrics->events_filtered.fetch_add(filtered,
                                                  std::memory_order_relaxed);
            st.metrics->events_dropped.fetch_add(dropped,
                                                 std::memory_order_relaxed);
            n -= filtered + dropped;
            if (is_error(err, errc::channel_closed) && !st.stopping) {
              if (auto back = closed_events(err); back.size() == n) {
                // A reload closed the channel: its route leads elsewhere
                // now (the router takes the new one), so the same events
                // go there, after a short pause.
                if (attempt == 0)
                  spdlog::info("{}: {}; putting {} events where the route "
                               "leads now",
                               st.metrics->name, self->system().render(err), n);
                auto delay = std::chrono::milliseconds{std::min<int64_t>(
                    1000, int64_t{20} << std::min(attempt, 6u))};
                self->delayed_send(self, delay, retry_put_atom::value,
                                   std::move(back), number, attempt + 1);
                return;
              }
            }
            --st.inflight;
            if (err.category() == caf::atom("flumen") &&
                err.code() == static_cast<uint8_t>(errc::interceptor_failed)) {
              // Dropped by policy and counted: done with, as far as a
              // reader's positions go (it is never read again).
              st.pump->accepted(number);
              st.pump->release();
              // An interceptor threw on this batch: it can't pass, and
              // retrying the same events would throw again. Counted, named.
              auto why = self->system().render(err);
              spdlog::error("{}: an interceptor failed on {} events, "
                            "dropped: {}",
                            st.metrics->name, n, why);
              st.metrics->events_dropped.fetch_add(n,
                                                   std::memory_order_relaxed);
              maybe_finished(self);
              return;
            }
            st.pump->release();
            // The channel or router is gone: these events are lost with the
            // source's restart, and said so.
            st.metrics->events_undelivered.fetch_add(n,
                                                     std::memory_order_relaxed);
            if (st.stopping && is_error(err, errc::channel_closed)) {
              // The agent stops and closed the channel: counted (and said
              // once, at the end), done. (Not `accepted`: a file source's
              // position stays before them, so the next start reads them
              // again.)
              st.refused_at_stop += n;
              maybe_finished(self);
              return;
            }
            spdlog::error("{}: put of {} events failed ({}); restarting",
                          st.metrics->name, n, self->system().render(err));
            self->quit(std::move(err));
          });
}

void put_downstream(source_actor* self, batch events) {
  auto number = ++self->state.batches_forwarded;
  send_put(self, std::move(events), number, 0);
}

caf::behavior source(source_actor* self, reader_fn reader,
                     caf::actor downstream,
                     std::shared_ptr<component_metrics> metrics,
                     std::size_t max_inflight, std::shared_ptr<clock> time) {
  auto& st = self->state;
  st.downstream = std::move(downstream);
  st.metrics = metrics;
  st.pump = std::make_shared<source_pump>(max_inflight, std::move(time));
  st.pump->bind(caf::actor_cast<caf::actor>(self), metrics);
  st.metrics->set_state(component_state::running);
  // Without its downstream (router or channel) a source can only lose what
  // it reads: go down with it, so the supervisor restarts both.
  self->monitor(st.downstream);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.downstream.address())
      self->quit(
          make_error(errc::channel_closed,
                     "downstream down: " + self->system().render(dm.reason)));
  });
  self->set_exception_handler([self](std::exception_ptr& eptr) {
    return make_error(errc::component_failed, describe(eptr));
  });
  auto hdl = caf::actor_cast<caf::actor>(self);
  st.reader = std::thread{[pump = st.pump, reader = std::move(reader), hdl] {
    // The stop signals are waited for by the command's main thread
    // (app/cli.cpp): a reader never takes one, whichever thread started it
    // (a CAF worker's mask is whatever it was when the system started).
    auto stop = stop_signals();
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    try {
      reader(*pump);
    } catch (const std::exception& ex) {
      spdlog::error("{}: reader failed: {}", pump->metrics().name, ex.what());
      pump->metrics().set_state(component_state::backing_off, ex.what());
      caf::anon_send(
          hdl, caf::exit_msg{hdl.address(),
                             make_error(errc::component_failed, ex.what())});
      pump->reader_exited();
      return;
    }
    caf::anon_send(hdl, done_atom::value);
    pump->reader_exited();
  }};
  return {
      [self](emit_atom, batch& events) {
        ++self->state.inflight;
        self->state.forwarded += events.size();
        put_downstream(self, std::move(events));
      },
      [self](done_atom) {
        self->state.reader_done = true;
        maybe_finished(self);
      },
      [self](retry_put_atom, batch& events, uint64_t number, unsigned attempt) {
        send_put(self, std::move(events), number, attempt);
      },
      [](tick_atom) {
        // A round trip: answered after everything the source got before
        // (a test orders its checks with it).
        return ok_atom::value;
      },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        st.stopping = true;
        st.pump->request_stop();
        if (st.reader_done && st.inflight == 0) return ok_atom::value;
        st.stop_waiters.push_back(self->make_response_promise());
        return caf::delegated<ok_atom>{};
      },
  };
}

} // namespace

caf::actor spawn_source(caf::actor_system& sys, reader_fn reader,
                        caf::actor downstream,
                        std::shared_ptr<component_metrics> metrics,
                        std::size_t max_inflight, std::shared_ptr<clock> time) {
  // On CAF's scheduler: the actor only relays (its reader thread does the
  // blocking I/O), and a thread of its own was woken twice for every batch
  // (the reader's emit, the put's answer). It never waits for its reader
  // (reader_reaper).
  return sys.spawn(source, std::move(reader), std::move(downstream),
                   std::move(metrics), max_inflight, std::move(time));
}

} // namespace flumen
