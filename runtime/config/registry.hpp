#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "runtime/config/config.hpp"
#include "runtime/core/event.hpp"
#include "runtime/core/metrics.hpp"

namespace flumen {

/// What a spawned component is connected to. Fields a kind doesn't use stay
/// empty (a channel has no downstream, a source no channel).
class sink_gate;

struct wiring {
  std::string agent; ///< agent name, e.g. `a1`
  std::string name;  ///< component name, e.g. `k1`
  std::shared_ptr<component_metrics> metrics;
  /// Sources: the actor batches are put to (answers once every required
  /// channel accepted).
  caf::actor downstream;
  /// Sources: the most events one batch should hold so that every channel
  /// it feeds takes it in one transaction (0: no limit). A source whose
  /// batch_size is not stated in the file uses min(batch_size, this); a
  /// larger put would still go in (channels split it), only slower.
  std::size_t batch_limit = 0;
  /// Sinks: the channel to take from.
  caf::actor channel;
  /// Sinks: the channel for events that can never be delivered (or null).
  caf::actor dead_letter;
  /// Sinks of a `sink_groups` entry: the group's gate (runtime/flow/
  /// sink_gate.hpp), asked before each take, and this sink's index in it.
  std::shared_ptr<sink_gate> gate;
  std::size_t gate_member = 0;
};

/// `cfg` with its batch_size cut to the wiring's batch_limit (a default
/// batch size adapts to the channels it feeds; see wiring::batch_limit).
template <class Config>
Config adapt_batch(Config cfg, const wiring& w) {
  if (w.batch_limit != 0 && cfg.batch_size > w.batch_limit)
    cfg.batch_size = w.batch_limit;
  return cfg;
}

/// A stage between a source and its channels. Runs inside the source's
/// router actor, one batch at a time; may change events and remove them,
/// never add any.
class interceptor {
public:
  virtual ~interceptor() = default;
  /// Changes `events` in place; returns how many it removed (counted
  /// `filtered`: received = accepted + filtered + dropped + undelivered).
  /// The router checks the batch shrank by exactly that: an interceptor
  /// that miscounts fails the batch (dropped, named) rather than let an
  /// event go uncounted.
  virtual std::size_t apply(batch& events) = 0;
  /// The most headers it adds to one event: the router makes room for
  /// those of the whole chain at once (one allocation per event, sized to
  /// what is added, not to the length of the chain).
  virtual std::size_t headers_added() const { return 1; }
};

/// Spawns one instance of a parsed component (called again on restarts).
using spawn_fn = std::function<caf::actor(caf::actor_system&, const wiring&)>;
/// Makes one instance of a parsed interceptor.
using interceptor_fn = std::function<std::unique_ptr<interceptor>()>;

/// The table of component types. Parse functions are pure (they read an
/// option_reader and return a typed config); spawn functions start actors.
/// The registry keeps the config inside the returned closures, so nothing
/// outside a component's own files ever sees its config type.
class registry {
public:
  template <class Config>
  using parse_fn = Config (*)(option_reader&);
  template <class Config>
  using spawner = caf::actor (*)(caf::actor_system&, const Config&,
                                 const wiring&);

  /// Each type comes with its option table (options.hpp): its parser
  /// reads through it, and its reference page shows it.
  template <class Config>
  void add_source(std::string type, parse_fn<Config> parse,
                  spawner<Config> spawn, std::string example = {},
                  option_list options = {}) {
    auto o = keep("sources/" + type, std::move(example), std::move(options));
    sources_[std::move(type)] = erase(parse, spawn, o);
  }
  template <class Config>
  void add_channel(std::string type, parse_fn<Config> parse,
                   spawner<Config> spawn, std::string example = {},
                   option_list options = {}) {
    auto o = keep("channels/" + type, std::move(example), std::move(options));
    channels_[std::move(type)] = erase(parse, spawn, o);
  }
  template <class Config>
  void add_sink(std::string type, parse_fn<Config> parse, spawner<Config> spawn,
                std::string example = {}, option_list options = {}) {
    auto o = keep("sinks/" + type, std::move(example), std::move(options));
    sinks_[std::move(type)] = erase(parse, spawn, o);
  }
  template <class Config>
  void add_interceptor(std::string type, parse_fn<Config> parse,
                       std::unique_ptr<interceptor> (*make)(const Config&),
                       std::string example = {}, option_list options = {}) {
    auto o =
        keep("interceptors/" + type, std::move(example), std::move(options));
    interceptors_[std::move(type)] = [parse, make,
                                      o](option_reader& r) -> interceptor_fn {
      declared d{r, o.get()};
      return [cfg = parse(r), make] { return make(cfg); };
    };
  }

  /// Parses a component of `kind` ("sources", "channels", "sinks");
  /// nullopt when the type is unknown, or when its parser threw (a library
  /// it loads cannot be loaded here): then that is reported at `type`, and
  /// `r.failed("type")` tells the two apart.
  std::optional<spawn_fn> parse(const std::string& kind,
                                const std::string& type,
                                option_reader& r) const;
  std::optional<interceptor_fn> parse_interceptor(const std::string& type,
                                                  option_reader& r) const;
  /// Known type names of a kind ("sources", "channels", "sinks",
  /// "interceptors"), for error messages.
  std::vector<std::string> types(const std::string& kind) const;
  /// The smallest options of a type that parse (YAML of its required keys;
  /// `${DIR}` stands for a directory of its own, `${PORT}` for a free
  /// port), as its registration gave them: what the contract test over
  /// every type (tests/unit/contract_test.cpp) starts from.
  std::string example(const std::string& kind, const std::string& type) const;
  /// The option table of a type (empty when the type is unknown).
  const option_list& options(const std::string& kind,
                             const std::string& type) const;

private:
  using erased = std::function<spawn_fn(option_reader&)>;
  using table_ptr = std::shared_ptr<const option_list>;

  // The table declared on a reader while a parser reads it.
  struct declared {
    declared(option_reader& r, const option_list* o) : r_(r) { r.declare(o); }
    ~declared() { r_.declare(nullptr); }
    option_reader& r_;
  };

  table_ptr keep(const std::string& key, std::string example,
                 option_list options);

  template <class Config>
  static erased erase(parse_fn<Config> parse, spawner<Config> spawn,
                      table_ptr o) {
    return [parse, spawn, o](option_reader& r) -> spawn_fn {
      declared d{r, o.get()};
      return [cfg = parse(r), spawn](caf::actor_system& sys, const wiring& w) {
        return spawn(sys, cfg, w);
      };
    };
  }
  const std::map<std::string, erased>* table(const std::string& kind) const;

  std::map<std::string, erased> sources_;
  std::map<std::string, erased> channels_;
  std::map<std::string, erased> sinks_;
  std::map<std::string, std::function<interceptor_fn(option_reader&)>>
      interceptors_;
  std::map<std::string, std::string> examples_; ///< "kind/type" -> YAML
  std::map<std::string, table_ptr> options_;    ///< "kind/type" -> table
};

} // namespace flumen
