// The one list of component types. Adding a type: its file pair, one line
// here, its test, and its page in docs/reference/.

#include "actors/builtin.hpp"

#include "actors/channels/file.hpp"
#include "actors/channels/memory.hpp"
#include "actors/interceptors/host.hpp"
#include "actors/interceptors/regex_extractor.hpp"
#include "actors/interceptors/regex_filter.hpp"
#include "actors/interceptors/remove_header.hpp"
#include "actors/interceptors/search_replace.hpp"
#include "actors/interceptors/static.hpp"
#include "actors/interceptors/timestamp.hpp"
#include "actors/interceptors/uuid.hpp"
#include "actors/sinks/avro.hpp"
#include "actors/sinks/file_roll.hpp"
#include "actors/sinks/hop.hpp"
#include "actors/sinks/kafka.hpp"
#include "actors/sinks/logger.hpp"
#include "actors/sinks/null.hpp"
#include "actors/sources/avro.hpp"
#include "actors/sources/exec.hpp"
#include "actors/sources/hop.hpp"
#include "actors/sources/http.hpp"
#include "actors/sources/kafka.hpp"
#include "actors/sources/netcat.hpp"
#include "actors/sources/netcat_udp.hpp"
#include "actors/sources/seq.hpp"
#include "actors/sources/spooldir.hpp"
#include "actors/sources/stdin.hpp"
#include "actors/sources/syslog_sources.hpp"
#include "actors/sources/taildir.hpp"

namespace flumen {

void register_builtin(registry& r) {
  // Each: its name, parse and spawn functions, and the smallest options
  // that run (${DIR}: a directory of its own, ${PORT}: a free port).
  r.add_source("netcat", sources::parse_netcat, sources::spawn_netcat,
               "port: ${PORT}", sources::netcat_options());
  r.add_source("netcat_udp", sources::parse_netcat_udp,
               sources::spawn_netcat_udp, "port: ${PORT}",
               sources::netcat_udp_options());
  r.add_source("syslog_tcp", sources::parse_syslog_tcp,
               sources::spawn_syslog_tcp, "port: ${PORT}",
               sources::syslog_tcp_options());
  r.add_source("multiport_syslog_tcp", sources::parse_multiport_syslog_tcp,
               sources::spawn_syslog_tcp, "ports: [${PORT}]",
               sources::multiport_syslog_tcp_options());
  r.add_source("syslog_udp", sources::parse_syslog_udp,
               sources::spawn_syslog_udp, "port: ${PORT}",
               sources::syslog_udp_options());
  r.add_source("stdin", sources::parse_stdin, sources::spawn_stdin, "",
               sources::stdin_options());
  r.add_source("exec", sources::parse_exec, sources::spawn_exec,
               "command: echo hello", sources::exec_options());
  r.add_source("seq", sources::parse_seq, sources::spawn_seq, "count: 10",
               sources::seq_options());
  r.add_source("taildir", sources::parse_taildir, sources::spawn_taildir,
               "filegroups: {g1: '${DIR}/logs/*.log'}\n"
               "positions_file: ${DIR}/positions.json",
               sources::taildir_options());
  r.add_source("spooldir", sources::parse_spooldir, sources::spawn_spooldir,
               "spool_dir: ${DIR}", sources::spooldir_options());
  r.add_source("http", sources::parse_http, sources::spawn_http,
               "port: ${PORT}", sources::http_options());
  r.add_source("avro", sources::parse_avro_source, sources::spawn_avro_source,
               "port: ${PORT}", sources::avro_source_options());
  r.add_source("hop", sources::parse_hop_source, sources::spawn_hop_source,
               "port: ${PORT}", sources::hop_source_options());
  r.add_source("kafka", sources::parse_kafka_source,
               sources::spawn_kafka_source,
               "bootstrap_servers: embedded\ntopics: [contract]",
               sources::kafka_source_options());
  r.add_interceptor("timestamp", interceptors::parse_timestamp,
                    interceptors::make_timestamp, "",
                    interceptors::timestamp_options());
  r.add_interceptor("host", interceptors::parse_host, interceptors::make_host,
                    "", interceptors::host_options());
  r.add_interceptor("static", interceptors::parse_static,
                    interceptors::make_static, "",
                    interceptors::static_options());
  r.add_interceptor("regex_filter", interceptors::parse_regex_filter,
                    interceptors::make_regex_filter, "regex: '[02468]$'",
                    interceptors::regex_filter_options());
  r.add_interceptor("regex_extractor", interceptors::parse_regex_extractor,
                    interceptors::make_regex_extractor,
                    "regex: '(\\d)$'\nserializers: [{name: last}]",
                    interceptors::regex_extractor_options());
  r.add_interceptor("search_replace", interceptors::parse_search_replace,
                    interceptors::make_search_replace,
                    "search_pattern: '^(\\d)'\nreplace_string: 'n$1'",
                    interceptors::search_replace_options());
  r.add_interceptor("remove_header", interceptors::parse_remove_header,
                    interceptors::make_remove_header, "with_name: n",
                    interceptors::remove_header_options());
  r.add_interceptor("uuid", interceptors::parse_uuid, interceptors::make_uuid,
                    "", interceptors::uuid_options());
  r.add_channel("memory", channels::parse_memory, channels::spawn_memory, "",
                channels::memory_options());
  r.add_channel("file", channels::parse_file, channels::spawn_file,
                "directory: ${DIR}", channels::file_options());
  r.add_sink("kafka", sinks::parse_kafka, sinks::spawn_kafka,
             "bootstrap_servers: embedded\ntopic: contract",
             sinks::kafka_options());
  r.add_sink("logger", sinks::parse_logger, sinks::spawn_logger, "",
             sinks::logger_options());
  r.add_sink("null", sinks::parse_null, sinks::spawn_null, "",
             sinks::null_options());
  r.add_sink("file_roll", sinks::parse_file_roll, sinks::spawn_file_roll,
             "directory: ${DIR}", sinks::file_roll_options());
  r.add_sink("avro", sinks::parse_avro_sink, sinks::spawn_avro_sink,
             "hostname: 127.0.0.1\nport: ${PORT}", sinks::avro_sink_options());
  r.add_sink("hop", sinks::parse_hop_sink, sinks::spawn_hop_sink,
             "host: 127.0.0.1\nport: ${PORT}", sinks::hop_sink_options());
}

} // namespace flumen
