#!/usr/bin/env bash
# What an agent shows for sink replicas placed on a node, and the node's own
# --http (issue 17: "a sink replica on a node reports 0 committed on the
# agent"). An agent (netcat -> memory -> kafka, 2 replicas placed on one
# `flumen node --http`, embedded broker): N lines go through; the agent's
# /metrics, /stats.json and /health show its replicas' counters (committed
# summing to N) and the node's /metrics, /metrics.json, /health and /ready
# show the same replicas under the node's name. Then the node stops, the
# replicas move into the agent's process, M more lines go through, and at
# SIGTERM the agent's final counter lines say the replicas committed N + M
# (what the node did is not forgotten when they move).
source "$(dirname "$0")/common.sh"
command -v curl >/dev/null || fail "curl is missing (./flumen.sh installs it)"
N=${N:-20000}
M=${M:-5000}
start_broker --topic nm:8
NC=$(free_port); P1=$(free_port); AHTTP=$(free_port); NHTTP=$(free_port)
cat >"$WORK/a.yaml" <<YAML
nodes:
  n1: {host: 127.0.0.1, port: $P1}
agents:
  a1:
    http: {port: $AHTTP}
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      k1:
        type: kafka
        channel: c1
        replicas: 2
        placement: [n1]
        bootstrap_servers: '$BOOTSTRAP'
        topic: nm
YAML
"$FLUMEN" validate "$WORK/a.yaml" >/dev/null || fail "a.yaml invalid"
# --http takes HOST:PORT or a bare port (loopback); a bad one exits 2.
"$FLUMEN" node --listen "127.0.0.1:$P1" --http 127.0.0.1:x >"$WORK/bad.log" 2>&1 && fail "a bad --http was accepted"
grep -q "bad --http" "$WORK/bad.log" || fail "bad --http: $(cat "$WORK/bad.log")"
"$FLUMEN" node --listen "127.0.0.1:$P1" --name n1 --http "$NHTTP" >"$WORK/n1.log" 2>&1 &
NODE=$!; PIDS+=($NODE)
wait_for 20 grep -q "listening on" "$WORK/n1.log" || fail "node did not start: $(cat "$WORK/n1.log")"
wait_for 20 grep -q "node n1: HTTP on 127.0.0.1:$NHTTP" "$WORK/n1.log" || fail "node has no HTTP: $(cat "$WORK/n1.log")"
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/a1.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
placed() { [[ $(grep -c "running on node n1" "$WORK/a1.log") -ge 2 ]]; }
wait_for 30 placed || fail "replicas not placed: $(cat "$WORK/a1.log")"
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "agent not listening"

seq -f "one-%.0f" 1 "$N" | nc -N 127.0.0.1 "$NC"
arrived() { [[ $(topic_bodies nm | grep -c '^one-') -ge $1 ]]; }
wait_for 60 arrived "$N" || fail "$(topic_bodies nm | grep -c '^one-') of $N lines arrived"

# series URL FAMILY LABELS: the values of FAMILY whose labels start with
# LABELS, summed (0 when there is none).
series() {
  curl -s "$1" | awk -v f="$2{$3" 'index($0, f) == 1 { s += $NF } END { print s + 0 }'
}
A="http://127.0.0.1:$AHTTP"
B="http://127.0.0.1:$NHTTP"
# The agent: its replicas' counters, from the node's reports (every second).
agent_committed() { series "$A/metrics" flumen_events_committed_total 'agent="a1",component="k1#'; }
agent_has() { [[ $(agent_committed) -eq $1 ]]; }
wait_for 10 agent_has "$N" || fail "the agent's /metrics shows its replicas committed $(agent_committed), expected $N: $(curl -s "$A/metrics" | grep 'component="k1#')"
taken=$(series "$A/metrics" flumen_events_taken_total 'agent="a1",component="k1#')
[[ $taken -ge $N ]] || fail "the agent's /metrics shows $taken taken by its replicas"
# Each replica did some of it, and says where it runs.
for i in 1 2; do
  v=$(series "$A/metrics" flumen_events_committed_total "agent=\"a1\",component=\"k1#$i\"")
  ((v > 0)) || fail "k1#$i committed $v on the agent"
  curl -s "$A/metrics" | matches "^flumen_component_state{agent=\"a1\",component=\"k1#$i\",kind=\"sink\",type=\"kafka\",state=\"running\"} 1$" \
    || fail "k1#$i not running on the agent: $(curl -s "$A/metrics" | grep "component=\"k1#$i\".*state=")"
done
curl -s "$A/stats.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
ks = [c for c in s["components"] if c["name"].startswith("k1#")]
assert len(ks) == 2, ks
assert sum(c["counters"]["events_committed"] for c in ks) == int(sys.argv[1]), ks
assert all(c["placement"].startswith("node n1") for c in ks), ks
' "$N" || fail "/stats.json: $(curl -s "$A/stats.json")"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$A/health") == 200 ]] || fail "agent /health"
# /ready waits for the placed Kafka replicas to have reached the broker:
# they did, on the node.
[[ $(curl -s -o /dev/null -w "%{http_code}" "$A/ready") == 200 ]] || fail "agent /ready: $(curl -s "$A/ready")"

# The node: the same replicas under its name, its listener too.
node_committed() { series "$B/metrics" flumen_events_committed_total 'node="n1",component="a1.sinks.k1#'; }
[[ $(node_committed) -eq $N ]] || fail "the node's /metrics shows $(node_committed) committed: $(curl -s "$B/metrics" | grep committed)"
curl -s -D "$WORK/h" -o "$WORK/m" "$B/metrics"
grep -qi "^content-type: text/plain; version=0.0.4" "$WORK/h" || fail "node content type: $(cat "$WORK/h")"
grep -q '^flumen_component_state{node="n1",component="a1.sinks.k1#1",kind="sink",type="kafka",state="running"} 1$' "$WORK/m" || fail "node: k1#1 state: $(grep k1#1 "$WORK/m" | grep state)"
grep -q '^flumen_connections_open{node="n1",component="n1.listener",kind="listener",type="node"} ' "$WORK/m" || fail "node: no listener series"
grep -q '^flumen_process_uptime_seconds{node="n1"} ' "$WORK/m" || fail "node: no process series"
curl -s "$B/metrics.json" | python3 -c '
import json, sys
j = json.load(sys.stdin)
n = sum(int(v["EventDrainSuccessCount"]) for k, v in j.items() if k.startswith("SINK.a1.sinks.k1#"))
assert n == int(sys.argv[1]), j
' "$N" || fail "node /metrics.json: $(curl -s "$B/metrics.json")"
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$B$1"; }
[[ $(code /health) == 200 ]] || fail "node /health: $(cat "$WORK/body")"
grep -q '"node":"n1"' "$WORK/body" || fail "node /health body: $(cat "$WORK/body")"
grep -q '"a1.sinks.k1#2":{"kind":"sink","state":"running"}' "$WORK/body" || fail "node /health body: $(cat "$WORK/body")"
[[ $(code /ready) == 200 ]] || fail "node /ready: $(cat "$WORK/body")"
[[ $(code /stats.json) == 404 ]] || fail "node /stats.json: $(cat "$WORK/body")"
grep -q "try /metrics, /metrics.json, /health, /ready)" "$WORK/body" || fail "node 404: $(cat "$WORK/body")"
echo "running: agent and node both show the replicas' $N committed"

# The node stops: each replica settles, reports its last counts, and moves
# into the agent's process; the agent's counts never go back.
kill -TERM "$NODE"
wait "$NODE" || fail "the node did not stop cleanly: $(tail -5 "$WORK/n1.log")"
local_now() { [[ $(grep -c "running in the agent's process" "$WORK/a1.log") -ge 2 ]]; }
wait_for 30 local_now || fail "replicas did not move into the agent: $(tail -5 "$WORK/a1.log")"
v=$(agent_committed)
((v >= N)) || fail "the agent's committed went back to $v after the replicas moved"
seq -f "two-%.0f" 1 "$M" | nc -N 127.0.0.1 "$NC"
two() { [[ $(topic_bodies nm | grep -c '^two-') -ge $M ]]; }
wait_for 60 two || fail "$(topic_bodies nm | grep -c '^two-') of $M lines arrived after the move"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $?: $(tail -5 "$WORK/a1.log")"
grep -q "a1: stopped, every accepted event delivered" "$WORK/a1.log" || fail "$(tail -3 "$WORK/a1.log")"
# The final counter lines (after "received, stopping").
final=$(sed -n '/SIGTERM received, stopping/,$p' "$WORK/a1.log")
total=0
for i in 1 2; do
  line=$(grep "a1.sinks.k1#$i state" <<<"$final" | tail -1)
  [[ $line == *committed=* ]] || fail "k1#$i final line has no committed: $line"
  n=${line##* committed=}; n=${n%% *}
  total=$((total + n))
done
cline=$(grep "a1.channels.c1 state" <<<"$final" | tail -1)
c=${cline##* committed=}; c=${c%% *}
[[ $c -eq $((N + M)) ]] || fail "the channel committed $c: $cline"
[[ $total -eq $c ]] || fail "the final lines say the replicas committed $total, the channel $c"
echo "final: the replicas committed $total ($N on the node, then $M in the agent), as the channel did"
echo "1 passed, 0 failed"
