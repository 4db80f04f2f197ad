#pragma once

// The Netty transport framing Flume's NettyServer and NettyTransceiver use
// (Avro's NettyTransportCodec): a message is an int32 serial, an int32
// frame count, then per frame an int32 length and its bytes, all
// big-endian; a message's payload is its frames joined (Java splits it in
// 8 KiB buffers). And the zlib stream per connection of Flume's
// `compression-type: deflate` (Netty's JZlibEncoder/Decoder: the ZLIB
// wrapper, a sync flush per write).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace flumen::avro {

/// Bounds on a message, checked before anything is allocated for it.
struct frame_limits {
  std::size_t max_frames = 16384;
  std::size_t max_frame_bytes = std::size_t{64} << 20;
  std::size_t max_message_bytes = std::size_t{64} << 20;
};

/// One message: its serial and its frames joined.
struct netty_message {
  int32_t serial = 0;
  std::string payload;
};

/// Reads messages from a byte stream, one at a time.
class netty_decoder {
public:
  explicit netty_decoder(frame_limits lim = {}) : lim_(lim) {}

  /// Consumes bytes of `in` until a message is complete (ready()), the
  /// stream is found bad (failed()) or `in` is used up; returns how many
  /// it consumed. Consumes nothing while a message is ready.
  std::size_t feed(std::string_view in);

  bool ready() const { return state_ == state::ready; }
  /// The complete message; the decoder goes on with the next.
  netty_message take();
  bool failed() const { return state_ == state::failed; }
  const std::string& error() const { return error_; }
  /// Part of a message was read.
  bool in_message() const { return state_ != state::header || have_ > 0; }

private:
  enum class state { header, length, frame, ready, failed };
  bool fail(std::string why);
  /// A frame is complete; true when it was the message's last.
  bool end_frame();

  frame_limits lim_;
  state state_ = state::header;
  char head_[8];
  std::size_t have_ = 0; ///< bytes of head_ or of the frame read
  std::size_t frames_left_ = 0;
  std::size_t frame_len_ = 0;
  netty_message msg_;
  std::string error_;
};

/// Appends `payload` to `out` as one message of frames of at most
/// `frame_bytes` (Java's 8 KiB).
void netty_encode(std::string& out, int32_t serial, std::string_view payload,
                  std::size_t frame_bytes = 8192);

/// Inflates a connection's zlib stream (ZLIB wrapper).
class inflater {
public:
  inflater();
  ~inflater();
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  /// Inflates bytes from the front of `in` (advanced past what it took)
  /// and appends at most `max_out` bytes to `out`. False when the stream
  /// is bad or ended (error()).
  bool inflate(std::string_view& in, std::string& out, std::size_t max_out);
  const std::string& error() const { return error_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string error_;
};

/// Deflates a connection's zlib stream (ZLIB wrapper), a sync flush per
/// call, as Netty's JZlibEncoder.
class deflater {
public:
  explicit deflater(int level = 6);
  ~deflater();
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  /// Appends `in`, compressed and flushed, to `out`.
  void deflate(std::string_view in, std::string& out);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace flumen::avro
