#!/usr/bin/env bash
# The HTTP endpoint with curl, as an operator uses it: the file's `http:`
# and `flumen run --http`; /metrics (Prometheus text), /metrics.json
# (Flume's shape), /health (200, then 503 naming a degraded sink), /ready
# (503 until the hop sink reached its receiver once),
# an unknown path (404), oversized headers (refused), and loopback only.
source "$(dirname "$0")/common.sh"
command -v curl >/dev/null || fail "curl is missing (./flumen.sh installs it)"
NC=$(free_port); HTTP=$(free_port); HTTP2=$(free_port); DEAD=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    http: {port: $HTTP}
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 1000}
    sinks:
      k1: {type: hop, channel: c1, host: 127.0.0.1, port: $DEAD, connect_timeout: 1s}
YAML
# Validation: the endpoint's port must not be a source's; its bind must be
# an address of this machine; port is required. Each error is located.
sed "s/http: {port: $HTTP}/http: {port: $NC}/" "$WORK/a.yaml" >"$WORK/clash.yaml"
"$FLUMEN" validate "$WORK/clash.yaml" >"$WORK/v.out" 2>&1 && fail "a clashing http port validated"
grep -q "clash.yaml:3:[0-9]*: agents.a1.http.port: source 'r1' already listens on 127.0.0.1:$NC" "$WORK/v.out" || fail "$(cat "$WORK/v.out")"
sed "s/http: {port: $HTTP}/http: {bind: 192.0.2.1, port: $HTTP}/" "$WORK/a.yaml" >"$WORK/far.yaml"
"$FLUMEN" validate "$WORK/far.yaml" >"$WORK/v.out" 2>&1 && fail "a foreign http bind validated"
grep -q "agents.a1.http.bind: cannot listen on '192.0.2.1'" "$WORK/v.out" || fail "$(cat "$WORK/v.out")"
sed "s/http: {port: $HTTP}/http: {}/" "$WORK/a.yaml" >"$WORK/noport.yaml"
"$FLUMEN" validate "$WORK/noport.yaml" >"$WORK/v.out" 2>&1 && fail "http without port validated"
grep -q "agents.a1.http: missing required key 'port'" "$WORK/v.out" || fail "$(cat "$WORK/v.out")"
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/a.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
wait_for 20 grep -q "HTTP on 127.0.0.1:$HTTP" "$WORK/a.log" || fail "no HTTP: $(cat "$WORK/a.log")"
listening "$NC" "$WORK/a.log"
seq 1 100 | nc -N 127.0.0.1 "$NC"
got() { curl -s "http://127.0.0.1:$HTTP/metrics" | matches "^flumen_events_accepted_total{agent=\"a1\",component=\"r1\",kind=\"source\",type=\"netcat\"} 100$"; }
wait_for 10 got || fail "/metrics: $(curl -s "http://127.0.0.1:$HTTP/metrics" | head -20)"
curl -s -D "$WORK/h" -o "$WORK/m" "http://127.0.0.1:$HTTP/metrics"
grep -qi "^content-type: text/plain; version=0.0.4" "$WORK/h" || fail "content type: $(cat "$WORK/h")"
grep -q "^# TYPE flumen_events_received_total counter" "$WORK/m" || fail "no TYPE line"
grep -q "^flumen_process_resident_memory_bytes{agent=\"a1\"} [1-9]" "$WORK/m" || fail "no RSS"
grep -q "^flumen_channel_size{agent=\"a1\",component=\"c1\",kind=\"channel\",type=\"memory\"} 100$" "$WORK/m" || fail "channel size"
curl -s "http://127.0.0.1:$HTTP/metrics.json" | matches '"CHANNEL.c1":{[^}]*"ChannelSize":"100"' || fail "/metrics.json: $(curl -s "http://127.0.0.1:$HTTP/metrics.json")"
# The hop sink can't connect: not failed or degraded but connecting, so
# /health says 200; /ready says 503 naming it until it reached its
# receiver once (then 200 for good).
code() { curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$HTTP$1"; }
[[ $(code /ready) == 503 ]] || fail "/ready with a sink never connected: $(cat "$WORK/body")"
grep -q '"not_ok":\["sink k1"\]' "$WORK/body" || fail "/ready body: $(cat "$WORK/body")"
cat >"$WORK/collector.yaml" <<YAML
agents:
  c1:
    sources:
      h1: {type: hop, port: $DEAD, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      n1: {type: "null", channel: c1}
YAML
"$FLUMEN" run "$WORK/collector.yaml" >"$WORK/collector.log" 2>&1 &
COLLECTOR=$!; PIDS+=($COLLECTOR)
ready() { [[ $(code /ready) == 200 ]]; }
wait_for 30 ready || fail "/ready once the receiver is up: $(cat "$WORK/body"); $(tail -3 "$WORK/collector.log")"
kill -TERM "$COLLECTOR"; wait "$COLLECTOR" || true
[[ $(code /ready) == 200 ]] || fail "/ready after the receiver went: $(cat "$WORK/body")"
[[ $(code /nope) == 404 ]] || fail "unknown path"
grep -q "try /metrics" "$WORK/body" || fail "404 body: $(cat "$WORK/body")"
big=$(head -c 20000 /dev/zero | tr '\0' a)
c=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$HTTP/metrics" || true)
[[ $c == 4* || $c == 000 ]] || fail "20 KB header answered $c"
[[ $(code /health) == 200 ]] || fail "/health: $(cat "$WORK/body")"
kill -0 "$AGENT" || fail "agent died"
kill -TERM "$AGENT"; wait "$AGENT" || true
# --http overrides the file; a sink that fails its batches (file_roll on a
# full disk: a 1 MB tmpfs, root needed as in file_channel_disk_full.sh)
# makes /health 503, naming it.
DISK=$WORK/disk; mkdir -p "$DISK"
mount -t tmpfs -o size=1m tmpfs "$DISK" || fail "cannot mount a tmpfs (root is needed)"
trap 'umount -l "$DISK" 2>/dev/null || true; cleanup' EXIT
head -c 1000000 /dev/zero >"$DISK/filler" 2>/dev/null || true
cat >"$WORK/b.yaml" <<YAML
agents:
  b1:
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      f1: {type: file_roll, channel: c1, directory: $DISK/out}
YAML
mkdir -p "$DISK/out"
"$FLUMEN" run "$WORK/b.yaml" --http "127.0.0.1:$HTTP2" >"$WORK/b.log" 2>&1 &
B=$!; PIDS+=($B)
wait_for 20 grep -q "HTTP on 127.0.0.1:$HTTP2" "$WORK/b.log" || fail "--http: $(cat "$WORK/b.log")"
HTTP=$HTTP2
[[ $(code /health) == 200 ]] || fail "/health before: $(cat "$WORK/body")"
listening "$NC" "$WORK/b.log"
seq -f "%.0f-$(printf '%0200d' 0)" 1 3000 | nc -N 127.0.0.1 "$NC"
unhealthy() { [[ $(code /health) == 503 ]]; }
wait_for 30 unhealthy || fail "/health stayed 200 on a full disk: $(cat "$WORK/body")"
grep -q '"not_ok":\["sink f1"\]' "$WORK/body" || fail "503 body: $(cat "$WORK/body")"
rm -f "$DISK/filler"
healthy() { [[ $(code /health) == 200 ]]; }
wait_for 60 healthy || fail "/health did not return to 200: $(cat "$WORK/body")"
kill -TERM "$B"; wait "$B" || true
echo "1 passed, 0 failed"
