#include "runtime/avro/rpc.hpp"

#include <nlohmann/json.hpp>

#include "runtime/libs/openssl.hpp"

namespace flumen::avro {

namespace {

// Copied from what Java's Protocol.toString() makes of Flume's
// flume-ng-sdk/src/main/avro/flume.avdl (its license header is a doc
// comment, so it is the protocol's "doc"); the MD5s are checked in
// avro_rpc.flume_protocol_hashes. legacy_text is byte for byte what Avro
// 1.8.2's own IDL compiler makes of it (e2e.avro_java_protocol, with
// Debian's libavro-compiler-java); protocol_text, the later compilers'
// (they strip the comment's leading "* "), has no Java here to check it
// against: a client whose hash is neither gets NONE and sends its text.
constexpr std::string_view protocol_text =
    R"json({"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro","doc":"Licensed to the Apache Software Foundation (ASF) under one\nor more contributor license agreements.  See the NOTICE file\ndistributed with this work for additional information\nregarding copyright ownership.  The ASF licenses this file\nto you under the Apache License, Version 2.0 (the\n\"License\"); you may not use this file except in compliance\nwith the License.  You may obtain a copy of the License at\n\nhttp://www.apache.org/licenses/LICENSE-2.0\n\nUnless required by applicable law or agreed to in writing,\nsoftware distributed under the License is distributed on an\n\"AS IS\" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY\nKIND, either express or implied.  See the License for the\nspecific language governing permissions and limitations\nunder the License.","types":[{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},{"type":"record","name":"AvroFlumeEvent","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]}],"messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],"response":"Status"},"appendBatch":{"request":[{"name":"events","type":{"type":"array","items":"AvroFlumeEvent"}}],"response":"Status"}}})json";
constexpr std::string_view legacy_text =
    R"json({"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro","doc":"* Licensed to the Apache Software Foundation (ASF) under one\n * or more contributor license agreements.  See the NOTICE file\n * distributed with this work for additional information\n * regarding copyright ownership.  The ASF licenses this file\n * to you under the Apache License, Version 2.0 (the\n * \"License\"); you may not use this file except in compliance\n * with the License.  You may obtain a copy of the License at\n *\n * http://www.apache.org/licenses/LICENSE-2.0\n *\n * Unless required by applicable law or agreed to in writing,\n * software distributed under the License is distributed on an\n * \"AS IS\" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY\n * KIND, either express or implied.  See the License for the\n * specific language governing permissions and limitations\n * under the License.","types":[{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},{"type":"record","name":"AvroFlumeEvent","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]}],"messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],"response":"Status"},"appendBatch":{"request":[{"name":"events","type":{"type":"array","items":"AvroFlumeEvent"}}],"response":"Status"}}})json";

md5_hash read_md5(reader& r) {
  md5_hash h{};
  auto v = r.read_fixed(16);
  std::copy(v.begin(), v.end(), h.begin());
  return h;
}

std::string_view as_view(const md5_hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

std::optional<meta_map> read_optional_meta(reader& r) {
  if (r.read_index(2, "union") == 0) return std::nullopt;
  return r.read_bytes_map();
}

void write_optional_meta(writer& w, const std::optional<meta_map>& m) {
  if (!m) return w.write_long(0);
  w.write_long(1);
  w.write_bytes_map(*m);
}

std::optional<std::string> read_optional_protocol(reader& r) {
  if (r.read_index(2, "union") == 0) return std::nullopt;
  auto text = r.read_bytes();
  if (text.size() > max_protocol_text)
    r.fail("protocol text of " + std::to_string(text.size()) + " bytes");
  return std::string{text};
}

void write_optional_string(writer& w, const std::optional<std::string>& s) {
  if (!s) return w.write_long(0);
  w.write_long(1);
  w.write_string(*s);
}

} // namespace

handshake_request read_handshake_request(reader& r) {
  handshake_request h;
  h.client_hash = read_md5(r);
  h.client_protocol = read_optional_protocol(r);
  h.server_hash = read_md5(r);
  h.meta = read_optional_meta(r);
  return h;
}

void write_handshake_request(writer& w, const handshake_request& h) {
  w.write_fixed(as_view(h.client_hash));
  write_optional_string(w, h.client_protocol);
  w.write_fixed(as_view(h.server_hash));
  write_optional_meta(w, h.meta);
}

handshake_response read_handshake_response(reader& r) {
  handshake_response h;
  h.match = static_cast<handshake_match>(r.read_index(3, "HandshakeMatch"));
  h.server_protocol = read_optional_protocol(r);
  if (r.read_index(2, "union") == 1) h.server_hash = read_md5(r);
  h.meta = read_optional_meta(r);
  return h;
}

void write_handshake_response(writer& w, const handshake_response& h) {
  w.write_long(static_cast<int64_t>(h.match));
  write_optional_string(w, h.server_protocol);
  if (h.server_hash) {
    w.write_long(1);
    w.write_fixed(as_view(*h.server_hash));
  } else {
    w.write_long(0);
  }
  write_optional_meta(w, h.meta);
}

call_request read_call(reader& r) {
  call_request c;
  c.meta = r.read_bytes_map();
  auto name = r.read_bytes();
  if (name.empty()) {
    c.msg = message::ping;
  } else if (name == "append") {
    c.msg = message::append;
    c.events.push_back(r.read_event());
  } else if (name == "appendBatch") {
    c.msg = message::append_batch;
    r.read_events(c.events);
  } else {
    r.fail("no message named '" + std::string{name.substr(0, 64)} +
           "' in AvroSourceProtocol");
  }
  return c;
}

void write_call(writer& w, message msg, const batch& events, std::size_t first,
                std::size_t n) {
  w.write_bytes_map({});
  switch (msg) {
  case message::ping:
    w.write_string("");
    break;
  case message::append:
    w.write_string("append");
    w.write_event(events.at(first));
    break;
  case message::append_batch:
    w.write_string("appendBatch");
    w.write_events(events, first, n);
    break;
  }
}

call_response read_call_response(reader& r) {
  call_response c;
  c.meta = r.read_bytes_map();
  c.error = r.read_boolean();
  if (!c.error) {
    c.result = static_cast<status>(r.read_index(3, "Status"));
  } else {
    r.read_index(1, "error union");
    c.error_text = std::string{r.read_bytes().substr(0, 4096)};
  }
  return c;
}

void write_status_response(writer& w, status s) {
  w.write_bytes_map({});
  w.write_boolean(false);
  w.write_long(static_cast<int64_t>(s));
}

void write_error_response(writer& w, std::string_view text) {
  w.write_bytes_map({});
  w.write_boolean(true);
  w.write_long(0); // union ["string"]
  w.write_string(text);
}

md5_hash md5_of(std::string_view text) {
  md5_hash h{};
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), h.data(), &n, EVP_md5(), nullptr);
  return h;
}

std::string_view flume_protocol() {
  return protocol_text;
}
std::string_view flume_legacy_protocol() {
  return legacy_text;
}

const md5_hash& flume_hash() {
  static const md5_hash h = md5_of(protocol_text);
  return h;
}

bool flume_protocol_hash(const md5_hash& h) {
  static const md5_hash legacy = md5_of(legacy_text);
  return h == flume_hash() || h == legacy;
}

namespace {

using json = nlohmann::json;

std::string full_name(const json& t, const std::string& ns) {
  auto name = t.value("name", std::string{});
  if (name.find('.') != std::string::npos) return name;
  auto own = t.contains("namespace") && t["namespace"].is_string()
                 ? t["namespace"].get<std::string>()
                 : ns;
  return own.empty() ? name : own + "." + name;
}

// A type reference as a full name, or a primitive's name.
std::string type_name(const json& t, const std::string& ns) {
  static const std::set<std::string> primitives{
      "null", "boolean", "int", "long", "float", "double", "bytes", "string"};
  if (t.is_string()) {
    auto s = t.get<std::string>();
    if (primitives.count(s) || s.find('.') != std::string::npos) return s;
    return ns.empty() ? s : ns + "." + s;
  }
  if (t.is_object() && t.contains("type") && t["type"].is_string()) {
    auto kind = t["type"].get<std::string>();
    if (kind == "map")
      return "map<" + type_name(t.value("values", json{}), ns) + ">";
    if (kind == "array")
      return "array<" + type_name(t.value("items", json{}), ns) + ">";
    if (primitives.count(kind)) return kind;
    return full_name(t, ns);
  }
  return "?";
}

} // namespace

std::string check_protocol(std::string_view text) {
  if (text.size() > max_protocol_text) return "protocol text too long";
  auto p = json::parse(text.begin(), text.end(), nullptr, false);
  if (p.is_discarded() || !p.is_object()) return "not a JSON protocol";
  auto ns = p.value("namespace", std::string{});
  if (!p.contains("protocol") || !p["protocol"].is_string() ||
      full_name(json{{"name", p["protocol"]}}, ns) !=
          "org.apache.flume.source.avro.AvroSourceProtocol")
    return "not org.apache.flume.source.avro.AvroSourceProtocol";
  bool status_ok = false, event_ok = false;
  if (p.contains("types") && p["types"].is_array())
    for (auto& t : p["types"]) {
      if (!t.is_object()) return "a type that is no object";
      auto name = full_name(t, ns);
      auto kind = t.value("type", json{});
      if (name == "org.apache.flume.source.avro.Status")
        status_ok =
            kind == "enum" && t.value("symbols", json{}) ==
                                  json::array({"OK", "FAILED", "UNKNOWN"});
      if (name == "org.apache.flume.source.avro.AvroFlumeEvent") {
        auto fields = t.value("fields", json{});
        event_ok =
            kind == "record" && fields.is_array() && fields.size() == 2 &&
            fields[0].is_object() && fields[1].is_object() &&
            fields[0].value("name", json{}) == "headers" &&
            type_name(fields[0].value("type", json{}), ns) == "map<string>" &&
            fields[1].value("name", json{}) == "body" &&
            type_name(fields[1].value("type", json{}), ns) == "bytes";
      }
    }
  if (!status_ok) return "its Status is not enum {OK, FAILED, UNKNOWN}";
  if (!event_ok)
    return "its AvroFlumeEvent is not {headers: map<string>, body: bytes}";
  if (!p.contains("messages") || !p["messages"].is_object())
    return "no messages";
  auto& msgs = p["messages"];
  for (auto& [name, item] :
       std::initializer_list<std::pair<const char*, const char*>>{
           {"append", "org.apache.flume.source.avro.AvroFlumeEvent"},
           {"appendBatch",
            "array<org.apache.flume.source.avro.AvroFlumeEvent>"}}) {
    if (!msgs.contains(name)) continue; // a client may know fewer
    auto& m = msgs[name];
    if (!m.is_object()) return std::string{"message "} + name + " is no object";
    auto req = m.value("request", json{});
    if (!req.is_array() || req.size() != 1 || !req[0].is_object() ||
        type_name(req[0].value("type", json{}), ns) != item)
      return std::string{"message "} + name + " takes other parameters";
    if (type_name(m.value("response", json{}), ns) !=
        "org.apache.flume.source.avro.Status")
      return std::string{"message "} + name + " answers no Status";
    if (m.value("one-way", false))
      return std::string{"message "} + name + " is one-way";
  }
  for (auto& [name, m] : msgs.items())
    if (name != "append" && name != "appendBatch")
      return "message " + name.substr(0, 64) + " is not Flume's";
  return {};
}

handshake_response handshake_table::answer(const handshake_request& req,
                                           bool& established,
                                           std::string& refusal) {
  bool known = flume_protocol_hash(req.client_hash) ||
               learned_.count(req.client_hash) > 0;
  if (!known && req.client_protocol) {
    refusal = check_protocol(*req.client_protocol);
    if (refusal.empty()) {
      known = true;
      if (learned_.size() < max_learned_protocols)
        learned_.insert(req.client_hash);
    }
  }
  handshake_response res;
  established = known;
  // Flume's texts are one protocol: a client that expects any of them gets
  // BOTH (Java's Responder would answer CLIENT and send its own text).
  if (known && flume_protocol_hash(req.server_hash)) {
    res.match = handshake_match::both;
    return res;
  }
  res.match = known ? handshake_match::client : handshake_match::none;
  res.server_protocol = std::string{protocol_text};
  res.server_hash = flume_hash();
  return res;
}

} // namespace flumen::avro
