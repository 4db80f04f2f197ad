#!/usr/bin/env bash
# HTTPS on the `http` source against curl (OpenSSL), with client
# certificates required: a trusted client's posts (one, then 50 at once)
# are answered 200 and arrive; a client without a certificate and one with
# another CA's are answered 403 (or refused in the handshake) and none of
# their events arrive; plain HTTP to the HTTPS port and 100 TCP clients
# that never start a handshake are closed at request_timeout; the agent
# serves on, RSS bounded, and its final line is clean.
source "$(dirname "$0")/common.sh"
command -v curl >/dev/null || fail "curl is missing (./flumen.sh installs it)"
command -v python3 >/dev/null || fail "python3 is missing"
bash "$(dirname "$0")/mkcerts.sh" "$WORK" srv
bash "$(dirname "$0")/mkcerts.sh" "$WORK" cli
bash "$(dirname "$0")/mkcerts.sh" "$WORK" other
PORT=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    sources:
      web:
        type: http
        port: $PORT
        request_timeout: 2s
        tls: {certificate: srv.pem, key: srv.key, ca_file: cli-ca.pem}
        channels: [c1]
    channels:
      c1: {type: memory, capacity: 10000}
    sinks:
      log: {type: logger, channel: c1}
YAML
"$FLUMEN" validate "$WORK/a.yaml" >/dev/null || fail "validate: $("$FLUMEN" validate "$WORK/a.yaml" 2>&1)"
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
listening "$PORT" "$WORK/agent.log"
URL=https://localhost:$PORT/
# post NAME [curl options...]: one event NAME; prints the status (000: no answer).
post() {
  local name=$1; shift
  curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/srv-ca.pem" "$@" \
    -H 'Content-Type: application/json' --data-binary "[{\"body\": \"$name\"}]" "$URL" || true
}
code=$(post trusted-1 --cert "$WORK/cli.pem" --key "$WORK/cli.key")
[[ $code == 200 ]] || fail "trusted client: $code"
codes=$(for i in $(seq 2 51); do post "trusted-$i" --cert "$WORK/cli.pem" --key "$WORK/cli.key" & done; wait)
[[ $(grep -o 200 <<<"$codes" | wc -l) -eq 50 ]] || fail "50 at once: $codes"
code=$(post anonymous)
[[ $code == 403 || $code == 000 ]] || fail "no certificate: $code"
code=$(post stranger --cert "$WORK/other.pem" --key "$WORK/other.key")
[[ $code == 403 || $code == 000 ]] || fail "another CA's certificate: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
  --data-binary '[{"body": "plain"}]' "http://127.0.0.1:$PORT/" || true)
[[ $code != 200 ]] || fail "plain HTTP answered 200"
python3 - "$PORT" >"$WORK/silent.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
closed = 0
deadline = time.time() + 30
for s in socks:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        # A TLS server may say close_notify first.
        while s.recv(100):
            pass
        closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
print("closed", closed)
PY
[[ $(cat "$WORK/silent.out") == "closed 100" ]] || fail "silent clients: $(cat "$WORK/silent.out")"
code=$(post trusted-52 --cert "$WORK/cli.pem" --key "$WORK/cli.key")
[[ $code == 200 ]] || fail "trusted client after the silent ones: $code"
count() { grep -c "a1.sinks.log: event .*trusted-[0-9]*$" "$WORK/agent.log" || true; }
has_all() { [[ $(count) -ge 52 ]]; }
wait_for 20 has_all || fail "$(count) of 52 trusted events"
n=$(grep "a1.sinks.log: event .*trusted-[0-9]*$" "$WORK/agent.log" | sed 's/.*trusted-//' | sort -un | wc -l)
[[ $n -eq 52 && $(count) -eq 52 ]] || fail "$(count) events, $n distinct, for 52"
! grep "a1.sinks.log: event" "$WORK/agent.log" | matches "anonymous\|stranger\|plain" ||
  fail "a refused client's event was taken"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT/status")
((rss < 64 * 1024)) || fail "peak RSS ${rss} kB"
kill -TERM "$AGENT"
code=0; wait "$AGENT" || code=$?
[[ $code == 0 ]] || fail "exit code $code"
grep -q "agent a1: stopped, every accepted event delivered" "$WORK/agent.log" ||
  fail "final line: $(grep 'agent a1: stopped' "$WORK/agent.log")"
final=$(grep "a1.sources.web state=stopped" "$WORK/agent.log")
failures=$(sed -n 's/.*connection_failures=\([0-9]*\).*/\1/p' <<<"$final")
((${failures:-0} >= 100)) || fail "connection_failures ${failures:-0} (100 silent clients at least): $final"
echo "https: 52 of 52 trusted posts once; no certificate, another CA, plain HTTP refused; 100 silent closed; peak RSS $((rss / 1024)) MiB"
echo "1 passed, 0 failed"
