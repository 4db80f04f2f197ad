// libFuzzer target: syslog parsing and framing
// (actors/sources/syslog/syslog.hpp). The first four bytes choose the
// options (format, kept fields, structured data, max_message_size, zone,
// framing, receive time); the rest is the stream. Parsing any bytes never
// crashes and never makes a body longer than the message or
// max_message_size; an Invalid message has no other header and the message
// as its body. Framing the stream whole, byte by byte and in chunks cut
// where the input says gives the same messages, none longer than the
// maximum, and nothing after a framing error. Built by tests/fuzz/run.sh
// with clang; see tests/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "actors/sources/syslog/syslog.hpp"

namespace {

using namespace flumen;
using namespace flumen::sources::syslog;

struct got {
  std::string bytes;
  bool truncated;
  bool operator==(const got&) const = default;
};

struct outcome {
  std::vector<got> messages;
  bool ok = true;
  bool finished = false;
  bool operator==(const outcome&) const = default;
};

void check_parse(std::string_view msg, bool truncated, const parse_options& opt,
                 int64_t now_ms) {
  event e;
  parse_message(msg, truncated, opt, now_ms, e);
  auto cut = msg.substr(0, std::min(msg.size(), opt.max_message_size));
  if (e.body.size() > cut.size()) std::abort();
  auto status = e.headers.find(status_header);
  if (status != e.headers.end() && status->second == "Invalid") {
    if (e.headers.size() != 1 || e.body != cut) std::abort();
    return;
  }
  if (!e.headers.contains(facility_header) ||
      !e.headers.contains(severity_header))
    std::abort();
  bool incomplete = status != e.headers.end();
  if (incomplete != (truncated || msg.size() > opt.max_message_size))
    std::abort();
  if (incomplete && status->second != "Incomplete") std::abort();
  auto ts = e.headers.find(timestamp_header);
  if (ts != e.headers.end()) {
    auto& v = ts->second;
    if (v.empty() || v.size() > 20) std::abort();
  }
  if (opt.keep.priority && opt.keep.version && opt.keep.timestamp &&
      opt.keep.hostname && e.body != cut)
    std::abort();
}

// Feeds `stream` in pieces (each of `sizes`, cycled; 0: all at once).
outcome frame(framing mode, std::size_t max, std::string_view stream,
              const std::vector<std::size_t>& sizes) {
  framer f(mode, max);
  outcome r;
  bool failed = false;
  auto on = [&](const framer::message& m) {
    if (failed || m.bytes.size() > max) std::abort();
    r.messages.push_back({std::string{m.bytes}, m.truncated});
  };
  std::size_t pos = 0;
  std::size_t i = 0;
  while (pos < stream.size()) {
    auto n = sizes.empty() ? stream.size() : sizes[i++ % sizes.size()];
    n = std::min(std::max<std::size_t>(n, 1), stream.size() - pos);
    bool ok = f.feed(stream.substr(pos, n), on);
    if (failed && ok) std::abort(); // a feed after an error must fail
    if (!ok) {
      if (f.error().empty()) std::abort();
      failed = true;
    }
    pos += n;
  }
  r.ok = !failed;
  r.finished = f.finish(on);
  if (failed && r.finished) std::abort();
  if (f.in_message()) std::abort(); // finish ends the stream
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  parse_options opt;
  opt.fmt = static_cast<format>(data[0] % 3);
  opt.keep = {(data[0] & 4) != 0, (data[0] & 8) != 0, (data[0] & 16) != 0,
              (data[0] & 32) != 0};
  opt.structured = (data[0] & 64) != 0;
  bool truncated = (data[0] & 128) != 0;
  opt.max_message_size = 1 + data[1] * 8u;
  opt.timezone = zone{(data[2] & 4) != 0, (data[2] >> 3) * 1800 - 14 * 3600};
  auto mode = static_cast<framing>(data[2] % 3);
  // Receive times around a year from 2026-11-15, a day at a time.
  int64_t now_ms = 1794700800000 + (int64_t{data[3]} - 128) * 2 * 86400000;
  std::string_view in{reinterpret_cast<const char*>(data + 4), size - 4};

  check_parse(in, truncated, opt, now_ms);

  // A small maximum for framing, so truncation and skipping are reached.
  std::size_t max = 1 + data[1] % 64;
  auto whole = frame(mode, max, in, {});
  auto bytewise = frame(mode, max, in, {1});
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < 4; ++i)
    sizes.push_back(1 + ((data[3] >> (2 * i)) & 3) * 5);
  auto chunked = frame(mode, max, in, sizes);
  if (!(whole == bytewise) || !(whole == chunked)) std::abort();
  parse_options framed = opt;
  framed.max_message_size = max;
  for (auto& m : whole.messages)
    check_parse(m.bytes, m.truncated, framed, now_ms);
  return 0;
}
