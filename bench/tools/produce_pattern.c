// The Kafka sink's produce pattern without the rest of flumen, to tell the
// pipeline's cost from librdkafka's (bench/README.md, "Where the time goes"):
// N records of SIZE bytes, B per call to rd_kafka_produce_batch, each call to
// the next of 64 partitions, at most B x W records unacknowledged.
//
//   cc -O2 -o produce_pattern bench/tools/produce_pattern.c -lrdkafka
//   ./produce_pattern BOOTSTRAP TOPIC N SIZE B W MODE
//
// MODE 0: copied (RD_KAFKA_MSG_F_COPY), 1: librdkafka's partitioner,
// 2: not copied, partition per record (what the sink does). Environment:
// IDEM (enable.idempotence, default true), LINGER (linger.ms, default 1),
// QMSG and QKB (queue.buffering.max.messages / .kbytes).
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdatomic.h>
static atomic_long done_msgs;
static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *o) { if (m->err) fprintf(stderr, "err %s\n", rd_kafka_err2str(m->err)); atomic_fetch_add(&done_msgs, 1); }
static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  const char *bs = argv[1], *topic = argv[2]; long n = atol(argv[3]); int size = atoi(argv[4]); int B = atoi(argv[5]); int W = atoi(argv[6]); int mode = atoi(argv[7]);
  char err[512]; rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", bs, err, sizeof err);
  rd_kafka_conf_set(c, "enable.idempotence", getenv("IDEM") ? getenv("IDEM") : "true", err, sizeof err);
  rd_kafka_conf_set(c, "linger.ms", getenv("LINGER") ? getenv("LINGER") : "1", err, sizeof err);
  if (getenv("QMSG")) rd_kafka_conf_set(c, "queue.buffering.max.messages", getenv("QMSG"), err, sizeof err);
  if (getenv("QKB")) rd_kafka_conf_set(c, "queue.buffering.max.kbytes", getenv("QKB"), err, sizeof err);
  rd_kafka_conf_set_dr_msg_cb(c, dr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
  char *payload = malloc(size); memset(payload, 'x', size);
  rd_kafka_message_t *msgs = calloc(B, sizeof *msgs);
  double t0 = now(); long sent = 0; int part = 0;
  while (sent < n) {
    while ((sent - atomic_load(&done_msgs)) >= (long)B * W) rd_kafka_poll(rk, 1);
    int k = (n - sent < B) ? (int)(n - sent) : B;
    for (int i = 0; i < k; i++) { memset(&msgs[i], 0, sizeof msgs[i]); msgs[i].payload = payload; msgs[i].len = size; msgs[i].partition = part; }
    if (mode == 0) rd_kafka_produce_batch(t, part, RD_KAFKA_MSG_F_COPY, msgs, k);
    else if (mode == 2) rd_kafka_produce_batch(t, part, RD_KAFKA_MSG_F_PARTITION, msgs, k);
    else rd_kafka_produce_batch(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, msgs, k);
    part = (part + 1) % 64; sent += k; rd_kafka_poll(rk, 0);
  }
  while (atomic_load(&done_msgs) < n) rd_kafka_poll(rk, 1);
  printf("%.3f s\n", now() - t0);
  rd_kafka_destroy(rk); return 0;
}
