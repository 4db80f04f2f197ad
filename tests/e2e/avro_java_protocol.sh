#!/usr/bin/env bash
# Flume's protocol hash as Java makes it: Avro's own IDL compiler (Debian's
# libavro-compiler-java, Avro 1.8.2) compiles Flume's flume.avdl
# (tests/data/flume/flume.avdl, from Flume's flume-ng-sdk), its text is
# parsed back as Flume's generated AvroSourceProtocol does, and its MD5 is
# what a Java client (Flume's NettyAvroRpcClient) sends in its handshake.
# A client that sends only that hash, without the protocol text, must find
# the `avro` source knowing it: BOTH at once, its call answered OK and its
# events in the channel; a hash of nothing is answered NONE.
source "$(dirname "$0")/common.sh"
RAW=$ROOT/tests/support/avro_raw.py
CP=
for j in avro avro-compiler jackson-core-asl jackson-mapper-asl commons-lang velocity paranamer slf4j-api avro-guava-dependencies commons-compress; do
  [[ -f /usr/share/java/$j.jar ]] || fail "/usr/share/java/$j.jar is missing: ./flumen.sh installs libavro-compiler-java"
  CP+=/usr/share/java/$j.jar:
done
command -v javac >/dev/null || fail "javac is missing: ./flumen.sh installs openjdk-17-jdk-headless"
mkdir "$WORK/java"
javac -d "$WORK/java" -cp "$CP" "$ROOT/tests/support/FlumeProtocolMd5.java" || fail "javac"
HASH=$(java -cp "$CP$WORK/java" FlumeProtocolMd5 "$ROOT/tests/data/flume/flume.avdl" 2>/dev/null)
[[ $HASH =~ ^[0-9a-f]{32}$ ]] || fail "no hash from Java: $HASH"
echo "Java's MD5 of Flume's protocol: $HASH"

PORT=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    sources:
      r1: {type: avro, port: $PORT, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      f1: {type: file_roll, channel: c1, directory: $WORK/out, roll_interval: 0}
YAML
mkdir "$WORK/out"
"$FLUMEN" run "$WORK/a.yaml" --stats-interval 0.1 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
listening "$PORT" "$WORK/agent.log"
out=$(python3 "$RAW" known-hash "$PORT" "$HASH" 50 java)
[[ $out == "match=BOTH status=OK" ]] || fail "Java's hash is unknown to the source: $out"
out=$(python3 "$RAW" known-hash "$PORT" "$(printf '' | md5sum | cut -c1-32)" 5 none)
[[ $out == "match=NONE status=none" ]] || fail "a hash of nothing: $out"
has50() { [[ $(cat "$WORK"/out/* 2>/dev/null | grep -c '^java') -eq 50 ]]; }
wait_for 20 has50 || fail "$(cat "$WORK"/out/* | grep -c '^java') of 50 events written"
kill -TERM $AGENT
wait $AGENT || fail "the agent did not stop cleanly: $(tail -3 "$WORK/agent.log")"
[[ $(cat "$WORK"/out/* | grep -c '^none') -eq 0 ]] || fail "the call of an unknown hash was taken"
echo "PASS: Java's hash of Flume's protocol is known to the avro source (BOTH, OK, 50 events)"
