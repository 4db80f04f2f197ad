#include "runtime/core/tap.hpp"

#include <algorithm>

namespace flumen {

namespace {

// Length of the valid UTF-8 sequence at `s[i]` (2-4), or 0: overlong forms,
// surrogates and code points above U+10FFFF are not valid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (b(k) & 0xC0) == 0x80;
  };
  auto c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0; // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

void escape(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (auto n = utf8_sequence(s, i)) {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
    }
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20 || c >= 0x7F) {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 0xF];
      } else {
        out += static_cast<char>(c);
      }
    }
    ++i;
  }
}

constexpr std::size_t max_header_text = 512;

} // namespace

std::string format_tap_line(std::string_view component, const event& e,
                            std::size_t max_body) {
  std::string out;
  out.reserve(component.size() + std::min(e.body.size(), max_body) + 32);
  out.append(component);
  out += " {";
  auto start = out.size();
  bool first = true;
  for (auto& [k, v] : e.headers) {
    if (out.size() - start > max_header_text) {
      out += ", ...";
      break;
    }
    if (!first) out += ", ";
    first = false;
    escape(out, k);
    out += '=';
    escape(out, v);
  }
  out += "} \"";
  std::string_view body{e.body};
  escape(out, body.substr(0, max_body));
  out += '"';
  if (body.size() > max_body)
    out += "...(+" + std::to_string(body.size() - max_body) + " bytes)";
  return out;
}

tap_queue::tap_queue(std::size_t capacity, std::size_t max_body)
    : capacity_(capacity), max_body_(max_body) {}

void tap_queue::push(std::string_view component, const batch& events) {
  std::lock_guard guard{mtx_};
  std::size_t i = 0;
  for (; i < events.size() && lines_.size() < capacity_; ++i)
    lines_.push_back(format_tap_line(component, events[i], max_body_));
  missed_ += events.size() - i;
}

std::size_t tap_queue::pop(std::vector<std::string>& out, std::size_t max) {
  std::lock_guard guard{mtx_};
  std::size_t n = 0;
  for (; n < max && !lines_.empty(); ++n) {
    out.push_back(std::move(lines_.front()));
    lines_.pop_front();
  }
  return n;
}

uint64_t tap_queue::take_missed() {
  std::lock_guard guard{mtx_};
  return std::exchange(missed_, 0);
}

std::size_t tap_queue::size() const {
  std::lock_guard guard{mtx_};
  return lines_.size();
}

void tap_point::subscribe(std::shared_ptr<tap_queue> q, std::string component) {
  std::lock_guard guard{mtx_};
  queues_.emplace_back(std::move(q), std::move(component));
  tappers_.store(static_cast<int>(queues_.size()), std::memory_order_relaxed);
}

void tap_point::unsubscribe(const std::shared_ptr<tap_queue>& q) {
  std::lock_guard guard{mtx_};
  std::erase_if(queues_, [&](auto& entry) { return entry.first == q; });
  tappers_.store(static_cast<int>(queues_.size()), std::memory_order_relaxed);
}

void tap_point::publish(const batch& events) {
  published_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard guard{mtx_};
  for (auto& [q, component] : queues_)
    q->push(component, events);
}

} // namespace flumen
