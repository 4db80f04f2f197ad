#pragma once
// librdkafka, loaded by the first component that calls it (on_demand.hpp).
// Include this instead of <librdkafka/rdkafka.h>: each function flumen calls
// becomes a call through a table filled from the library at that first use,
// so the code reads as plain librdkafka. A function not listed here fails to
// link (flumen does not link librdkafka); add it to the list.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "runtime/libs/on_demand.hpp"

// clang-format off
#define FLUMEN_RDKAFKA_FUNCTIONS(X) \
  X(rd_kafka_assign) \
  X(rd_kafka_assignment) \
  X(rd_kafka_assignment_lost) \
  X(rd_kafka_commit) \
  X(rd_kafka_conf_destroy) \
  X(rd_kafka_conf_get) \
  X(rd_kafka_conf_new) \
  X(rd_kafka_conf_set) \
  X(rd_kafka_conf_set_dr_msg_cb) \
  X(rd_kafka_conf_set_error_cb) \
  X(rd_kafka_conf_set_log_cb) \
  X(rd_kafka_conf_set_opaque) \
  X(rd_kafka_conf_set_rebalance_cb) \
  X(rd_kafka_consume_batch_queue) \
  X(rd_kafka_consumer_close) \
  X(rd_kafka_destroy) \
  X(rd_kafka_err2str) \
  X(rd_kafka_error_destroy) \
  X(rd_kafka_error_string) \
  X(rd_kafka_fatal_error) \
  X(rd_kafka_flush) \
  X(rd_kafka_header_add) \
  X(rd_kafka_header_cnt) \
  X(rd_kafka_header_get_all) \
  X(rd_kafka_headers_destroy) \
  X(rd_kafka_headers_new) \
  X(rd_kafka_incremental_assign) \
  X(rd_kafka_incremental_unassign) \
  X(rd_kafka_message_destroy) \
  X(rd_kafka_message_errstr) \
  X(rd_kafka_message_headers) \
  X(rd_kafka_message_timestamp) \
  X(rd_kafka_metadata) \
  X(rd_kafka_metadata_destroy) \
  X(rd_kafka_mock_broker_set_down) \
  X(rd_kafka_mock_broker_set_up) \
  X(rd_kafka_mock_cluster_bootstraps) \
  X(rd_kafka_mock_cluster_destroy) \
  X(rd_kafka_mock_cluster_new) \
  X(rd_kafka_mock_topic_create) \
  X(rd_kafka_new) \
  X(rd_kafka_offsets_for_times) \
  X(rd_kafka_offsets_store) \
  X(rd_kafka_opaque) \
  X(rd_kafka_pause_partitions) \
  X(rd_kafka_poll) \
  X(rd_kafka_poll_set_consumer) \
  X(rd_kafka_produce_batch) \
  X(rd_kafka_producev) \
  X(rd_kafka_purge) \
  X(rd_kafka_queue_destroy) \
  X(rd_kafka_queue_get_consumer) \
  X(rd_kafka_queue_length) \
  X(rd_kafka_rebalance_protocol) \
  X(rd_kafka_resume_partitions) \
  X(rd_kafka_subscribe) \
  X(rd_kafka_topic_destroy) \
  X(rd_kafka_topic_name) \
  X(rd_kafka_topic_new) \
  X(rd_kafka_topic_partition_list_add) \
  X(rd_kafka_topic_partition_list_destroy) \
  X(rd_kafka_topic_partition_list_new) \
  /* end */
// clang-format on

namespace flumen::libs {

struct rdkafka_functions {
#define FLUMEN_RDKAFKA_FIELD(name) decltype(&::name) name;
  FLUMEN_RDKAFKA_FUNCTIONS(FLUMEN_RDKAFKA_FIELD)
#undef FLUMEN_RDKAFKA_FIELD
};

/// Loads the library and fills the table; throws std::runtime_error saying
/// why it cannot.
rdkafka_functions load_rdkafka();

/// The table, filled at the first call (on_demand).
inline const rdkafka_functions& rdkafka() {
  return on_demand<rdkafka_functions, load_rdkafka>::get();
}

} // namespace flumen::libs

// rdkafka.cpp fills the table and wants the plain names.
#ifndef FLUMEN_LIBS_NO_MACROS
// clang-format off
#define rd_kafka_assign (::flumen::libs::rdkafka().rd_kafka_assign)
#define rd_kafka_assignment (::flumen::libs::rdkafka().rd_kafka_assignment)
#define rd_kafka_assignment_lost (::flumen::libs::rdkafka().rd_kafka_assignment_lost)
#define rd_kafka_commit (::flumen::libs::rdkafka().rd_kafka_commit)
#define rd_kafka_conf_destroy (::flumen::libs::rdkafka().rd_kafka_conf_destroy)
#define rd_kafka_conf_get (::flumen::libs::rdkafka().rd_kafka_conf_get)
#define rd_kafka_conf_new (::flumen::libs::rdkafka().rd_kafka_conf_new)
#define rd_kafka_conf_set (::flumen::libs::rdkafka().rd_kafka_conf_set)
#define rd_kafka_conf_set_dr_msg_cb (::flumen::libs::rdkafka().rd_kafka_conf_set_dr_msg_cb)
#define rd_kafka_conf_set_error_cb (::flumen::libs::rdkafka().rd_kafka_conf_set_error_cb)
#define rd_kafka_conf_set_log_cb (::flumen::libs::rdkafka().rd_kafka_conf_set_log_cb)
#define rd_kafka_conf_set_opaque (::flumen::libs::rdkafka().rd_kafka_conf_set_opaque)
#define rd_kafka_conf_set_rebalance_cb (::flumen::libs::rdkafka().rd_kafka_conf_set_rebalance_cb)
#define rd_kafka_consume_batch_queue (::flumen::libs::rdkafka().rd_kafka_consume_batch_queue)
#define rd_kafka_consumer_close (::flumen::libs::rdkafka().rd_kafka_consumer_close)
#define rd_kafka_destroy (::flumen::libs::rdkafka().rd_kafka_destroy)
#define rd_kafka_err2str (::flumen::libs::rdkafka().rd_kafka_err2str)
#define rd_kafka_error_destroy (::flumen::libs::rdkafka().rd_kafka_error_destroy)
#define rd_kafka_error_string (::flumen::libs::rdkafka().rd_kafka_error_string)
#define rd_kafka_fatal_error (::flumen::libs::rdkafka().rd_kafka_fatal_error)
#define rd_kafka_flush (::flumen::libs::rdkafka().rd_kafka_flush)
#define rd_kafka_header_add (::flumen::libs::rdkafka().rd_kafka_header_add)
#define rd_kafka_header_cnt (::flumen::libs::rdkafka().rd_kafka_header_cnt)
#define rd_kafka_header_get_all (::flumen::libs::rdkafka().rd_kafka_header_get_all)
#define rd_kafka_headers_destroy (::flumen::libs::rdkafka().rd_kafka_headers_destroy)
#define rd_kafka_headers_new (::flumen::libs::rdkafka().rd_kafka_headers_new)
#define rd_kafka_incremental_assign (::flumen::libs::rdkafka().rd_kafka_incremental_assign)
#define rd_kafka_incremental_unassign (::flumen::libs::rdkafka().rd_kafka_incremental_unassign)
#define rd_kafka_message_destroy (::flumen::libs::rdkafka().rd_kafka_message_destroy)
#define rd_kafka_message_errstr (::flumen::libs::rdkafka().rd_kafka_message_errstr)
#define rd_kafka_message_headers (::flumen::libs::rdkafka().rd_kafka_message_headers)
#define rd_kafka_message_timestamp (::flumen::libs::rdkafka().rd_kafka_message_timestamp)
#define rd_kafka_metadata (::flumen::libs::rdkafka().rd_kafka_metadata)
#define rd_kafka_metadata_destroy (::flumen::libs::rdkafka().rd_kafka_metadata_destroy)
#define rd_kafka_mock_broker_set_down (::flumen::libs::rdkafka().rd_kafka_mock_broker_set_down)
#define rd_kafka_mock_broker_set_up (::flumen::libs::rdkafka().rd_kafka_mock_broker_set_up)
#define rd_kafka_mock_cluster_bootstraps (::flumen::libs::rdkafka().rd_kafka_mock_cluster_bootstraps)
#define rd_kafka_mock_cluster_destroy (::flumen::libs::rdkafka().rd_kafka_mock_cluster_destroy)
#define rd_kafka_mock_cluster_new (::flumen::libs::rdkafka().rd_kafka_mock_cluster_new)
#define rd_kafka_mock_topic_create (::flumen::libs::rdkafka().rd_kafka_mock_topic_create)
#define rd_kafka_new (::flumen::libs::rdkafka().rd_kafka_new)
#define rd_kafka_offsets_for_times (::flumen::libs::rdkafka().rd_kafka_offsets_for_times)
#define rd_kafka_offsets_store (::flumen::libs::rdkafka().rd_kafka_offsets_store)
#define rd_kafka_opaque (::flumen::libs::rdkafka().rd_kafka_opaque)
#define rd_kafka_pause_partitions (::flumen::libs::rdkafka().rd_kafka_pause_partitions)
#define rd_kafka_poll (::flumen::libs::rdkafka().rd_kafka_poll)
#define rd_kafka_poll_set_consumer (::flumen::libs::rdkafka().rd_kafka_poll_set_consumer)
#define rd_kafka_produce_batch (::flumen::libs::rdkafka().rd_kafka_produce_batch)
#define rd_kafka_producev (::flumen::libs::rdkafka().rd_kafka_producev)
#define rd_kafka_purge (::flumen::libs::rdkafka().rd_kafka_purge)
#define rd_kafka_queue_destroy (::flumen::libs::rdkafka().rd_kafka_queue_destroy)
#define rd_kafka_queue_get_consumer (::flumen::libs::rdkafka().rd_kafka_queue_get_consumer)
#define rd_kafka_queue_length (::flumen::libs::rdkafka().rd_kafka_queue_length)
#define rd_kafka_rebalance_protocol (::flumen::libs::rdkafka().rd_kafka_rebalance_protocol)
#define rd_kafka_resume_partitions (::flumen::libs::rdkafka().rd_kafka_resume_partitions)
#define rd_kafka_subscribe (::flumen::libs::rdkafka().rd_kafka_subscribe)
#define rd_kafka_topic_destroy (::flumen::libs::rdkafka().rd_kafka_topic_destroy)
#define rd_kafka_topic_name (::flumen::libs::rdkafka().rd_kafka_topic_name)
#define rd_kafka_topic_new (::flumen::libs::rdkafka().rd_kafka_topic_new)
#define rd_kafka_topic_partition_list_add (::flumen::libs::rdkafka().rd_kafka_topic_partition_list_add)
#define rd_kafka_topic_partition_list_destroy (::flumen::libs::rdkafka().rd_kafka_topic_partition_list_destroy)
#define rd_kafka_topic_partition_list_new (::flumen::libs::rdkafka().rd_kafka_topic_partition_list_new)
// clang-format on
#endif
