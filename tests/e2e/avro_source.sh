#!/usr/bin/env bash
# The `avro` source with third-party clients into Kafka (`flumen broker`):
# avsc (npm) as a Flume client — its stateful channel speaks the Netty
# framing of Java's NettyTransceiver — sends appendBatch calls with Flume's
# own protocol text (its hash known: BOTH) and with another text of the
# same protocol (unknown hash: NONE, then the text, then BOTH), append calls,
# 40 calls pipelined on one connection, and appendBatch over `compression:
# deflate` (a second source); python3
# sends its protocol text with its first request (CLIENT). Then the broker
# is frozen behind a small channel: calls are answered FAILED once the
# channel stays full for hold_timeout. Every event answered OK is in the
# topic once, none answered FAILED is; the final line counts them as
# dropped. Last, the kafka sink's `format: flume_avro` (Flume's
# useFlumeEventFormat), decoded by python3.
source "$(dirname "$0")/common.sh"
PEER=$ROOT/tests/support/avro_peer.js
RAW=$ROOT/tests/support/avro_raw.py
[[ -d $ROOT/tests/e2e/node_modules/avsc ]] || fail "avsc is missing: ./flumen.sh installs it (tests/e2e/node_modules)"
start_broker --topic avro:4
BROKER=$BROKER_PID
PORT=$(free_port); ZPORT=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    sources:
      r1:
        type: avro
        port: $PORT
        hold_timeout: 500ms
        channels: [c1]
      rz:
        type: avro
        port: $ZPORT
        compression: deflate
        channels: [c1]
    channels:
      c1: {type: memory, capacity: 300, transaction_capacity: 100}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: $BOOTSTRAP
        topic: avro
        batch_size: 100
YAML
"$FLUMEN" validate "$WORK/a.yaml" >/dev/null || fail "validate: $("$FLUMEN" validate "$WORK/a.yaml" 2>&1)"
"$FLUMEN" run "$WORK/a.yaml" 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
listening "$PORT" "$WORK/agent.log"
listening "$ZPORT" "$WORK/agent.log"
OKS=$WORK/ok
: >"$OKS"
# ok_bodies PREFIX N: the bodies PREFIX0..PREFIX(N-1), answered OK.
ok_bodies() { for ((i = 0; i < $2; i++)); do echo "$1$i"; done >>"$OKS"; }

# Flume's own protocol text: its hash is known, BOTH at once.
out=$(node "$PEER" client "$PORT" 3000 100 --prefix known)
echo "known hash: $out"
[[ $out == '{"ok_events":3000,"failed_calls":0,"errors":0,"matches":["BOTH"]}' ]] || fail "known hash: $out"
ok_bodies known 3000
# Another text of the protocol: NONE, avsc sends its text, then BOTH.
out=$(node "$PEER" client "$PORT" 500 50 --plain-protocol --prefix plain)
echo "unknown hash: $out"
[[ $out == '{"ok_events":500,"failed_calls":0,"errors":0,"matches":["NONE","BOTH"]}' ]] || fail "unknown hash: $out"
ok_bodies plain 500
# append, one event a call.
out=$(node "$PEER" client "$PORT" 20 1 --single --prefix single)
[[ $out == '{"ok_events":20,"failed_calls":0,"errors":0,"matches":["BOTH"]}' ]] || fail "append: $out"
ok_bodies single 20
# The protocol text with the first request: CLIENT (the server's hash
# differs from the one the client guessed), and the call is answered.
out=$(python3 "$RAW" protocol-first "$PORT" 7 first)
[[ $out == "match=CLIENT status=OK" ]] || fail "protocol first: $out"
ok_bodies first 7
# 40 calls at once on one connection (pipelined, answered by serial).
out=$(node "$PEER" client "$PORT" 4000 100 --pipeline --prefix piped)
[[ $out == '{"ok_events":4000,"failed_calls":0,"errors":0,"matches":["BOTH"]}' ]] || fail "pipelined: $out"
ok_bodies piped 4000
# Netty's zlib stream on both sides.
out=$(node "$PEER" client "$ZPORT" 2000 100 --deflate --prefix zlib)
echo "deflate: $out"
[[ $out == '{"ok_events":2000,"failed_calls":0,"errors":0,"matches":["BOTH"]}' ]] || fail "deflate: $out"
ok_bodies zlib 2000
all_in() { [[ $(topic_bodies avro | sort -u | wc -l) -ge $(wc -l <"$OKS") ]]; }
wait_for 60 all_in || fail "answered OK, not all in Kafka: $(topic_bodies avro | sort -u | wc -l) of $(wc -l <"$OKS")"

# The broker frozen: the channel (300) fills, and a call is answered FAILED
# after hold_timeout; the client gives up at its first FAILED, so none of
# that call's events may arrive.
kill -STOP "$BROKER"
set +e
out=$(node "$PEER" client "$PORT" 100000 50 --prefix frozen --give-up-after-failed 1)
rc=$?
set -e
echo "frozen broker: $out"
((rc == 3)) || fail "no FAILED with the broker frozen (exit $rc): $out"
frozen_ok=$(sed -E 's/.*"ok_events":([0-9]+).*/\1/' <<<"$out")
((frozen_ok >= 250 && frozen_ok <= 400)) || fail "answered OK with the broker frozen: $frozen_ok"
ok_bodies frozen "$frozen_ok"
refused_n=50
thaw_broker
wait_for 120 all_in || fail "after the thaw: $(topic_bodies avro | sort -u | wc -l) of $(wc -l <"$OKS")"
topic_bodies avro | sort >"$WORK/got"
sort -u "$OKS" | comm -23 - <(sort -u "$WORK/got") >"$WORK/missing"
[[ ! -s $WORK/missing ]] || fail "answered OK, not in Kafka: $(head -3 "$WORK/missing")"
for ((i = frozen_ok; i < frozen_ok + refused_n; i++)); do echo "frozen$i"; done | sort >"$WORK/refused"
comm -12 "$WORK/refused" <(sort -u "$WORK/got") >"$WORK/leaked"
[[ ! -s $WORK/leaked ]] || fail "answered FAILED, in Kafka: $(head -3 "$WORK/leaked")"
dups=$(($(wc -l <"$WORK/got") - $(sort -u "$WORK/got" | wc -l)))
((dups == 0)) || fail "$dups duplicates in Kafka"
echo "answered OK: $(wc -l <"$OKS") events, each in Kafka once; answered FAILED: $refused_n, none in Kafka"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $?: $(tail -5 "$WORK/agent.log")"
matches "not delivered: 0 left in channels at the shutdown timeout, 0 read but never accepted; by policy: $refused_n dropped" \
  "$WORK/agent.log" || fail "final line: $(tail -3 "$WORK/agent.log")"
summary=$(grep "a1.sources.r1" "$WORK/agent.log" | tail -1)
echo "$summary"
[[ $summary =~ dropped=$refused_n( |$) ]] || fail "dropped is not the $refused_n refused events: $summary"

# The other way into Flume's format: the kafka sink's `format: flume_avro`
# (Flume's useFlumeEventFormat) writes each record's value as the
# AvroFlumeEvent datum; python3 decodes it by the specification.
cat >"$WORK/f.yaml" <<YAML
agents:
  a2:
    sources:
      gen:
        type: seq
        count: 200
        channels: [c1]
        interceptors: [{type: static, key: origin, value: flumen}]
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: "$BOOTSTRAP", topic: flumefmt, format: flume_avro, headers: none}
YAML
"$FLUMEN" run "$WORK/f.yaml" --exit-on-eof 2>"$WORK/f.log" || fail "flume_avro agent: $(tail -3 "$WORK/f.log")"
kcat -C -b "$BOOTSTRAP" -t flumefmt -e -q -f '%S:%s' "${KCAT_TO_END[@]}" | python3 "$RAW" decode-records | sort >"$WORK/decoded"
for ((i = 0; i < 200; i++)); do echo "{\"origin\": \"flumen\", \"seq\": \"$i\"} $i"; done | sort >"$WORK/want"
diff -q "$WORK/want" "$WORK/decoded" >/dev/null || fail "flume_avro records: $(diff "$WORK/want" "$WORK/decoded" | head -5)"
echo "format: flume_avro: 200 records decoded as AvroFlumeEvent datums, headers and bodies as sent"
echo "1 passed, 0 failed"
