#!/usr/bin/env bash
# Faults on a chain of real processes: edge (netcat -> memory -> hop) ->
# fault_proxy -> relay (hop -> memory -> hop) -> collector (hop -> file ->
# kafka). Each phase sends its own lines and counts them in the topic:
#   drop   the proxy swallows answers (acknowledgements) and cuts: nothing
#          lost, no duplicate (resent batches are recognised)
#   cut    the proxy cuts connections mid-batch: nothing lost
#   stop   the collector frozen (SIGSTOP) 10 s, then resumed: nothing lost
#   relay  the relay restarted (SIGTERM, twice) mid-stream: nothing lost
#   kill   the collector killed (SIGKILL) mid-stream, file channel: nothing
#          lost
# Duplicates are counted and printed for every phase.
source "$(dirname "$0")/common.sh"
N=${N:-100000}
start_broker --topic chain:8
NC_PORT=$(free_port)
PROXY_PORT=$(free_port)
RELAY_PORT=$(free_port)
COLL_PORT=$(free_port)
cat >"$WORK/chain.yaml" <<YAML
agents:
  edge:
    sources:
      r1: {type: netcat, port: $NC_PORT, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 200000}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $PROXY_PORT, request_timeout: 4s, connect_timeout: 2s}
  relay:
    sources:
      in: {type: hop, port: $RELAY_PORT, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 200000}
    sinks:
      out: {type: hop, channel: c1, host: 127.0.0.1, port: $COLL_PORT, request_timeout: 4s, connect_timeout: 2s}
  collector:
    sources:
      in: {type: hop, port: $COLL_PORT, channels: [c1]}
    channels:
      c1: {type: file, directory: $WORK/collector}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: chain}
YAML
start() { # NAME
  "$FLUMEN" run "$WORK/chain.yaml" --agent "$1" >>"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  eval "${1^^}_PID=$!"
}
proxy() { # fault_proxy options...
  [[ -n ${PROXY_PID:-} ]] && { kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true; }
  "$FAULT_PROXY" "$PROXY_PORT" "$RELAY_PORT" "$@" >"$WORK/proxy.out" &
  PROXY_PID=$!
  PIDS+=($PROXY_PID)
  wait_for 10 grep -q ready "$WORK/proxy.out" || fail "proxy did not start"
}
# send PHASE: N lines PHASE-1 .. PHASE-N into the edge (in the background).
send() {
  seq -f "$1-%.0f" 1 "$N" | nc -N 127.0.0.1 "$NC_PORT" &
  SENDER=$!
}
phase_count() { topic_bodies chain | grep -c "^$1-" || true; }
phase_distinct() { topic_bodies chain | grep "^$1-" | sort -u | wc -l; }
has_phase() { [[ $(phase_distinct "$1") -ge $N ]]; }
# check PHASE MAX_DUPS: every line of the phase arrived; at most MAX_DUPS
# duplicates (empty: any number, printed).
check() {
  wait "$SENDER" || fail "$1: nc failed"
  wait_for 120 has_phase "$1" || fail "$1: only $(phase_distinct "$1") of $N lines arrived"
  local dups=$(($(phase_count "$1") - N))
  echo "phase $1: $N lines, none lost, $dups duplicates"
  [[ -z ${2:-} || $dups -le $2 ]] || fail "$1: $dups duplicates, expected at most $2"
}

start collector
start relay
proxy --drop-acks-every 300000
start edge
wait_for 20 nc -z 127.0.0.1 "$NC_PORT" || fail "edge not listening: $(cat "$WORK/edge.log")"

# drop: answers swallowed after every 300 KB sent to the relay.
send drop
check drop 0
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true
drops=$(sed -n 's/.*drops=\([0-9]*\).*/\1/p' "$WORK/proxy.out")
PROXY_PID=
[[ ${drops:-0} -ge 1 ]] || fail "drop: the proxy dropped no answers"
echo "drop: the proxy swallowed answers $drops times"

# cut: connections cut mid-batch every 250 KB.
proxy --cut-every 250000
send cut
check cut
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true
cuts=$(sed -n 's/.*cuts=\([0-9]*\).*/\1/p' "$WORK/proxy.out")
PROXY_PID=
[[ ${cuts:-0} -ge 1 ]] || fail "cut: the proxy cut nothing"
echo "cut: the proxy cut connections $cuts times"
proxy

# stop: the collector frozen for 10 s mid-stream.
send stop
sleep 0.5 # the stream is under way (not a wait for a condition: a moment in it)
kill -STOP "$COLLECTOR_PID"
sleep 10
kill -CONT "$COLLECTOR_PID"
check stop
grep -q "relay.sinks.out: 127.0.0.1:$COLL_PORT: \(connection lost\|no answer to a keepalive\)" "$WORK/relay.log" \
  || fail "stop: the relay did not notice the frozen collector"

# relay: restarted twice mid-stream.
send relay
for i in 1 2; do
  sleep 0.3
  kill -TERM "$RELAY_PID"
  wait "$RELAY_PID" || fail "relay exited with $? after SIGTERM: $(tail -3 "$WORK/relay.log")"
  start relay
done
check relay

# kill: the collector killed with SIGKILL mid-stream, then started again.
send kill
sleep 0.5
kill -KILL "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null || true
start collector
check kill

for a in edge relay collector; do
  pid_var="${a^^}_PID"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" || fail "$a exited with $? after SIGTERM: $(tail -3 "$WORK/$a.log")"
done
grep -q "edge: stopped, every accepted event delivered" "$WORK/edge.log" || fail "edge: $(tail -3 "$WORK/edge.log")"
grep -h "duplicates=" "$WORK/relay.log" | tail -1 || true
echo "1 passed, 0 failed"
