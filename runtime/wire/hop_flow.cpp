#include "runtime/wire/hop_flow.hpp"

#include <algorithm>
#include <limits>

namespace flumen::hop {

namespace {

/// first + count, saturated (a hostile count must not wrap around).
uint64_t end_of(uint64_t first, uint64_t count) {
  return count > std::numeric_limits<uint64_t>::max() - first
             ? std::numeric_limits<uint64_t>::max()
             : first + count;
}

} // namespace

void accepted_numbers::absorb() {
  while (!ranges_.empty() && ranges_.begin()->first <= below_) {
    below_ = std::max(below_, ranges_.begin()->second);
    ranges_.erase(ranges_.begin());
  }
}

void accepted_numbers::settled_below(uint64_t n) {
  if (n <= below_) return;
  below_ = n;
  // Ranges wholly below go; one reaching past n moves below_ to its end.
  absorb();
}

bool accepted_numbers::has(uint64_t first, uint64_t count) const {
  auto end = end_of(first, count);
  if (end <= below_) return true;
  if (first < below_) return false; // ranges_ start above below_
  auto i = ranges_.upper_bound(first);
  if (i == ranges_.begin()) return false;
  --i;
  return i->first <= first && end <= i->second;
}

void accepted_numbers::add(uint64_t first, uint64_t count) {
  auto end = end_of(first, count);
  if (end <= below_ || count == 0) return;
  first = std::max(first, below_);
  // Merge with every range it overlaps or touches.
  auto i = ranges_.upper_bound(first);
  if (i != ranges_.begin()) {
    auto prev = std::prev(i);
    if (prev->second >= first) i = prev;
  }
  while (i != ranges_.end() && i->first <= end) {
    first = std::min(first, i->first);
    end = std::max(end, i->second);
    i = ranges_.erase(i);
  }
  ranges_.emplace(first, end);
  absorb();
  // The bound: the lowest ranges are the oldest; a sender that states its
  // lowest unsettled number in its hellos keeps this at one or two.
  while (ranges_.size() > max_ranges_) {
    ranges_.erase(ranges_.begin());
    ++forgotten_;
  }
}

void link_estimate::advance(clock::time_point now) {
  if (in_flight_ > 0 && now > last_) busy_ += now - last_;
  last_ = now;
}

void link_estimate::on_send(clock::time_point now, std::size_t bytes) {
  advance(now);
  in_flight_ += bytes;
}

void link_estimate::on_answer(clock::time_point now, std::size_t bytes,
                              bool acked) {
  advance(now);
  in_flight_ -= std::min(in_flight_, bytes);
  if (!acked) return;
  answered_ += bytes;
  if (busy_ < min_span) return;
  auto secs = std::chrono::duration<double>(busy_).count();
  auto sample = static_cast<double>(answered_) / secs;
  rate_ = rate_ == 0 ? sample : 0.5 * rate_ + 0.5 * sample;
  answered_ = 0;
  busy_ = {};
}

void link_estimate::on_loss(clock::time_point now) {
  advance(now);
  if (rate_ > 0)
    rate_ /= 2;
  else
    unmeasured_ = std::max(min_message, unmeasured_ / 2);
  answered_ = 0;
  busy_ = {};
}

std::size_t link_estimate::message_bytes() const {
  if (rate_ == 0) return unmeasured_;
  auto secs = std::chrono::duration<double>(link_timeout_).count() / 4;
  auto n = rate_ * secs;
  if (n >= static_cast<double>(std::numeric_limits<std::size_t>::max() / 2))
    return std::numeric_limits<std::size_t>::max() / 2;
  return std::max(min_message, static_cast<std::size_t>(n));
}

std::size_t link_estimate::window_bytes() const {
  auto message = message_bytes();
  if (rate_ == 0) return message;
  auto secs = std::chrono::duration<double>(request_timeout_).count() / 4;
  auto n = rate_ * secs;
  if (n >= static_cast<double>(std::numeric_limits<std::size_t>::max() / 2))
    return std::numeric_limits<std::size_t>::max() / 2;
  return std::max(message, static_cast<std::size_t>(n));
}

} // namespace flumen::hop
