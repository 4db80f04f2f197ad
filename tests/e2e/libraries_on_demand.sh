#!/usr/bin/env bash
# librdkafka, OpenSSL, CAF's OpenSSL module, lz4, zstd and zlib are loaded
# when a component first calls them (runtime/libs), not with every agent:
# an agent without Kafka, TLS or compression never maps them; one with a
# Kafka sink maps librdkafka (and OpenSSL, which librdkafka needs) and
# delivers every line; a TLS hop with zstd maps CAF's OpenSSL module and
# libzstd in both agents and delivers every line through them.
source "$(dirname "$0")/common.sh"
N=2000
LAZY='librdkafka|libssl|libcrypto|libcaf_openssl|libsasl2|liblz4|libzstd|libz\.so'
# mapped PID: the on-demand libraries PID has mapped, one per line.
mapped() {
  { grep -oE '/[^ /]+\.so[.0-9]*$' "/proc/$1/maps" || true; } | tr -d / | sort -u \
    | { grep -E "^($LAZY)" || true; }
}
stop_clean() {
  kill -TERM "$1"
  wait "$1" || fail "agent exited with $? after SIGTERM: $(tail -5 "$2")"
  matches "stopped, every accepted event delivered" "$2" \
    || fail "no clean stop: $(tail -5 "$2")"
}

# 1. netcat -> memory -> null: none of them.
PORT=$(free_port)
cat >"$WORK/plain.yaml" <<YAML
agents:
  plain:
    sources:
      in: {type: netcat, port: $PORT, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      out: {type: "null", channel: c1}
YAML
"$FLUMEN" run "$WORK/plain.yaml" --stats-interval 1s 2>"$WORK/plain.log" &
PLAIN=$!
PIDS+=($PLAIN)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/plain.log")"
seq 1 $N | nc -N 127.0.0.1 "$PORT"
got=$(mapped "$PLAIN")
[[ -z $got ]] || fail "an agent without Kafka or TLS mapped: $got"
stop_clean "$PLAIN" "$WORK/plain.log"
echo "ok: netcat -> memory -> null maps none of them"

# 2. netcat -> memory -> kafka: librdkafka and OpenSSL, not CAF's module.
start_broker --topic lazy:2
PORT=$(free_port)
NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP TOPIC=lazy "$FLUMEN" run \
  "$ROOT/topologies/netcat_kafka.yaml" 2>"$WORK/kafka.log" &
KAFKA_AGENT=$!
PIDS+=($KAFKA_AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/kafka.log")"
seq 1 $N | nc -N 127.0.0.1 "$PORT"
all_in() { [[ $(topic_count lazy) -ge $N ]]; }
wait_for 60 all_in || fail "only $(topic_count lazy) of $N lines in Kafka"
got=$(mapped "$KAFKA_AGENT")
matches '^librdkafka' <<<"$got" || fail "the Kafka agent did not map librdkafka: $got"
matches '^libssl' <<<"$got" || fail "the Kafka agent did not map libssl: $got"
! matches '^libcaf_openssl' <<<"$got" || fail "the Kafka agent mapped CAF's OpenSSL module"
stop_clean "$KAFKA_AGENT" "$WORK/kafka.log"
echo "ok: a Kafka sink maps librdkafka and OpenSSL and delivers $N lines"

# 3. a TLS hop compressed with zstd: CAF's OpenSSL module and libzstd in
# both agents (not lz4), every line through.
bash "$(dirname "$0")/mkcerts.sh" "$WORK" good
NC=$(free_port); HOP=$(free_port)
good="{certificate: $WORK/good.pem, key: $WORK/good.key, ca_file: $WORK/good-ca.pem}"
cat >"$WORK/tls.yaml" <<YAML
agents:
  collector:
    sources:
      in: {type: hop, port: $HOP, channels: [c1], tls: $good}
    channels:
      c1: {type: memory}
    sinks:
      out: {type: file_roll, channel: c1, directory: $WORK/out, roll_interval: 0s}
  edge:
    sources:
      in: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, tls: $good,
          compression: zstd}
YAML
mkdir -p "$WORK/out"
"$FLUMEN" validate "$WORK/tls.yaml" >/dev/null || fail "tls.yaml invalid"
"$FLUMEN" run "$WORK/tls.yaml" --agent collector 2>"$WORK/collector.log" &
COLLECTOR=$!
PIDS+=($COLLECTOR)
wait_for 20 nc -z 127.0.0.1 "$HOP" || fail "collector not listening: $(cat "$WORK/collector.log")"
"$FLUMEN" run "$WORK/tls.yaml" --agent edge 2>"$WORK/edge.log" &
EDGE=$!
PIDS+=($EDGE)
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "edge not listening: $(cat "$WORK/edge.log")"
seq 1 $N | nc -N 127.0.0.1 "$NC"
all_out() { [[ $(cat "$WORK"/out/* 2>/dev/null | wc -l) -ge $N ]]; }
wait_for 60 all_out || fail "only $(cat "$WORK"/out/* | wc -l) of $N lines through the TLS hop"
for p in "$COLLECTOR" "$EDGE"; do
  matches '^libcaf_openssl' <<<"$(mapped "$p")" \
    || fail "a TLS agent did not map CAF's OpenSSL module: $(mapped "$p")"
  matches '^libzstd' <<<"$(mapped "$p")" \
    || fail "a zstd hop's agent did not map libzstd: $(mapped "$p")"
  ! matches '^liblz4' <<<"$(mapped "$p")" || fail "a zstd hop's agent mapped liblz4"
done
stop_clean "$EDGE" "$WORK/edge.log"
stop_clean "$COLLECTOR" "$WORK/collector.log"
sort -n "$WORK"/out/* | uniq >"$WORK/got"
seq 1 $N >"$WORK/want"
diff -q "$WORK/want" "$WORK/got" >/dev/null || fail "lines lost: $(diff "$WORK/want" "$WORK/got" | head -5)"
echo "ok: a zstd TLS hop maps CAF's OpenSSL module and libzstd and delivers $N lines"
echo "3 passed, 0 failed"
