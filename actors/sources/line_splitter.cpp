#include "actors/sources/line_splitter.hpp"
#include "actors/sources/stream_decoder.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include "runtime/core/metrics.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

overlong_policy parse_overlong_policy(option_reader& r) {
  auto s =
      r.choice("overlong_policy", "truncate", {"truncate", "drop", "split"});
  if (s == "drop") return overlong_policy::drop;
  if (s == "split") return overlong_policy::split;
  return overlong_policy::truncate;
}

void line_splitter::end_line(batch& out) {
  if (overflow_ && policy_ == overlong_policy::drop) {
    ++dropped_;
    if (marks_) marks_->push_back(out.size());
  } else {
    if (!overflow_ && !line_.empty() && line_.back() == '\r') line_.pop_back();
    if (overflow_) ++truncated_;
    // The CR of a split line's CRLF can be all that is left of it: that is
    // no piece of its own.
    if (!split_ || !line_.empty()) out.emplace_back().body = std::move(line_);
  }
  line_.clear();
  overflow_ = false;
  split_ = false;
}

void line_splitter::feed(const char* data, std::size_t n, batch& out) {
  while (n > 0) {
    auto nl = static_cast<const char*>(std::memchr(data, '\n', n));
    auto seg = nl ? static_cast<std::size_t>(nl - data) : n;
    if (nl && seg <= max_ && line_.empty() && !overflow_ && !split_) {
      // A whole line in `data` (the common case) becomes its body straight
      // from the buffer, as end_line would make it. Through line_, the CR
      // check read back a byte just copied to fresh memory and stalled on
      // it: 6.6 % of a 100 B netcat -> memory -> kafka profile.
      auto len = seg;
      if (len > 0 && data[len - 1] == '\r') --len;
      out.emplace_back().body.assign(data, len);
      data = nl + 1;
      n -= seg + 1;
      continue;
    }
    if (!overflow_) {
      auto room = max_ - line_.size();
      if (seg <= room) {
        line_.append(data, seg);
      } else if (policy_ == overlong_policy::split) {
        // Emit full chunks; the remainder continues the line.
        auto rest = seg;
        auto p = data;
        while (rest > max_ - line_.size()) {
          auto take = max_ - line_.size();
          line_.append(p, take);
          p += take;
          rest -= take;
          out.emplace_back().body = std::move(line_);
          line_.clear();
          split_ = true;
        }
        line_.append(p, rest);
      } else {
        line_.append(data, room);
        overflow_ = true;
      }
    }
    if (!nl) return;
    end_line(out);
    data = nl + 1;
    n -= seg + 1;
  }
}

void line_splitter::finish(batch& out) {
  if (!line_.empty() || overflow_) end_line(out);
}

line_splitter::counts line_splitter::take_counts() {
  counts c{dropped_ - dropped_taken_, truncated_ - truncated_taken_};
  dropped_taken_ = dropped_;
  truncated_taken_ = truncated_;
  return c;
}

} // namespace flumen::sources

namespace flumen::sources {

void count_overlong(line_splitter& lines, component_metrics& m) {
  auto c = lines.take_counts();
  // fetch_add answers the old value: the first to add to a zero counter
  // warns, once per source and not once per line (or per connection).
  if (c.dropped > 0 &&
      m.events_dropped.fetch_add(c.dropped, std::memory_order_relaxed) == 0)
    spdlog::warn("{}: dropped a line longer than max_line_length ({} bytes); "
                 "every such line is counted in events_dropped",
                 m.name, lines.max_line_length());
  if (c.truncated > 0 &&
      m.events_truncated.fetch_add(c.truncated, std::memory_order_relaxed) == 0)
    spdlog::warn("{}: truncated a line longer than max_line_length ({} "
                 "bytes); every such line is counted in events_truncated",
                 m.name, lines.max_line_length());
}

bool emit_batches(batch& pending, std::size_t batch_size, source_pump& pump,
                  bool all, uint64_t* last_number) {
  // Moving events is most of what handing them over costs (15 % of a
  // netcat reader at 100 B lines, bench/README.md, part 13, tenth pass), so
  // as few move as can be: a batch that starts `pending` and is at least
  // as long as what follows it is the vector itself, and only what follows
  // moves out (a read sized to fill a batch, as netcat's are, leaves a few
  // lines over). Otherwise batches are cut from `from` on, and what is left
  // moves to the front once, at the end (erasing each batch from the front
  // moved everything after it each time).
  std::size_t from = 0;
  bool torn_down = false;
  for (;;) {
    // The events that fit one batch, by count and by bytes.
    std::size_t n = 0;
    std::size_t bytes = 0;
    auto limit = std::min(pending.size() - from, batch_size);
    while (n < limit) {
      bytes += pending[from + n].body.size();
      if (n > 0 && bytes > max_batch_bytes) break;
      ++n;
    }
    // (`bytes` counts the event that did not fit, if one stopped it.)
    bool full = n == batch_size || bytes >= max_batch_bytes;
    if (n == 0 || (!full && !all)) break;
    batch out;
    auto left = pending.size() - from - n;
    if (from == 0 && left <= n) {
      batch rest;
      if (left > 0) {
        // Room for the next read's lines too, so they do not regrow it.
        rest.reserve(std::max(left, batch_size + batch_size / 4));
        std::move(pending.begin() + static_cast<std::ptrdiff_t>(n),
                  pending.end(), std::back_inserter(rest));
        pending.resize(n);
      }
      out = std::exchange(pending, std::move(rest));
    } else {
      out = move_range(pending, from, from + n);
      from += n;
    }
    auto number = pump.emit_numbered(std::move(out));
    if (number == 0) {
      torn_down = true;
      break;
    }
    if (last_number) *last_number = number;
  }
  if (from == pending.size())
    pending.clear(); // every event moved from
  else if (from > 0)
    pending.erase(pending.begin(),
                  pending.begin() + static_cast<std::ptrdiff_t>(from));
  if (torn_down) {
    // emit counts a batch it cannot deliver as received and undelivered.
    // The rest was read from outside too, so it goes the same way instead
    // of vanishing with `pending`.
    pump.emit(std::exchange(pending, batch{}));
    return false;
  }
  return true;
}

int poll_timeout(std::chrono::steady_clock::time_point deadline) {
  using clock = std::chrono::steady_clock;
  if (deadline == clock::time_point::max()) return 1000;
  // Rounded up: rounded down, the last millisecond before a deadline is
  // spent in polls that return at once.
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1000));
}

bool pump_lines(int fd, line_splitter& lines, source_pump& pump,
                std::size_t batch_size,
                std::chrono::milliseconds batch_timeout) {
  using clock = std::chrono::steady_clock;
  auto& m = pump.metrics();
  batch pending;
  auto deadline = clock::time_point::max();
  auto flush = [&](bool all) {
    if (!emit_batches(pending, batch_size, pump, all)) return false;
    if (pending.empty()) deadline = clock::time_point::max();
    return true;
  };
  char buf[65536];
  pollfd fds[2] = {{pump.wake_fd(), POLLIN, 0}, {fd, POLLIN, 0}};
  while (!pump.stopping() && !pump.aborted()) {
    int timeout = poll_timeout(deadline);
    fds[1].revents = 0;
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      auto before = pending.size();
      auto n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        lines.finish(pending);
        count_overlong(lines, m);
        flush(true);
        return true;
      }
      lines.feed(buf, static_cast<std::size_t>(n), pending);
      count_overlong(lines, m);
      if (before == 0 && !pending.empty())
        deadline = clock::now() + batch_timeout;
    }
    if (!flush(clock::now() >= deadline)) return false;
  }
  flush(true);
  return false;
}

} // namespace flumen::sources

namespace flumen::sources {

std::size_t line_decoder::through_end(const char* data, std::size_t n) const {
  auto* nl = static_cast<const char*>(std::memchr(data, '\n', n));
  return nl ? static_cast<std::size_t>(nl - data) + 1 : std::string::npos;
}

void line_decoder::count(component_metrics& m) {
  count_overlong(lines_, m);
}

} // namespace flumen::sources
