#!/usr/bin/env bash
# rsyslog as the peer that forwards to flumen, as a syslog relay in the
# field does: `logger` writes 2,000 messages to rsyslog's imtcp; rsyslog
# (started here with its own config and pid file, stopped by PID) forwards
# each with omfwd twice: octet-counted RFC 5424 to one syslog_tcp source,
# and LF-framed in its traditional forward format (RFC 3164 style) to
# another. Every message arrives once per source with Flume's headers.
source "$(dirname "$0")/common.sh"
command -v rsyslogd >/dev/null || fail "rsyslogd is missing (./flumen.sh installs rsyslog)"
command -v logger >/dev/null || fail "logger (util-linux) is missing"
T1=$(free_port); T2=$(free_port); RS=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    sources:
      octet:
        type: syslog_tcp
        port: $T1
        framing: octet_counting
        structured: true
        channels: [c1]
        interceptors: [{type: static, key: via, value: octet}]
      lf:
        type: syslog_tcp
        port: $T2
        framing: lf
        channels: [c1]
        interceptors: [{type: static, key: via, value: lf}]
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      log: {type: logger, channel: c1, max_body_bytes: 1000}
YAML
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
listening "$T1" "$WORK/agent.log"
listening "$T2" "$WORK/agent.log"
mkdir -p "$WORK/rs"
cat >"$WORK/rsyslog.conf" <<CONF
global(workDirectory="$WORK/rs")
module(load="imtcp")
input(type="imtcp" port="$RS" address="127.0.0.1" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="$T1" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
         action.resumeRetryCount="-1" queue.type="LinkedList")
  action(type="omfwd" target="127.0.0.1" port="$T2" protocol="tcp"
         TCP_Framing="traditional" template="RSYSLOG_ForwardFormat"
         action.resumeRetryCount="-1" queue.type="LinkedList")
}
CONF
rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog.pid" >"$WORK/rsyslog.log" 2>&1 &
RSYSLOG=$!; PIDS+=($RSYSLOG)
rs_up() { (exec 3<>"/dev/tcp/127.0.0.1/$RS") 2>/dev/null; }
wait_for 20 rs_up || fail "rsyslog does not listen on $RS: $(cat "$WORK/rsyslog.log")"
N=2000
seq -f 'relayed %g' 1 $N | logger --tcp --octet-count -n 127.0.0.1 -P "$RS" -t relay -p local0.notice
count() { grep -c "a1.sinks.log: event {.*via=$1.*relayed [0-9]*$" "$WORK/agent.log" || true; }
has() { [[ $(count "$1") -ge $N ]]; }
wait_for 60 has octet || fail "octet-counted: $(count octet) of $N: $(tail -3 "$WORK/rsyslog.log")"
wait_for 60 has lf || fail "LF-framed: $(count lf) of $N"
for via in octet lf; do
  n=$(grep "a1.sinks.log: event {.*via=$via.*relayed [0-9]*$" "$WORK/agent.log" | sed 's/.*relayed //' | sort -un | wc -l)
  [[ $n -eq $N && $(count $via) -eq $N ]] || fail "$via: $(count $via) events, $n distinct, for $N"
  line=$(grep -m1 "a1.sinks.log: event {.*via=$via.*relayed 1$" "$WORK/agent.log")
  for want in 'Facility=16' 'Severity=5' 'timestamp=[0-9]\{13\}' 'host='; do
    matches "$want" <<<"$line" || fail "$via: no $want in: $line"
  done
  echo "$via: $N of $N, each once, with Flume's headers"
done
kill -TERM "$RSYSLOG"; wait "$RSYSLOG" || true
kill -TERM "$AGENT"
code=0; wait "$AGENT" || code=$?
[[ $code == 0 ]] || fail "exit code $code"
grep -q "agent a1: stopped, every accepted event delivered" "$WORK/agent.log" ||
  fail "final line: $(grep 'agent a1: stopped' "$WORK/agent.log")"
echo "1 passed, 0 failed"
