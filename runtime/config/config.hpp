#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "runtime/config/link_security.hpp"
#include "runtime/config/options.hpp"

namespace flumen {

/// Where a problem in a configuration file is.
struct location {
  std::string file;
  int line = 0; ///< 1-based; 0 when unknown
  int col = 0;  ///< 1-based; 0 when unknown
};

/// One located configuration problem:
/// `FILE:LINE:COL: agents.a1.sinks.k1: message`.
struct config_error {
  location where;
  std::string path;
  std::string message;

  /// The one-line form printed by `flumen validate`.
  std::string to_string() const;
};

/// Problems are collected, not thrown: a user sees all of them at once.
using error_list = std::vector<config_error>;

/// The location of a YAML node (yaml-cpp's Mark, made 1-based).
location location_of(const YAML::Node& node, const std::string& file);

/// The most nodes a topology document may have, counting each alias as a
/// copy of what it refers to (the loader walks them so), and the deepest
/// nesting. A topology has a few hundred nodes; a few lines of nested
/// aliases (a "billion laughs") expand to billions.
inline constexpr std::size_t max_yaml_nodes = 100000;
inline constexpr std::size_t max_yaml_depth = 64;

/// Walks `root` as a loader would, aliases expanded, and stops at the
/// bounds above: false, with an error located at the node where it
/// stopped (and its key path), when the document is larger or deeper
/// (an alias inside its own anchor is infinitely deep). Visits at most
/// `max_yaml_nodes` + 1 nodes, whatever the document.
bool check_yaml_bounds(const YAML::Node& root, const std::string& file,
                       error_list& errors, const std::string& path = {});

/// Why `name` (of an agent, component, node, file group...) can't be one:
/// it holds a control character (C0, DEL, or C1 in UTF-8), which would
/// split or garble the log lines and metrics that carry it. Empty when it
/// is fine. The message shows the name with the character escaped.
std::string control_character_in(std::string_view name);

/// The closest of `candidates` to `word` by edit distance, if close enough
/// to be a likely typo (used for "did you mean" hints).
std::optional<std::string>
closest_match(std::string_view word,
              const std::vector<std::string>& candidates);

/// `written`, a path from a topology, as it is opened: as is when absolute
/// or when `base` is empty (from the current directory), else `base` (a
/// directory, ending in '/') and `written`, with `.` and `..` folded.
std::string resolve_path(const std::string& written, const std::string& base);

/// `written` as a message names it: `'/etc/a.pem'`; a relative one with
/// what it is relative to, `'certs/a.pem' (relative to /etc/flumen/, the
/// topology file's directory)` when `base` is set, else `'certs/a.pem'
/// (relative to the current directory, /home/u/)`.
std::string describe_path(const std::string& written, const std::string& base);

/// Replaces `${NAME}` and `${NAME:-default}` with environment values.
/// Returns nullopt and sets `missing` when a variable without default is unset.
std::optional<std::string> expand_env(std::string_view text,
                                      std::string* missing = nullptr);

/// While one exists, option_readers on this thread take scalars as they are
/// (no `${...}` expansion): a node parses a sink its agent sent with the
/// agent's environment already applied, and a value that contains `${`
/// after expansion must stay as it is.
class scoped_no_env_expansion {
public:
  scoped_no_env_expansion();
  ~scoped_no_env_expansion();
  scoped_no_env_expansion(const scoped_no_env_expansion&) = delete;
  scoped_no_env_expansion& operator=(const scoped_no_env_expansion&) = delete;

private:
  bool before_;
};

/// What a component's parser states about it for checks across components
/// (validation) and for wiring (the runtime). Filled by parse functions
/// through `option_reader::facts()`; the loader copies it into the spec.
/// What a sink does with an event its destination refuses for good:
/// `drop` (counted, logged), `dead_letter` (put to its dead-letter channel
/// with headers saying why) or `fail` (roll back and stop; the supervisor
/// restarts it).
enum class permanent_error_policy { drop, dead_letter, fail };

/// A socket's transport: TCP and UDP ports are distinct.
enum class transport { tcp, udp };

/// "tcp" or "udp".
const char* to_string(transport t);

/// One address a component listens on.
struct listen_endpoint {
  std::string host;
  uint16_t port = 0; ///< 0: any free port (never clashes)
  transport proto = transport::tcp;
  /// The component's option keys that set them (errors point at these).
  std::string host_key = "bind";
  std::string port_key = "port";
};

/// An address a component connects to (a hop sink's `host` and `port`).
struct remote_endpoint {
  std::string host;
  uint16_t port = 0;
};

/// Kafka sources and sinks: what the relay-loop check compares
/// (topology_checks.cpp, `check_kafka_loops`).
struct kafka_facts {
  std::string bootstrap; ///< as written; empty: not a Kafka component
  /// A source: the topics it reads, or the pattern (`^...`, POSIX
  /// extended). A sink: its topic (may hold `%{header}`).
  std::vector<std::string> topics;
  std::string topics_regex;
  /// A source: the header it names each event's topic in. A sink: the
  /// header that overrides its topic. Empty: none.
  std::string topic_header;
};

struct component_facts {
  /// Sources and sinks: events per batch as configured, and whether the file
  /// states it. A default adapts to the channels it feeds; a stated value
  /// above a channel's `transaction_capacity` is a config error.
  std::size_t batch_size = 0;
  bool batch_size_stated = false;
  /// Channels: the most events in one put or take and the most events
  /// held. (Not their bytes: an event larger than a channel's
  /// byte_capacity is let in alone, so no source's longest event is an
  /// error.)
  std::size_t transaction_capacity = 0;
  std::size_t capacity = 0;
  /// Sinks that write files, file channels, sources that keep a state
  /// file: the directory they write to (created when missing), which must
  /// be creatable and writable.
  std::string directory;
  /// Sources that keep state in a file (taildir's positions): the file; two
  /// components must not share one.
  std::string state_file;
  /// Where the component listens (sources with sockets): each address,
  /// port and transport; checked for clashes within the agent and tried on
  /// this machine by `flumen validate`.
  std::vector<listen_endpoint> listens;
  /// Sinks that send to another process (hop): where they connect. `flumen
  /// graph` draws the link to a source of the file listening there.
  std::vector<remote_endpoint> sends_to;
  /// Sinks whose destination exists only inside the agent's process (the
  /// embedded Kafka cluster): they cannot be placed on nodes.
  bool process_local = false;
  /// Components with network links (hop sources and sinks): their TLS
  /// settings. One process has one TLS identity, so an agent's must agree.
  link_security security;
  /// Kafka sources and sinks: their topics (see kafka_facts).
  kafka_facts kafka;
  /// Shared libraries the component loads when it starts (sonames), not
  /// linked into flumen: `flumen validate` tries to load each, so a
  /// machine without one fails there instead of at the start.
  std::vector<std::string> libraries;
};

/// A typed, recording view of one YAML mapping of a topology. Every getter
/// marks its key as known; `finish()` reports each key nobody asked for,
/// with a "did you mean" hint. Wrong types and out-of-range values become
/// located errors and the getter returns its default, so parsing goes on and
/// collects every problem in one pass. Parse functions of components take
/// one of these and never throw.
class option_reader {
public:
  /// `node` must outlive the reader; `path` is the key path of the node
  /// (e.g. `agents.a1.sinks.k1`); errors are appended to `errors`. `text`,
  /// when given, is the whole file the node was loaded from (it must outlive
  /// the reader too): with it, errors can tell how a value was written, e.g.
  /// that an unquoted `null` is YAML's null and not the word.
  option_reader(YAML::Node node, std::string path, std::string file,
                error_list& errors, std::string_view text = {});

  /// A reader of the mapping at `key` of `parent` (e.g. a component's
  /// `tls:`), with its path, file and text: a value of it that fails to
  /// parse counts as `key` failing in `parent`. `parent` must outlive it.
  option_reader(option_reader& parent, std::string_view key);

  /// True when the key is present (and marks it known).
  bool has(std::string_view key);

  std::string str(std::string_view key, std::string def = {});
  std::string required_str(std::string_view key);
  int64_t integer(std::string_view key, int64_t def, int64_t min = INT64_MIN,
                  int64_t max = INT64_MAX);
  /// Like `integer`, for counts and sizes (default minimum 1).
  std::size_t count(std::string_view key, std::size_t def, std::size_t min = 1,
                    std::size_t max = SIZE_MAX);
  /// Accepts `500ms`, `5s`, `2m`, `1h` or a bare number of seconds.
  std::chrono::milliseconds duration(std::string_view key,
                                     std::chrono::milliseconds def);
  /// Accepts `512`, `64KB`, `16MB`, `1GB` (powers of 1024). Every option
  /// that is a size in bytes reads it so (`max_line_length: 150MB`).
  std::size_t bytes(std::string_view key, std::size_t def);
  /// Same, within [min, max] (a located error, and `def`, outside).
  std::size_t bytes(std::string_view key, std::size_t def, std::size_t min,
                    std::size_t max = SIZE_MAX);
  bool boolean(std::string_view key, bool def);
  /// A scalar that must be one of `choices`.
  std::string choice(std::string_view key, std::string def,
                     const std::vector<std::string>& choices);
  /// A scalar that must be one of the names in `choices`: its value.
  template <class E>
  E choice(std::string_view key, E def,
           std::initializer_list<std::pair<std::string_view, E>> choices) {
    std::vector<std::string> names;
    std::string def_name;
    for (auto& [name, value] : choices) {
      names.emplace_back(name);
      if (value == def) def_name = name;
    }
    auto got = choice(key, def_name, names);
    for (auto& [name, value] : choices)
      if (name == got) return value;
    return def;
  }
  /// A mapping of scalars (e.g. the kafka sink's `producer:`).
  std::map<std::string, std::string> string_map(std::string_view key);
  /// A sequence of scalars (a single scalar is taken as a list of one).
  std::vector<std::string> string_list(std::string_view key);
  /// A raw sub-node (marked known); an undefined node when absent.
  YAML::Node node(std::string_view key);

  /// Marks keys as known without reading them (handled elsewhere).
  void known(std::initializer_list<std::string_view> keys);

  /// `missing required key 'KEY'` at the mapping when `key` is absent (for
  /// keys read with a getter that has a default); false then.
  bool require(std::string_view key);

  /// The value at `key` is none the option takes (the caller parsed it): a
  /// located error, and `key` counts as failed (see `parsed`).
  void invalid(std::string_view key, std::string message);

  /// Adds an error located at `key` (or at the mapping when absent).
  void error(std::string_view key, std::string message);
  /// Adds an error located at the mapping itself.
  void error(std::string message);

  /// True when none of `keys` failed: each is absent or its value parsed.
  /// A value that failed left its getter's default, which the file does not
  /// state; a check that combines values runs only when they parsed, or it
  /// would judge that default (a false second error: `capacity: lots` is
  /// "expected an integer", not also "transaction_capacity must not exceed
  /// capacity"). So: `if (r.parsed({"capacity", "transaction_capacity"}) &&
  /// ...) r.error(...)`.
  bool parsed(std::initializer_list<std::string_view> keys) const;
  /// True while every value read so far parsed.
  bool values_parsed() const { return failed_.empty(); }
  /// True when the value at `key` failed to parse (a getter, `invalid`, or
  /// a reader made on `key` reported it), or is required and missing.
  bool failed(std::string_view key) const { return failed_.contains(key); }

  /// Relative paths of this mapping are taken from `dir` (ending in '/':
  /// the topology file's directory); without it, from the current
  /// directory. Readers made on a key of this one inherit it.
  void paths_relative_to(std::string dir) { base_dir_ = std::move(dir); }
  /// `written` (a path read from this mapping) as it is opened, and as a
  /// message names it (see the free functions of the same names).
  std::string resolve_path(const std::string& written) const {
    return flumen::resolve_path(written, base_dir_);
  }
  std::string describe_path(const std::string& written) const {
    return flumen::describe_path(written, base_dir_);
  }

  /// Reads through `options` from now on (nullptr: no table): every key a
  /// getter, `has`, `require`, `invalid` or `node` names must be declared
  /// there with the getter's kind (an "internal error" otherwise, a mistake
  /// in the type's code that its contract test finds), and the table's bounds
  /// and choices apply. The registry declares a type's table around its
  /// parse function; a reader made on a key of it reads `key.*` entries.
  void declare(const option_list* options) { declared_ = options; }
  const option_list* declared() const { return declared_; }
  /// What each getter used as its default, as a user would write it
  /// (`100ms`, `64KB`, `required`), by key (`multiline.timeout` for a
  /// nested reader's): the default column of the reference page.
  const std::map<std::string, std::string>& defaults_seen() const {
    return defaults_;
  }

  /// Reports unknown keys. Call once, after all getters.
  void finish();
  /// Every key asked for so far (what the parser knows), in order.
  std::vector<std::string> known_keys() const {
    return {known_.begin(), known_.end()};
  }

  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  /// Path of a key below this node (`agents.a1.sinks.k1.topic`).
  std::string path_of(std::string_view key) const;
  /// Location of a key's value, or of the mapping when absent.
  location where(std::string_view key) const;
  error_list& errors() { return errors_; }
  /// Facts the component's parser states (see component_facts).
  component_facts& facts() { return facts_; }

private:
  // A value failed: the error, and `key` marked (in the parent too).
  void fail(std::string_view key, std::string message);
  void mark_failed(std::string_view key);

  // The declared spec of `key` (nullptr when no table is declared, or it
  // is not declared with that kind: an internal error then). `node`
  // accepts every kind.
  const option_spec* spec_for(std::string_view key, option_kind kind);
  // Keeps `text` as the default of `key` (in the outermost reader).
  void record_default(std::string_view key, std::string text);

  // A size without bounds (what `bytes` reads).
  std::size_t scaled_bytes(std::string_view key, std::size_t def);
  YAML::Node lookup(std::string_view key);
  std::optional<std::string> scalar(std::string_view key);
  // How a null value was written when it was a word (`null`, `Null`,
  // `NULL` or `~`); empty when it was left out or the text is unknown.
  std::string_view null_word(const YAML::Node& value) const;
  // ": quote it" advice for a string key whose value is a written null.
  std::string null_hint(std::string_view key, const YAML::Node& value) const;
  // A number with a unit from `units` (lower case), scaled; nullopt (and an
  // error, unless absent) when it is not one or exceeds `max`.
  std::optional<uint64_t>
  scaled(std::string_view key, const char* expected,
         std::span<const std::pair<const char*, uint64_t>> units, uint64_t max);

  YAML::Node node_;
  std::string path_;
  std::string file_;
  error_list& errors_;
  std::string_view text_;
  std::set<std::string, std::less<>> known_;
  std::set<std::string, std::less<>> failed_;
  option_reader* parent_ = nullptr;
  std::string parent_key_;
  const option_list* declared_ = nullptr;
  std::string prefix_; ///< `multiline.` in a reader made on `multiline`
  std::map<std::string, std::string> defaults_;
  std::string base_dir_; ///< relative paths from here (empty: cwd)
  component_facts facts_;
};

/// Declares a type's option table on a reader while its parser runs (the
/// parser's first line, so that it reads through its table however it is
/// called: by the registry or by a test).
class option_scope {
public:
  option_scope(option_reader& r, const option_list& options)
      : r_(r), before_(r.declared()) {
    r.declare(&options);
  }
  ~option_scope() { r_.declare(before_); }
  option_scope(const option_scope&) = delete;
  option_scope& operator=(const option_scope&) = delete;

private:
  option_reader& r_;
  const option_list* before_;
};

} // namespace flumen
