#!/usr/bin/env bash
# Builds the loader's fuzzer with clang (its own build dir, build-fuzz/) and
# runs it: from the shipped topologies as the corpus, with a fixed seed.
#   tests/fuzz/run.sh [RUNS]     default 30000 inputs (0: until stopped)
# Exit 0 when nothing crashed; a crash leaves its input as crash-* in
# build-fuzz/ and the run fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-30000}
if [[ ! -f build-fuzz/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFLUMEN_FUZZ=ON -DFLUMEN_TESTS=OFF >/dev/null
fi
cmake --build build-fuzz -j2 --target topology_fuzz >build-fuzz/last-build.log 2>&1 \
  || { tail -30 build-fuzz/last-build.log >&2; exit 1; }
# A fresh corpus each run (libFuzzer adds to it), so a run is repeatable.
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp topologies/*.yaml tests/fuzz/seeds/*.yaml "$corpus/"
((RUNS > 0)) || RUNS=-1
cd build-fuzz
cp tests/fuzz/topology_fuzz .
./topology_fuzz -seed=1 -runs="$RUNS" -max_len=4096 -timeout=10 \
  -rss_limit_mb=1024 "$corpus" 2>fuzz.log \
  || { tail -40 fuzz.log >&2; exit 1; }
tail -1 fuzz.log
echo "1 passed, 0 failed"
