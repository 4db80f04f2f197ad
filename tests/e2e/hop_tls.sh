#!/usr/bin/env bash
# Mutual TLS on a hop, with certificates made here by openssl: an edge with
# the collector's CA delivers every line; an agent with another CA's
# certificate, an agent speaking plain text, and a client with no
# certificate (openssl s_client) are refused, the collector logs each
# refusal and goes on delivering. The collector binds every address
# (0.0.0.0), which only tls (or insecure: true) allows. The collector runs
# under strace: CAF's OpenSSL module blocks SIGPIPE around each SSL call,
# three system calls flumen makes free because it ignores SIGPIPE
# (runtime/net/sigpipe_hooks.cpp); none may reach the kernel.
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
run() { ${TRACE:-} "$FLUMEN" run "$WORK/tls.yaml" --agent "$@" >"$WORK/$1.log" 2>&1 & PIDS+=($!); eval "${1^^}_PID=$!"; }
TRACE="strace -f -qq -e trace=read,rt_sigprocmask,rt_sigtimedwait -o $WORK/collector.strace" run collector
# strace with -o ignores SIGTERM: the collector is its child, stopped by PID.
STRACE_PID=$COLLECTOR_PID
wait_for 20 pgrep -P "$STRACE_PID" >/dev/null || fail "strace started no collector"
COLLECTOR_PID=$(pgrep -P "$STRACE_PID"); PIDS+=("$COLLECTOR_PID")
wait_for 20 grep -q "listening on 0.0.0.0:$HOP (mutual TLS)" "$WORK/collector.log" \
  || fail "collector: $(cat "$WORK/collector.log")"
# The refused agents' lines never leave: their stop need not wait the
# default 30 s for them.
run edge; run evil --shutdown-timeout 2s; run plain --shutdown-timeout 2s
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
for a in edge evil plain; do v="${a^^}_PID"; kill -TERM "${!v}"; wait "${!v}" || true; done
kill -TERM "$COLLECTOR_PID"; wait "$STRACE_PID" || true
reads=$(grep -c ' read(' "$WORK/collector.strace" || true)
masks=$(grep -c 'rt_sig[a-z]*(\(SIG_[A-Z]*, \)\?\[PIPE\]' "$WORK/collector.strace" || true)
((reads > 100)) || fail "strace saw $reads reads of the collector"
((masks == 0)) || fail "$masks SIGPIPE masks reached the kernel: $(grep -m3 PIPE "$WORK/collector.strace")"
echo "tls: $N lines over mutual TLS ($reads reads, no SIGPIPE mask); other CA, plain text and no certificate refused and logged"

# A node with mutual TLS: an agent with the node's CA places replicas on
# it; agents with another CA's certificate or none are refused (logged by
# the node), run their replicas locally, and the node keeps running.
"$FLUMEN" node --listen 0.0.0.0:4799 >"$WORK/open_node.log" 2>&1 && fail "a node on 0.0.0.0 without TLS started"
grep -q "not a loopback address" "$WORK/open_node.log" || fail "open node: $(cat "$WORK/open_node.log")"
NODE_PORT=$(free_port); NC_P=$(free_port); NC_PE=$(free_port); NC_PP=$(free_port)
"$FLUMEN" node --listen "127.0.0.1:$NODE_PORT" --name tn --tls-certificate "$WORK/good.pem" \
  --tls-key "$WORK/good.key" --tls-ca-file "$WORK/good-ca.pem" >"$WORK/node.log" 2>&1 &
NODE=$!; PIDS+=($NODE)
wait_for 20 grep -q "listening on 127.0.0.1:$NODE_PORT (mutual TLS)" "$WORK/node.log" || fail "node: $(cat "$WORK/node.log")"
placed_agent() { # NAME NETCAT_PORT NODE_ENTRY_TLS
  cat <<YAML
  $1:
    sources:
      r1: {type: netcat, port: $2, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, replicas: 2, placement: [n_$1], bootstrap_servers: '$BOOTSTRAP', topic: tls}
YAML
}
{
  echo "nodes:"
  echo "  n_good: {host: 127.0.0.1, port: $NODE_PORT, tls: $good}"
  echo "  n_evil: {host: 127.0.0.1, port: $NODE_PORT, tls: $evil}"
  echo "  n_plain: {host: 127.0.0.1, port: $NODE_PORT}"
  echo "agents:"
  placed_agent good "$NC_P"
  placed_agent evil "$NC_PE"
  placed_agent plain "$NC_PP"
} >"$WORK/placed.yaml"
"$FLUMEN" validate "$WORK/placed.yaml" >/dev/null || fail "placed.yaml invalid"
for a in good evil plain; do
  "$FLUMEN" run "$WORK/placed.yaml" --agent "$a" >"$WORK/p_$a.log" 2>&1 &
  PIDS+=($!); eval "P_${a^^}=$!"
done
wait_for 20 grep -q "good.sinks.k1#2: running on node n_good" "$WORK/p_good.log" || fail "good: $(tail -3 "$WORK/p_good.log")"
wait_for 30 grep -q "evil.sinks.k1#1: no node of its placement is reachable" "$WORK/p_evil.log" || fail "evil: $(tail -3 "$WORK/p_evil.log")"
wait_for 30 grep -q "plain.sinks.k1#1: no node of its placement is reachable" "$WORK/p_plain.log" || fail "plain: $(tail -3 "$WORK/p_plain.log")"
grep -q "TLS: refused .*plaintext client" "$WORK/node.log" || fail "the node did not log the plaintext agent"
grep -q "TLS: refused .*certificate verify failed\|TLS: refused .*unknown ca" "$WORK/node.log" || fail "the node did not log the other-CA agent"
grep -q "running good.sinks.k1" "$WORK/node.log" || fail "the node runs no replica of the good agent"
grep -q "running evil\|running plain" "$WORK/node.log" && fail "the node ran a refused agent's replica"
wait_for 20 nc -z 127.0.0.1 "$NC_P" || fail "good agent not listening"
seq -f 'placed-%.0f' 1 10000 | nc -N 127.0.0.1 "$NC_P"
placed_all() { [[ $(topic_bodies tls | grep -c '^placed-') -ge 10000 ]]; }
wait_for 60 placed_all || fail "placed replicas over TLS delivered $(topic_bodies tls | grep -c '^placed-') of 10000"
kill -0 "$NODE" || fail "the node died"
for v in P_GOOD P_EVIL P_PLAIN; do kill -TERM "${!v}"; wait "${!v}" || fail "$v did not stop cleanly"; done
kill -TERM "$NODE"; wait "$NODE" || fail "the node did not stop cleanly"
echo "node tls: replicas on a TLS node deliver; other CA and plain text refused and logged by the node"
echo "1 passed, 0 failed"
