#!/usr/bin/env bash
# Mutual TLS on a hop, with certificates made here by openssl: an edge with
# the collector's CA delivers every line; an agent with another CA's
# certificate, an agent speaking plain text, and a client with no
# certificate (openssl s_client) are refused, the collector logs each
# refusal and goes on delivering. The collector binds every address
# (0.0.0.0), which only tls (or insecure: true) allows.
source "$(dirname "$0")/common.sh"
N=${N:-100000}
bash "$(dirname "$0")/mkcerts.sh" "$WORK" good
bash "$(dirname "$0")/mkcerts.sh" "$WORK" evil
start_broker --topic tls:4
NC=$(free_port); NC_EVIL=$(free_port); NC_PLAIN=$(free_port); HOP=$(free_port)
good="{certificate: $WORK/good.pem, key: $WORK/good.key, ca_file: $WORK/good-ca.pem}"
evil="{certificate: $WORK/evil.pem, key: $WORK/evil.key, ca_file: $WORK/evil-ca.pem}"
cat >"$WORK/tls.yaml" <<YAML
agents:
  collector:
    sources:
      in: {type: hop, bind: 0.0.0.0, port: $HOP, channels: [c1], tls: $good}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: tls}
  edge:
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, tls: $good}
  evil:
    sources:
      r1: {type: netcat, port: $NC_EVIL, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, tls: $evil}
  plain:
    sources:
      r1: {type: netcat, port: $NC_PLAIN, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP}
YAML
"$FLUMEN" validate "$WORK/tls.yaml" >/dev/null || fail "tls.yaml invalid"
# Without tls, binding every address is a located config error.
sed 's/, tls: {certificate: [^}]*}}$/}/' "$WORK/tls.yaml" >"$WORK/open.yaml"
"$FLUMEN" validate "$WORK/open.yaml" >"$WORK/open.out" 2>&1 && fail "0.0.0.0 without tls validated"
grep -q "agents.collector.sources.in.bind.*not a loopback address" "$WORK/open.out" \
  || fail "no located error: $(cat "$WORK/open.out")"
run() { "$FLUMEN" run "$WORK/tls.yaml" --agent "$1" >"$WORK/$1.log" 2>&1 & PIDS+=($!); eval "${1^^}_PID=$!"; }
run collector
wait_for 20 grep -q "listening on 0.0.0.0:$HOP (mutual TLS)" "$WORK/collector.log" \
  || fail "collector: $(cat "$WORK/collector.log")"
run edge; run evil; run plain
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "edge not listening"
wait_for 20 nc -z 127.0.0.1 "$NC_EVIL" || fail "evil not listening"
wait_for 20 nc -z 127.0.0.1 "$NC_PLAIN" || fail "plain not listening"
seq -f 'evil-%.0f' 1 100 | nc -N 127.0.0.1 "$NC_EVIL"
seq -f 'plain-%.0f' 1 100 | nc -N 127.0.0.1 "$NC_PLAIN"
timeout 5 openssl s_client -connect "127.0.0.1:$HOP" </dev/null >/dev/null 2>&1 || true
refused() { grep -q "$1" "$WORK/collector.log"; }
wait_for 20 refused "TLS: refused .*peer did not return a certificate" || fail "no-certificate client not logged"
wait_for 20 refused "TLS: refused .*plaintext client" || fail "plaintext agent not logged"
wait_for 20 refused "TLS: refused .*unknown ca\|TLS: refused .*certificate verify failed" \
  || fail "other-CA agent not logged"
grep -q "evil.sinks.h1: 127.0.0.1:$HOP: cannot connect" "$WORK/evil.log" || fail "evil: $(tail -3 "$WORK/evil.log")"
grep -q "plain.sinks.h1: 127.0.0.1:$HOP: cannot connect" "$WORK/plain.log" || fail "plain: $(tail -3 "$WORK/plain.log")"
# The collector still runs and takes the good edge's lines.
seq -f 'good-%.0f' 1 "$N" | nc -N 127.0.0.1 "$NC"
distinct() { topic_bodies tls | sort -u | wc -l; }
has_all() { [[ $(distinct) -ge $N ]]; }
wait_for 60 has_all || fail "only $(distinct) of $N lines over TLS"
[[ $(topic_bodies tls | grep -c -v '^good-') -eq 0 ]] || fail "a refused agent's line arrived"
kill -0 "$COLLECTOR_PID" || fail "the collector died"
for a in edge evil plain collector; do v="${a^^}_PID"; kill -TERM "${!v}"; wait "${!v}" || true; done
echo "tls: $N lines over mutual TLS; other CA, plain text and no certificate refused and logged"
echo "1 passed, 0 failed"
