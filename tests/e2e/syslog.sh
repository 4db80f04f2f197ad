#!/usr/bin/env bash
# The syslog sources with a real client, util-linux `logger`: RFC 5424 with
# octet counting and structured data over TCP, RFC 3164 with LF framing
# over TCP, RFC 5424 over UDP; every message arrives once with Flume's
# headers (Facility, Severity, host, timestamp), the client's address and
# (once looked up) its host name;
# a malformed message is kept whole as `Invalid`; a frame that is no frame
# closes only its connection (counted); netcat_udp takes a datagram as
# an event; the final line accounts for all.
source "$(dirname "$0")/common.sh"
command -v logger >/dev/null || fail "logger (util-linux) is missing"
TCP=$(free_port); UDP=$(free_port); NCU=$(free_port); HTTP=$(free_port)
cat >"$WORK/s.yaml" <<YAML
agents:
  a1:
    http: {port: $HTTP}
    sources:
      tcp:
        type: syslog_tcp
        port: $TCP
        channels: [c1]
        structured: true
        client_ip_header: client
        client_hostname_header: sender
      udp:
        type: syslog_udp
        port: $UDP
        channels: [c1]
        structured: true
        receive_buffer: 8MB   # a burst of 300 waits here, none dropped
      ncu:
        type: netcat_udp
        port: $NCU
        channels: [c1]
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      log: {type: logger, channel: c1, max_body_bytes: 1000}
YAML
"$FLUMEN" validate "$WORK/s.yaml" >"$WORK/v.out" 2>&1 || fail "validate: $(cat "$WORK/v.out")"
"$FLUMEN" run "$WORK/s.yaml" >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
listening "$TCP" "$WORK/agent.log"
listening "$UDP" "$WORK/agent.log"
listening "$NCU" "$WORK/agent.log"
events() { grep -c "a1.sinks.log: event .*$1" "$WORK/agent.log" || true; }
has() { [[ $(events "$1") -ge $2 ]]; }

# 1. RFC 5424, octet counting, structured data, over TCP: 1,000 messages
#    (logger sends one per line of its input, on one connection).
seq -f 'tcp5424 %g' 1 1000 |
  logger --tcp --octet-count --rfc5424 -n 127.0.0.1 -P "$TCP" -t app --msgid M1 \
    --sd-id 'meta@32473' --sd-param 'k="v 1"' -p local3.warning
wait_for 30 has 'tcp5424 [0-9]*$' 1000 || fail "tcp5424: $(events 'tcp5424 [0-9]*$') of 1000"
line=$(grep -m1 'a1.sinks.log: event .* tcp5424 1$' "$WORK/agent.log")
for want in 'Facility=19' 'Severity=4' 'host=' 'timestamp=[0-9]\{13\}' \
  'syslog.app_name=app' 'syslog.msg_id=M1' 'syslog.sd.meta@32473.k=v 1' 'client=127.0.0.1'; do
  matches "$want" <<<"$line" || fail "tcp5424: no $want in: $line"
done
[[ $(events 'tcp5424 [0-9]*$') -eq 1000 ]] || fail "tcp5424: $(events 'tcp5424 [0-9]*$') events for 1000 messages"
echo "syslog_tcp, RFC 5424 octet-counted: 1000 of 1000, with Flume's headers"

# 2. RFC 3164, LF framing, over TCP.
seq -f 'tcp3164 %g' 1 500 | logger --tcp --rfc3164 -n 127.0.0.1 -P "$TCP" -t old -p user.err
wait_for 30 has 'old\(\[[0-9]*\]\)\?: tcp3164 [0-9]*$' 500 || fail "tcp3164: $(events 'old.*tcp3164') of 500"
line=$(grep -m1 'a1.sinks.log: event .*tcp3164 1$' "$WORK/agent.log")
# The name was looked up during the first part: known by now.
name=$(getent hosts 127.0.0.1 | awk '{ print $2; exit }')
for want in 'Facility=1,' 'Severity=3' 'timestamp=[0-9]\{13\}' "sender=${name:-127.0.0.1}"; do
  matches "$want" <<<"$line" || fail "tcp3164: no $want in: $line"
done
echo "syslog_tcp, RFC 3164 LF-framed: 500 of 500"

# 3. RFC 5424 over UDP: logger's burst waits in the 8 MB socket buffer.
seq -f 'udp %g' 1 300 | logger --udp --rfc5424 -n 127.0.0.1 -P "$UDP" -t u -p daemon.info
dropped() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk '$1 ~ /^flumen_events_dropped_total\{.*component="udp"/ {print $2}'; }
wait_for 30 has 'udp [0-9]*$' 300 || fail "udp: $(events 'udp [0-9]*$') of 300 (dropped by the kernel: $(dropped))"
line=$(grep -m1 'a1.sinks.log: event .* udp 1$' "$WORK/agent.log")
matches 'Facility=3,' <<<"$line" && matches 'Severity=6' <<<"$line" || fail "udp: $line"
echo "syslog_udp: 300 of 300"

# 4. No priority: kept whole, flume.syslog.status=Invalid.
printf 'not syslog at all\n' | nc -N 127.0.0.1 "$TCP"
wait_for 20 has 'not syslog at all$' 1 || fail "invalid message did not arrive"
grep 'not syslog at all$' "$WORK/agent.log" | matches 'flume.syslog.status=Invalid' || fail "no Invalid status"

# 5. A length that is no number: that connection is closed and counted;
#    the source serves the next client.
failures() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk '$1 ~ /^flumen_connection_failures_total\{.*component="tcp"/ {print $2}'; }
before=$(failures)
grown() { [[ $(failures) -gt ${before:-0} ]]; }
ok='<13>1 - - - - - ok'
printf '%d %s99x broken' "${#ok}" "$ok" | nc -N 127.0.0.1 "$TCP" || true
wait_for 20 has ' ok$' 1 || fail "the message before the broken frame did not arrive"
wait_for 20 grown || fail "connection_failures did not grow: $(failures)"
grep -q "tcp: closing a client" "$WORK/agent.log" || fail "no log line for the broken frame"
printf '<13>1 - - - - - after\n' | nc -N 127.0.0.1 "$TCP"
wait_for 20 has ' after$' 1 || fail "the next client was not served"
echo "a broken frame closes its connection only (connection_failures $before -> $(failures))"

# 6. netcat_udp: a datagram per event, the sender in REMOTE_ADDRESS.
printf 'plain udp line\n' | nc -u -w1 127.0.0.1 "$NCU"
wait_for 20 has 'plain udp line$' 1 || fail "netcat_udp: nothing arrived"
grep 'plain udp line$' "$WORK/agent.log" | matches 'REMOTE_ADDRESS=127.0.0.1:[0-9]' || fail "netcat_udp: no REMOTE_ADDRESS"
echo "netcat_udp: a datagram, an event"

kill -TERM "$AGENT"
code=0; wait "$AGENT" || code=$?
[[ $code == 0 ]] || fail "exit code $code: $(tail -3 "$WORK/agent.log")"
grep -q "agent a1: stopped, every accepted event delivered" "$WORK/agent.log" ||
  fail "final line: $(grep 'agent a1: stopped' "$WORK/agent.log")"
echo "1 passed, 0 failed"
