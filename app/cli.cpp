#include "app/cli.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actors/builtin.hpp"
#include "runtime/core/signals.hpp"

namespace flumen::app {

sigset_t block_stop_signals() {
  auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

const char* signal_name(int sig) {
  switch (sig) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  case SIGHUP:
    return "SIGHUP";
  }
  return "a signal";
}

std::optional<std::chrono::milliseconds>
parse_duration(const std::string& text) {
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!std::isfinite(value) || value < 0 || text.front() == '-' ||
      text.front() == '+' || std::isspace(static_cast<unsigned char>(text[0])))
    return std::nullopt;
  auto unit = text.substr(end);
  double scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60e3;
  else if (unit == "h")
    scale = 3600e3;
  else
    return std::nullopt;
  auto ms = value * scale;
  if (ms > 365.0 * 24 * 3600e3) return std::nullopt;
  return std::chrono::milliseconds{static_cast<int64_t>(ms)};
}

std::optional<std::size_t> parse_size(const std::string& text) {
  std::size_t end = 0;
  unsigned long long value = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    return std::nullopt;
  try {
    value = std::stoull(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit;
  for (auto c : text.substr(end))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned long long scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    scale = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    scale = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    scale = 1ull << 30;
  else
    return std::nullopt;
  if (value > (1ull << 40) / scale) return std::nullopt;
  return static_cast<std::size_t>(value * scale);
}

bool stop_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGTERM) == 1 ||
         sigismember(&pending, SIGINT) == 1;
}

int wait_signal(const sigset_t& set, std::chrono::milliseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000),
              static_cast<long>((d.count() % 1000) * 1000000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

registry builtin_registry() {
  registry reg;
  register_builtin(reg);
  return reg;
}

std::optional<topology> load_or_report(const std::string& file,
                                       const probe_scope& probe) {
  auto result = load_topology(file, builtin_registry(), probe);
  for (auto& err : result.errors)
    std::cerr << err.to_string() << '\n';
  if (result.errors.empty())
    for (auto& w : result.warnings)
      std::cerr << "warning: " << w.to_string() << '\n';
  if (!result.errors.empty()) {
    std::cerr << result.errors.size() << " error"
              << (result.errors.size() == 1 ? "" : "s") << " in " << file
              << '\n';
    return std::nullopt;
  }
  return std::move(result.topo);
}

std::optional<std::pair<std::string, uint16_t>>
split_host_port(const std::string& text, const char* flag) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::cerr << "bad " << flag << " '" << text << "': expected HOST:PORT\n";
    return std::nullopt;
  }
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  auto ptext = text.substr(colon + 1);
  auto [end, ec] =
      std::from_chars(ptext.data(), ptext.data() + ptext.size(), port);
  if (ec != std::errc{} || end != ptext.data() + ptext.size() || port < 0 ||
      port > 65535) {
    std::cerr << "bad " << flag << " '" << text
              << "': PORT must be 0 to 65535\n";
    return std::nullopt;
  }
  return std::pair{host, static_cast<uint16_t>(port)};
}

std::function<void(const std::string&)>
duration_flag(std::chrono::milliseconds& out) {
  return [&out](const std::string& text) {
    auto d = parse_duration(text);
    if (!d)
      throw CLI::ValidationError(
          "'" + text + "' is not a duration (e.g. 30s, 500ms, 2m, 1.5)");
    out = *d;
  };
}

void release_clock(caf::actor_system& sys) {
  sys.clock().cancel_all();
}

} // namespace flumen::app
