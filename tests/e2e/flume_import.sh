#!/usr/bin/env bash
# `flumen import`: Flume agent files into topologies.
# 1. Flume's tutorial agent (netcat -> memory(1000, 100) -> KafkaSink with
#    brokerList, topic log_topic, defaultPartitionId 0; the broker's address
#    through an env config filter) imported, validated and run on
#    `flumen broker`: nc sends three lines and gets Flume's "OK" for each
#    (ack-every-event), and kcat reads the three back from partition 0, in
#    order, and nothing from the other partitions.
# 2. What does not convert (an HDFS sink, a JKS keystore, an unknown key):
#    exit 2 naming each key and its line; --partial writes the rest with a
#    comment at each omitted key, exit 0, and the result validates.
# 3. Every component example of Flume's User Guide (tests/data/flume/guide,
#    expected.txt): imported with the expected exit code; each converted one
#    validated, and the supported sources' round trip run where cheap (seq).
source "$(dirname "$0")/common.sh"
GUIDE=$ROOT/tests/data/flume/guide

# -- 1. the tutorial pipeline ------------------------------------------------
start_broker --topic log_topic:4
PORT=$(free_port)
cat >"$WORK/flume.conf" <<CONF
# Flume's tutorial agent, its sink a Kafka sink with the old option names
a1.sources = r1
a1.sinks = k1
a1.channels = c1
a1.configfilters = env
a1.configfilters.env.type = env

a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = $PORT

a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100

a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.brokerList = \${env['KAFKA']}
a1.sinks.k1.topic = log_topic
a1.sinks.k1.defaultPartitionId = 0

a1.sources.r1.channels = c1
a1.sinks.k1.channel = c1
CONF
"$FLUMEN" import "$WORK/flume.conf" -o "$WORK/agent.yaml" 2>"$WORK/import.log" \
  || fail "import failed: $(cat "$WORK/import.log")"
matches "ack_every_event: true" "$WORK/agent.yaml" || fail "no ack_every_event: $(cat "$WORK/agent.yaml")"
matches "bootstrap_servers: '\${KAFKA}'" "$WORK/agent.yaml" || fail "the env filter not kept: $(cat "$WORK/agent.yaml")"
matches "^# Converted by .flumen import. from .*flume.conf" "$WORK/agent.yaml" || fail "no header"
KAFKA=$BOOTSTRAP "$FLUMEN" validate "$WORK/agent.yaml" >/dev/null 2>"$WORK/validate.log" \
  || fail "the import does not validate: $(cat "$WORK/validate.log")"
KAFKA=$BOOTSTRAP "$FLUMEN" run "$WORK/agent.yaml" 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
listening "$PORT" "$WORK/agent.log"
# nc keeps the connection open while the test writes into its stdin, and
# reads the answers into a file.
mkfifo "$WORK/nc_in"
nc -N 127.0.0.1 "$PORT" <"$WORK/nc_in" >"$WORK/answers" &
NC=$!
PIDS+=($NC)
exec 3>"$WORK/nc_in"
printf 'first line\nsecond line\nthird line\n' >&3
three_oks() { [[ $(grep -c '^OK$' "$WORK/answers") -eq 3 ]]; }
wait_for 20 three_oks || fail "answers: '$(cat "$WORK/answers")'"
exec 3>&-
wait "$NC" || fail "nc failed"
in_partition_0() { [[ $(kcat -C -b "$BOOTSTRAP" -t log_topic -p 0 -e -q -f '%s\n' "${KCAT_TO_END[@]}" 2>/dev/null | wc -l) -ge 3 ]]; }
wait_for 30 in_partition_0 || fail "not in partition 0: $(topic_bodies log_topic)"
kcat -C -b "$BOOTSTRAP" -t log_topic -p 0 -e -q -f '%s\n' "${KCAT_TO_END[@]}" >"$WORK/p0"
printf 'first line\nsecond line\nthird line\n' | diff - "$WORK/p0" >/dev/null \
  || fail "partition 0 holds: $(cat "$WORK/p0")"
[[ $(topic_count log_topic) -eq 3 ]] || fail "$(topic_count log_topic) records in log_topic, not 3"
# Flume's Kafka sink sends no event headers.
kcat -C -b "$BOOTSTRAP" -t log_topic -p 0 -e -q -f '[%h]\n' "${KCAT_TO_END[@]}" | matches -v '^\[\]$' \
  && fail "records carry headers"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $?: $(tail -5 "$WORK/agent.log")"

# -- 2. what does not convert ------------------------------------------------
cat >"$WORK/mixed.conf" <<'CONF'
a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 5
a1.sources.r1.channels = c1
a1.sources.r1.keystore = /etc/flume/keystore.jks
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
a1.sinks.k2.type = hdfs
a1.sinks.k2.hdfs.path = /flume/events/%y-%m-%d
a1.sinks.k2.channel = c1
a1.sinks.k1.colour = blue
CONF
set +e
"$FLUMEN" import "$WORK/mixed.conf" >"$WORK/mixed.out" 2>"$WORK/mixed.err"
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "exit $rc for unconvertible keys: $(cat "$WORK/mixed.err")"
[[ ! -s $WORK/mixed.out ]] || fail "wrote a topology without --partial"
matches -F "a1.sinks.k2.type (line 11): HDFS" "$WORK/mixed.err" || fail "hdfs: $(cat "$WORK/mixed.err")"
matches -F "a1.sources.r1.keystore (line 7)" "$WORK/mixed.err" || fail "keystore: $(cat "$WORK/mixed.err")"
matches -F "a1.sinks.k1.colour (line 14)" "$WORK/mixed.err" || fail "unknown key: $(cat "$WORK/mixed.err")"
"$FLUMEN" import --partial "$WORK/mixed.conf" -o "$WORK/mixed.yaml" 2>"$WORK/mixed.err" \
  || fail "--partial exit $?: $(cat "$WORK/mixed.err")"
for key in a1.sinks.k2.type a1.sources.r1.keystore a1.sinks.k1.colour; do
  matches -F "# not converted: $key" "$WORK/mixed.yaml" || fail "no comment at $key: $(cat "$WORK/mixed.yaml")"
done
matches "^# Partial: 3 properties were not converted" "$WORK/mixed.yaml" || fail "no partial header"
"$FLUMEN" validate "$WORK/mixed.yaml" >/dev/null 2>"$WORK/validate.log" \
  || fail "--partial output does not validate: $(cat "$WORK/validate.log")"
matches -F "k2" "$WORK/mixed.yaml" && ! matches "^      k2:" "$WORK/mixed.yaml" || fail "k2 written"

# -- 3. the User Guide's examples ----------------------------------------------
n=0
while read -r name want check key; do
  [[ -z $name || $name == \#* ]] && continue
  src=$GUIDE/$name.properties
  if [[ $check == spool ]]; then
    # Its spool directory, made here (validate checks that it is there).
    mkdir -p "$WORK/spool"
    sed "s#spoolDir = .*#spoolDir = $WORK/spool#" "$src" >"$WORK/$name.properties"
    src=$WORK/$name.properties
  fi
  set +e
  "$FLUMEN" import "$src" -o "$WORK/$name.yaml" 2>"$WORK/$name.err"
  rc=$?
  set -e
  [[ $rc -eq $want ]] || fail "$name: exit $rc, not $want: $(cat "$WORK/$name.err")"
  if [[ $want -eq 2 ]]; then
    matches -F "not converted: $key (line " "$WORK/$name.err" || fail "$name: $key not named: $(cat "$WORK/$name.err")"
    [[ ! -e $WORK/$name.yaml ]] || fail "$name: written although not converted"
  else
    "$FLUMEN" validate "$WORK/$name.yaml" >/dev/null 2>"$WORK/$name.validate" \
      || fail "$name: the import does not validate: $(cat "$WORK/$name.validate")"
  fi
  if [[ $check == run ]]; then
    # Seq sources of 10 events into logger and null sinks: the run ends
    # when they are done, every event delivered.
    "$FLUMEN" run --exit-on-eof "$WORK/$name.yaml" 2>"$WORK/$name.run" \
      || fail "$name: run failed: $(tail -5 "$WORK/$name.run")"
    matches "every accepted event delivered" "$WORK/$name.run" \
      || fail "$name: $(tail -3 "$WORK/$name.run")"
  fi
  n=$((n + 1))
done <"$GUIDE/expected.txt"
((n >= 80)) || fail "only $n examples"
echo "1 passed, 0 failed"
