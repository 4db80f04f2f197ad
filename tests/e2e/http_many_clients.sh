#!/usr/bin/env bash
# The HTTP endpoint under a flood of bad clients: 1000 connections that send
# nothing (reopened as the agent closes them) and 50 that send their request
# a byte every 100 ms (reconnecting when dropped). Meanwhile /health and
# /metrics answer within 2 s every time, the agent's RSS grows by less than
# 20 MB and its thread count not at all, and the pipeline delivers every
# event. Then: a 64 KB header gets 431 at once, an unknown path 404 naming
# the paths there are, a POST 405.
source "$(dirname "$0")/common.sh"
command -v curl >/dev/null || fail "curl is missing (./flumen.sh installs it)"
command -v python3 >/dev/null || fail "python3 is missing"
NC=$(free_port); HTTP=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    http: {port: $HTTP}
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      k1: {type: "null", channel: c1}
YAML
cat >"$WORK/flood.py" <<'PY'
import os, resource, selectors, socket, sys, time
port, n_idle, n_slow = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ready, stop, report = sys.argv[4], sys.argv[5], sys.argv[6]
need = n_idle + n_slow + 200
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < need:
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"descriptor limit {hard} < {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
def connect():
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.01)
sel = selectors.DefaultSelector()
for _ in range(n_idle):
    s = connect()
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
slow = [connect() for _ in range(n_slow)]
for s in slow:
    s.setblocking(False)
pos = [0] * n_slow
req = b"GET /health HTTP/1.1\r\nHost: flood\r\nX-Slow: yes\r\n\r\n"
idle_reopened = slow_reopened = answered = 0
open(ready, "w").write("ready\n")
while not os.path.exists(stop):
    # Idle ones the agent closed are opened again: the pressure stays.
    for key, _ in sel.select(timeout=0):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data:
            continue
        sel.unregister(s)
        s.close()
        s = connect()
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        idle_reopened += 1
    for i, s in enumerate(slow):
        try:
            try:
                if s.recv(4096, socket.MSG_DONTWAIT):
                    answered += 1
            except BlockingIOError:
                pass
            s.send(req[pos[i] % len(req):pos[i] % len(req) + 1])
            pos[i] += 1
        except OSError:
            s.close()
            slow[i] = connect()
            slow[i].setblocking(False)
            pos[i] = 0
            slow_reopened += 1
    time.sleep(0.1)
open(report, "w").write(f"{idle_reopened} {slow_reopened} {answered}\n")
PY
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/a.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
wait_for 20 grep -q "HTTP on 127.0.0.1:$HTTP" "$WORK/a.log" || fail "no HTTP: $(cat "$WORK/a.log")"
status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$AGENT/status"; }
code() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "$@"; }
[[ $(code "http://127.0.0.1:$HTTP/health") == 200 ]] || fail "/health: $(cat "$WORK/body")"
RSS0=$(status VmRSS); THREADS0=$(status Threads)
python3 "$WORK/flood.py" "$HTTP" 1000 50 "$WORK/ready" "$WORK/stop" "$WORK/report" 2>"$WORK/flood.err" &
FLOOD=$!; PIDS+=($FLOOD)
wait_for 60 test -s "$WORK/ready" || fail "the flood did not start: $(cat "$WORK/flood.err")"
# The pipeline under the flood.
listening "$NC" "$WORK/a.log"
seq 1 20000 | nc -N 127.0.0.1 "$NC"
# 30 rounds over about 6 s (three head timeouts): each must answer in 2 s
# (curl --max-time 2), or the test fails.
for i in $(seq 1 30); do
  c=$(code "http://127.0.0.1:$HTTP/health") || true
  [[ $c == 200 ]] || fail "/health round $i: '$c' $(cat "$WORK/body" 2>/dev/null)"
  c=$(code "http://127.0.0.1:$HTTP/metrics") || true
  [[ $c == 200 ]] || fail "/metrics round $i: '$c'"
  sleep 0.2
done
committed() {
  curl -s --max-time 2 "http://127.0.0.1:$HTTP/stats.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(c["counters"]["events_committed"] for c in d["components"] if c["name"] == "k1"))'
}
delivered() { [[ $(committed) == 20000 ]]; }
wait_for 30 delivered || fail "the sink committed $(committed) of 20000 under the flood"
RSS1=$(status VmRSS); THREADS1=$(status Threads)
touch "$WORK/stop"; wait "$FLOOD" || fail "flood: $(cat "$WORK/flood.err")"
read -r IDLE_REOPENED SLOW_REOPENED ANSWERED <"$WORK/report"
echo "RSS ${RSS0} kB -> ${RSS1} kB, threads $THREADS0 -> $THREADS1; the agent closed $IDLE_REOPENED idle and $SLOW_REOPENED slow connections, answered $ANSWERED slow requests"
# The flood was one: the agent closed idle and slow connections (timeouts,
# or shedding the longest waiting when full), and they came back.
((IDLE_REOPENED >= 1000)) || fail "only $IDLE_REOPENED idle connections were closed by the agent"
((SLOW_REOPENED >= 50)) || fail "only $SLOW_REOPENED slow connections were closed by the agent"
((RSS1 - RSS0 < 20480)) || fail "RSS grew from $RSS0 kB to $RSS1 kB"
((THREADS1 <= THREADS0)) || fail "threads grew from $THREADS0 to $THREADS1"
# Bad requests: a clear status, quickly.
big=$(head -c 65536 /dev/zero | tr '\0' a)
start=$SECONDS
[[ $(code -H "X-Big: $big" "http://127.0.0.1:$HTTP/health") == 431 ]] || fail "64 KB header: $(head -c 200 "$WORK/body")"
grep -q "request head over 8192 bytes" "$WORK/body" || fail "431 body: $(cat "$WORK/body")"
((SECONDS - start <= 1)) || fail "the 431 took $((SECONDS - start)) s"
[[ $(code "http://127.0.0.1:$HTTP/nope") == 404 ]] || fail "unknown path"
grep -q "no such path: /nope (try /metrics, /metrics.json, /health, /ready, /stats.json, /tap/COMPONENT)" "$WORK/body" || fail "404 body: $(cat "$WORK/body")"
[[ $(code -X POST "http://127.0.0.1:$HTTP/health") == 405 ]] || fail "POST: $(cat "$WORK/body")"
kill -TERM "$AGENT"
wait "$AGENT" || fail "the agent exited with $?: $(tail -5 "$WORK/a.log")"
grep -q "every accepted event delivered" "$WORK/a.log" || fail "$(tail -5 "$WORK/a.log")"
echo "1 passed, 0 failed"
