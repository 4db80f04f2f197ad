#pragma once

// Syslog messages as the syslog sources read them: framing on a TCP
// stream (RFC 6587: octet counting or LF) and parsing of one message
// (RFC 3164 and RFC 5424) into a Flume event with Flume's headers
// (Facility, Severity, host, timestamp, flume.syslog.status). No actors,
// no sockets: the sources feed bytes, and fuzzers and tests call it
// directly.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::sources::syslog {

/// Which syslog format a message is read as.
enum class format {
  auto_detect, ///< RFC 5424 when the header after the PRI reads as one
               ///< ("<34>1 2003-10-11T22:14:15Z host ", or without the
               ///< version digit as Flume also takes it), RFC 3164
               ///< otherwise (Flume's order)
  rfc3164,
  rfc5424,
};

/// What of the message's fields stays in the event body (Flume's
/// `keepFields`): by default the body is the message after its header
/// fields (Flume's `keepFields: none`); each flag keeps that field.
struct keep_fields {
  bool priority = false;  ///< "<34>"
  bool version = false;   ///< RFC 5424's "1 "
  bool timestamp = false; ///< the timestamp as written
  bool hostname = false;  ///< the hostname as written
  static keep_fields all() { return {true, true, true, true}; }
};

/// The zone an RFC 3164 timestamp (which has none) is read in.
struct zone {
  bool local = false;     ///< this machine's zone, DST included
  int offset_seconds = 0; ///< a fixed offset east of UTC, when not local
};

struct parse_options {
  format fmt = format::auto_detect;
  keep_fields keep;
  /// The most bytes of one message kept (Flume's eventSize, 2500): a
  /// longer one is cut there and marked flume.syslog.status=Incomplete.
  std::size_t max_message_size = 2500;
  zone timezone; ///< default: UTC
  /// Beyond Flume: RFC 5424's APP-NAME, PROCID, MSGID and structured data
  /// as headers (syslog.app_name, syslog.proc_id, syslog.msg_id, and
  /// syslog.sd.<SD-ID>.<PARAM-NAME> per parameter, escapes undone).
  bool structured = false;
};

/// Header names, as Flume's SyslogUtils sets them.
inline constexpr std::string_view facility_header = "Facility";
inline constexpr std::string_view severity_header = "Severity";
inline constexpr std::string_view host_header = "host";
inline constexpr std::string_view timestamp_header = "timestamp";
inline constexpr std::string_view status_header = "flume.syslog.status";

/// Parses one message (its frame removed; `truncated`: the frame was cut
/// at max_message_size) into `out`'s body and headers (what `out` held
/// before is replaced), never throwing:
/// - a valid PRI (`<0>`..`<191>`) gives Facility (PRI / 8) and Severity
///   (PRI % 8) as decimal strings;
/// - no PRI or a bad one: the whole message is the body and
///   flume.syslog.status is `Invalid` (no other header);
/// - a timestamp that parses gives `timestamp` as epoch milliseconds in
///   decimal (RFC 3164's missing year resolved as Flume's SyslogUtils
///   does: the current year, the previous one when that date would be more
///   than a month in the future, the next one when it would be more than
///   eleven months in the past; read in `timezone`, like an RFC 5424
///   timestamp without an offset). A header that does not read as either
///   format (a timestamp that does not parse, a date that does not exist)
///   gives Facility and Severity only, and the whole message is the body;
/// - a hostname gives `host` (not the NILVALUE `-`, nor is a `-`
///   timestamp one);
/// - `truncated` (or a message longer than max_message_size, then cut)
///   sets flume.syslog.status to `Incomplete`.
/// `now_ms` is the time the message was received (epoch milliseconds):
/// what an RFC 3164 year is resolved against. The body never exceeds
/// max_message_size bytes; nothing here allocates more than the message's
/// size plus its headers.
void parse_message(std::string_view message, bool truncated,
                   const parse_options& opt, int64_t now_ms, event& out);

/// How a TCP stream's messages are delimited (RFC 6587).
enum class framing {
  auto_detect,    ///< per connection, from its first byte: a digit means
                  ///< octet counting, anything else LF
  octet_counting, ///< "LEN SP MSG", MSG may hold newlines
  lf,             ///< each message ends at '\n' (a '\r' before it dropped)
};

/// Cuts a TCP stream into messages. Holds at most max_message_size bytes
/// of a message: the rest of a longer one is skipped (the message is
/// delivered cut, `truncated`), so a peer can never make it allocate more.
class framer {
public:
  /// `max_message_size` 0 is taken as 1.
  framer(framing mode, std::size_t max_message_size);

  /// One complete message: its bytes (valid until the next call) and
  /// whether it was cut.
  struct message {
    std::string_view bytes;
    bool truncated = false;
  };

  /// Feeds bytes; calls `on_message(message)` for each message they
  /// complete, in order. LF: blank lines are skipped, not messages; a line
  /// longer than max_message_size is delivered cut as soon as that much
  /// has come. Octet counting: a longer MSG likewise, the rest skipped as
  /// it comes. Returns false on a framing error (octet counting:
  /// a length that is not 1-9 digits followed by a space); the stream
  /// cannot be resynchronised and the caller closes the connection
  /// (`error()` says why). Nothing is delivered after an error.
  template <class F>
  bool feed(std::string_view bytes, F&& on_message) {
    return feed_impl(bytes, [&](const message& m) { on_message(m); });
  }

  /// End of stream: a partial last message (LF: bytes after the last
  /// '\n'; octet counting: fewer bytes than its length said, at least one)
  /// is delivered as it is, cut (`truncated` when octet counting); false
  /// when there was none (or it was already delivered cut). The framer is
  /// then ready for a new stream of the same framing.
  template <class F>
  bool finish(F&& on_message) {
    return finish_impl([&](const message& m) { on_message(m); });
  }

  /// True in the middle of a message (some of it fed, its end not; also
  /// while the rest of a message delivered cut is being skipped).
  bool in_message() const;
  /// The framing this connection turned out to use (after the first
  /// byte, with auto_detect).
  framing mode() const { return mode_; }
  const std::string& error() const { return error_; }

private:
  using sink = std::function<void(const message&)>;
  bool feed_impl(std::string_view bytes, const sink& on_message);
  bool finish_impl(const sink& on_message);
  bool feed_lf(std::string_view bytes, const sink& on_message);
  bool feed_octets(std::string_view bytes, const sink& on_message);
  bool fail(std::string why);
  void reset_message();

  framing mode_;
  std::size_t max_;
  std::string buf_;        ///< the message so far (at most max_ bytes)
  std::string len_;        ///< octet counting: the length's digits so far
  uint64_t remaining_ = 0; ///< octet counting: bytes of MSG still to come
  bool in_msg_ = false;    ///< octet counting: reading MSG (not LEN)
  bool skipping_ = false;  ///< skipping the rest of a message sent cut
  bool cr_ = false;        ///< LF: max_ bytes and a '\r' after them
  std::string error_;
};

} // namespace flumen::sources::syslog
