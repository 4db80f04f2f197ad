// RFC 6587 framing. A message that arrives whole inside one feed is handed
// over as a view of the caller's bytes (no copy); only a message split
// across feeds is gathered in buf_, and never more than max_ bytes of it.

#include "actors/sources/syslog/syslog.hpp"

#include <cstring>

namespace flumen::sources::syslog {

framer::framer(framing mode, std::size_t max_message_size)
    : mode_(mode), max_(max_message_size == 0 ? 1 : max_message_size) {}

bool framer::in_message() const {
  return !buf_.empty() || !len_.empty() || in_msg_ || skipping_ || cr_;
}

bool framer::fail(std::string why) {
  error_ = std::move(why);
  buf_.clear();
  len_.clear();
  in_msg_ = skipping_ = cr_ = false;
  return false;
}

void framer::reset_message() {
  buf_.clear();
  in_msg_ = cr_ = false;
  remaining_ = 0;
}

bool framer::feed_impl(std::string_view bytes, const sink& on_message) {
  if (!error_.empty()) return false;
  if (bytes.empty()) return true;
  if (mode_ == framing::auto_detect)
    mode_ = bytes[0] >= '0' && bytes[0] <= '9' ? framing::octet_counting
                                               : framing::lf;
  return mode_ == framing::lf ? feed_lf(bytes, on_message)
                              : feed_octets(bytes, on_message);
}

bool framer::feed_lf(std::string_view b, const sink& on_message) {
  std::size_t pos = 0;
  const std::size_t n = b.size();
  while (pos < n) {
    const char* nl_ptr =
        static_cast<const char*>(std::memchr(b.data() + pos, '\n', n - pos));
    const std::size_t nl =
        nl_ptr ? static_cast<std::size_t>(nl_ptr - b.data()) : n;
    if (skipping_) {
      // The rest of a message already delivered cut: dropped unread.
      if (nl == n) return true;
      skipping_ = false;
      pos = nl + 1;
      continue;
    }
    auto seg = b.substr(pos, nl - pos);
    if (cr_) {
      // max_ bytes and a '\r' held back: a '\n' now makes it a CRLF ending
      // (the message fit); anything else makes the '\r' its 2nd excess byte.
      bool fits = nl == pos;
      on_message(message{buf_, !fits});
      reset_message();
      if (fits)
        pos = nl + 1;
      else
        skipping_ = true;
      continue;
    }
    if (nl < n) {
      // A whole line: buf_ + seg, less a '\r' before the '\n'.
      auto total = buf_.size() + seg.size();
      bool cr = total > 0 && (seg.empty() ? buf_.back() : seg.back()) == '\r';
      auto len = total - cr;
      pos = nl + 1;
      if (len == 0) {
        // A blank line is no message (Flume skips a '\n' between messages).
        reset_message();
        continue;
      }
      bool cut = len > max_;
      auto keep = std::min(len, max_);
      if (buf_.empty()) {
        on_message(message{seg.substr(0, keep), cut});
      } else {
        if (keep > buf_.size())
          buf_.append(seg.substr(0, keep - buf_.size()));
        else
          buf_.resize(keep);
        on_message(message{buf_, cut});
      }
      reset_message();
      continue;
    }
    // No '\n' in the rest of these bytes: gather up to max_.
    auto room = max_ - buf_.size();
    if (seg.size() <= room) {
      buf_.append(seg);
      return true;
    }
    buf_.append(seg.substr(0, room));
    if (seg.size() == room + 1 && seg[room] == '\r') {
      cr_ = true; // the line may yet end here with CRLF
      return true;
    }
    on_message(message{buf_, true});
    reset_message();
    skipping_ = true;
    pos += room;
  }
  return true;
}

bool framer::feed_octets(std::string_view b, const sink& on_message) {
  std::size_t pos = 0;
  const std::size_t n = b.size();
  while (pos < n) {
    if (!in_msg_) {
      char c = b[pos];
      if (c >= '0' && c <= '9') {
        if (len_.empty() && c == '0')
          return fail("octet counting: a length with a leading zero");
        if (len_.size() == 9)
          return fail("octet counting: a length of more than 9 digits");
        len_.push_back(c);
        ++pos;
        continue;
      }
      if (c != ' ' || len_.empty()) {
        static constexpr char hex[] = "0123456789abcdef";
        std::string why = "octet counting: expected a length";
        why += len_.empty() ? "" : " or a space after it";
        why += ", got byte 0x";
        why += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
        why += hex[static_cast<unsigned char>(c) & 0xf];
        return fail(std::move(why));
      }
      remaining_ = 0;
      for (char d : len_)
        remaining_ = remaining_ * 10 + static_cast<uint64_t>(d - '0');
      len_.clear();
      ++pos;
      in_msg_ = true;
      skipping_ = false;
      continue;
    }
    auto avail = static_cast<uint64_t>(n - pos);
    if (skipping_) {
      // The rest of a message longer than max_, already delivered cut.
      auto take = std::min(remaining_, avail);
      pos += static_cast<std::size_t>(take);
      remaining_ -= take;
      if (remaining_ == 0) in_msg_ = skipping_ = false;
      continue;
    }
    // Bytes still wanted: up to the length, and up to max_ in all.
    auto want = std::min<uint64_t>(remaining_, max_ - buf_.size());
    if (buf_.empty() && want <= avail) {
      auto view = b.substr(pos, static_cast<std::size_t>(want));
      pos += view.size();
      remaining_ -= want;
      bool cut = remaining_ > 0;
      on_message(message{view, cut});
      in_msg_ = remaining_ > 0;
      skipping_ = cut;
      continue;
    }
    auto take = std::min(want, avail);
    buf_.append(b.substr(pos, static_cast<std::size_t>(take)));
    pos += static_cast<std::size_t>(take);
    remaining_ -= take;
    if (take == want) {
      bool cut = remaining_ > 0;
      on_message(message{buf_, cut});
      buf_.clear();
      in_msg_ = cut;
      skipping_ = cut;
    }
  }
  return true;
}

bool framer::finish_impl(const sink& on_message) {
  if (!error_.empty()) return false;
  bool delivered = false;
  if (mode_ == framing::lf) {
    if (!skipping_ && (!buf_.empty() || cr_)) {
      // cr_: max_ bytes and a '\r' beyond them, so cut.
      on_message(message{buf_, cr_});
      delivered = true;
    }
  } else if (in_msg_ && !skipping_ && !buf_.empty()) {
    // Fewer bytes than its length said: what came, cut.
    on_message(message{buf_, true});
    delivered = true;
  }
  reset_message();
  len_.clear();
  skipping_ = false;
  return delivered;
}

} // namespace flumen::sources::syslog
