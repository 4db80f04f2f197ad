#pragma once

// A registry of fake component types for the loader's tests and its fuzzer:
// their parse functions read a few options like real ones (and state facts);
// their spawn functions are never called. Header-only, no actors.

#include <cstdlib>
#include <memory>
#include <string>

#include "runtime/config/registry.hpp"

namespace flumen::test {

// Their parse functions read a few options like real ones; their spawn
// functions are never called.

/// What the fake sink parser saw last (to observe option values).
inline std::string last_topic;

/// Like netcat: listens, makes events of up to max_line_length bytes.
struct src_config {
  std::string bind = "127.0.0.1";
  int64_t port = 0;
  std::size_t batch_size = 1000;
  std::size_t max_line_length = 8192;
};

inline src_config parse_src(option_reader& r) {
  src_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = r.integer("port", 0, 0, 65535);
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.max_line_length = r.count("max_line_length", cfg.max_line_length);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  if (r.has("port")) {
    f.listens.push_back({cfg.bind, static_cast<uint16_t>(cfg.port)});
  }
  // Like taildir: a state file, in a directory that must be writable.
  if (auto pos = r.str("positions_file"); !pos.empty()) {
    f.state_file = pos;
    f.directory = pos.substr(0, pos.rfind('/'));
  }
  return cfg;
}

struct exec_config {
  std::string command;
};

inline exec_config parse_exec(option_reader& r) {
  return {r.required_str("command")};
}

struct mem_config {
  std::size_t capacity = 10000;
  std::size_t transaction_capacity = 1000;
  std::size_t byte_capacity = 0;
};

inline mem_config parse_mem(option_reader& r) {
  mem_config cfg;
  cfg.capacity = r.count("capacity", cfg.capacity);
  cfg.transaction_capacity =
      r.count("transaction_capacity", cfg.transaction_capacity);
  cfg.byte_capacity = r.bytes("byte_capacity", cfg.byte_capacity);
  auto& f = r.facts();
  f.capacity = cfg.capacity;
  f.transaction_capacity = cfg.transaction_capacity;
  f.directory = r.str("directory"); // like the file channel
  return cfg;
}

/// Like kafka: may dead-letter (the loader reads and checks that key).
struct snk_config {
  std::string topic;
  std::size_t batch_size = 1000;
  std::string dead_letter_channel;
};

inline snk_config parse_snk(option_reader& r) {
  snk_config cfg;
  cfg.topic = r.required_str("topic");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.dead_letter_channel = r.str("dead_letter_channel");
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  last_topic = cfg.topic;
  return cfg;
}

struct logger_config {};

inline logger_config parse_logger(option_reader&) {
  return {};
}

/// Loading never spawns: a call is a bug (the loader's tests and the fuzzer
/// both abort on it).
template <class Config>
caf::actor never_spawned(caf::actor_system&, const Config&, const wiring&) {
  std::abort();
}

struct tag_config {
  std::string header;
};

inline tag_config parse_tag(option_reader& r) {
  return {r.str("header", "tag")};
}

struct tag : interceptor {
  explicit tag(std::string h) : header(std::move(h)) {}
  std::size_t apply(batch&) override { return 0; }
  std::string header;
};

inline std::unique_ptr<interceptor> make_tag(const tag_config& cfg) {
  return std::make_unique<tag>(cfg.header);
}

inline registry test_registry() {
  registry r;
  r.add_source("fake_src", parse_src, never_spawned<src_config>);
  r.add_source("exec", parse_exec, never_spawned<exec_config>);
  r.add_channel("mem", parse_mem, never_spawned<mem_config>);
  r.add_sink("snk", parse_snk, never_spawned<snk_config>);
  r.add_sink("logger", parse_logger, never_spawned<logger_config>);
  r.add_interceptor("tag", parse_tag, make_tag);
  r.add_interceptor("timestamp", parse_tag, make_tag);
  return r;
}

} // namespace flumen::test
