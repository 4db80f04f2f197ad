#pragma once

// The table of Flume types `flumen import` knows (types.cpp), filled by
// the files of each kind: one entry per Flume type, convertible or not, so
// a type flumen gains later only needs its converter added.

#include <vector>

#include "runtime/flume/convert.hpp"

namespace flumen::flume {

void add_source_rules(std::vector<type_rule>& t);
void add_more_source_rules(std::vector<type_rule>& t);
void add_channel_rules(std::vector<type_rule>& t);
void add_sink_rules(std::vector<type_rule>& t);
void add_interceptor_rules(std::vector<type_rule>& t);

/// The avro source's and sink's `compression-type` (none or deflate, any
/// case) as `compression`; another is unconvertible.
void avro_compression(converter& c);

} // namespace flumen::flume
