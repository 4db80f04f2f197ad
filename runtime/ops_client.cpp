#include "runtime/ops_client.hpp"

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

#include <httplib.h>

#include "runtime/top_view.hpp"

namespace flumen {

namespace {

std::string address_of(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// httplib's error names ("Connection") say little on their own.
std::string failure(httplib::Error e) {
  switch (e) {
  case httplib::Error::Connection:
    return "cannot connect (nothing listens there, or no route)";
  case httplib::Error::ConnectionTimeout:
    return "the connection timed out";
  case httplib::Error::Read:
    return "no answer (the connection closed or the read timed out)";
  case httplib::Error::Write:
    return "the request could not be sent";
  default:
    return httplib::to_string(e);
  }
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

fetched fetch_stats(httplib::Client& cli, const std::string& address) {
  auto res = cli.Get("/stats.json");
  if (!res)
    return {std::nullopt, "cannot reach the agent at " + address + ": " +
                              failure(res.error())};
  if (res->status != 200)
    return {std::nullopt, address + " answered " + std::to_string(res->status) +
                              " to /stats.json: " + first_line(res->body)};
  std::string why;
  auto s = parse_stats(res->body, &why);
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
  httplib::Client cli(opt.host, opt.port);
  // Short: a frame is late by at most this when the agent hangs.
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(2, 0);
  cli.set_write_timeout(2, 0);
  auto first = fetch_stats(cli, address);
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
    auto f = fetch_stats(cli, address);
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
  httplib::Client cli(opt.host, opt.port);
  cli.set_connection_timeout(2, 0);
  // The agent sends an empty line after 2 s without events: a silence of
  // 10 s means it is gone or hung.
  cli.set_read_timeout(10, 0);
  int status = 0;
  std::string error_body;
  std::string partial;
  uint64_t printed = 0;
  auto path = "/tap/" + percent_encode(opt.component) +
              "?limit=" + std::to_string(opt.limit);
  auto res = cli.Get(
      path,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, std::size_t len) {
        if (status != 200) {
          if (error_body.size() < 4096) error_body.append(data, len);
          return true;
        }
        partial.append(data, len);
        std::size_t pos = 0;
        for (auto eol = partial.find('\n', pos); eol != std::string::npos;
             eol = partial.find('\n', pos)) {
          auto line = std::string_view{partial}.substr(pos, eol - pos);
          pos = eol + 1;
          if (line.empty()) continue; // the agent's "still here"
          if (line.starts_with("# ")) {
            std::cerr << "flumen tap: " << line.substr(2) << '\n';
            continue;
          }
          std::cout << line << '\n';
          ++printed;
        }
        partial.erase(0, pos);
        std::cout.flush();
        return true;
      });
  if (status != 0 && status != 200) {
    std::cerr << "flumen tap: " << address << " answered " << status << ": "
              << first_line(error_body) << '\n';
    return 1;
  }
  if (printed >= opt.limit) return 0;
  if (!res && status == 0) {
    std::cerr << "flumen tap: cannot reach the agent at " << address << ": "
              << failure(res.error())
              << " (an agent serves taps with --http HOST:PORT or `http:` in "
                 "its topology)\n";
    return 1;
  }
  std::cerr << "flumen tap: the tap ended after " << printed << " of "
            << opt.limit << " events"
            << (res ? ""
                    : ": " + failure(res.error()) + " (did the agent stop?)")
            << '\n';
  return 1;
}

} // namespace flumen
