#!/usr/bin/env bash
# Relative TLS paths in a topology are taken from the topology file's
# directory, whatever the current directory (docs/multi-hop.md, "TLS"): a
# chain whose certificates sit in certs/ beside its file validates, runs
# and delivers every line over mutual TLS when started from elsewhere, and
# reloads (SIGHUP) the same way; an unreadable one is an error that says
# relative to what. A path on `flumen node`'s command line stays relative
# to the current directory, and its error says so too.
source "$(dirname "$0")/common.sh"
N=${N:-2000}
mkdir -p "$WORK/conf/certs" "$WORK/elsewhere"
bash "$(dirname "$0")/mkcerts.sh" "$WORK/conf/certs" good
start_broker --topic paths:2
NC=$(free_port); HOP=$(free_port)
tls="{certificate: certs/good.pem, key: certs/good.key, ca_file: certs/good-ca.pem}"
write_conf() { # $1: the collector's channel capacity
  cat >"$WORK/conf/chain.yaml.new" <<YAML
agents:
  collector:
    sources:
      in: {type: hop, port: $HOP, channels: [c1], tls: $tls}
    channels:
      c1: {type: memory, capacity: $1}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: paths}
  edge:
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, tls: $tls}
YAML
  mv "$WORK/conf/chain.yaml.new" "$WORK/conf/chain.yaml"
}
write_conf 10000
cd "$WORK/elsewhere" # no certs/ here
"$FLUMEN" validate ../conf/chain.yaml >"$WORK/out" 2>&1 || fail "validate from elsewhere: $(cat "$WORK/out")"

# An unreadable file names what its relative path was taken from.
sed 's|ca_file: certs/good-ca.pem}}$|ca_file: certs/nope.pem}}|' "$WORK/conf/chain.yaml" >"$WORK/conf/bad.yaml"
set +e
"$FLUMEN" validate ../conf/bad.yaml >"$WORK/out" 2>&1
code=$?
set -e
[[ $code -eq 1 ]] || fail "bad.yaml: exit $code"
grep -qF "../conf/bad.yaml:4:117: agents.collector.sources.in.tls.ca_file: cannot read 'certs/nope.pem' (relative to $WORK/conf/, the topology file's directory): No such file or directory" "$WORK/out" \
  || fail "bad.yaml: $(cat "$WORK/out")"

run() { "$FLUMEN" run ../conf/chain.yaml --agent "$1" >"$WORK/$1.log" 2>&1 & PIDS+=($!); eval "${1^^}_PID=$!"; }
run collector
wait_for 20 grep -q "listening on 127.0.0.1:$HOP (mutual TLS)" "$WORK/collector.log" \
  || fail "collector: $(cat "$WORK/collector.log")"
run edge
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "edge not listening: $(cat "$WORK/edge.log")"
seq 1 "$N" | nc -N 127.0.0.1 "$NC"
# A function: wait_for's arguments are expanded once, a count in them never
# changes while it waits.
records_at_least() { [[ $(topic_count paths) -ge $1 ]]; }
wait_for 60 records_at_least "$N" || fail "delivered $(topic_count paths) of $N"

# A reload reads the file as the start did: the same files, the same
# identity (a TLS change would be refused), from the file's directory.
write_conf 20000
kill -HUP "$COLLECTOR_PID"
wait_for 20 grep -q "agent collector: reloaded" "$WORK/collector.log" \
  || fail "no reload: $(cat "$WORK/collector.log")"
! grep -q "reload refused" "$WORK/collector.log" || fail "reload refused: $(cat "$WORK/collector.log")"
seq $((N + 1)) $((2 * N)) | nc -N 127.0.0.1 "$NC"
wait_for 60 records_at_least $((2 * N)) || fail "after the reload: $(topic_count paths) of $((2 * N))"
[[ $(topic_bodies paths | sort -un | wc -l) -eq $((2 * N)) ]] || fail "not every line 1..$((2 * N)) arrived"

# `flumen node --tls-*` paths are the command line's: from the current
# directory.
NODE_PORT=$(free_port)
node_args=(node --listen "127.0.0.1:$NODE_PORT" --tls-certificate certs/good.pem
  --tls-key certs/good.key --tls-ca-file certs/good-ca.pem)
set +e
timeout 10 "$FLUMEN" "${node_args[@]}" >"$WORK/node.out" 2>&1
code=$?
set -e
[[ $code -eq 2 ]] || fail "node from elsewhere: exit $code: $(cat "$WORK/node.out")"
grep -qF -- "--tls-certificate: cannot read 'certs/good.pem' (relative to the current directory, $WORK/elsewhere/): No such file or directory" "$WORK/node.out" \
  || fail "node: $(cat "$WORK/node.out")"
cd "$WORK/conf"
"$FLUMEN" "${node_args[@]}" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
PIDS+=($NODE_PID)
wait_for 20 grep -q "listening on 127.0.0.1:$NODE_PORT (mutual TLS)" "$WORK/node.log" \
  || fail "node from conf/: $(cat "$WORK/node.log")"
echo "tls paths: $((2 * N)) lines over mutual TLS from another directory, through a reload; errors say relative to what"
