#include "runtime/avro/netty.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "runtime/libs/zlib.hpp"

namespace flumen::avro {

namespace {

uint32_t be32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

void put_be32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

} // namespace

bool netty_decoder::fail(std::string why) {
  state_ = state::failed;
  error_ = std::move(why);
  msg_ = {};
  return false;
}

std::size_t netty_decoder::feed(std::string_view in) {
  std::size_t used = 0;
  while (used < in.size()) {
    switch (state_) {
    case state::ready:
    case state::failed:
      return used;
    case state::header:
    case state::length: {
      std::size_t need = state_ == state::header ? 8 : 4;
      auto n = std::min(need - have_, in.size() - used);
      std::memcpy(head_ + have_, in.data() + used, n);
      have_ += n;
      used += n;
      if (have_ < need) return used;
      have_ = 0;
      if (state_ == state::header) {
        msg_.serial = static_cast<int32_t>(be32(head_));
        auto count = static_cast<int32_t>(be32(head_ + 4));
        // Java's decoder waits for ever for a frame of a message of none.
        if (count <= 0)
          return fail("a message of " + std::to_string(count) + " frames"),
                 used;
        if (static_cast<std::size_t>(count) > lim_.max_frames)
          return fail("a message of " + std::to_string(count) +
                      " frames, more than " + std::to_string(lim_.max_frames)),
                 used;
        frames_left_ = static_cast<std::size_t>(count);
        state_ = state::length;
      } else {
        auto len = static_cast<int32_t>(be32(head_));
        if (len < 0) return fail("a frame of negative length"), used;
        auto ulen = static_cast<std::size_t>(len);
        if (ulen > lim_.max_frame_bytes)
          return fail("a frame of " + std::to_string(ulen) +
                      " bytes, more than " +
                      std::to_string(lim_.max_frame_bytes)),
                 used;
        if (ulen > lim_.max_message_bytes - msg_.payload.size())
          return fail("a message of more than " +
                      std::to_string(lim_.max_message_bytes) + " bytes"),
                 used;
        frame_len_ = ulen;
        msg_.payload.reserve(msg_.payload.size() + ulen);
        state_ = state::frame;
        if (ulen == 0 && end_frame()) return used;
      }
      break;
    }
    case state::frame: {
      auto n = std::min(frame_len_ - have_, in.size() - used);
      msg_.payload.append(in.data() + used, n);
      have_ += n;
      used += n;
      if (have_ < frame_len_) return used;
      if (end_frame()) return used;
      break;
    }
    }
  }
  // A message of frames that are all empty completes without input left.
  return used;
}

bool netty_decoder::end_frame() {
  have_ = 0;
  if (--frames_left_ == 0) {
    state_ = state::ready;
    return true;
  }
  state_ = state::length;
  return false;
}

netty_message netty_decoder::take() {
  netty_message m = std::move(msg_);
  msg_ = {};
  state_ = state::header;
  return m;
}

void netty_encode(std::string& out, int32_t serial, std::string_view payload,
                  std::size_t frame_bytes) {
  frame_bytes = std::max<std::size_t>(frame_bytes, 1);
  auto frames = std::max<std::size_t>(1, (payload.size() + frame_bytes - 1) /
                                             frame_bytes);
  out.reserve(out.size() + 8 + 4 * frames + payload.size());
  put_be32(out, static_cast<uint32_t>(serial));
  put_be32(out, static_cast<uint32_t>(frames));
  for (std::size_t i = 0; i < frames; ++i) {
    auto piece =
        payload.substr(std::min(payload.size(), i * frame_bytes), frame_bytes);
    put_be32(out, static_cast<uint32_t>(piece.size()));
    out.append(piece);
  }
}

struct inflater::impl {
  z_stream z{};
  bool ended = false;
};

inflater::inflater() : impl_(std::make_unique<impl>()) {
  if (libs::zlib().inflateInit_(&impl_->z, ZLIB_VERSION,
                                static_cast<int>(sizeof(z_stream))) != Z_OK)
    throw std::runtime_error("inflateInit failed (out of memory)");
}

inflater::~inflater() {
  libs::zlib().inflateEnd(&impl_->z);
}

bool inflater::inflate(std::string_view& in, std::string& out,
                       std::size_t max_out) {
  auto& z = impl_->z;
  if (impl_->ended) {
    if (in.empty()) return true;
    error_ = "bytes after the end of the zlib stream";
    return false;
  }
  auto start = out.size();
  out.resize(start + max_out);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), 1u << 30));
  z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z.avail_out = static_cast<uInt>(max_out);
  auto rc = libs::zlib().inflate(&z, Z_SYNC_FLUSH);
  auto taken = static_cast<std::size_t>(
      reinterpret_cast<const char*>(z.next_in) - in.data());
  in.remove_prefix(taken);
  out.resize(start + (max_out - z.avail_out));
  if (rc == Z_STREAM_END) {
    impl_->ended = true;
    return true;
  }
  if (rc == Z_OK || rc == Z_BUF_ERROR) return true;
  error_ =
      std::string{"bad zlib stream: "} + (z.msg ? z.msg : "inflate failed");
  return false;
}

struct deflater::impl {
  z_stream z{};
};

deflater::deflater(int level) : impl_(std::make_unique<impl>()) {
  if (libs::zlib().deflateInit_(&impl_->z, level, ZLIB_VERSION,
                                static_cast<int>(sizeof(z_stream))) != Z_OK)
    throw std::runtime_error("deflateInit failed (out of memory)");
}

deflater::~deflater() {
  libs::zlib().deflateEnd(&impl_->z);
}

void deflater::deflate(std::string_view in, std::string& out) {
  auto& z = impl_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  do {
    auto start = out.size();
    auto room = libs::zlib().deflateBound(&z, z.avail_in) + 64;
    out.resize(start + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
    z.avail_out = static_cast<uInt>(room);
    libs::zlib().deflate(&z, Z_SYNC_FLUSH);
    out.resize(start + (room - z.avail_out));
  } while (z.avail_in > 0 || z.avail_out == 0);
}

} // namespace flumen::avro
