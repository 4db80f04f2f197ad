#include "runtime/dist/placement.hpp"

#include <algorithm>
#include <limits>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <spdlog/spdlog.h>

#include "runtime/dist/hop.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/wire/hop_wire.hpp"

namespace flumen {

namespace {

using hop::hello_atom;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using keepalive_atom = caf::atom_constant<caf::atom("keepalive")>;
/// Placement -> replica host, `(counters_atom, uint32_t interval_ms) ->
/// counter_snapshot`: report your sink's counters to me from now on (the
/// answer is the first report, so the agent shows the replica's state,
/// `starting` or `connecting` say, from the start). Replica host ->
/// placement, `(counters_atom, counter_snapshot)`: the sink's counters since
/// the replica started, every interval (100 ms to an hour), once more after the
/// sink stopped at a stop (before the stop's answer: one connection carries
/// both in order) and once when the sink ended otherwise (before the host
/// ends). Asked for rather than sent unasked, so agents and nodes of
/// earlier builds (which know neither message) are never sent one.
using counters_atom = caf::atom_constant<caf::atom("counters")>;

constexpr const char* replica_type = "flumen.sink";
constexpr auto keepalive_interval = std::chrono::seconds{1};
/// A replica's sink gets this long to settle what it took at a stop.
constexpr auto replica_stop_bound = std::chrono::seconds{60};

node_context* the_node = nullptr;

// -- on a node ----------------------------------------------------------------

struct host_state {
  caf::actor sink;
  caf::actor placement; ///< its stand-in in the agent
  std::string label;    ///< `a1.sinks.k1#2`
  /// This replica's own counters (the node's registry shows the newest
  /// replica of a name): what it reports counts from its start.
  std::shared_ptr<component_metrics> metrics;
  /// The placement asked for reports (counters_atom) this often; zero
  /// until it does.
  std::chrono::milliseconds report_interval{0};
  static inline const char* name = "replica_host";
};

caf::behavior replica_host(caf::stateful_actor<host_state>* self,
                           std::string agent, std::string instance,
                           std::string yaml, caf::actor channel,
                           caf::actor dead_letter, caf::actor placement) {
  auto& st = self->state;
  st.placement = std::move(placement);
  auto& ctx = *the_node;
  st.label = agent + ".sinks." + instance;
  auto placed = load_placed_sink(yaml, st.label, *ctx.types);
  if (!placed.errors.empty()) {
    std::string why;
    for (auto& e : placed.errors)
      why += (why.empty() ? "" : "; ") + e.path + ": " + e.message;
    spdlog::error("node {}: cannot run {}: {}", ctx.name, st.label, why);
    self->quit(make_error(errc::component_failed, why));
    return {};
  }
  auto type = YAML::Load(yaml)["type"].as<std::string>("");
  wiring w;
  w.agent = agent;
  w.name = instance;
  // A fresh set for each replica: a replica that ran here before, or one
  // of the same name still ending, counts on its own (the agent adds what
  // each replica reported to what the ones before it did).
  st.metrics = ctx.metrics->replace(st.label, "sink", type);
  w.metrics = st.metrics;
  w.channel = std::move(channel);
  w.dead_letter = std::move(dead_letter);
  try {
    st.sink = placed.spawn(self->system(), w);
  } catch (const std::exception& e) {
    spdlog::error("node {}: {} failed to start: {}", ctx.name, st.label,
                  e.what());
    self->quit(make_error(errc::component_failed, e.what()));
    return {};
  }
  spdlog::info("node {}: running {} for agent {}", ctx.name, st.label, agent);
  {
    std::lock_guard guard{ctx.mtx};
    ctx.replicas.push_back(caf::actor_cast<caf::actor>(self));
  }
  // Off the list when it ends: a node outlives any number of replicas.
  self->attach_functor([addr = self->address()](const caf::error&) {
    std::lock_guard guard{the_node->mtx};
    std::erase_if(the_node->replicas,
                  [&](const caf::actor& r) { return r.address() == addr; });
  });
  // The sink and this host end together: an agent that ends the host ends
  // the sink (what it took rolls back in the agent's channel), and a sink
  // that ends (its channel's agent gone, a fatal error) ends the host with
  // its reason, which the agent sees.
  self->attach_functor([sink = st.sink, label = st.label, m = st.metrics,
                        sys = &self->system()](const caf::error& reason) {
    // Whatever ends the host (its agent, its sink, its agent's link)
    // ends the sink, and says so; the node's /health then shows it
    // stopped, not as it last ran (degraded, say) for ever.
    auto why = sys->render(reason);
    spdlog::info("node {}: {} ended: {}", the_node->name, label, why);
    m->set_state(component_state::stopped,
                 reason ? "ended: " + why : std::string{});
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  });
  self->monitor(st.sink);
  // The placement that asked for it stands in for it under the agent's
  // supervisor: once that is gone (it gave up waiting for this spawn, was
  // restarted, or its agent went), nobody supervises this replica, and a
  // new one may already run with a newer config. Monitoring an actor that
  // already ended gives its down message at once.
  if (st.placement) self->monitor(st.placement);
  // Reports the sink's counters to the placement, when it asked for them.
  auto report = [self] {
    auto& st = self->state;
    if (st.report_interval.count() > 0 && st.placement)
      self->send(st.placement, counters_atom::value, snapshot(*st.metrics));
  };
  self->set_down_handler([self, report](const caf::down_msg& dm) {
    auto& st = self->state;
    if (st.placement && dm.source == st.placement.address()) {
      spdlog::warn("node {}: {}: its placement in the agent ended ({}); "
                   "stopping it",
                   the_node->name, st.label, self->system().render(dm.reason));
      self->quit(make_error(errc::component_failed,
                            "its placement in the agent ended"));
      return;
    }
    if (dm.source != st.sink.address()) return;
    report(); // what it did before it ended, ahead of this host's end
    self->quit(dm.reason
                   ? dm.reason
                   : make_error(errc::component_failed, "the replica stopped"));
  });
  return {
      [](ping_atom) { return ok_atom::value; },
      // The sink itself: the taker the agent's channel sees.
      [self](get_atom) { return self->state.sink; },
      [self](counters_atom, uint32_t interval_ms) {
        auto& st = self->state;
        bool first = st.report_interval.count() == 0;
        // Bounded both ways: an agent must not make a node spin.
        st.report_interval = std::chrono::milliseconds{
            std::clamp<uint32_t>(interval_ms, 100, 3'600'000)};
        if (first)
          self->delayed_send(self, st.report_interval, tick_atom::value);
        return snapshot(*st.metrics);
      },
      [self, report](tick_atom) {
        report();
        self->delayed_send(self, self->state.report_interval, tick_atom::value);
      },
      [self, report](stop_atom) -> caf::result<ok_atom> {
        auto rp = self->make_response_promise<ok_atom>();
        self->request(self->state.sink, replica_stop_bound, stop_atom::value)
            .then(
                [self, rp, report](ok_atom) mutable {
                  // The final counts reach the agent before this answer
                  // does, so its final line has them.
                  report();
                  rp.deliver(ok_atom::value);
                  self->quit();
                },
                [self, rp, report](caf::error& e) mutable {
                  report();
                  rp.deliver(e);
                  self->quit(e);
                });
        return rp;
      },
  };
}

} // namespace

void add_replica_host(caf::actor_system_config& cfg, node_context& ctx) {
  the_node = &ctx;
  cfg.add_actor_type(replica_type, replica_host);
}

caf::actor spawn_node_door(caf::actor_system& sys, node_context& ctx) {
  return sys.spawn([&ctx](caf::event_based_actor* self) -> caf::behavior {
    tolerate_strays(self, "node " + ctx.name);
    return {
        [&ctx](hello_atom, uint32_t version, const std::string& agent)
            -> caf::result<ok_atom, uint32_t, std::string> {
          if (version != hop::wire_version) {
            auto why = "refused agent " + agent + ": it speaks wire version " +
                       std::to_string(version) + ", this node speaks " +
                       std::to_string(hop::wire_version);
            spdlog::error("node {}: {}", ctx.name, why);
            return make_error(errc::version_mismatch, why);
          }
          return {ok_atom::value, hop::wire_version, ctx.name};
        },
        [](ping_atom) { return ok_atom::value; },
    };
  });
}

// -- in an agent
// ----------------------------------------------------------------

namespace {

struct placement_state {
  placement_spec spec;
  spawn_fn local;
  wiring w;
  std::shared_ptr<node_health> health;
  const node_spec* target = nullptr;
  std::string where;
  caf::actor node;
  caf::actor replica;
  /// The replica's sink on the node: the channel's taker.
  caf::actor_addr taker;
  /// The agent's counters for this replica when this stand-in started:
  /// they hold what earlier replicas reported, and the replica's own
  /// reports are added to them (fold_replica).
  counter_snapshot base;
  bool stopping = false;
  static inline const char* name = "placement";
};

using placement_actor = caf::stateful_actor<placement_state>;

std::string describe(const node_spec& n) {
  return "node " + n.name + " (" + n.host + ":" + std::to_string(n.port) + ")";
}

/// The replica cannot go on where it is: mark the node, end this stand-in
/// (and the replica), so the supervisor starts it again elsewhere.
void lost(placement_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.stopping) {
    self->quit();
    return;
  }
  if (st.target) {
    st.health->failed(st.target->name);
    spdlog::warn("{}: {} lost: {}; the replica moves (its transactions roll "
                 "back in the channel)",
                 st.w.metrics->name, st.where, why);
  } else {
    spdlog::warn("{}: {}", st.w.metrics->name, why);
  }
  if (st.replica) caf::anon_send_exit(st.replica, caf::exit_reason::kill);
  self->quit(make_error(errc::component_failed, st.where + ": " + why));
}

void keepalive(placement_actor* self) {
  auto& st = self->state;
  if (!st.replica || st.stopping) return;
  self->request(st.replica, st.spec.keepalive_timeout, ping_atom::value)
      .then(
          [self](ok_atom) {
            self->delayed_send(self, keepalive_interval, keepalive_atom::value);
          },
          [self](caf::error& e) {
            // Hung, not gone: the connection may outlive this, so its
            // leases are revoked now rather than when CAF gives up on it.
            auto& st = self->state;
            if (st.taker)
              caf::anon_send(st.w.channel, rollback_atom::value, st.taker);
            lost(self,
                 "no answer to a keepalive (" + self->system().render(e) + ")");
          });
}

/// Asks the replica for reports of its counters (counters_atom).
void subscribe(placement_actor* self) {
  auto& st = self->state;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      st.spec.report_interval);
  self->request(st.replica, st.spec.keepalive_timeout, counters_atom::value,
                static_cast<uint32_t>(std::clamp<int64_t>(
                    ms.count(), 0, std::numeric_limits<uint32_t>::max())))
      .then(
          [self](counter_snapshot& c) {
            auto& st = self->state;
            if (!st.replica || !st.target || st.stopping) return;
            // `on=` names the node once the replica reports from there.
            st.w.metrics->set_placement(st.where);
            fold_replica(*st.w.metrics, st.base, c);
          },
          [self](caf::error& e) {
            auto& st = self->state;
            if (st.stopping || !st.replica) return;
            if (e.category() != caf::atom("system") ||
                e.code() !=
                    static_cast<uint8_t>(caf::sec::unexpected_message)) {
              // No answer in time: ask again (the host takes a second
              // request as the first); a node that stays silent is lost
              // by its keepalive meanwhile.
              subscribe(self);
              return;
            }
            // A node of an earlier build: the replica runs all the same,
            // its counters shown on the node only.
            st.w.metrics->set_placement(st.where);
            st.w.metrics->set_state(component_state::running);
            spdlog::warn("{}: {} does not report the replica's counters "
                         "({}); the agent shows none of them",
                         st.w.metrics->name, st.where,
                         self->system().render(e));
          });
}

/// A report from the replica: the agent's counters for it follow.
void on_report(placement_actor* self, const counter_snapshot& c) {
  auto& st = self->state;
  // Only from the replica this stand-in runs now (a report is sent to its
  // own placement, so anything else is a stray).
  if (!st.replica || !st.target ||
      caf::actor_cast<caf::actor_addr>(self->current_sender()) !=
          st.replica.address())
    return;
  fold_replica(*st.w.metrics, st.base, c);
}

void run_locally(placement_actor* self) {
  auto& st = self->state;
  st.target = nullptr;
  st.where = "local";
  st.replica = st.local(self->system(), st.w); // a throw ends this actor
  if (!st.replica) {
    self->quit(make_error(errc::component_failed, "the sink did not start"));
    return;
  }
  self->monitor(st.replica);
  st.w.metrics->set_placement("local: no node reachable");
  spdlog::warn("{}: no node of its placement is reachable; running in the "
               "agent's process",
               st.w.metrics->name);
}

caf::io::middleman_actor middleman_for(placement_actor* self,
                                       const node_spec& n) {
  auto& sys = self->system();
  return n.security.tls() ? sys.openssl_manager().actor_handle()
                          : sys.middleman().actor_handle();
}

void place(placement_actor* self) {
  auto& st = self->state;
  auto& nodes = st.spec.nodes;
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    auto& n = nodes[(st.spec.index + k) % nodes.size()];
    if (st.health->usable(n.name)) {
      st.target = &n;
      break;
    }
  }
  if (!st.target) {
    run_locally(self);
    return;
  }
  auto& n = *st.target;
  st.where = describe(n);
  st.w.metrics->set_placement("starting on " + st.where);
  auto mm = middleman_for(self, n);
  self->request(mm, st.spec.connect_timeout, caf::connect_atom::value, n.host,
                n.port)
      .then(
          [self, mm](const caf::node_id& nid, caf::strong_actor_ptr& door,
                     const std::set<std::string>&) {
            auto& st = self->state;
            if (!door) {
              lost(self, "no flumen node listens there");
              return;
            }
            st.node = caf::actor_cast<caf::actor>(door);
            self->monitor(st.node);
            self->request(st.node, st.spec.connect_timeout, hello_atom::value,
                          hop::wire_version, st.spec.agent)
                .then(
                    [self, mm, nid](ok_atom, uint32_t, const std::string&) {
                      auto& st = self->state;
                      // With this actor: the replica ends when it does,
                      // even when the spawn completes after it gave up.
                      auto args = caf::make_message(
                          st.spec.agent, st.spec.instance, st.spec.yaml,
                          st.w.channel, st.w.dead_letter,
                          caf::actor_cast<caf::actor>(self));
                      self->request(mm, st.spec.spawn_timeout,
                                    caf::spawn_atom::value, nid,
                                    std::string{replica_type}, args,
                                    std::set<std::string>{})
                          .then(
                              [self](caf::strong_actor_ptr& ptr) {
                                auto& st = self->state;
                                if (!ptr) {
                                  lost(self, "the node did not start it");
                                  return;
                                }
                                st.replica = caf::actor_cast<caf::actor>(ptr);
                                self->monitor(st.replica);
                                st.health->ok(st.target->name);
                                // Where it runs, and its state (running,
                                // connecting, ...), come with the answer
                                // to subscribe.
                                spdlog::info("{}: running on {}",
                                             st.w.metrics->name, st.where);
                                self->request(st.replica,
                                              st.spec.keepalive_timeout,
                                              caf::get_atom::value)
                                    .then(
                                        [self](caf::actor& sink) {
                                          self->state.taker = sink.address();
                                        },
                                        [](caf::error&) {});
                                subscribe(self);
                                keepalive(self);
                              },
                              [self](caf::error& e) {
                                lost(self, "remote spawn failed: " +
                                               self->system().render(e));
                              });
                    },
                    [self](caf::error& e) {
                      lost(self, "hello failed: " + self->system().render(e));
                    });
          },
          [self](caf::error& e) {
            lost(self, "cannot connect: " + self->system().render(e));
          });
}

caf::behavior placement(placement_actor* self, placement_spec spec,
                        spawn_fn local, wiring w,
                        std::shared_ptr<node_health> health) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.local = std::move(local);
  st.w = std::move(w);
  st.health = std::move(health);
  tolerate_strays(self, st.w.metrics->name);
  st.base = snapshot(*st.w.metrics);
  st.w.metrics->set_state(component_state::starting);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.replica.address()) {
      st.replica = nullptr;
      if (st.stopping) {
        self->quit();
        return;
      }
      if (!st.target) { // a local replica: its reason is the supervisor's
        self->quit(
            dm.reason ? dm.reason
                      : make_error(errc::component_failed, "the sink stopped"));
        return;
      }
      lost(self,
           "the replica ended (" + self->system().render(dm.reason) + ")");
    } else if (dm.source == st.node.address()) {
      lost(self, "connection lost (" + self->system().render(dm.reason) + ")");
    }
  });
  place(self);
  return {
      [self](keepalive_atom) { keepalive(self); },
      [self](counters_atom, const counter_snapshot& c) { on_report(self, c); },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        st.stopping = true;
        if (!st.replica) {
          self->quit();
          return ok_atom::value;
        }
        auto rp = self->make_response_promise<ok_atom>();
        self->request(st.replica, replica_stop_bound, stop_atom::value)
            .then(
                [self, rp](ok_atom) mutable {
                  rp.deliver(ok_atom::value);
                  self->quit();
                },
                [self, rp](caf::error& e) mutable {
                  rp.deliver(e);
                  self->quit();
                });
        return rp;
      },
  };
}

} // namespace

caf::actor spawn_placement(caf::actor_system& sys, placement_spec spec,
                           spawn_fn local, wiring w,
                           std::shared_ptr<node_health> health) {
  return sys.spawn(placement, std::move(spec), std::move(local), std::move(w),
                   std::move(health));
}

} // namespace flumen
