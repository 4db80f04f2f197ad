#!/usr/bin/env bash
# The `avro` sink against a third-party receiver and against flumen's own
# source. First avsc (npm) as a Flume AvroSource stand-in (its stateful
# server channel speaks the Netty framing of Java's NettyServer) answers
# every 7th call FAILED and cuts the connection at every 11th after taking
# its events: every one of 20,000 events arrives, the FAILED and cut calls
# are sent again, the duplicates are at most the cut calls' events. Then a
# stand-in with another text of the protocol (NONE, the sink sends its
# text, CLIENT) is killed and started again mid-stream: nothing lost. Then flumen to flumen: avro sink -> avro
# source in two agents, plain, with 4 calls in flight, with `compression:
# deflate`, and with mutual TLS (mkcerts.sh), 20,000 events each, every one
# once.
source "$(dirname "$0")/common.sh"
PEER=$ROOT/tests/support/avro_peer.js
[[ -d $ROOT/tests/e2e/node_modules/avsc ]] || fail "avsc is missing: ./flumen.sh installs it (tests/e2e/node_modules)"
N=20000

# start_standin PORT OUT ARGS...: an avsc AvroSource stand-in; sets STANDIN.
start_standin() {
  node "$PEER" server "$1" "$2" "${@:3}" >"$WORK/standin.out" &
  STANDIN=$!
  PIDS+=($STANDIN)
  wait_for 20 grep -q listening "$WORK/standin.out" || fail "the stand-in did not start"
}
# sender_yaml PORT EXTRA: seq -> memory -> avro sink to PORT.
sender_yaml() {
  cat <<YAML
agents:
  s1:
    sources:
      gen: {type: seq, count: $N, batch_size: 100${SEQ_EXTRA:-}, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 5000, transaction_capacity: 500}
    sinks:
      k1:
        type: avro
        channel: c1
        hostname: $3
        port: $1
        batch_size: 100
        max_inflight: ${INFLIGHT:-1}
        request_timeout: 2s
        connect_timeout: 2s
$2
YAML
}
# unique_lines FILE: distinct lines of FILE.
unique_lines() { sort -u "$1" | wc -l; }
all_arrived() { [[ -f $1 ]] && (($(unique_lines "$1") >= N)); }
check_exact() { # FILE: every body 0..N-1, nothing else
  seq 0 $((N - 1)) | sort >"$WORK/want"
  sort -u "$1" | comm -3 - "$WORK/want" >"$WORK/diff"
  [[ ! -s $WORK/diff ]] || fail "bodies differ from 0..$((N - 1)): $(head -3 "$WORK/diff")"
}

# 1. avsc as the receiver, with FAILED answers and cut connections.
PORT=$(free_port)
start_standin "$PORT" "$WORK/got1" --fail-every 7 --drop-every 11
sender_yaml "$PORT" "" 127.0.0.1 >"$WORK/s.yaml"
"$FLUMEN" run "$WORK/s.yaml" 2>"$WORK/sender.log" &
SENDER=$!
PIDS+=($SENDER)
wait_for 120 all_arrived "$WORK/got1" || fail "avsc received $(unique_lines "$WORK/got1") of $N: $(tail -3 "$WORK/sender.log")"
check_exact "$WORK/got1"
kill -TERM "$STANDIN"
wait "$STANDIN" || true
counts=$(tail -1 "$WORK/standin.out")
echo "stand-in: $counts"
dropped_calls=$(sed -E 's/.*"dropped":([0-9]+).*/\1/' <<<"$counts")
failed_calls=$(sed -E 's/.*"failed":([0-9]+).*/\1/' <<<"$counts")
((dropped_calls > 0 && failed_calls > 0)) || fail "no FAILED answers or cut connections: $counts"
dups=$(($(wc -l <"$WORK/got1") - N))
echo "duplicates: $dups (the events of $dropped_calls cut calls, 100 each at most)"
((dups > 0 && dups <= dropped_calls * 100)) || fail "duplicates $dups, cut calls $dropped_calls"
kill -TERM "$SENDER"
wait "$SENDER" || fail "sender exited with $?: $(tail -3 "$WORK/sender.log")"
matches -E "s1.sinks.k1 .*avro_calls_failed=[1-9]" "$WORK/sender.log" \
  || fail "no avro_calls_failed in the final lines: $(tail -5 "$WORK/sender.log")"
matches "the receiver answered FAILED" "$WORK/sender.log" || fail "FAILED not logged"
matches "stopped, every accepted event delivered" "$WORK/sender.log" || fail "final line: $(tail -3 "$WORK/sender.log")"

# 2. The stand-in killed and started again mid-stream: nothing lost. It
# has another text of the protocol (no doc): it does not know the sink's
# hash, answers NONE, and the sink sends its text (then CLIENT).
PORT=$(free_port)
start_standin "$PORT" "$WORK/got2" --plain-protocol
sender_yaml "$PORT" "" 127.0.0.1 >"$WORK/s2.yaml"
"$FLUMEN" run "$WORK/s2.yaml" 2>"$WORK/sender2.log" &
SENDER=$!
PIDS+=($SENDER)
some() { [[ -f $WORK/got2 ]] && (($(wc -l <"$WORK/got2") >= 2000)); }
wait_for 60 some || fail "nothing reached the stand-in"
kill -KILL "$STANDIN"
wait "$STANDIN" 2>/dev/null || true
wait_for 20 grep -qE "connection lost|closed the connection|cannot connect" "$WORK/sender2.log" \
  || fail "the sink did not see the receiver go: $(tail -3 "$WORK/sender2.log")"
start_standin "$PORT" "$WORK/got2" --plain-protocol
wait_for 120 all_arrived "$WORK/got2" || fail "after the restart: $(unique_lines "$WORK/got2") of $N"
check_exact "$WORK/got2"
echo "receiver killed and restarted: $N of $N, duplicates $(($(wc -l <"$WORK/got2") - N))"
kill -TERM "$SENDER"; wait "$SENDER" || fail "sender exited with $?"
kill -TERM "$STANDIN"; wait "$STANDIN" || true
counts=$(tail -1 "$WORK/standin.out")
[[ $counts == *'"handshakes":["NONE","CLIENT"]'* ]] || fail "handshakes with a receiver of another text: $counts"

# 3. flumen to flumen: plain, 4 calls in flight, connections renewed every
# second, deflate, mutual TLS.
bash "$ROOT/tests/e2e/mkcerts.sh" "$WORK" avro
chain() { # NAME SINK-EXTRA SOURCE-EXTRA
  local port out
  port=$(free_port)
  out=$WORK/out-$1
  mkdir -p "$out"
  cat >"$WORK/r-$1.yaml" <<YAML
agents:
  r1:
    sources:
      in: {type: avro, port: $port, channels: [c1]$3}
    channels:
      c1: {type: memory, capacity: 5000}
    sinks:
      out: {type: file_roll, channel: c1, directory: $out}
YAML
  "$FLUMEN" run "$WORK/r-$1.yaml" 2>"$WORK/receiver-$1.log" &
  local receiver=$!
  PIDS+=($receiver)
  listening "$port" "$WORK/receiver-$1.log"
  sender_yaml "$port" "$2" "${4:-127.0.0.1}" >"$WORK/s-$1.yaml"
  "$FLUMEN" validate "$WORK/s-$1.yaml" >/dev/null || fail "validate: $("$FLUMEN" validate "$WORK/s-$1.yaml" 2>&1)"
  "$FLUMEN" run "$WORK/s-$1.yaml" 2>"$WORK/sender-$1.log" &
  local sender=$!
  PIDS+=($sender)
  got_all() { (($(cat "$out"/* 2>/dev/null | sort -u | wc -l) >= N)); }
  wait_for 120 got_all || fail "$1: $(cat "$out"/* | sort -u | wc -l) of $N: $(tail -3 "$WORK/sender-$1.log")"
  kill -TERM "$sender"; wait "$sender" || fail "$1: sender exited with $?"
  kill -TERM "$receiver"; wait "$receiver" || fail "$1: receiver exited with $?"
  cat "$out"/* >"$WORK/all-$1"
  check_exact "$WORK/all-$1"
  echo "$1: $N of $N, duplicates $(($(wc -l <"$WORK/all-$1") - N))"
  matches "stopped, every accepted event delivered" "$WORK/receiver-$1.log" || fail "$1: receiver's final line"
}
chain plain "" ""
INFLIGHT=4 chain pipelined "" ""
# reset_connection_interval: 20,000 events at 5,000 a second over
# connections renewed every second.
SEQ_EXTRA=", rate: 5000" chain reset "        reset_connection_interval: 1s" ""
matches -E "s1.sinks.k1 .*avro_connections=([3-9]|[1-9][0-9])( |$)" "$WORK/sender-reset.log" \
  || fail "reset_connection_interval: $(grep 's1.sinks.k1 ' "$WORK/sender-reset.log" | tail -1)"
chain deflate "        compression: deflate" ", compression: deflate"
chain tls "        tls: {certificate: $WORK/avro.pem, key: $WORK/avro.key, ca_file: $WORK/avro-ca.pem}" \
  ", tls: {certificate: $WORK/avro.pem, key: $WORK/avro.key, ca_file: $WORK/avro-ca.pem}" localhost
echo "1 passed, 0 failed"
