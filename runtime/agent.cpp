#include "runtime/agent.hpp"

#include <optional>

#include <set>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/hop.hpp"
#include "runtime/placement.hpp"
#include "runtime/protocol.hpp"
#include "runtime/router.hpp"
#include "runtime/supervisor.hpp"

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
  cfg.load<caf::openssl::manager>();
  if (tls.tls()) {
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
  auto kill = [](const caf::actor& a) {
    if (a) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  if (supervisor_) {
    caf::scoped_actor self{sys_};
    self->request(supervisor_, std::chrono::seconds(5), stop_atom::value)
        .receive([](ok_atom) {}, [](caf::error&) {});
    for (auto& s : spec_.sources)
      kill(component("sources." + s.name));
    for (auto& s : spec_.sinks)
      for (auto& name : s.instance_names())
        kill(component("sinks." + name));
  }
  kill(supervisor_);
  for (auto& r : routers_)
    kill(r);
  for (auto& [_, c] : channels_)
    kill(c);
}

std::string agent::metric_name(const std::string& kind,
                               const std::string& name) const {
  return spec_.name + "." + kind + "." + name;
}

void agent::start() {
  std::vector<watched_spec> watched;
  for (auto& c : spec_.channels) {
    wiring w;
    w.agent = spec_.name;
    w.name = c.name;
    w.metrics =
        metrics_.get(metric_name("channels", c.name), "channel", c.type);
    channels_[c.name] = c.spawn(sys_, w);
    watched.push_back(watched_spec{channels_[c.name], w.metrics});
  }
  std::vector<child_spec> children;
  for (auto& s : spec_.sources) {
    std::vector<caf::actor> targets;
    for (auto& name : s.channels)
      targets.push_back(channels_.at(name));
    auto m = metrics_.get(metric_name("sources", s.name), "source", s.type);
    wiring w;
    w.agent = spec_.name;
    w.name = s.name;
    w.metrics = m;
    if (!s.facts.batch_size_stated)
      for (auto& name : s.channels)
        if (auto* ch = spec_.find_channel(name);
            ch && ch->facts.transaction_capacity != 0)
          w.batch_limit =
              w.batch_limit == 0
                  ? ch->facts.transaction_capacity
                  : std::min(w.batch_limit, ch->facts.transaction_capacity);
    // Each start makes a fresh router (fresh interceptors) that lives and
    // dies with its source: the source watches the router, and the router
    // goes when the source goes.
    auto start = [sys = &sys_, spawn = s.spawn, w, targets,
                  interceptors = s.interceptors, m]() mutable {
      auto router = spawn_router(*sys, targets, interceptors, m);
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
    children.push_back(child_spec{m->name, std::move(start), m});
  }
  auto health = std::make_shared<node_health>();
  for (auto& k : spec_.sinks) {
    auto names = k.instance_names();
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto m = metrics_.get(metric_name("sinks", names[i]), "sink", k.type);
      wiring w;
      w.agent = spec_.name;
      w.name = names[i];
      w.metrics = m;
      w.channel = channels_.at(k.channel);
      if (!k.dead_letter_channel.empty())
        w.dead_letter = channels_.at(k.dead_letter_channel);
      if (k.placement.empty()) {
        children.push_back(child_spec{
            m->name,
            [sys = &sys_, spawn = k.spawn, w] { return spawn(*sys, w); }, m});
        continue;
      }
      placement_spec p;
      p.agent = spec_.name;
      p.instance = names[i];
      p.index = i;
      p.yaml = k.yaml;
      for (auto& name : k.placement)
        for (auto& n : spec_.nodes)
          if (n.name == name) p.nodes.push_back(n);
      children.push_back(
          child_spec{m->name,
                     [sys = &sys_, p, spawn = k.spawn, w, health] {
                       return spawn_placement(*sys, p, spawn, w, health);
                     },
                     m});
    }
  }
  supervisor_ =
      spawn_supervisor(sys_, std::move(children), backoff_policy{},
                       restart_limit{spec_.supervision.max_restarts,
                                     spec_.supervision.restart_window},
                       std::move(watched));
}

caf::actor agent::component(const std::string& kind_and_name) const {
  if (kind_and_name.starts_with("channels.")) {
    auto i = channels_.find(kind_and_name.substr(9));
    return i == channels_.end() ? caf::actor{} : i->second;
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

std::vector<std::string> agent::stop_order() const {
  // Channels ordered so that every channel comes after the channels whose
  // sinks write into it (dead-letter edges; validation refuses cycles).
  std::vector<std::string> order;
  std::set<std::string> placed;
  auto writers_placed = [&](const std::string& ch) {
    for (auto& k : spec_.sinks)
      if (k.dead_letter_channel == ch && !placed.contains(k.channel) &&
          k.channel != ch)
        return false;
    return true;
  };
  while (order.size() < spec_.channels.size()) {
    bool progress = false;
    for (auto& c : spec_.channels) {
      if (placed.contains(c.name) || !writers_placed(c.name)) continue;
      order.push_back(c.name);
      placed.insert(c.name);
      progress = true;
    }
    if (!progress) // a cycle (refused by validation): file order for the rest
      for (auto& c : spec_.channels)
        if (placed.insert(c.name).second) order.push_back(c.name);
  }
  return order;
}

namespace {

/// How long a sink of a durable channel has at a stop to settle what it
/// took before it is ended (its channel keeps the rest).
constexpr std::chrono::milliseconds durable_sink_grace{2000};

} // namespace

uint64_t agent::stop(std::chrono::milliseconds timeout, bool drain_durable) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
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
  if (!sources.empty()) stop_all(sources, "source");
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
  for (auto& ch : stop_order()) {
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

loss_report agent::losses() const {
  loss_report r;
  for (auto& m : metrics_.all()) {
    if (!m->name.starts_with(spec_.name + ".")) continue;
    r.dropped += m->events_dropped.load();
    r.dead_lettered += m->events_dead_lettered.load();
    r.truncated += m->events_truncated.load();
    r.undelivered += m->events_undelivered.load();
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
