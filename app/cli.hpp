#pragma once

// What the subcommands of `flumen` share: signals, the forms of durations,
// sizes and addresses on the command line, loading a topology with its
// errors printed, and the shape of a subcommand.

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>

#include "runtime/config/topology.hpp"

namespace CLI {
class App;
}

namespace flumen::app {

inline constexpr const char* version_text = "flumen 0.1.0";

/// A subcommand: added to the command line by its file (app/cmd_*.cpp),
/// run by main when it was the one given. `run` returns the exit code.
struct command {
  CLI::App* sub = nullptr;
  std::function<int()> run;
};

command add_run(CLI::App& app);
command add_validate(CLI::App& app);
command add_import(CLI::App& app);
command add_test(CLI::App& app);
command add_graph(CLI::App& app);
command add_broker(CLI::App& app);
command add_channel(CLI::App& app);
command add_node(CLI::App& app);
command add_top(CLI::App& app);
command add_tap(CLI::App& app);

/// Blocks the stop signals and SIGHUP in every thread (call before any
/// thread starts), so the main thread can wait for them with sigtimedwait.
/// Children (exec) get default dispositions and an empty mask back.
sigset_t block_stop_signals();

/// "SIGINT", "SIGTERM", "SIGHUP" or "a signal".
const char* signal_name(int sig);

/// Waits up to `d` for one of `set`; returns it, or 0.
int wait_signal(const sigset_t& set, std::chrono::milliseconds d);

/// A SIGTERM or SIGINT is waiting (blocked, not taken yet).
bool stop_pending();

/// `500ms`, `3s`, `2m`, `1h`, or a number of seconds (`2.5`); nullopt for
/// anything else, negative numbers, NaN and infinities included.
std::optional<std::chrono::milliseconds>
parse_duration(const std::string& text);

/// `512`, `64KB`, `16MB`, `1GB` (powers of 1024, as in topology files);
/// nullopt for anything else.
std::optional<std::size_t> parse_size(const std::string& text);

/// A CLI11 option function that parses a duration into `out`.
std::function<void(const std::string&)>
duration_flag(std::chrono::milliseconds& out);

/// HOST:PORT or [V6]:PORT; nullopt (and a message) when malformed.
std::optional<std::pair<std::string, uint16_t>>
split_host_port(const std::string& text, const char* flag);

/// Every built-in component type.
registry builtin_registry();

/// Drops every message and timeout the actor system's clock still holds,
/// once every component has stopped, just before the system is destroyed.
/// Each holds a strong reference to its actor, and the clock's thread is
/// gone by the time the destructor waits for detached actors: a sink that
/// ended with a retry tick pending (a `delayed_send` to itself) kept its
/// thread, and the process, waiting until a watchdog ended it.
void release_clock(caf::actor_system& sys);

/// Loads a topology and prints its errors; nullopt when it has any.
std::optional<topology> load_or_report(const std::string& file,
                                       const probe_scope& probe = {});

} // namespace flumen::app
