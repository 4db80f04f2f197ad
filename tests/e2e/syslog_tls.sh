#!/usr/bin/env bash
# syslog over TLS (RFC 5425) with peers flumen did not write: rsyslog
# (started here with its own config and pid file, stopped by PID) forwards
# 2,000 messages with omfwd over GnuTLS (its gtls driver), octet-counted,
# showing a client certificate that syslog_tcp requires; openssl s_client
# sends over OpenSSL. Meanwhile hostile clients: 300 that connect and never
# start their handshake (closed at handshake_timeout), plain text, and a
# client without a certificate: each closed and counted in
# connection_failures, the agent's memory bounded, every message of the
# trusted clients delivered once, and the final line clean.
source "$(dirname "$0")/common.sh"
command -v rsyslogd >/dev/null || fail "rsyslogd is missing (./flumen.sh installs rsyslog)"
[[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so || -n $(find /usr/lib -name lmnsd_gtls.so 2>/dev/null) ]] ||
  fail "rsyslog's gtls driver is missing (./flumen.sh installs rsyslog-gnutls)"
command -v logger >/dev/null || fail "logger (util-linux) is missing"
command -v python3 >/dev/null || fail "python3 is missing"
bash "$(dirname "$0")/mkcerts.sh" "$WORK" srv
bash "$(dirname "$0")/mkcerts.sh" "$WORK" cli
T=$(free_port); RS=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    sources:
      secure:
        type: syslog_tcp
        port: $T
        structured: true
        handshake_timeout: 2s
        tls: {certificate: srv.pem, key: srv.key, ca_file: cli-ca.pem}
        channels: [c1]
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      log: {type: logger, channel: c1, max_body_bytes: 1000}
YAML
"$FLUMEN" validate "$WORK/a.yaml" >/dev/null || fail "validate: $("$FLUMEN" validate "$WORK/a.yaml" 2>&1)"
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
listening "$T" "$WORK/agent.log"
matches "TLS, client certificates required" "$WORK/agent.log" || fail "start line: $(grep listening "$WORK/agent.log")"

# 300 clients that connect and say nothing, held open by one process.
python3 - "$T" >"$WORK/silent.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
print("connected", flush=True)
closed = 0
deadline = time.time() + 60
for s in socks:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        closed += s.recv(1) == b""
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
print("closed", closed, flush=True)
PY
SILENT=$!; PIDS+=($SILENT)
wait_for 20 grep -q connected "$WORK/silent.out" || fail "silent clients: $(cat "$WORK/silent.out")"

mkdir -p "$WORK/rs"
cat >"$WORK/rsyslog.conf" <<CONF
global(workDirectory="$WORK/rs"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="$WORK/srv-ca.pem"
       DefaultNetstreamDriverCertFile="$WORK/cli.pem"
       DefaultNetstreamDriverKeyFile="$WORK/cli.key")
module(load="imtcp")
input(type="imtcp" port="$RS" address="127.0.0.1" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="$T" protocol="tcp"
         StreamDriver="gtls" StreamDriverMode="1"
         StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
         action.resumeRetryCount="-1" queue.type="LinkedList")
}
CONF
rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog.pid" >"$WORK/rsyslog.log" 2>&1 &
RSYSLOG=$!; PIDS+=($RSYSLOG)
rs_up() { (exec 3<>"/dev/tcp/127.0.0.1/$RS") 2>/dev/null; }
wait_for 20 rs_up || fail "rsyslog does not listen on $RS: $(cat "$WORK/rsyslog.log")"
N=2000
seq -f 'relayed %g' 1 $N | logger --tcp --octet-count -n 127.0.0.1 -P "$RS" -t relay -p local0.notice

# OpenSSL's client with the client certificate; then refused ones.
seq -f '<13>1 - h app - - - direct %g' 1 100 |
  timeout 20 openssl s_client -quiet -no_ign_eof -connect "127.0.0.1:$T" -cert "$WORK/cli.pem" -key "$WORK/cli.key" \
    -CAfile "$WORK/srv-ca.pem" -verify_return_error >/dev/null 2>"$WORK/s_client.err" ||
  fail "openssl s_client: $(cat "$WORK/s_client.err")"
echo '<13>1 - h app - - - no certificate' |
  timeout 20 openssl s_client -quiet -no_ign_eof -connect "127.0.0.1:$T" -CAfile "$WORK/srv-ca.pem" >/dev/null 2>&1 || true
echo '<13>1 - h app - - - plain text' | nc -q 2 127.0.0.1 "$T" >/dev/null 2>&1 || true

count() { grep -c "a1.sinks.log: event {.*$1 [0-9]*$" "$WORK/agent.log" || true; }
has() { [[ $(count "$1") -ge $2 ]]; }
wait_for 60 has relayed $N || fail "rsyslog over gtls: $(count relayed) of $N: $(tail -5 "$WORK/rsyslog.log")"
wait_for 20 has direct 100 || fail "s_client: $(count direct) of 100"
wait_for 60 grep -q "^closed" "$WORK/silent.out" || fail "silent clients: $(cat "$WORK/silent.out")"
[[ $(sed -n 's/^closed //p' "$WORK/silent.out") -eq 300 ]] || fail "silent clients closed: $(cat "$WORK/silent.out")"
matches "closed [0-9]* TLS client(s) that did not complete the handshake within 2000 ms" "$WORK/agent.log" ||
  fail "no handshake_timeout line"
matches "TLS: refused .*wrong version number" "$WORK/agent.log" || fail "plain text client not logged"
matches "TLS: refused .*did not return a certificate" "$WORK/agent.log" || fail "client without certificate not logged"
! matches "no certificate\|plain text" <(grep "a1.sinks.log: event" "$WORK/agent.log") ||
  fail "a refused client's message was taken"
for what in relayed direct; do
  n=$(grep "a1.sinks.log: event {.*$what [0-9]*$" "$WORK/agent.log" | sed "s/.*$what //" | sort -un | wc -l)
  c=$(count $what)
  [[ $n -eq $c ]] || fail "$what: $c events, $n distinct"
done
rss=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT/status")
((rss < 64 * 1024)) || fail "peak RSS ${rss} kB"
echo "rsyslog gtls: $N of $N once; s_client: 100 of 100; 300 silent clients closed at handshake_timeout; peak RSS $((rss / 1024)) MiB"
kill -TERM "$RSYSLOG"; wait "$RSYSLOG" || true
kill -TERM "$AGENT"
code=0; wait "$AGENT" || code=$?
[[ $code == 0 ]] || fail "exit code $code"
grep -q "agent a1: stopped, every accepted event delivered" "$WORK/agent.log" ||
  fail "final line: $(grep 'agent a1: stopped' "$WORK/agent.log")"
final=$(grep "a1.sources.secure state=stopped" "$WORK/agent.log")
failures=$(sed -n 's/.*connection_failures=\([0-9]*\).*/\1/p' <<<"$final")
((failures >= 302)) || fail "connection_failures $failures (300 silent + 2 refused at least): $final"
matches "received=$((N + 100)) accepted=$((N + 100))" <<<"$final" || fail "source's final line: $final"
echo "1 passed, 0 failed"
