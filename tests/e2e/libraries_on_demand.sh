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

# 4. A machine without librdkafka or libmicrohttpd (hidden in a mount
# namespace: /dev/null bound over the file): `validate` refuses a topology
# that needs one, at the component's type, naming the library and its
# Debian package; `run` refuses to start it; an agent needing neither runs.
# awk reads to the end: with pipefail, an `exit` there would let SIGPIPE
# end ldconfig, and the script with it, whenever its output fills the pipe.
path_of() { ldconfig -p | awk -v so="$1" '$1 == so && !found { print $NF; found = 1 }'; }
RDKAFKA=$(path_of librdkafka.so.1)
MHD=$(path_of libmicrohttpd.so.12)
CAFSSL=$(path_of libcaf_openssl.so.0.17.6)
ZSTD=$(path_of libzstd.so.1)
[[ -n $RDKAFKA && -n $MHD && -n $CAFSSL && -n $ZSTD ]] \
  || fail "librdkafka, libmicrohttpd, libcaf_openssl or libzstd not found by ldconfig"
HTTP_PORT=$(free_port)
cat >"$WORK/http.yaml" <<YAML
agents:
  web:
    sources:
      in: {type: http, port: $HTTP_PORT, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      out: {type: "null", channel: c1}
YAML
PORT=$(free_port)
sed "s/port: [0-9]*/port: $PORT/" "$WORK/plain.yaml" >"$WORK/plain2.yaml"
cat >"$WORK/hidden.sh" <<SH
set -u
mount --bind /dev/null "$RDKAFKA" || exit 90
mount --bind /dev/null "$MHD" || exit 90
export NETCAT_PORT=$(free_port) KAFKA=127.0.0.1:9 TOPIC=t
"$FLUMEN" validate "$ROOT/topologies/netcat_kafka.yaml" >"$WORK/v_kafka.out" 2>&1; echo \$? >"$WORK/v_kafka.rc"
timeout 30 "$FLUMEN" run "$ROOT/topologies/netcat_kafka.yaml" >"$WORK/r_kafka.out" 2>&1; echo \$? >"$WORK/r_kafka.rc"
"$FLUMEN" validate "$WORK/http.yaml" >"$WORK/v_http.out" 2>&1; echo \$? >"$WORK/v_http.rc"
mount --bind /dev/null "$ZSTD" || exit 90
"$FLUMEN" validate "$WORK/tls.yaml" >"$WORK/v_zstd.out" 2>&1; echo \$? >"$WORK/v_zstd.rc"
mount --bind /dev/null "$CAFSSL" || exit 90
"$FLUMEN" validate "$WORK/tls.yaml" >"$WORK/v_tls.out" 2>&1; echo \$? >"$WORK/v_tls.rc"
timeout 30 "$FLUMEN" run "$WORK/tls.yaml" --agent collector >"$WORK/r_tls.out" 2>&1; echo \$? >"$WORK/r_tls.rc"
"$FLUMEN" run "$WORK/plain2.yaml" 2>"$WORK/plain2.log" &
agent=\$!
for _ in \$(seq 200); do nc -z 127.0.0.1 $PORT && break; sleep 0.1; done
seq 1 $N | nc -N 127.0.0.1 $PORT
kill -TERM \$agent
wait \$agent; echo \$? >"$WORK/r_plain.rc"
SH
unshare -m bash "$WORK/hidden.sh" || fail "could not hide the libraries in a mount namespace (exit $?)"
[[ $(cat "$WORK/v_kafka.rc") == 1 ]] || fail "validate accepted Kafka without librdkafka: $(cat "$WORK/v_kafka.out")"
matches -E 'netcat_kafka\.yaml:[1-9][0-9]*:[0-9]+: .*Kafka needs librdkafka\.so\.1, which could not be loaded: .*apt-get install librdkafka1' \
  "$WORK/v_kafka.out" || fail "validate's error without librdkafka: $(cat "$WORK/v_kafka.out")"
[[ $(cat "$WORK/r_kafka.rc") != 0 && $(cat "$WORK/r_kafka.rc") != 124 ]] \
  || fail "run without librdkafka exited $(cat "$WORK/r_kafka.rc"): $(tail -3 "$WORK/r_kafka.out")"
matches 'Kafka needs librdkafka\.so\.1' "$WORK/r_kafka.out" \
  || fail "run's error without librdkafka: $(tail -3 "$WORK/r_kafka.out")"
[[ $(cat "$WORK/v_http.rc") == 1 ]] || fail "validate accepted an http source without libmicrohttpd: $(cat "$WORK/v_http.out")"
matches 'libmicrohttpd\.so\.12' "$WORK/v_http.out" \
  || fail "validate's error without libmicrohttpd: $(cat "$WORK/v_http.out")"
[[ $(cat "$WORK/v_zstd.rc") == 1 ]] || fail "validate accepted a zstd hop without libzstd: $(cat "$WORK/v_zstd.out")"
matches -E 'tls\.yaml:[0-9]+:[0-9]+: agents\.edge\.sinks\.h1\.type: needs libzstd\.so\.1, which cannot be loaded here' \
  "$WORK/v_zstd.out" || fail "validate's error without libzstd: $(cat "$WORK/v_zstd.out")"
[[ $(cat "$WORK/v_tls.rc") == 1 ]] || fail "validate accepted TLS hops without CAF's OpenSSL module: $(cat "$WORK/v_tls.out")"
matches -E 'agents\.collector\.sources\.in\.type: needs libcaf_openssl\.so' "$WORK/v_tls.out" \
  || fail "validate's error at the TLS hop source without CAF's OpenSSL module: $(cat "$WORK/v_tls.out")"
[[ $(cat "$WORK/r_tls.rc") == 1 ]] || fail "run of a TLS collector without CAF's OpenSSL module exited $(cat "$WORK/r_tls.rc"): $(tail -3 "$WORK/r_tls.out")"
! matches -i 'terminate called\|abort' "$WORK/r_tls.out" || fail "run crashed: $(tail -3 "$WORK/r_tls.out")"
matches 'libcaf_openssl' "$WORK/r_tls.out" || fail "run's error without CAF's OpenSSL module: $(tail -3 "$WORK/r_tls.out")"
[[ $(cat "$WORK/r_plain.rc") == 0 ]] || fail "netcat -> null without the libraries exited $(cat "$WORK/r_plain.rc"): $(tail -3 "$WORK/plain2.log")"
matches "sinks\.out .*committed=$N" "$WORK/plain2.log" || matches "committed=$N" "$WORK/plain2.log" \
  || fail "netcat -> null without the libraries did not commit $N lines: $(tail -3 "$WORK/plain2.log")"
echo "ok: without librdkafka, libmicrohttpd, libzstd and CAF's OpenSSL module, validate and run refuse what needs them (at the component, naming the package) and the rest runs"

# 5. A collector without libzstd, fed by an edge that compresses with zstd:
# its hop source answers busy and runs on (no restart), the edge keeps the
# batches; once the library is back (unmounted in the collector's
# namespace), every line arrives.
NC=$(free_port); HOP=$(free_port)
cat >"$WORK/zstd.yaml" <<YAML
agents:
  collector:
    sources:
      in: {type: hop, port: $HOP, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      out: {type: file_roll, channel: c1, directory: $WORK/zout, roll_interval: 0s}
  edge:
    sources:
      in: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, compression: zstd}
YAML
mkdir -p "$WORK/zout"
# unshare and bash exec: the PID is the collector's.
unshare -m bash -c "mount --bind /dev/null '$ZSTD' && exec '$FLUMEN' run '$WORK/zstd.yaml' --agent collector --stats-interval 1s" \
  2>"$WORK/zcollector.log" &
ZCOL=$!
PIDS+=($ZCOL)
wait_for 20 nc -z 127.0.0.1 "$HOP" || fail "collector not listening: $(cat "$WORK/zcollector.log")"
"$FLUMEN" run "$WORK/zstd.yaml" --agent edge --stats-interval 1s 2>"$WORK/zedge.log" &
ZEDGE=$!
PIDS+=($ZEDGE)
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "edge not listening: $(cat "$WORK/zedge.log")"
seq 1 $N | nc -N 127.0.0.1 "$NC"
refused() { matches "cannot be decoded here: .*libzstd" "$WORK/zcollector.log"; }
wait_for 30 refused || fail "the collector did not say why it cannot decode: $(tail -5 "$WORK/zcollector.log")"
[[ $(cat "$WORK"/zout/* 2>/dev/null | wc -l) -eq 0 ]] || fail "lines arrived without libzstd"
! matches "collector.sources.in: down\|sources.in state=backing_off" "$WORK/zcollector.log" \
  || fail "the hop source failed instead of answering busy: $(grep -m1 'down' "$WORK/zcollector.log")"
# The edge says why it holds its batches (its state's reason, every second).
told() { matches "sinks.h1 state=degraded .*the receiver is busy: .*libzstd" "$WORK/zedge.log"; }
wait_for 30 told || fail "the edge did not say why: $(grep 'sinks.h1 state' "$WORK/zedge.log" | tail -1)"
nsenter -t "$ZCOL" -m umount "$ZSTD" || fail "could not give the library back"
all_z() { [[ $(cat "$WORK"/zout/* 2>/dev/null | wc -l) -ge $N ]]; }
wait_for 60 all_z || fail "only $(cat "$WORK"/zout/* | wc -l) of $N lines once libzstd was back"
stop_clean "$ZEDGE" "$WORK/zedge.log"
stop_clean "$ZCOL" "$WORK/zcollector.log"
sort -n "$WORK"/zout/* | uniq >"$WORK/zgot"
diff -q "$WORK/want" "$WORK/zgot" >/dev/null || fail "lines lost: $(diff "$WORK/want" "$WORK/zgot" | head -5)"
echo "ok: a collector without libzstd answers busy and runs on; once it is back, all $N lines arrive"
echo "5 passed, 0 failed"
