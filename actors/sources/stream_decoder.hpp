#pragma once

// How a TCP source cuts what a client sends into events: netcat cuts
// lines (line_decoder), syslog_tcp cuts RFC 6587 frames and parses each
// message. The netcat server (netcat.cpp) reads, bounds and pushes back;
// a decoder only decodes, one per client.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/sources/line_splitter.hpp"
#include "runtime/core/event.hpp"

namespace flumen {
struct component_metrics;
}

namespace flumen::sources {

class stream_decoder {
public:
  virtual ~stream_decoder() = default;
  /// Appends every event `data` completes to `out`. False on an error the
  /// stream cannot recover from (a syslog frame whose length is no
  /// number): the events before it were appended, the client is closed,
  /// and error() says why.
  virtual bool feed(const char* data, std::size_t n, batch& out) = 0;
  /// End of input: a partial last message becomes an event too.
  virtual void finish(batch& out) = 0;
  /// True in the middle of a message (some of it fed, not its end).
  virtual bool in_message() const = 0;
  /// Of the `n` bytes that come next, how many end the current message
  /// and no more (a stop reads a client up to a message's end); npos
  /// when they do not end it, or it can't be told without feeding them.
  virtual std::size_t through_end(const char* data, std::size_t n) const = 0;
  /// Adds what it dropped or truncated since the last call to `m`'s
  /// counters (each counted once).
  virtual void count(component_metrics& m) = 0;
  /// Why feed failed.
  virtual std::string error() const { return {}; }
  /// Records where each message dropped from now on was, as positions in
  /// the batch fed (line_splitter::record_drops); decoders that drop no
  /// message whole record nothing.
  virtual void record_drops(std::vector<std::size_t>* /*marks*/) {}
};

/// Who a client is, for decoders that name it in headers.
struct peer_info {
  std::string ip;      ///< numeric, e.g. 127.0.0.1 or ::1
  uint16_t local_port; ///< the port it connected to (multiport sources)
};

using decoder_factory =
    std::function<std::unique_ptr<stream_decoder>(const peer_info&)>;

/// netcat's decoder: one event per line (line_splitter).
class line_decoder final : public stream_decoder {
public:
  line_decoder(std::size_t max_line_length, overlong_policy policy)
      : lines_(max_line_length, policy) {}
  bool feed(const char* data, std::size_t n, batch& out) override {
    lines_.feed(data, n, out);
    return true;
  }
  void finish(batch& out) override { lines_.finish(out); }
  bool in_message() const override { return lines_.in_line(); }
  std::size_t through_end(const char* data, std::size_t n) const override;
  void count(component_metrics& m) override;
  void record_drops(std::vector<std::size_t>* marks) override {
    lines_.record_drops(marks);
  }

private:
  line_splitter lines_;
};

} // namespace flumen::sources
