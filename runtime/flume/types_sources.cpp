// The sources `flumen import` converts: Flume's option names (old and new)
// to ours, Flume's defaults written out where ours differ.

#include "runtime/flume/types.hpp"

#include <cctype>
#include <string>
#include <vector>

namespace flumen::flume {
namespace {

const std::string jks =
    "a Java keystore (JKS/PKCS12): convert it to PEM files (openssl "
    "pkcs12 -in store.p12 -out cert.pem) and set `tls: {certificate, key, "
    "ca_file}`";

/// keepFields: true/all, false/none, or a list of field names.
void keep_fields(converter& c) {
  auto* p = c.take({"keepFields"});
  if (!p) return;
  auto v = c.value(*p);
  auto lower = v;
  for (auto& ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "true" || lower == "all") {
    c.out().set("keep_fields", ynode::str("all"));
  } else if (lower == "false" || lower == "none") {
    c.out().set("keep_fields", ynode::str("none"));
  } else {
    auto l = ynode::list();
    for (auto& f : split_ws(lower)) {
      if (f != "priority" && f != "version" && f != "timestamp" &&
          f != "hostname") {
        c.unconvertible(*p, "keepFields names '" + f +
                                "', not one of priority, version, "
                                "timestamp, hostname");
        return;
      }
      l.push(ynode::str(f));
    }
    c.out().set("keep_fields", std::move(l));
  }
}

void syslog_common(converter& c) {
  keep_fields(c);
  c.text({"clientIPHeader"}, "client_ip_header");
  c.text({"clientHostnameHeader"}, "client_hostname_header");
  c.refuse({"ssl", "keystore", "keystore-password", "keystore-type",
            "exclude-protocols", "include-protocols", "exclude-cipher-suites",
            "include-cipher-suites"},
           jks);
}

void utf8_only(converter& c, converter::keys names) {
  for (auto name : names)
    if (auto* p = c.take({name})) {
      auto v = std::string(trim(p->value));
      for (auto& ch : v)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (v != "UTF-8" && v != "UTF8")
        c.unconvertible(*p, "flumen reads UTF-8 (bytes as they are) only");
    }
}

void netcat(converter& c) {
  c.text({"bind"}, "bind");
  c.integer({"port"}, "port", {}, 0);
  // Flume's max-line-length counts the newline; a longer line is refused
  // ("FAILED: Event exceeds the maximum length") and dropped.
  long long max_line = 512;
  if (auto* p = c.take({"max-line-length"})) {
    auto v = c.value(*p);
    auto n = converter::parse_long(v);
    if (converter::has_reference(v))
      c.unconvertible(*p, "a reference in max-line-length (flumen's "
                          "max_line_length excludes the newline)");
    else if (!n || *n < 2)
      c.unconvertible(*p, "not an integer of 2 or more (Flume refuses it)");
    else
      max_line = *n;
  }
  c.out()
      .set("max_line_length", ynode::raw(std::to_string(max_line - 1)))
      .comment = "Flume's max-line-length " + std::to_string(max_line) +
                 " counts the newline";
  c.out().set("overlong_policy", ynode::str("drop")).comment =
      "Flume refuses a longer line";
  c.boolean({"ack-every-event"}, "ack_every_event", true);
}

void netcat_udp(converter& c) {
  c.text({"bind"}, "bind");
  c.integer({"port"}, "port", {}, 0);
  if (auto* p = c.take({"remoteAddressHeader"}))
    c.out().set("remote_address_header", ynode::str(c.value(*p)));
  else
    c.out().set("remote_address_header", ynode::str("")).comment =
        "Flume sets no such header unless remoteAddressHeader is given";
}

void syslog_tcp(converter& c) {
  c.text({"host"}, "bind", "0.0.0.0"); // Flume: every address
  c.integer({"port"}, "port", {}, 0);
  c.integer({"eventSize"}, "max_message_size", {}, 1);
  syslog_common(c);
  c.ignore({"batchSize"}, "flumen's syslog_tcp batches on its own");
}

void multiport_syslog_tcp(converter& c) {
  c.text({"host"}, "bind", "0.0.0.0"); // Flume: every address
  if (auto* p = c.take({"ports"})) {
    auto l = ynode::list();
    for (auto& port : split_ws(c.value(*p))) {
      auto n = converter::parse_long(port);
      if (converter::has_reference(port))
        l.push(ynode::str(port));
      else if (!n || *n < 0 || *n > 65535)
        c.unconvertible(*p, "'" + port + "' is not a port");
      else
        l.push(ynode::raw(std::to_string(*n)));
    }
    c.out().set("ports", std::move(l));
  }
  c.text({"portHeader"}, "port_header");
  c.integer({"eventSize"}, "max_message_size", {}, 1);
  c.integer({"batchSize"}, "batch_size", {}, 1);
  syslog_common(c);
  utf8_only(c, {"charset.default"});
  c.refuse_prefix("charset.port.",
                  "flumen reads UTF-8 (bytes as they are) only");
  c.ignore({"readBufferSize", "numProcessors"},
           "Java NIO tuning; flumen's readers size their own buffers");
}

void syslog_udp(converter& c) {
  c.text({"host"}, "bind", "0.0.0.0"); // Flume: every address
  c.integer({"port"}, "port", {}, 0);
  c.integer({"eventSize"}, "max_message_size", {}, 1);
  syslog_common(c);
}

void http(converter& c) {
  // Flume's HTTP source listens on every address by default.
  c.text({"bind"}, "bind", "0.0.0.0");
  auto* bind = c.out().find("bind");
  auto b = bind ? bind->text : "";
  if (b != "127.0.0.1" && b != "localhost" && b != "'::1'")
    c.out().set("insecure", ynode::raw("true")).comment =
        "Flume's HTTP source listens in clear text; flumen asks to be told";
  c.integer({"port"}, "port", {}, 0);
  if (auto* p = c.take({"handler"})) {
    auto v = std::string(trim(p->value));
    if (v == "org.apache.flume.source.http.JSONHandler")
      c.out().set("handler", ynode::str("json"));
    else if (v == "org.apache.flume.sink.solr.morphline.BlobHandler")
      c.out().set("handler", ynode::str("body"));
    else
      c.unconvertible(*p, "a handler class flumen does not have (json: "
                          "JSONHandler; body: BlobHandler)");
  }
  c.refuse_prefix("handler.", "options of a handler flumen does not have");
  c.refuse({"enableSSL", "ssl", "keystore", "keystorePassword", "keystoreType",
            "keystore-password", "keystore-type", "excludeProtocols",
            "includeProtocols", "excludeCipherSuites", "includeCipherSuites",
            "exclude-protocols", "include-protocols", "exclude-cipher-suites",
            "include-cipher-suites"},
           jks);
  for (auto prefix : {"QueuedThreadPool.", "HttpConfiguration.",
                      "SslContextFactory.", "ServerConnector."})
    for (auto* p : c.take_prefix(prefix))
      c.warn(*p, "ignored: Jetty tuning; flumen's HTTP server has its own "
                 "bounds (max_connections, request_timeout)");
}

/// Flume's ipFilterRules pattern of an `ip:` rule as a CIDR block: an
/// address, or octets followed by `*` (`10.0.*` is 10.0.0.0/16); `*` alone
/// is every address. Empty when it is no block.
std::string ip_pattern_block(std::string_view pat) {
  if (pat == "*") return "*";
  std::vector<std::string> octets;
  std::string cur;
  bool star = false;
  for (auto ch : pat) {
    if (star) return {}; // something after the `*`
    if (ch == '.') {
      if (cur.empty()) return {};
      octets.push_back(cur);
      cur.clear();
    } else if (ch == '*') {
      if (!cur.empty()) return {};
      star = true;
    } else if (std::isdigit(static_cast<unsigned char>(ch))) {
      cur.push_back(ch);
      if (cur.size() > 3 || std::stoi(cur) > 255) return {};
    } else {
      return {};
    }
  }
  if (!star) {
    if (cur.empty()) return {};
    octets.push_back(cur);
    if (octets.size() != 4) return {};
    return octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3];
  }
  if (octets.size() > 3) return {};
  auto bits = 8 * octets.size();
  while (octets.size() < 4)
    octets.push_back("0");
  return octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3] + "/" +
         std::to_string(bits);
}

} // namespace

void avro_compression(converter& c) {
  if (auto* p = c.take({"compression-type"})) {
    auto v = c.value(*p);
    for (auto& ch : v)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (v == "deflate" || v == "none")
      c.out().set("compression", ynode::str(v));
    else
      c.unconvertible(*p, "a compression-type other than none or deflate");
  }
}

namespace {

void avro_source(converter& c) {
  // Flume's Avro source listens on the address it is given (required).
  c.text({"bind"}, "bind");
  auto* bind = c.out().find("bind");
  auto b = bind ? bind->text : "";
  c.integer({"port"}, "port", {}, 0);
  c.ignore({"threads"}, "one thread serves every connection");
  avro_compression(c);
  bool ssl = false;
  if (auto* p = c.take({"ssl"})) {
    ssl = converter::parse_bool(c.value(*p));
    if (ssl) c.unconvertible(*p, jks);
  }
  for (auto* p :
       {c.take({"keystore"}), c.take({"keystore-password"}),
        c.take({"keystore-type"}), c.take({"exclude-protocols"}),
        c.take({"include-protocols"}), c.take({"exclude-cipher-suites"}),
        c.take({"include-cipher-suites"})})
    if (p) {
      if (ssl)
        c.unconvertible(*p, jks);
      else
        c.warn(*p, "ignored: `ssl` is not true");
    }
  if (!ssl && b != "127.0.0.1" && b != "localhost" && b != "'::1'")
    c.out().set("insecure", ynode::raw("true")).comment =
        "Flume's Avro source listens in clear text; flumen asks to be told";
  bool filter = false;
  if (auto* p = c.take({"ipFilter"}))
    filter = converter::parse_bool(c.value(*p));
  if (auto* p = c.take({"ipFilterRules"})) {
    if (!filter) {
      c.warn(*p, "ignored: `ipFilter` is not true (Flume ignores the rules "
                 "too)");
    } else {
      auto rules = ynode::list();
      bool ok = true;
      auto v = c.value(*p);
      std::size_t at = 0;
      while (at <= v.size()) {
        auto comma = v.find(',', at);
        auto rule = std::string{trim(std::string_view{v}.substr(
            at, comma == std::string::npos ? std::string::npos : comma - at))};
        at = comma == std::string::npos ? v.size() + 1 : comma + 1;
        auto verdict = rule.substr(0, rule.find(':'));
        std::string block;
        if ((verdict == "allow" || verdict == "deny") &&
            rule.compare(verdict.size(), 4, ":ip:") == 0)
          block = ip_pattern_block(
              std::string_view{rule}.substr(verdict.size() + 4));
        if (block.empty()) {
          c.unconvertible(*p, "rule '" + rule +
                                  "' is no `ip:` rule of an address or octets "
                                  "and `*` (a CIDR block); `name:` rules do "
                                  "not convert");
          ok = false;
          break;
        }
        rules.push(ynode::str(verdict + ":" + block));
      }
      if (ok) c.out().set("ip_filter", std::move(rules));
    }
  }
}

void exec(converter& c) {
  c.text({"command"}, "command");
  if (auto* p = c.take({"shell"}))
    c.out().set("shell", ynode::str(c.value(*p)));
  else
    c.note("Flume runs the command without a shell when `shell` is not "
           "given; flumen runs it with `/bin/sh -c`");
  c.boolean({"restart"}, "restart");
  c.millis({"restartThrottle"}, "restart_throttle");
  c.integer({"batchSize"}, "batch_size", 20, 1);
  c.millis({"batchTimeout"}, "batch_timeout", 3000);
  utf8_only(c, {"charset"});
  c.ignore({"logStdErr"}, "the command's stderr goes to flumen's stderr");
}

void spooldir(converter& c) {
  c.text({"spoolDir"}, "spool_dir");
  c.text({"fileSuffix"}, "file_suffix");
  if (auto* p = c.take({"deletePolicy"})) {
    auto v = c.value(*p);
    for (auto& ch : v)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c.out().set("delete_policy", ynode::str(v));
  }
  c.boolean({"fileHeader"}, "file_header");
  c.text({"fileHeaderKey"}, "file_header_key");
  c.boolean({"basenameHeader"}, "basename_header");
  c.text({"basenameHeaderKey"}, "basename_header_key");
  c.text({"includePattern"}, "include_pattern");
  c.text({"ignorePattern"}, "ignore_pattern");
  if (auto* p = c.take({"consumeOrder"})) {
    auto v = c.value(*p);
    for (auto& ch : v)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c.out().set("consume_order", ynode::str(v));
  }
  c.millis({"pollDelay"}, "poll_delay");
  c.integer({"batchSize"}, "batch_size", {}, 1);
  if (auto* p = c.take({"deserializer"})) {
    auto v = std::string(trim(p->value));
    if (v != "LINE" && v != "line" &&
        v != "org.apache.flume.serialization.LineDeserializer$Builder")
      c.unconvertible(*p, "flumen's spooldir reads lines only (LINE)");
  }
  c.integer({"deserializer.maxLineLength"}, "max_line_length", {}, 1);
  utf8_only(c, {"inputCharset", "deserializer.outputCharset"});
  if (auto* p = c.take({"recursiveDirectorySearch"}))
    if (converter::parse_bool(p->value))
      c.unconvertible(*p, "flumen's spooldir reads one directory, not its "
                          "subdirectories");
  c.ignore({"trackerDir"}, "flumen keeps its own state of the directory");
  c.ignore({"maxBackoff", "bufferMaxLines", "bufferMaxLineLength",
            "decodeErrorPolicy"},
           "flumen's spooldir has no such setting (bytes are read as they "
           "are)");
}

} // namespace

void add_source_rules(std::vector<type_rule>& t) {
  auto src = [&](std::vector<std::string_view> names, std::string_view ours,
                 void (*fn)(converter&)) {
    t.push_back({role::source, std::move(names), ours, {}, fn});
  };
  auto no = [&](std::vector<std::string_view> names, std::string_view why) {
    t.push_back({role::source, std::move(names), {}, why, nullptr});
  };
  src({"netcat", "org.apache.flume.source.NetcatSource"}, "netcat", netcat);
  src({"netcatudp", "org.apache.flume.source.NetcatUdpSource"}, "netcat_udp",
      netcat_udp);
  src({"syslogtcp", "org.apache.flume.source.SyslogTcpSource"}, "syslog_tcp",
      syslog_tcp);
  src({"multiport_syslogtcp",
       "org.apache.flume.source.MultiportSyslogTCPSource"},
      "multiport_syslog_tcp", multiport_syslog_tcp);
  src({"syslogudp", "org.apache.flume.source.SyslogUDPSource"}, "syslog_udp",
      syslog_udp);
  src({"http", "org.apache.flume.source.http.HTTPSource"}, "http", http);
  src({"exec", "org.apache.flume.source.ExecSource"}, "exec", exec);
  src({"avro", "org.apache.flume.source.AvroSource"}, "avro", avro_source);
  src({"spooldir", "org.apache.flume.source.SpoolDirectorySource"}, "spooldir",
      spooldir);
  add_more_source_rules(t);
  // One entry per type: when flumen gains it, the entry gets a converter.
  no({"thrift", "org.apache.flume.source.ThriftSource"},
     "Flume's Thrift RPC source has no flumen counterpart");
  no({"jms", "org.apache.flume.source.jms.JMSSource"},
     "JMS has no flumen source");
  no({"org.apache.flume.source.twitter.TwitterSource"},
     "the Twitter source has no flumen counterpart");
  no({"org.apache.flume.source.scribe.ScribeSource"},
     "the Scribe source has no flumen counterpart");
}

} // namespace flumen::flume
