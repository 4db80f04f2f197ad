#!/usr/bin/env bash
# flumen's one entry point for a fresh Debian 12 machine:
#   ./flumen.sh quickstart   install what is missing, build, move log lines
#                            into Kafka (embedded cluster) and read them back
#   ./flumen.sh test         install what is missing, build, run every test
#   ./flumen.sh build        install what is missing and build build/flumen,
#                            showing progress (full log: build/last-build.log)
#   ./flumen.sh bench        build and run the benchmarks (bench/README.md)
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages flumen builds, tests and runs with.
PACKAGES=(
  build-essential cmake pkg-config
  libcaf-dev librdkafka-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev libgtest-dev libgmock-dev nlohmann-json3-dev libmimalloc-dev libre2-dev
  liblz4-dev libzstd-dev libssl-dev openssl libcpp-httplib-dev curl
  libmicrohttpd-dev libgnutls28-dev
  clang libclang-rt-14-dev
  kcat netcat-openbsd procps python3 tmux strace rsyslog rsyslog-gnutls
  zlib1g-dev openjdk-17-jdk-headless libavro-compiler-java
)

# Only for `./flumen.sh bench`: rsyslog's Kafka output, the peer of the
# rsyslog_100B and syslog rows (bench/README.md). syslog-ng, the peer of the
# syslog_ng row, is not installed: Debian's syslog-ng-core conflicts with
# rsyslog, which the tests use.
BENCH_PACKAGES=(rsyslog-kafka)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

setup() { # [EXTRA PACKAGE...]
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  # Node.js and npm run avsc, a test peer: Debian's packages, unless a
  # Node.js with its npm is there already (NodeSource's nodejs includes
  # npm and conflicts with Debian's npm package).
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
  fi
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  # avsc, the third-party Avro RPC peer of the avro tests, into the tests'
  # own directory (tests/e2e/node_modules; never global), at the version
  # tests/e2e/package.json pins.
  if [[ ! -f tests/e2e/node_modules/avsc/package.json ]]; then
    log "installing avsc (npm) into tests/e2e/node_modules"
    (cd tests/e2e && npm install --no-audit --no-fund --silent >/dev/null)
  fi
}

build() { # [EXTRA PACKAGE...]
  setup "$@"
  if [[ ! -f build/CMakeCache.txt ]]; then
    log "configuring"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  log "building (2 jobs: a CAF translation unit needs ~400 MB; the first build takes 15-20 minutes on 2 cores)"
  if ! cmake --build build -j2 2>&1 | progress build/last-build.log; then
    grep -E -A5 'error|Error' build/last-build.log | head -60 >&2
    echo "build failed; full log: build/last-build.log" >&2
    exit 1
  fi
  log "built build/flumen"
}

# progress LOG: keeps the build's whole output in LOG and shows one line per
# tenth of the way (make's `[ 40%]`, or ninja's `[96/240]`), with the time
# so far and what it is building, so a long build is seen to move.
progress() {
  local shown=-1 pct line start=$SECONDS
  : >"$1"
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$1"
    if [[ $line =~ ^\[\ *([0-9]+)%\]\ (.*)$ ]]; then
      pct=${BASH_REMATCH[1]}
    elif [[ $line =~ ^\[([0-9]+)/([0-9]+)\]\ (.*)$ ]]; then
      pct=$((BASH_REMATCH[1] * 100 / BASH_REMATCH[2]))
    else
      continue
    fi
    if ((pct / 10 * 10 > shown)); then
      shown=$((pct / 10 * 10))
      printf '    %3d%%  %3ds  %s\n' "$pct" $((SECONDS - start)) "${line#*] }" >&2
    fi
  done
}

quickstart() {
  build
  log "starting an embedded Kafka cluster (flumen broker)"
  out=$(mktemp -d)
  build/flumen broker --topic log_topic:16 >"$out/bootstrap" 2>"$out/broker.log" &
  broker=$!
  trap 'kill "$broker" 2>/dev/null || true; rm -rf "$out"' EXIT
  for _ in $(seq 100); do [[ -s $out/bootstrap ]] && break; sleep 0.1; done
  local bootstrap; bootstrap=$(head -n1 "$out/bootstrap")
  [[ -n $bootstrap ]] || { cat "$out/broker.log" >&2; exit 1; }
  log "running topologies/quickstart.yaml: stdin -> timestamp, host -> memory -> kafka ($bootstrap)"
  cat topologies/quickstart.log
  KAFKA=$bootstrap build/flumen run topologies/quickstart.yaml --exit-on-eof \
    < topologies/quickstart.log
  log "reading topic log_topic back with kcat"
  kcat -C -b "$bootstrap" -t log_topic -e -q \
    -f 'partition %p offset %o | headers: %h | body: %s\n'
  log "the binary is build/flumen: try build/flumen --help (docs/cli.md)"
}

run_tests() {
  build
  log "running every test (ctest)"
  # Three at once on two cores: most e2e and integration tests wait on
  # processes, sockets and brokers, not the CPU (911 tests: 257 s with
  # -j2, 160 s with -j3 on this 2-core VM).
  ctest --test-dir build --output-on-failure --timeout 600 -j3
}

bench() {
  build "${BENCH_PACKAGES[@]}"
  bench/run.sh "$@"
}

case "${1:-}" in
  quickstart) quickstart ;;
  test) run_tests ;;
  build) build ;;
  setup) setup ;;
  bench) shift; bench "$@" ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \?//'; exit 2 ;;
esac
