#include "runtime/flow/sink_driver.hpp"

#include <atomic>
#include <deque>
#include <random>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/config/registry.hpp"
#include "runtime/core/backoff.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/flow/sink_gate.hpp"

namespace flumen {

delivery_report delivery_report::all_failed(std::size_t n, std::string why) {
  delivery_report r;
  r.retry.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    r.retry[i] = static_cast<uint32_t>(i);
  r.reason = std::move(why);
  return r;
}

delivery_report delivery_report::fatal_error(std::string why) {
  delivery_report r;
  r.fatal = true;
  r.reason = std::move(why);
  return r;
}

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;

using clock = window_estimate::clock;

/// One batch in the window, in take order.
struct slot {
  uint64_t seq = 0;
  txn_id id = 0;
  std::size_t count = 0;
  std::size_t bytes = 0; ///< event_bytes of its events
  clock::time_point sent{};
  bool done = false;
  delivery_report report;
};

struct driver_state {
  sink_driver_config cfg;
  caf::actor channel;
  caf::actor dead_letter;
  std::shared_ptr<component_metrics> metrics;
  std::unique_ptr<sink_backend> backend;
  std::unique_ptr<sink_context> context;
  std::size_t window = 1;
  std::deque<slot> slots;
  /// Rolled back while their delivery still runs: they hold a place in the
  /// window (the client's queue is sized for it) until their report is in.
  std::vector<std::pair<uint64_t, std::size_t>> abandoned; ///< seq, bytes
  /// Bytes of the batches in flight, abandoned ones included (the backend
  /// may still refer to them).
  std::size_t inflight_bytes = 0;
  window_estimate estimate;
  uint64_t next_seq = 1;
  bool taking = false;
  bool quitting = false; ///< quit() was called: request nothing new
  /// Counts failed batches: a take answered after one (requested before it)
  /// is rolled back, not delivered.
  uint64_t epoch = 0;
  bool settling = false; // the head's settlement waits for a dead-letter put
  /// Commits sent and not answered yet: a stop waits for them, so the
  /// channel no longer counts their events when the agent adds up losses.
  std::size_t commits = 0;
  bool paused = false; // backing off after a failed batch
  /// A sink group's gate (may be null), this sink's index in it, and
  /// whether a recheck of it is on its way.
  std::shared_ptr<sink_gate> gate;
  std::size_t member = 0;
  bool gate_recheck = false;
  bool stopping = false;
  bool finished = false;
  std::vector<caf::response_promise> stop_waiters;
  backoff_policy backoff;
  std::minstd_rand rng{std::random_device{}()};
  static inline const char* name = "sink";

  ~driver_state() {
    // Killed (not stopped): the channel rolls back what this sink held.
    backend.reset();
  }
};

using driver_actor = caf::stateful_actor<driver_state>;

class driver_context : public sink_context {
public:
  explicit driver_context(caf::actor self) : self_(std::move(self)) {}
  void fail(std::string why) override {
    caf::anon_send(self_, fail_atom::value, std::move(why));
  }

private:
  caf::actor self_;
};

void pump(driver_actor* self);
void settle_head(driver_actor* self);

// Quits for good: nothing new is requested from now on. In CAF 0.17 a
// request made after quit() keeps the actor alive until it is answered
// (checked with a small program): the take that followed a failed sink's
// quit() kept it alive, so it never went down and was never restarted.
void die(driver_actor* self, caf::error err) {
  // A group's member that fails is passed over while it restarts.
  if (err && self->state.gate && !self->state.quitting)
    self->state.gate->failed(self->state.member, self->clock().now());
  self->state.quitting = true;
  self->quit(std::move(err));
}

/// Rare requests to the channel have a bound as well: a channel that died
/// holding a request never answers it (CAF 0.17 drops pending promises).
/// Takes and commits, one of each per transaction, have none: the driver
/// monitors its channel and ends when it goes down, and a timeout per
/// request is an entry in CAF's clock and a wakeup of its thread per
/// transaction (a seventh of the pipeline's context switches at 100 B).
constexpr auto request_bound = std::chrono::seconds{30};
constexpr auto hot_request_bound = caf::infinite;

// A rollback as a request: the channel's answer must come back as a
// response (a plain send would get it as an unexpected message).
void roll_back(driver_actor* self, txn_id id) {
  self->request(self->state.channel, request_bound, rollback_atom::value, id)
      .then([](ok_atom) {}, [self](caf::error& err) { die(self, err); });
}

void finish_if_idle(driver_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.finished || st.taking || st.settling ||
      st.commits != 0 || !st.slots.empty())
    return;
  st.finished = true;
  try {
    if (st.backend) st.backend->stop();
  } catch (const std::exception& ex) {
    spdlog::warn("{}: stopping: {}", st.metrics->name, ex.what());
  }
  st.metrics->set_state(component_state::stopped);
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  st.stop_waiters.clear();
  die(self, caf::error{});
}

void quit_with(driver_actor* self, errc code, const std::string& why) {
  // The channel rolls back every transaction this sink holds when it sees
  // it go down, in the order they were taken.
  self->state.metrics->set_state(component_state::backing_off, why);
  die(self, make_error(code, why));
}

// The take's reply as the channel sent it, so a backend may keep referring
// to the events after the call: null when this message holds its own copy
// (then nobody else could keep it unchanged).
batch_owner owner_of(driver_actor* self, const batch& events) {
  auto* element = self->current_mailbox_element();
  if (!element) return nullptr;
  auto msg = element->copy_content_to_message();
  if (msg.size() != 2 || !msg.match_element<batch>(1) ||
      &msg.get_as<batch>(1) != &events)
    return nullptr;
  return std::make_shared<caf::message>(std::move(msg));
}

void deliver(driver_actor* self, txn_id id, const batch& events) {
  auto& st = self->state;
  auto seq = st.next_seq++;
  std::size_t bytes = st.cfg.max_inflight_bytes != 0 ? event_bytes(events) : 0;
  st.inflight_bytes += bytes;
  st.slots.push_back(
      slot{seq, id, events.size(), bytes, clock::now(), false, {}});
  auto hdl = caf::actor_cast<caf::actor>(self);
  delivery_done done = [hdl, seq](delivery_report r) {
    caf::anon_send(hdl, delivered_atom::value, seq, std::move(r));
  };
  try {
    st.backend->deliver(events, std::move(done), owner_of(self, events));
  } catch (const std::exception& ex) {
    caf::anon_send(hdl, delivered_atom::value, seq,
                   delivery_report::all_failed(events.size(), ex.what()));
  }
}

std::atomic<std::size_t> take_bytes_bound{0};

// The take's request: bounded in bytes too when the sink or the process
// says so.
auto request_take(driver_actor* self) {
  auto& st = self->state;
  auto max = static_cast<uint32_t>(st.cfg.batch_size);
  auto bytes = st.cfg.batch_bytes;
  if (auto cap = take_bytes_bound.load(std::memory_order_relaxed);
      cap != 0 && (bytes == 0 || bytes > cap))
    bytes = cap;
  if (bytes == 0)
    return self->request(st.channel, hot_request_bound, take_atom::value, max);
  return self->request(st.channel, hot_request_bound, take_atom::value, max,
                       static_cast<uint64_t>(bytes));
}

bool window_full(const driver_state& st) {
  if (st.slots.size() + st.abandoned.size() >= st.window) return true;
  if (st.cfg.max_inflight_bytes == 0 || st.inflight_bytes == 0) return false;
  auto floor = 2 * std::max<std::size_t>(st.cfg.batch_bytes, 1);
  return st.inflight_bytes >=
         st.estimate.target(floor, st.cfg.max_inflight_bytes);
}

void pump(driver_actor* self) {
  auto& st = self->state;
  if (st.quitting || st.taking || st.paused || st.stopping || window_full(st))
    return;
  if (st.gate) {
    // A sink group's member takes only when the group's processor says
    // so; else the gate wakes it, or it asks again after `recheck`.
    std::chrono::milliseconds recheck{500};
    if (!st.gate->may_take(st.member, self->clock().now(),
                           caf::actor_cast<caf::actor>(self), recheck)) {
      if (!st.gate_recheck) {
        st.gate_recheck = true;
        self->delayed_send(self, recheck, gate_atom::value);
      }
      return;
    }
  }
  st.taking = true;
  request_take(self).then(
      [self, epoch = st.epoch](txn_id id, const batch& events) {
        auto& st = self->state;
        st.taking = false;
        if (st.gate)
          st.gate->took(st.member,
                        epoch != st.epoch || st.stopping ? 0 : events.size());
        if (st.quitting) return; // the channel rolls back what we hold
        if (!events.empty() && (epoch != st.epoch || st.stopping)) {
          // Taken before a batch failed (its events went back to the
          // head, ahead of these) or while stopping: back they go
          // too, undelivered, so the order holds.
          st.metrics->events_rolled_back.fetch_add(events.size(),
                                                   std::memory_order_relaxed);
          roll_back(self, id);
        } else if (events.empty()) {
          st.metrics->batches_empty.fetch_add(1, std::memory_order_relaxed);
        } else {
          st.metrics->events_taken.fetch_add(events.size(),
                                             std::memory_order_relaxed);
          st.metrics->tap.offer(events);
          deliver(self, id, events);
        }
        pump(self);
        finish_if_idle(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.taking = false;
        die(self, std::move(err));
      });
}

std::chrono::milliseconds jittered(driver_state& st,
                                   std::chrono::milliseconds d) {
  // ±20 %: sinks of several agents that lost the same destination don't
  // all come back in the same instant.
  std::uniform_real_distribution<double> jitter{0.8, 1.2};
  return std::chrono::milliseconds{
      static_cast<int64_t>(static_cast<double>(d.count()) * jitter(st.rng))};
}

// Rolls back every batch after the head, newest first; their reports, when
// they come, are ignored.
void abandon_rest(driver_actor* self) {
  auto& st = self->state;
  while (!st.slots.empty()) {
    auto s = std::move(st.slots.back());
    st.slots.pop_back();
    if (!s.done) {
      st.abandoned.emplace_back(s.seq, s.bytes);
    } else {
      st.inflight_bytes -= s.bytes;
    }
    st.metrics->events_rolled_back.fetch_add(s.count,
                                             std::memory_order_relaxed);
    roll_back(self, s.id);
  }
}

// The last step of a head batch: one message to the channel.
void commit(driver_actor* self, slot s, std::size_t delivered) {
  auto& st = self->state;
  auto retry = std::move(s.report.retry);
  auto n_retry = retry.size();
  auto on_ok = [self, delivered, n_retry](ok_atom) {
    auto& st = self->state;
    --st.commits;
    // Only a batch that reached its destination says it is healthy again;
    // one whose events were all refused for good says nothing about it.
    // The state comes first: a reader that sees these events committed
    // (snapshot: counters, acquire fence, state) sees it running too.
    if (n_retry == 0 && delivered > 0) {
      st.backoff.reset();
      if (st.gate) st.gate->succeeded(st.member, self->clock().now());
      // Delivered: it reached its destination, however it learned of it.
      if (st.metrics->never_connected()) st.metrics->connected();
      auto now = st.metrics->current_state();
      if (now == component_state::degraded ||
          now == component_state::connecting ||
          now == component_state::starting)
        st.metrics->set_state(component_state::running);
    }
    st.metrics->batches.fetch_add(1, std::memory_order_relaxed);
    st.metrics->events_committed.fetch_add(delivered,
                                           std::memory_order_release);
    finish_if_idle(self);
  };
  auto on_err = [self](caf::error& err) { die(self, std::move(err)); };
  if (n_retry > 0) {
    // Everything taken after these events goes back first, so the channel
    // holds them in order before the put-back frees room (and serves a
    // waiting take); a take answered from now on is stale (epoch).
    ++st.epoch;
    abandon_rest(self);
  }
  ++st.commits;
  if (retry.empty())
    self->request(st.channel, hot_request_bound, commit_atom::value, s.id)
        .then(on_ok, on_err);
  else
    self->request(st.channel, hot_request_bound, commit_atom::value, s.id,
                  std::move(retry))
        .then(on_ok, on_err);
  if (n_retry == 0) return;
  // The sink waits before taking again; in a group, another takes.
  if (st.gate) st.gate->failed(st.member, self->clock().now());
  st.metrics->events_rolled_back.fetch_add(n_retry, std::memory_order_relaxed);
  // The actor system's clock (virtual on CAF's test coordinator), as the
  // delayed tick below.
  auto delay = jittered(st, st.backoff.on_failure(self->clock().now()));
  spdlog::warn("{}: {} of {} events not delivered ({}); retrying in {} ms",
               st.metrics->name, n_retry, s.count, s.report.reason,
               delay.count());
  st.metrics->set_state(component_state::degraded, s.report.reason);
  if (!st.paused) {
    st.paused = true;
    self->delayed_send(self, delay, tick_atom::value);
  }
}

std::string now_ms() {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

// The head batch has events Kafka (or another destination) refuses for
// good: they follow on_permanent_error, then the batch commits.
void settle_rejected(driver_actor* self, slot s) {
  auto& st = self->state;
  auto& rejected = s.report.rejected;
  auto delivered = s.count - rejected.size() - s.report.retry.size();
  if (st.cfg.on_permanent_error == permanent_error_policy::fail) {
    auto why = "an event is refused for good: " + rejected.front().reason;
    spdlog::error("{}: {}; on_permanent_error is fail, stopping the sink",
                  st.metrics->name, why);
    quit_with(self, errc::delivery_failed, why);
    return;
  }
  if (st.cfg.on_permanent_error == permanent_error_policy::drop ||
      !st.dead_letter) {
    st.metrics->events_dropped.fetch_add(rejected.size(),
                                         std::memory_order_relaxed);
    spdlog::warn("{}: dropped {} event{} refused for good (first: {})",
                 st.metrics->name, rejected.size(),
                 rejected.size() == 1 ? "" : "s", rejected.front().reason);
    commit(self, std::move(s), delivered);
    return;
  }
  // Dead letters: the events are read back from the open transaction (a
  // rare path), put to the dead-letter channel, and only then committed.
  st.settling = true;
  auto id = s.id;
  self->request(st.channel, request_bound, get_atom::value, id)
      .then(
          [self, s = std::move(s), delivered](const batch& events) mutable {
            auto& st = self->state;
            batch dead;
            auto time = now_ms();
            for (auto& r : s.report.rejected) {
              auto e = events.at(r.index);
              for (auto& [k, v] : r.headers)
                e.headers.insert_or_assign(k, v);
              e.headers.insert_or_assign("flumen.error", r.reason);
              e.headers.insert_or_assign("flumen.sink", st.metrics->name);
              e.headers.insert_or_assign("flumen.time", time);
              dead.push_back(std::move(e));
            }
            auto n_dead = dead.size();
            // A full dead-letter channel may hold the put a while; a dead
            // one must not hold this sink for ever.
            self->request(st.dead_letter, 10 * request_bound, put_atom::value,
                          std::move(dead))
                .then(
                    [self, s = std::move(s), delivered,
                     n_dead](ok_atom) mutable {
                      auto& st = self->state;
                      st.metrics->events_dead_lettered.fetch_add(
                          n_dead, std::memory_order_relaxed);
                      spdlog::warn("{}: {} event{} refused for good went to "
                                   "the dead-letter channel",
                                   st.metrics->name, n_dead,
                                   n_dead == 1 ? "" : "s");
                      st.settling = false;
                      commit(self, std::move(s), delivered);
                      settle_head(self);
                      pump(self);
                    },
                    [self](caf::error& err) { die(self, std::move(err)); });
          },
          [self](caf::error& err) { die(self, std::move(err)); });
}

// What goes back of a batch with retriable failures: every event from the
// first failed one on (refused ones aside), not just the failed ones. An
// event after it may have been delivered to the same partition; sending it
// again after the retried one keeps the partition's order (its last copy
// comes last). The events before the first failure stay delivered.
void widen_retry(slot& s) {
  auto& retry = s.report.retry;
  if (retry.empty()) return;
  auto first = *std::min_element(retry.begin(), retry.end());
  std::vector<bool> refused(s.count, false);
  for (auto& r : s.report.rejected)
    if (r.index < s.count) refused[r.index] = true;
  retry.clear();
  for (auto i = first; i < s.count; ++i)
    if (!refused[i]) retry.push_back(static_cast<uint32_t>(i));
}

// Settles finished batches from the head of the window, in take order.
void settle_head(driver_actor* self) {
  auto& st = self->state;
  while (!st.settling && !st.slots.empty() && st.slots.front().done) {
    auto s = std::move(st.slots.front());
    st.slots.pop_front();
    st.inflight_bytes -= s.bytes;
    st.estimate.on_settled(s.bytes, clock::now());
    widen_retry(s);
    if (s.report.fatal) {
      spdlog::error("{}: {}; restarting the sink", st.metrics->name,
                    s.report.reason);
      quit_with(self, errc::component_failed, s.report.reason);
      return;
    }
    if (!s.report.rejected.empty()) {
      settle_rejected(self, std::move(s));
      continue;
    }
    auto delivered = s.count - s.report.retry.size();
    commit(self, std::move(s), delivered);
  }
}

caf::behavior sink_driver(driver_actor* self, backend_factory make,
                          sink_driver_config cfg, caf::actor channel,
                          caf::actor dead_letter,
                          std::shared_ptr<component_metrics> metrics,
                          std::shared_ptr<sink_gate> gate, std::size_t member) {
  auto& st = self->state;
  st.gate = std::move(gate);
  st.member = member;
  if (st.gate) st.gate->attach(st.member, metrics);
  st.cfg = std::move(cfg);
  st.channel = std::move(channel);
  st.dead_letter = std::move(dead_letter);
  st.metrics = std::move(metrics);
  st.backoff = backoff_policy{st.cfg.backoff_first, st.cfg.backoff_cap,
                              std::chrono::hours{24}};
  tolerate_strays(self, st.metrics->name);
  fail_on_exceptions(self, st.metrics, component_state::backing_off);
  // A take the channel holds is never answered if the channel dies (CAF 0.17
  // drops pending promises): go down with it, so the supervisor decides.
  self->monitor(st.channel);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.channel.address())
      die(self,
          make_error(errc::channel_closed,
                     "channel down: " + self->system().render(dm.reason)));
  });
  st.context =
      std::make_unique<driver_context>(caf::actor_cast<caf::actor>(self));
  try {
    st.backend = make(*st.context);
  } catch (const std::exception& ex) {
    st.metrics->set_state(component_state::backing_off, ex.what());
    self->quit(make_error(errc::component_failed, ex.what()));
    return {};
  }
  if (!st.backend) {
    self->quit(make_error(errc::component_failed, "no backend"));
    return {};
  }
  st.window = std::max<std::size_t>(1, st.backend->window());
  if (st.metrics->current_state() == component_state::starting ||
      st.metrics->current_state() == component_state::backing_off)
    st.metrics->set_state(component_state::running);
  pump(self);
  return {
      [self](delivered_atom, uint64_t seq, delivery_report& r) {
        auto& st = self->state;
        if (st.quitting) return;
        if (auto i = std::find_if(st.abandoned.begin(), st.abandoned.end(),
                                  [&](auto& a) { return a.first == seq; });
            i != st.abandoned.end()) {
          st.inflight_bytes -= i->second;
          st.abandoned.erase(i);
          pump(self);
          finish_if_idle(self);
          return;
        }
        for (auto& s : st.slots)
          if (s.seq == seq) {
            s.done = true;
            s.report = std::move(r);
            st.estimate.on_report(clock::now() - s.sent);
            break;
          }
        settle_head(self);
        pump(self);
        finish_if_idle(self);
      },
      [self](fail_atom, std::string& why) {
        spdlog::error("{}: {}; restarting the sink", self->state.metrics->name,
                      why);
        quit_with(self, errc::component_failed, why);
      },
      [self](tick_atom) {
        if (self->state.quitting) return;
        self->state.paused = false;
        pump(self);
        finish_if_idle(self);
      },
      [self](gate_atom) {
        // The group's gate woke us, or it is time to ask it again.
        auto& st = self->state;
        st.gate_recheck = false;
        if (st.quitting) return;
        pump(self);
        finish_if_idle(self);
      },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        st.stopping = true;
        auto rp = self->make_response_promise();
        st.stop_waiters.push_back(rp);
        finish_if_idle(self);
        return caf::delegated<ok_atom>{};
      },
  };
}

} // namespace

void set_take_bytes_bound(std::size_t bytes) {
  take_bytes_bound.store(bytes, std::memory_order_relaxed);
}

caf::actor spawn_sink_driver(caf::actor_system& sys, backend_factory make,
                             sink_driver_config cfg, const wiring& w) {
  // Detached: the backend may block (file writes, fsync, librdkafka's flush
  // and destroy) on this sink's own thread, never on CAF's scheduler.
  if (!cfg.blocking)
    return sys.spawn(sink_driver, std::move(make), std::move(cfg), w.channel,
                     w.dead_letter, w.metrics, w.gate, w.gate_member);
  return sys.spawn<caf::detached>(sink_driver, std::move(make), std::move(cfg),
                                  w.channel, w.dead_letter, w.metrics, w.gate,
                                  w.gate_member);
}

} // namespace flumen
