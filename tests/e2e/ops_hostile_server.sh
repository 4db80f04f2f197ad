#!/usr/bin/env bash
# `flumen top` and `flumen tap` pointed at servers that are not agents (a
# python3 server per behaviour): a body of 2 GB announced by Content-Length,
# an endless chunked body, an endless header line, and a web page answered
# for every path. Each command exits 1 within seconds saying what it found,
# with a peak RSS under 64 MiB (11 to 43 MiB here; before the bounds: 2 GB
# and more, or a crash; tap printed a web page as an event and said "the tap
# ended after 1 of 3 events").
source "$(dirname "$0")/common.sh"
command -v python3 >/dev/null || fail "python3 is missing (./flumen.sh installs it)"
cat >"$WORK/server.py" <<'PY'
import socket, sys, threading
mode, port_file = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
block = b"0" * 65536
def serve(c):
    try:
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(4096)
            if not d:
                return
            req += d
        if mode == "length":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 2147483648\r\n\r\n")
            for _ in range(32768):
                c.sendall(block)
        elif mode == "chunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + block + b"\r\n"
            while True:
                c.sendall(chunk)
        elif mode == "header":
            c.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
            while True:
                c.sendall(b"a" * 65536)
        elif mode == "html":
            body = b"<html><body>It works!</body></html>\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
# peak CMD...: runs CMD (stdout and stderr to $WORK/out) with a 2 GB
# address-space limit, so an unbounded reader fails instead of taking the
# machine; prints "EXIT PEAK_RSS_KIB".
peak() {
  python3 - "$WORK/out" "$@" <<'PY'
import resource, subprocess, sys
out = open(sys.argv[1], "w")
def limit():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
p = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT,
                   preexec_fn=limit, timeout=60)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
declare -A PORT
for mode in length chunked header html; do
  python3 "$WORK/server.py" "$mode" "$WORK/$mode.port" &
  PIDS+=($!)
  wait_for 10 test -s "$WORK/$mode.port" || fail "the $mode server did not start"
  PORT[$mode]=$(cat "$WORK/$mode.port")
done
check() { # MODE COMMAND WANT
  local mode=$1 cmd=$2 want=$3 rc kib
  if [[ $cmd == top ]]; then
    read -r rc kib < <(peak "$FLUMEN" top "127.0.0.1:${PORT[$mode]}" --frames 1)
  else
    read -r rc kib < <(peak "$FLUMEN" tap "127.0.0.1:${PORT[$mode]}" r1 --limit 3)
  fi
  [[ $rc == 1 ]] || fail "$cmd against the $mode server: exit $rc: $(head -c 300 "$WORK/out")"
  grep -qF "$want" "$WORK/out" || fail "$cmd against the $mode server said: $(head -c 300 "$WORK/out")"
  ((kib < 64 * 1024)) || fail "$cmd against the $mode server: peak RSS $kib KiB"
  echo "$cmd / $mode: exit 1, peak RSS $((kib / 1024)) MiB: $(head -c 160 "$WORK/out")"
}
for cmd in top tap; do
  check length "$cmd" "is not a flumen agent's endpoint (/stats.json: the answer's body exceeds 33554432 bytes)"
  check chunked "$cmd" "is not a flumen agent's endpoint (/stats.json: the answer's body exceeds 33554432 bytes)"
  check header "$cmd" "is not a flumen agent's endpoint (the answer's head exceeds 16384 bytes: not an HTTP server?)"
  check html "$cmd" "is not a flumen agent's endpoint (/stats.json:"
done
echo "1 passed, 0 failed"
