#pragma once

// Avro RPC (Avro specification 1.11, "Protocol Wire Format") as Flume's
// AvroSourceProtocol uses it: the handshake records, a call's request
// (metadata, message name, parameters) and response (metadata, error flag,
// Status or error), the protocol's JSON text and MD5 hash, and a server's
// side of the handshake.

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/avro/datum.hpp"

namespace flumen::avro {

using md5_hash = std::array<uint8_t, 16>;
/// Call metadata and handshake meta: map<bytes>.
using meta_map = std::vector<std::pair<std::string, std::string>>;

/// Flume's Status enum.
enum class status : uint8_t { ok = 0, failed = 1, unknown = 2 };

/// Avro's HandshakeMatch enum.
enum class handshake_match : uint8_t { both = 0, client = 1, none = 2 };

/// org.apache.avro.ipc.HandshakeRequest.
struct handshake_request {
  md5_hash client_hash{};
  std::optional<std::string> client_protocol;
  md5_hash server_hash{};
  std::optional<meta_map> meta;
};

/// org.apache.avro.ipc.HandshakeResponse.
struct handshake_response {
  handshake_match match = handshake_match::none;
  std::optional<std::string> server_protocol;
  std::optional<md5_hash> server_hash;
  std::optional<meta_map> meta;
};

handshake_request read_handshake_request(reader& r);
void write_handshake_request(writer& w, const handshake_request& h);
handshake_response read_handshake_response(reader& r);
void write_handshake_response(writer& w, const handshake_response& h);

/// The messages of AvroSourceProtocol; `ping` is Avro's empty message
/// name (a handshake alone).
enum class message : uint8_t { ping, append, append_batch };

/// A call as a server reads it.
struct call_request {
  meta_map meta;
  message msg = message::ping;
  batch events; ///< append: one; appendBatch: its array
};

/// Reads a call's metadata, message name and parameters (none for a
/// ping). An unknown message name is a decode_error.
call_request read_call(reader& r);

/// Writes a call of `msg` with `events[first, first + n)` (append: one).
void write_call(writer& w, message msg, const batch& events, std::size_t first,
                std::size_t n);

/// A call's response as a client reads it.
struct call_response {
  meta_map meta;
  bool error = false;
  status result = status::unknown; ///< without error
  std::string error_text;          ///< with error: the system error string
};

call_response read_call_response(reader& r);
/// An answer: empty metadata, no error, `s`.
void write_status_response(writer& w, status s);
/// A system error (Avro's union ["string"]), as Java's Responder writes.
void write_error_response(writer& w, std::string_view text);

/// The MD5 of `text`.
md5_hash md5_of(std::string_view text);

/// Flume's AvroSourceProtocol as Java's Protocol.toString() writes it with
/// Flume 1.11 (Avro 1.11's IDL strips the license comment's stars): the
/// text this side announces.
std::string_view flume_protocol();
/// Its MD5.
const md5_hash& flume_hash();
/// The same protocol as Flume up to 1.10 (Avro 1.7-1.10's IDL keeps the
/// stars of its doc comment): another hash of the same protocol.
std::string_view flume_legacy_protocol();

/// True for the hashes of Flume's own protocol texts.
bool flume_protocol_hash(const md5_hash& h);

/// Checks a peer's protocol JSON against AvroSourceProtocol: the same
/// name, namespace, types and messages (docs and properties aside). Empty
/// when it matches; otherwise why not.
std::string check_protocol(std::string_view json);

/// A server's side of Avro's handshake (Java's Responder.handshake): the
/// client protocols it knows by hash (Flume's own, and those learned from
/// clients that sent their text), shared by its connections.
class handshake_table {
public:
  /// The answer to `req`; `established` says whether the call that
  /// follows it is to be read (match BOTH or CLIENT). A client that sent a
  /// protocol text that is not AvroSourceProtocol is answered NONE with
  /// `refusal` saying why.
  handshake_response answer(const handshake_request& req, bool& established,
                            std::string& refusal);

private:
  std::set<md5_hash> learned_;
};

/// Most client protocol hashes a handshake_table learns; beyond, a client
/// whose hash it does not know sends its text again on each connection.
constexpr std::size_t max_learned_protocols = 64;

/// Longest protocol text read in a handshake.
constexpr std::size_t max_protocol_text = 64 * 1024;

} // namespace flumen::avro
