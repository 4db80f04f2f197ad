#!/usr/bin/env bash
# Builds a fuzzer with clang (its own build dir, build-fuzz/) and runs it
# with a fixed seed:
#   tests/fuzz/run.sh [RUNS] [TARGET]   default 30000 inputs (0: until
#                                       stopped), TARGET topology (the
#                                       loader, from the shipped topologies
#                                       as the corpus), filelog (the file
#                                       channel's log format) or hopwire
#                                       (the hop wire codec, from the
#                                       encoded batches in
#                                       tests/fuzz/seeds/hopwire/) or
#                                       httphead (the HTTP endpoint's
#                                       request heads, tests/fuzz/seeds/
#                                       httphead/) or syslog (syslog
#                                       parsing and framing, from the RFC
#                                       examples in tests/fuzz/seeds/syslog/)
#                                       or flume_import (`flumen import`,
#                                       from Flume's User Guide examples in
#                                       tests/data/flume/guide/) or avro
#                                       (Flume's Avro RPC: Netty frames,
#                                       zlib, handshakes and calls, from
#                                       tests/fuzz/seeds/avro/)
# Exit 0 when nothing crashed; a crash leaves its input as crash-* in
# build-fuzz/ and the run fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-30000}
TARGET=${2:-topology}
case $TARGET in topology | filelog | hopwire | httphead | syslog | flume_import | avro) ;; *) echo "unknown target $TARGET" >&2; exit 2 ;; esac
# Configured every time (a second or two), so targets added since show up.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFLUMEN_FUZZ=ON -DFLUMEN_TESTS=OFF >/dev/null
cmake --build build-fuzz -j2 --target "${TARGET}_fuzz" >build-fuzz/last-build.log 2>&1 \
  || { tail -30 build-fuzz/last-build.log >&2; exit 1; }
# A fresh corpus each run (libFuzzer adds to it), so a run is repeatable.
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
if [[ $TARGET == topology ]]; then
  cp topologies/*.yaml tests/fuzz/seeds/*.yaml "$corpus/"
elif [[ $TARGET == flume_import ]]; then
  cp tests/data/flume/guide/*.properties tests/data/flume/properties/*.properties "$corpus/"
elif [[ $TARGET == hopwire || $TARGET == httphead || $TARGET == syslog || $TARGET == avro ]]; then
  cp "tests/fuzz/seeds/$TARGET"/* "$corpus/"
fi
((RUNS > 0)) || RUNS=-1
cd build-fuzz
cp "tests/fuzz/${TARGET}_fuzz" .
"./${TARGET}_fuzz" -seed=1 -runs="$RUNS" -max_len=4096 -timeout=10 \
  -rss_limit_mb=1024 "$corpus" 2>"fuzz-$TARGET.log" \
  || { tail -40 "fuzz-$TARGET.log" >&2; exit 1; }
tail -1 "fuzz-$TARGET.log"
echo "1 passed, 0 failed"
