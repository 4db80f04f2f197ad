#!/usr/bin/env bash
# Hostile peers against the `avro` source (python3 raw sockets,
# tests/support/avro_raw.py): garbage, a frame count of 2^31 (negative as an
# int32) and of 0, a frame of 2 GiB announced, a truncated stream, a call of
# a message the protocol lacks (answered with an Avro error, the connection
# kept), a protocol that is not Flume's (refused, closed), a deflate bomb (1
# GiB of zeros in ~1 MB, on a `compression: deflate` source), a silent peer
# and one that stalls mid-message (closed at handshake_timeout), one idle
# after its ping (closed at idle_timeout, quietly), a peer
# outside `ip_filter` (closed at once); a plain-text client and a silent
# one on a TLS source. Each is closed with a log line and
# counted; the agent's RSS stays small, and avsc's Flume client is served
# after each: every event it was answered OK for is in the file sink once.
# Then hostile receivers of the avro sink (a frame count of 2^31, a 2 GiB
# frame, garbage, silence): logged, retried, the sender unharmed.
source "$(dirname "$0")/common.sh"
PEER=$ROOT/tests/support/avro_peer.js
RAW=$ROOT/tests/support/avro_raw.py
[[ -d $ROOT/tests/e2e/node_modules/avsc ]] || fail "avsc is missing: ./flumen.sh installs it (tests/e2e/node_modules)"
PORT=$(free_port); ZPORT=$(free_port); FPORT=$(free_port); TPORT=$(free_port); HTTP=$(free_port)
mkdir -p "$WORK/out"
bash "$ROOT/tests/e2e/mkcerts.sh" "$WORK" srv
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    http: {port: $HTTP}
    sources:
      r1:
        type: avro
        port: $PORT
        handshake_timeout: 1s
        idle_timeout: 2s
        max_message_bytes: 1MB
        channels: [c1]
      rz:
        type: avro
        port: $ZPORT
        compression: deflate
        max_message_bytes: 1MB
        channels: [c1]
      rf:
        type: avro
        port: $FPORT
        ip_filter: [deny:127.0.0.0/8, allow:*]
        channels: [c1]
      rt:
        type: avro
        port: $TPORT
        handshake_timeout: 1s
        tls: {certificate: $WORK/srv.pem, key: $WORK/srv.key, ca_file: $WORK/srv-ca.pem}
        channels: [c1]
    channels:
      c1: {type: memory, capacity: 10000}
    sinks:
      k1: {type: file_roll, channel: c1, directory: $WORK/out}
YAML
"$FLUMEN" run "$WORK/a.yaml" 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
listening "$PORT" "$WORK/agent.log"
listening "$ZPORT" "$WORK/agent.log"
listening "$FPORT" "$WORK/agent.log"
sent=0
served() { # a Flume client is answered OK for 100 events
  local out
  out=$(node "$PEER" client "$1" 100 50 --prefix "ok$sent-" ${2:-})
  [[ $out == *'"ok_events":100,'* ]] || fail "not served after a hostile peer: $out"
  sent=$((sent + 100))
}
# hostile KIND PORT LOG-PATTERN: closed, logged, and the next client served.
hostile() {
  local out
  out=$(python3 "$RAW" hostile "$2" "$1")
  [[ $out == closed* ]] || fail "$1: not closed: $out"
  wait_for 10 grep -qE "$3" "$WORK/agent.log" || fail "$1: no log line /$3/: $(tail -3 "$WORK/agent.log")"
  echo "$1: $out; $(grep -E "$3" "$WORK/agent.log" | tail -1 | cut -c25-200)"
  served "$2" "${4:-}"
}
hostile garbage "$PORT" "a message of [0-9]+ frames, more than|a frame of"
hostile huge-count "$PORT" "a message of -2147483648 frames"
hostile zero-count "$PORT" "a message of 0 frames"
hostile big-frame "$PORT" "a frame of 2147483647 bytes, more than 1048576"
hostile truncated "$PORT" "closed in the middle of a message"
hostile bad-protocol "$PORT" "not Flume's AvroSourceProtocol"
out=$(python3 "$RAW" hostile "$PORT" bad-call)
[[ $out == "match=BOTH error" ]] || fail "bad-call: $out"
matches "no message named 'drop'" "$WORK/agent.log" || fail "bad call not logged"
served "$PORT"
hostile bomb "$ZPORT" "a frame of 1073741824 bytes, more than 1048576" --deflate
hostile silent "$PORT" "no handshake within handshake_timeout"
hostile stalled "$PORT" "not complete within handshake_timeout|no handshake within"
# A client that pinged (handshake done) and then sends nothing: closed at
# idle_timeout, quietly (not a failure).
out=$(python3 "$RAW" hostile "$PORT" idle)
[[ $out == closed* ]] || fail "idle client: $out"
echo "idle: $out (idle_timeout)"
out=$(python3 "$RAW" hostile "$FPORT" silent)
[[ $out == closed* ]] || fail "ip_filter: not closed: $out"
wait_for 10 grep -q "refused a connection from 127.0.0.1 (ip_filter" "$WORK/agent.log" || fail "ip_filter not logged"
# TLS with client certificates required: a plain-text Flume client and a
# silent peer are refused and counted; none of their events is taken.
set +e
out=$(timeout 20 node "$PEER" client "$TPORT" 10 10 --prefix plain --give-up-after-failed 1)
set -e
[[ $out == '{"ok_events":0,"failed_calls":0,"errors":1,'* ]] || fail "a plain-text client was served by a TLS source: $out"
out=$(python3 "$RAW" hostile "$TPORT" silent)
[[ $out == closed* ]] || fail "TLS silent peer: $out"
wait_for 10 grep -q "a1.sources.rt: closing a connection from 127.0.0.1: no handshake within" "$WORK/agent.log" \
  || fail "TLS silent peer not logged"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT/status")
echo "agent peak RSS: $((rss / 1024)) MB"
((rss < 200 * 1024)) || fail "peak RSS $((rss / 1024)) MB"
metrics=$(curl -s "http://127.0.0.1:$HTTP/metrics")
failures=$(grep -E '^flumen_connection_failures_total\{.*r1' <<<"$metrics" | awk '{print $2}')
refused=$(grep -E '^flumen_avro_connections_refused_total\{.*rf' <<<"$metrics" | awk '{print $2}')
tls_failures=$(grep -E '^flumen_connection_failures_total\{.*rt' <<<"$metrics" | awk '{print $2}')
echo "r1 connection_failures: $failures; rf connections refused: $refused; rt (TLS) connection_failures: $tls_failures"
((${tls_failures%.*} >= 2)) || fail "TLS refusals not counted: $tls_failures"
((${failures%.*} >= 8)) || fail "connection_failures $failures: $(grep r1 <<<"$metrics" | head)"
((${refused%.*} == 1)) || fail "avro_connections_refused $refused"
have_all() { (($(cat "$WORK/out"/* | sort -u | wc -l) >= sent)); }
wait_for 30 have_all || fail "served events missing"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $?: $(tail -3 "$WORK/agent.log")"

# Hostile receivers of the avro sink: each bad answer closes the connection
# with a log line, the batch rolls back and is sent again (degraded); the
# agent stays small and its final line counts the events still in the
# channel. A silent receiver costs request_timeout per attempt.
for kind in huge-count big-frame garbage silent; do
  RPORT=$(free_port)
  python3 "$RAW" hostile-server "$RPORT" "$kind" >"$WORK/hs-$kind.out" &
  PIDS+=($!)
  hs=$!
  wait_for 10 grep -q listening "$WORK/hs-$kind.out" || fail "hostile receiver did not start"
  cat >"$WORK/s-$kind.yaml" <<YAML
agents:
  s1:
    sources:
      gen: {type: seq, count: 10, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: avro, channel: c1, hostname: 127.0.0.1, port: $RPORT, request_timeout: 500ms}
YAML
  "$FLUMEN" run "$WORK/s-$kind.yaml" --shutdown-timeout 1s 2>"$WORK/s-$kind.log" &
  sender=$!
  PIDS+=($sender)
  case $kind in
    huge-count) want="bad framing from the receiver: a message of -2147483648 frames" ;;
    big-frame) want="bad framing from the receiver: a frame of 2147483647 bytes" ;;
    garbage) want="bad framing from the receiver" ;;
    silent) want="no answer within request_timeout" ;;
  esac
  wait_for 20 grep -q "$want" "$WORK/s-$kind.log" || fail "$kind receiver: $(tail -3 "$WORK/s-$kind.log")"
  retried() { (($(grep -c "not delivered" "$WORK/s-$kind.log") >= 2)); }
  wait_for 20 retried || fail "$kind receiver: no retry: $(tail -3 "$WORK/s-$kind.log")"
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$sender/status")
  ((rss < 100 * 1024)) || fail "$kind receiver: sender peak RSS $((rss / 1024)) MB"
  kill -TERM "$sender"
  code=0
  wait "$sender" || code=$?
  ((code == 3)) || fail "$kind receiver: sender exited with $code: $(tail -3 "$WORK/s-$kind.log")"
  matches "not delivered: 10 left in channels at the shutdown timeout" "$WORK/s-$kind.log" \
    || fail "$kind receiver: final line: $(tail -2 "$WORK/s-$kind.log")"
  echo "sink vs a $kind receiver: '$want', retried, RSS $((rss / 1024)) MB, 10 left in the channel, counted"
  kill "$hs"
done
total=$(cat "$WORK/out"/* | wc -l)
((total == sent)) || fail "$total events in the file sink, $sent answered OK"
matches "stopped, every accepted event delivered" "$WORK/agent.log" || fail "final line: $(tail -3 "$WORK/agent.log")"
echo "1 passed, 0 failed"
