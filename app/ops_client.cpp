#include "app/ops_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/top_view.hpp"
#include "runtime/http/http_client.hpp"

namespace flumen {

namespace {

std::string address_of(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string first_line(const std::string& s) {
  auto line = s.substr(0, s.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

// ---- flumen top ----------------------------------------------------------

// The signals top ends on (and SIGWINCH, to redraw) reach the loop through
// a pipe: the loop waits on it with stdin, so no signal is lost between a
// check and a wait.
int signal_pipe[2] = {-1, -1};

extern "C" void on_top_signal(int sig) {
  int saved = errno;
  char c = static_cast<char>(sig);
  [[maybe_unused]] auto n = ::write(signal_pipe[1], &c, 1);
  errno = saved;
}

// Puts the terminal back as it was, whichever way top ends.
class terminal {
public:
  terminal(bool keys, bool screen) {
    if (keys && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      auto raw = saved_;
      // Keys without Enter and without echo; Ctrl-C still signals.
      raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      raw_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    if (screen) {
      // The alternate screen (the shell's text comes back at exit), no
      // cursor.
      std::fputs("\x1b[?1049h\x1b[?25l", stdout);
      std::fflush(stdout);
      screen_ = true;
    }
  }
  ~terminal() {
    if (screen_) {
      std::fputs("\x1b[?25h\x1b[?1049l", stdout);
      std::fflush(stdout);
    }
    if (raw_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  terminal(const terminal&) = delete;
  terminal& operator=(const terminal&) = delete;

private:
  termios saved_{};
  bool raw_ = false;
  bool screen_ = false;
};

struct signal_handlers {
  signal_handlers() {
    if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
    struct sigaction sa {};
    sa.sa_handler = on_top_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) {
      struct sigaction old {};
      ::sigaction(sig, &sa, &old);
      saved.emplace_back(sig, old);
    }
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH})
      sigaddset(&set, sig);
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }
  ~signal_handlers() {
    for (auto& [sig, old] : saved)
      ::sigaction(sig, &old, nullptr);
    for (int& fd : signal_pipe)
      if (fd >= 0) {
        ::close(fd);
        fd = -1;
      }
  }
  std::vector<std::pair<int, struct sigaction>> saved;
};

struct fetched {
  std::optional<top_sample> sample;
  std::string error;
};

/// An agent's /stats.json is about a kilobyte per component; what is
/// larger is not one (and is not read further).
constexpr std::size_t max_stats_bytes = 32u << 20;
/// Of an error answer's body, the start is enough to quote it.
constexpr std::size_t max_error_bytes = 4096;

fetched fetch_stats(const std::string& host, uint16_t port,
                    const std::string& address,
                    const http_client_limits& limits) {
  int status = 0;
  std::string body;
  auto bounded = limits;
  bounded.max_body = max_stats_bytes;
  auto res = http_get(
      host, port, "/stats.json", bounded,
      [&](const http_answer_head& h) {
        status = h.status;
        // Address space only: pages cost memory once written, and the
        // body never grows past it (no copy at twice the size).
        if (status == 200) body.reserve(max_stats_bytes);
        return true;
      },
      [&](std::string_view piece) {
        if (status == 200) {
          body.append(piece);
          return true;
        }
        body.append(piece.substr(0, max_error_bytes - body.size()));
        return body.size() < max_error_bytes;
      });
  if (!res.reached)
    return {std::nullopt,
            "cannot reach the agent at " + address + ": " + res.error};
  if (res.status == 0)
    return {std::nullopt,
            address + " is not a flumen agent's endpoint (" + res.error + ")"};
  if (status != 200)
    return {std::nullopt, address + " answered " + std::to_string(status) +
                              " to /stats.json: " + first_line(body)};
  if (!res.error.empty())
    return {std::nullopt, address +
                              " is not a flumen agent's endpoint "
                              "(/stats.json: " +
                              res.error + ")"};
  std::string why;
  auto s = parse_stats(body, &why);
  if (!s)
    return {std::nullopt,
            address + " is not a flumen agent's endpoint (/stats.json: " + why +
                ")"};
  return {std::move(s), {}};
}

std::string clock_text() {
  auto t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

} // namespace

int cmd_top(const top_options& opt) {
  auto address = address_of(opt.host, opt.port);
  // Short: a frame is late by at most this when the agent hangs.
  http_client_limits limits;
  limits.connect_timeout = std::chrono::seconds{1};
  limits.read_timeout = std::chrono::seconds{2};
  auto first = fetch_stats(opt.host, opt.port, address, limits);
  if (!first.sample) {
    std::cerr << "flumen top: " << first.error
              << " (an agent serves it with --http HOST:PORT or `http:` in "
                 "its topology)\n";
    return 1;
  }
  // `--frames N` is for scripts and a glance: plain frames that stay on
  // the screen, as without a terminal.
  bool tty_out = opt.frames == 0 && ::isatty(STDOUT_FILENO) == 1;
  bool tty_in = tty_out && ::isatty(STDIN_FILENO) == 1;
  signal_handlers handlers;
  terminal term{tty_in, tty_out};

  top_sample last = std::move(*first.sample);
  std::optional<top_sample> before; // the sample before `last`, for rates
  std::string unreachable_since;
  uint64_t drawn = 0;
  auto draw = [&] {
    top_frame_options fo;
    fo.address = address;
    fo.unreachable_since = unreachable_since;
    fo.interactive = tty_in;
    std::size_t rows = 0;
    if (tty_out) {
      winsize ws{};
      if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
        fo.width = ws.ws_col;
        rows = ws.ws_row;
      }
    }
    auto text = render_top(
        last, unreachable_since.empty() && before ? &*before : nullptr, fo);
    if (tty_out) {
      // Home, each line cleared to its end, the rest of the screen
      // cleared: no flicker, and nothing scrolls (lines beyond the
      // screen are left out).
      std::string screen = "\x1b[H";
      std::size_t n = 0;
      for (std::size_t pos = 0; pos < text.size();) {
        auto eol = text.find('\n', pos);
        if (rows > 0 && n + 1 >= rows) break;
        screen += text.substr(pos, eol - pos) + "\x1b[K\r\n";
        pos = eol + 1;
        ++n;
      }
      screen += "\x1b[J";
      std::fwrite(screen.data(), 1, screen.size(), stdout);
    } else {
      if (drawn > 0) std::fputc('\n', stdout);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);
    ++drawn;
  };
  draw();
  using clock = std::chrono::steady_clock;
  // Polling faster than this would load the agent for nothing to read.
  auto interval = std::max(opt.interval, std::chrono::milliseconds{100});
  auto next = clock::now() + interval;
  while (opt.frames == 0 || drawn < opt.frames) {
    pollfd fds[2] = {{signal_pipe[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                    next - clock::now())
                    .count();
    int n = ::poll(fds, tty_in ? 2 : 1,
                   static_cast<int>(std::max<int64_t>(0, wait)));
    if (n < 0 && errno != EINTR) break;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      char sig = 0;
      bool quit = false;
      bool redraw = false;
      while (::read(signal_pipe[0], &sig, 1) == 1) {
        if (sig == SIGWINCH)
          redraw = true;
        else
          quit = true;
      }
      if (quit) break;
      if (redraw) draw();
      continue;
    }
    if (tty_in && n > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
      char keys[64];
      auto got = ::read(STDIN_FILENO, keys, sizeof keys);
      if (got == 0 && (fds[1].revents & POLLHUP)) break; // the terminal went
      bool quit = false;
      for (ssize_t i = 0; i < got; ++i)
        if (keys[i] == 'q' || keys[i] == 'Q') quit = true;
      if (quit) break;
      continue;
    }
    if (clock::now() < next) continue;
    next += interval;
    if (next < clock::now()) next = clock::now() + interval;
    auto f = fetch_stats(opt.host, opt.port, address, limits);
    if (f.sample) {
      before = std::move(last);
      last = std::move(*f.sample);
      unreachable_since.clear();
    } else if (unreachable_since.empty()) {
      // Reached once: keep trying, and say since when it failed.
      unreachable_since = clock_text();
      before.reset();
    }
    draw();
  }
  return 0;
}

// ---- flumen tap ----------------------------------------------------------

namespace {

/// The longest tap line held whole (an event's headers are printed in
/// full); the rest of a longer one is dropped, and the line says so.
constexpr std::size_t max_tap_line = 1u << 20;

std::string percent_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

} // namespace

int cmd_tap(const tap_options& opt) {
  auto address = address_of(opt.host, opt.port);
  http_client_limits limits;
  limits.connect_timeout = std::chrono::seconds{2};
  // First make sure it is an agent: a server that is not one may answer
  // anything to /tap/..., even 200 and nothing.
  if (auto f = fetch_stats(opt.host, opt.port, address, limits); !f.sample) {
    std::cerr << "flumen tap: " << f.error;
    if (f.error.starts_with("cannot reach"))
      std::cerr << " (an agent serves taps with --http HOST:PORT or `http:` "
                   "in its topology)";
    std::cerr << '\n';
    return 1;
  }
  // The agent sends an empty line after 2 s without events: a silence of
  // 10 s means it is gone or hung.
  limits.read_timeout = std::chrono::seconds{10};
  int status = 0;
  std::string error_body;
  std::string partial;
  bool cutting = false; // dropping the rest of a line over max_tap_line
  uint64_t printed = 0;
  auto print = [&](std::string_view line, bool cut) {
    if (line.empty()) return; // the agent's "still here"
    if (line.starts_with("# ")) {
      std::cerr << "flumen tap: " << line.substr(2) << '\n';
      return;
    }
    std::cout << line;
    if (cut)
      std::cout << "...(cut: a line over " << (max_tap_line >> 20) << " MiB)";
    std::cout << '\n';
    ++printed;
  };
  auto path = "/tap/" + percent_encode(opt.component) +
              "?limit=" + std::to_string(opt.limit);
  auto res = http_get(
      opt.host, opt.port, path, limits,
      [&](const http_answer_head& h) {
        status = h.status;
        return true;
      },
      [&](std::string_view data) {
        if (status != 200) {
          error_body.append(
              data.substr(0, max_error_bytes - error_body.size()));
          return error_body.size() < max_error_bytes;
        }
        while (!data.empty()) {
          auto eol = data.find('\n');
          auto piece = data.substr(0, eol);
          if (!cutting) {
            // A line is held whole up to a bound: an event's headers are
            // printed in full, but a stream without newlines is no tap.
            auto room = max_tap_line - partial.size();
            partial.append(piece.substr(0, room));
            if (piece.size() > room) cutting = true;
          }
          if (eol == std::string_view::npos) break;
          print(partial, cutting);
          partial.clear();
          cutting = false;
          data.remove_prefix(eol + 1);
        }
        std::cout.flush();
        return printed < opt.limit;
      });
  if (status != 0 && status != 200) {
    std::cerr << "flumen tap: " << address << " answered " << status << ": "
              << first_line(error_body) << '\n';
    return 1;
  }
  if (printed >= opt.limit) return 0;
  if (!res.reached) {
    std::cerr << "flumen tap: cannot reach the agent at " << address << ": "
              << res.error << " (did the agent stop?)\n";
    return 1;
  }
  std::cerr << "flumen tap: the tap ended after " << printed << " of "
            << opt.limit << " events"
            << (res.error.empty() ? ""
                                  : ": " + res.error + " (did the agent stop?)")
            << '\n';
  return 1;
}

} // namespace flumen
