#include "runtime/agent/agent.hpp"
#include "runtime/agent/reload_plan.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>

#include <set>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <spdlog/spdlog.h>

#include "runtime/dist/hop.hpp"
#include "runtime/dist/placement.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/flow/router.hpp"
#include "runtime/flow/sink_gate.hpp"
#include "runtime/flow/supervisor.hpp"
#include "runtime/libs/caf_openssl.hpp"

namespace flumen {

void configure_actor_system(caf::actor_system_config& cfg,
                            const link_security& tls,
                            const link_timing& timing) {
  add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  // Links between processes (hops, nodes). Peers that are not flumen are
  // refused by CAF before any message.
  cfg.set("middleman.app-identifiers",
          std::vector<std::string>{hop::app_identifier});
  // Heartbeats make a hung peer (SIGSTOP, a dead link) a lost one: without
  // them CAF never gives up on a connection that merely went quiet.
  cfg.set("middleman.heartbeat-interval", caf::timespan{timing.heartbeat});
  cfg.set("middleman.connection-timeout", caf::timespan{timing.timeout});
  if (tls.tls()) {
    // CAF's OpenSSL module only for TLS links: loading it initializes
    // OpenSSL, which costs an idle agent 2 MiB of its 21 (bench/README.md,
    // part 13). Every TLS endpoint uses this identity and a reload cannot
    // change it (reload_plan.cpp), so no link needs the module otherwise.
    libs::load_caf_openssl(cfg);
    // Any of these turns on peer verification on both sides (mutual TLS);
    // with none CAF would use anonymous TLS, so TLS links are only made
    // when a certificate is set (link_security::tls()).
    cfg.set("openssl.certificate", tls.certificate);
    cfg.set("openssl.key", tls.key);
    cfg.set("openssl.cafile", tls.ca_file);
    if (!tls.passphrase.empty()) cfg.set("openssl.passphrase", tls.passphrase);
  }
  auto threads = std::max(2u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  // An idle worker spins briefly, then sleeps on its condition variable
  // (woken by the next job) instead of CAF's default middle phase of 500
  // naps of 50 us: each nap is a context switch, and with a message every
  // few hundred microseconds the workers napped all the time. On two cores
  // that halved the pipeline's CPU time at 10 KB records (bench/README.md,
  // "Where the time goes").
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  // Our own logging goes to stderr; keep CAF's quiet.
  cfg.set("logger.verbosity", caf::atom("quiet"));
}

agent::agent(caf::actor_system& sys, const agent_spec& spec,
             metrics_registry& metrics)
    : sys_(sys), spec_(spec), metrics_(metrics) {}

agent::~agent() {
  // Everything is ended and waited for, upstream first, so that nothing an
  // ended actor held (a handle, a promise) outlives the actor system's
  // scheduler: an actor still alive then keeps whatever it holds alive for
  // good, and the system's destructor waits for it.
  caf::scoped_actor self{sys_};
  auto end_all = [&](const std::vector<caf::actor>& xs,
                     std::chrono::milliseconds wait) {
    std::size_t n = 0;
    for (auto& a : xs) {
      if (!a) continue;
      self->monitor(a);
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      ++n;
    }
    auto until = std::chrono::steady_clock::now() + wait;
    for (std::size_t i = 0; i < n; ++i) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      self->receive([](caf::down_msg&) {}, caf::after(left) >> [] {});
    }
  };
  if (supervisor_) {
    self->request(supervisor_, std::chrono::seconds(5), stop_atom::value)
        .receive([](ok_atom) {}, [](caf::error&) {});
    std::vector<caf::actor> running;
    for (auto& s : spec_.sources)
      running.push_back(component("sources." + s.name));
    for (auto& s : spec_.sinks)
      for (auto& name : s.instance_names())
        running.push_back(component("sinks." + name));
    end_all(running, std::chrono::seconds{5});
    end_all({supervisor_}, std::chrono::seconds{5});
  }
  // Channels last (a file channel stores its committed position and syncs
  // as it ends), within 10 s.
  std::vector<caf::actor> channels;
  for (auto& [_, c] : channels_)
    channels.push_back(c.actor);
  end_all(channels, std::chrono::seconds{10});
}

std::string agent::metric_name(const std::string& kind,
                               const std::string& name) const {
  return spec_.name + "." + kind + "." + name;
}

std::shared_ptr<component_metrics> agent::metrics_for(const std::string& kind,
                                                      const std::string& name,
                                                      const std::string& type) {
  auto full = metric_name(kind, name);
  auto singular = kind == "sources"    ? "source"
                  : kind == "channels" ? "channel"
                                       : "sink";
  if (auto m = metrics_.find(full); m && m->type == type) return m;
  return metrics_.replace(full, singular, type);
}

agent::live_channel agent::spawn_channel(const component_spec& c,
                                         std::shared_ptr<component_metrics> m) {
  wiring w;
  w.agent = spec_.name;
  w.name = c.name;
  w.metrics = std::move(m);
  auto actor = c.spawn(sys_, w);
  if (!actor) throw std::runtime_error("start returned no actor");
  return {actor, w.metrics};
}

std::vector<caf::actor> agent::channels_of(const component_spec& s) const {
  std::vector<caf::actor> targets;
  for (auto& name : s.channels)
    targets.push_back(channels_.at(name).actor);
  return targets;
}

route agent::route_of(const component_spec& s) const {
  route r;
  r.channels = channels_of(s);
  r.interceptors = s.interceptors;
  r.selector = s.selector;
  r.names = s.channels;
  for (auto& name : s.channels)
    r.channel_metrics.push_back(channels_.at(name).metrics);
  return r;
}

child_spec agent::source_child(const agent_spec& spec, const component_spec& s,
                               std::shared_ptr<route_table> route,
                               std::shared_ptr<component_metrics> m) {
  wiring w;
  w.agent = spec.name;
  w.name = s.name;
  w.metrics = m;
  if (!s.facts.batch_size_stated)
    for (auto& name : s.channels)
      if (auto* ch = spec.find_channel(name);
          ch && ch->facts.transaction_capacity != 0)
        w.batch_limit =
            w.batch_limit == 0
                ? ch->facts.transaction_capacity
                : std::min(w.batch_limit, ch->facts.transaction_capacity);
  // Each start makes a fresh router (fresh interceptors) that lives and
  // dies with its source: the source watches the router, and the router
  // goes when the source goes. Its route is the source's, changed by a
  // reload.
  auto start = [sys = &sys_, spawn = s.spawn, w, route, m]() mutable {
    auto router = spawn_router(*sys, route, m);
    w.downstream = router;
    caf::actor src;
    try {
      src = spawn(*sys, w);
    } catch (...) {
      caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
      throw;
    }
    if (!src) {
      caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
      return src;
    }
    caf::actor_cast<caf::abstract_actor*>(src)->attach_functor(
        [router](const caf::error&) {
          caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
        });
    return src;
  };
  return child_spec{m->name, std::move(start), m};
}

std::vector<child_spec> agent::sink_children(const agent_spec& spec,
                                             const component_spec& k) {
  std::vector<child_spec> children;
  auto names = k.instance_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto m = metrics_for("sinks", names[i], k.type);
    wiring w;
    w.agent = spec.name;
    w.name = names[i];
    w.metrics = m;
    w.channel = channels_.at(k.channel).actor;
    if (!k.dead_letter_channel.empty())
      w.dead_letter = channels_.at(k.dead_letter_channel).actor;
    if (!k.group.empty())
      for (auto& g : spec.sink_groups)
        if (g.name == k.group) {
          auto& gate = gates_[g.name];
          if (!gate || !(gate->spec() == g))
            gate = std::make_shared<sink_gate>(g);
          w.gate = gate;
          w.gate_member = gate->member(k.name);
          // Known before any member asks: a member that starts first
          // must not take while a preferred one is still starting.
          gate->attach(w.gate_member, m);
        }
    if (k.placement.empty()) {
      children.push_back(child_spec{
          m->name, [sys = &sys_, spawn = k.spawn, w] { return spawn(*sys, w); },
          m});
      continue;
    }
    placement_spec p;
    p.agent = spec.name;
    p.instance = names[i];
    p.index = i;
    p.yaml = k.yaml;
    for (auto& name : k.placement)
      for (auto& n : spec.nodes)
        if (n.name == name) p.nodes.push_back(n);
    children.push_back(
        child_spec{m->name,
                   [sys = &sys_, p, spawn = k.spawn, w, health = health_] {
                     return spawn_placement(*sys, p, spawn, w, health);
                   },
                   m});
  }
  return children;
}

void agent::start() {
  std::vector<watched_spec> watched;
  for (auto& c : spec_.channels) {
    auto m = metrics_for("channels", c.name, c.type);
    channels_[c.name] = spawn_channel(c, m);
    watched.push_back(watched_spec{channels_[c.name].actor, m});
  }
  std::vector<child_spec> children;
  for (auto& s : spec_.sources) {
    auto route = std::make_shared<route_table>(route_of(s));
    routes_[s.name] = route;
    children.push_back(
        source_child(spec_, s, route, metrics_for("sources", s.name, s.type)));
  }
  health_ = std::make_shared<node_health>();
  for (auto& k : spec_.sinks)
    for (auto& child : sink_children(spec_, k))
      children.push_back(std::move(child));
  supervisor_ =
      spawn_supervisor(sys_, std::move(children), backoff_policy{},
                       restart_limit{spec_.supervision.max_restarts,
                                     spec_.supervision.restart_window},
                       std::move(watched));
}

caf::actor agent::component(const std::string& kind_and_name) const {
  if (kind_and_name.starts_with("channels.")) {
    auto i = channels_.find(kind_and_name.substr(9));
    return i == channels_.end() ? caf::actor{} : i->second.actor;
  }
  if (!supervisor_) return {};
  caf::actor result;
  caf::scoped_actor self{sys_};
  self->request(supervisor_, std::chrono::seconds(5), caf::get_atom::value,
                spec_.name + "." + kind_and_name)
      .receive([&](caf::actor& a) { result = std::move(a); },
               [](caf::error&) {});
  return result;
}

std::vector<std::string> agent::failed_components() const {
  std::vector<std::string> out;
  for (auto& m : metrics_.all())
    if (m->name.starts_with(spec_.name + ".") &&
        m->current_state() == component_state::failed)
      out.push_back(m->name);
  return out;
}

bool agent::sources_done() const {
  for (auto& s : spec_.sources) {
    auto m = metrics_.find(metric_name("sources", s.name));
    if (!m || m->current_state() != component_state::stopped) return false;
  }
  return true;
}

namespace {

/// How long a sink of a durable channel has at a stop to settle what it
/// took before it is ended (its channel keeps the rest).
constexpr std::chrono::milliseconds durable_sink_grace{2000};

} // namespace

std::string agent::stop_progress() const {
  // What the stop still waits for: sources not stopped, events channels
  // hold (and how many are taken), sinks not stopped and why.
  std::string out;
  auto add = [&](const std::string& part) {
    out += (out.empty() ? "" : "; ") + part;
  };
  for (auto& m : metrics_.all()) {
    if (!m->name.starts_with(spec_.name + ".")) continue;
    auto state = m->current_state();
    auto why = m->reason();
    auto short_name = m->name.substr(spec_.name.size() + 1);
    if (m->kind == "channel") {
      if (auto n = m->channel_size.load(); n > 0)
        add(short_name + " holds " + std::to_string(n) + " events (" +
            std::to_string(m->open_transactions.load()) +
            " open transactions)");
    } else if (state != component_state::stopped &&
               state != component_state::failed) {
      add(short_name + " " + to_string(state) +
          (why.empty() ? std::string{} : " (" + why + ")"));
    }
  }
  return out;
}

uint64_t agent::stop(std::chrono::milliseconds timeout, bool drain_durable) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  // A stop that waits says what for, every 5 s, from a thread of its own
  // (it reads counters only), until it is done.
  struct progress_log {
    std::mutex mtx;
    std::condition_variable cv;
    bool done = false;
    std::thread thread;
    ~progress_log() {
      {
        std::lock_guard guard{mtx};
        done = true;
      }
      cv.notify_all();
      if (thread.joinable()) thread.join();
    }
  } progress;
  progress.thread = std::thread{[this, &progress, started = clock::now()] {
    std::unique_lock guard{progress.mtx};
    while (!progress.cv.wait_for(guard, std::chrono::seconds{5},
                                 [&] { return progress.done; })) {
      auto what = stop_progress();
      if (what.empty()) continue;
      spdlog::info("agent {}: stopping for {} s: {}", spec_.name,
                   std::chrono::duration_cast<std::chrono::seconds>(
                       clock::now() - started)
                       .count(),
                   what);
    }
  }};
  auto left = [&] {
    return std::max(std::chrono::milliseconds{1},
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - clock::now()));
  };
  caf::scoped_actor self{sys_};
  // Asks every actor in `xs` to stop at once and waits for all of them, up
  // to the deadline.
  auto stop_all = [&](const std::vector<caf::actor>& xs, const char* what,
                      std::optional<std::chrono::milliseconds> within = {}) {
    auto wait = within ? std::min(*within, left()) : left();
    std::vector<decltype(self->request(xs.front(), wait, stop_atom::value))>
        handles;
    for (auto& a : xs)
      handles.push_back(self->request(a, wait, stop_atom::value));
    for (auto& h : handles)
      h.receive([](ok_atom) {},
                [&](caf::error& err) {
                  if (within) return; // ended below; its channel keeps it
                  spdlog::warn("{}: a {} did not stop in time: {}", spec_.name,
                               what, sys_.render(err));
                });
  };
  // 1. No more restarts; sources stop reading and hand over what they hold.
  self->request(supervisor_, left(), stop_atom::value)
      .receive([](ok_atom) {}, [](caf::error&) {});
  std::vector<caf::actor> sources;
  for (auto& s : spec_.sources)
    if (auto a = component("sources." + s.name)) sources.push_back(a);
  // A source stops once its puts are answered. Puts a full channel holds
  // are answered as its sinks make room, until the deadline; but file
  // channels are not drained at a signal's stop, so there the wait is
  // short.
  bool all_durable = !spec_.channels.empty();
  for (auto& c : spec_.channels)
    if (auto m = metrics_.find(metric_name("channels", c.name));
        !m || !m->durable.load())
      all_durable = false;
  std::optional<std::chrono::milliseconds> source_wait;
  if (all_durable && !drain_durable) source_wait = durable_sink_grace;
  auto unstopped = [&](std::vector<caf::actor> xs,
                       std::chrono::milliseconds wait) {
    std::vector<caf::actor> out;
    std::vector<decltype(self->request(xs.front(), wait, stop_atom::value))>
        handles;
    for (auto& a : xs)
      handles.push_back(self->request(a, wait, stop_atom::value));
    for (std::size_t i = 0; i < xs.size(); ++i)
      handles[i].receive([](ok_atom) {},
                         [&](caf::error&) { out.push_back(xs[i]); });
    return out;
  };
  if (!sources.empty()) {
    auto late = unstopped(sources, source_wait ? std::min(*source_wait, left())
                                               : left());
    if (!late.empty()) {
      // Their puts wait for room that does not come: every channel is
      // closed, so each held put is answered (refused, its events counted
      // as read and never accepted), and the sources stop.
      close_channels(self, std::chrono::seconds{5});
      late = unstopped(late, std::chrono::seconds{2});
      for (std::size_t i = 0; i < late.size(); ++i)
        spdlog::warn("{}: a source did not stop in time", spec_.name);
    }
  }
  // A source that did not stop in time is ended now, and waited for (at
  // most a second), so what it read and could not hand over is counted
  // before the final line, not after it.
  for (auto& a : sources) {
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    bool more = true;
    self->receive([](caf::down_msg&) {},
                  caf::after(std::chrono::seconds{1}) >> [&] { more = false; });
    if (!more) break;
  }
  // 2. Upstream before downstream: each channel drains into its sinks, and
  // its sinks settle and stop, before the channels they dead-letter into.
  auto size_of = [&](const std::string& ch) -> uint64_t {
    auto m = metrics_.find(metric_name("channels", ch));
    return m ? m->channel_size.load() : 0;
  };
  auto durable = [&](const std::string& ch) {
    auto m = metrics_.find(metric_name("channels", ch));
    return m && m->durable.load();
  };
  for (auto& ch : channel_stop_order(spec_)) {
    // A durable channel keeps what it holds for the next start: its sinks
    // settle what they took and stop, without waiting for it to drain.
    while ((drain_durable || !durable(ch)) && size_of(ch) > 0 &&
           clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    std::vector<caf::actor> sinks;
    for (auto& k : spec_.sinks)
      if (k.channel == ch)
        for (auto& name : k.instance_names())
          if (auto a = component("sinks." + name)) sinks.push_back(a);
    if (sinks.empty()) continue;
    if (drain_durable || !durable(ch)) {
      stop_all(sinks, "sink");
      continue;
    }
    // A sink of a durable channel gets a short while to settle what it
    // took (a Kafka sink with no broker would wait for ever); then it is
    // ended, and what it had taken goes back to the channel, kept for the
    // next start (delivered again if it did arrive: at least once).
    stop_all(sinks, "sink", durable_sink_grace);
    for (auto& a : sinks) {
      self->monitor(a);
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    for (std::size_t i = 0; i < sinks.size(); ++i)
      self->receive([](caf::down_msg&) {},
                    caf::after(std::chrono::seconds{1}) >> [] {});
  }
  uint64_t n = 0;
  for (auto& c : spec_.channels)
    if (!durable(c.name)) n += size_of(c.name);
  return n;
}

void agent::close_channels(caf::scoped_actor& self,
                           std::chrono::milliseconds wait) {
  std::vector<caf::actor> xs;
  for (auto& [name, ch] : channels_)
    xs.push_back(ch.actor);
  close_all(self, xs, wait);
}

void agent::close_all(caf::scoped_actor& self,
                      const std::vector<caf::actor>& channels,
                      std::chrono::milliseconds wait) {
  if (channels.empty()) return;
  std::vector<decltype(self->request(channels.front(), wait,
                                     close_atom::value))>
      handles;
  for (auto& ch : channels)
    handles.push_back(self->request(ch, wait, close_atom::value));
  for (auto& h : handles)
    h.receive([](ok_atom) {},
              [&](caf::error& err) {
                spdlog::warn("{}: a channel did not close in time: {}",
                             spec_.name, sys_.render(err));
              });
}

void agent::retire_and_stop(const std::vector<std::string>& names,
                            std::chrono::milliseconds grace) {
  caf::scoped_actor self{sys_};
  std::vector<caf::actor> running;
  for (auto& name : names)
    self->request(supervisor_, std::chrono::seconds{5}, retire_atom::value,
                  spec_.name + "." + name)
        .receive(
            [&](caf::actor& a) {
              if (a) running.push_back(std::move(a));
            },
            [](caf::error&) {});
  if (running.empty()) return;
  // All at once: each settles what it holds, within the grace.
  std::vector<decltype(self->request(running.front(), grace, stop_atom::value))>
      handles;
  for (auto& a : running)
    handles.push_back(self->request(a, grace, stop_atom::value));
  for (auto& h : handles)
    h.receive([](ok_atom) {}, [](caf::error&) {});
  // What did not stop in time is ended: a sink's open transactions roll
  // back into its channel, for its successor.
  for (auto& a : running) {
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (std::size_t i = 0; i < running.size(); ++i)
    self->receive([](caf::down_msg&) {},
                  caf::after(std::chrono::seconds{1}) >> [] {});
}

void agent::fold_metrics(const std::shared_ptr<component_metrics>& m) {
  if (!m) return;
  retired_.dropped += m->events_dropped.load();
  retired_.dead_lettered += m->events_dead_lettered.load();
  retired_.truncated += m->events_truncated.load();
  retired_.undelivered += m->events_undelivered.load();
  retired_.damaged += m->value("damaged_events");
  retired_.filtered += m->events_filtered.load();
  metrics_.remove(m->name, m);
}

loss_report agent::losses() const {
  loss_report r = retired_;
  for (auto& m : metrics_.all()) {
    if (!m->name.starts_with(spec_.name + ".")) continue;
    r.dropped += m->events_dropped.load();
    r.dead_lettered += m->events_dead_lettered.load();
    r.truncated += m->events_truncated.load();
    r.undelivered += m->events_undelivered.load();
    r.damaged += m->value("damaged_events");
    r.filtered += m->events_filtered.load();
    if (m->kind == "channel")
      (m->durable.load() ? r.kept : r.in_channels) += m->channel_size.load();
  }
  return r;
}

std::vector<std::string> agent::summary() const {
  std::vector<std::string> out;
  auto add = [&](const char* kind, const std::vector<component_spec>& specs) {
    for (auto& s : specs)
      for (auto& name : std::string{kind} == "sinks"
                            ? s.instance_names()
                            : std::vector<std::string>{s.name})
        if (auto m = metrics_.find(metric_name(kind, name)))
          out.push_back(m->summary());
  };
  add("sources", spec_.sources);
  add("channels", spec_.channels);
  add("sinks", spec_.sinks);
  return out;
}

} // namespace flumen
