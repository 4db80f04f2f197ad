#!/usr/bin/env python3
"""Checks the layout of the tree (docs/architecture.md, "Layout").

  tests/layout_check.py [ROOT]

- Every #include "x/..." of a production file (app/, actors/, runtime/)
  runs down the layers: app/ may include anything; actors/ includes
  actors/ and runtime/; runtime/<part> includes only the parts ALLOWED
  names for it (and itself); nothing includes app/ but app/, nothing in
  runtime/ includes actors/.
- Every CMake library of runtime/<part> links only what ALLOWED names.
- No production file is over 800 lines.
- No end-to-end script ends a pipe in `grep -q`: they run under
  `set -o pipefail`, and `grep -q` quits at the first match, so the
  writer (curl, kcat, flumen) dies of SIGPIPE and the pipe fails although
  the line was there. tests/e2e/common.sh has `matches` for that.
- No end-to-end script waits on `test "$(...)"`: wait_for's arguments are
  expanded once, so such a condition never changes while it waits.

Exits 1 with one line per problem, 0 when all is well.
"""

import glob
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
MAX_LINES = 800

# runtime/<part> -> the runtime parts it may include (transitively closed).
ALLOWED = {
    "core": set(),
    "libs": set(),
    "config": {"core", "libs"},
    "wire": {"core", "libs"},
    "avro": {"core", "libs"},
    "flow": {"core", "config", "libs"},
    "dist": {"core", "config", "flow", "wire", "libs"},
    "http": {"core"},
    "net": {"core", "libs"},
    "flume": set(),
    "agent": {"core", "config", "flow", "dist", "wire", "libs"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
problems = []


def rel(path):
    return os.path.relpath(path, ROOT)


files = []
for top in ("app", "actors", "runtime"):
    for ext in ("cpp", "hpp"):
        files += glob.glob(os.path.join(ROOT, top, "**", "*." + ext),
                           recursive=True)
if not files:
    sys.exit(f"layout_check: no source files under {ROOT}")
parts_seen = set()
for path in sorted(files):
    r = rel(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.count("\n")
    if lines > MAX_LINES:
        problems.append(f"{r}: {lines} lines (at most {MAX_LINES})")
    top = r.split("/")[0]
    part = r.split("/")[1] if top == "runtime" else None
    if top == "runtime":
        if part not in ALLOWED:
            problems.append(f"{r}: runtime/{part} is not a known part "
                            f"(add it to ALLOWED in tests/layout_check.py "
                            f"and to docs/architecture.md)")
            continue
        parts_seen.add(part)
    for inc in INCLUDE.findall(text):
        head = inc.split("/")[0]
        if head not in ("app", "actors", "runtime"):
            continue
        if head == "app" and top != "app":
            problems.append(f"{r}: includes {inc} (nothing below app/ may)")
        elif head == "actors" and top == "runtime":
            problems.append(f"{r}: includes {inc} (runtime/ never includes "
                            f"actors/)")
        elif head == "runtime" and top == "runtime":
            to = inc.split("/")[1]
            if to != part and to not in ALLOWED[part]:
                problems.append(f"{r}: includes {inc} (runtime/{part} may "
                                f"include only "
                                f"{', '.join(sorted(ALLOWED[part])) or 'itself'})")

# The CMake libraries follow the same arrows.
LINK = re.compile(r"target_link_libraries\(\s*(\S+)([^)]*)\)", re.S)
for part in sorted(parts_seen):
    cm = os.path.join(ROOT, "runtime", part, "CMakeLists.txt")
    if not os.path.exists(cm):
        problems.append(f"runtime/{part}: no CMakeLists.txt (a library each)")
        continue
    with open(cm, encoding="utf-8") as f:
        text = f.read()
    for target, libs in LINK.findall(text):
        for lib in re.findall(r"flumen_([a-z]+)", libs):
            if lib != part and lib not in ALLOWED[part] and \
                    not (target.startswith(f"flumen_{part}_") and lib == part):
                problems.append(f"runtime/{part}/CMakeLists.txt: {target} "
                                f"links flumen_{lib}")

# e2e scripts: no `wait_for N test "$(...)"`: wait_for's arguments are
# expanded once, so the condition never changes while it waits (a flake in
# tls_paths.sh: "delivered 2000 of 2000").
STALE_WAIT = re.compile(r"wait_for\s+\d+\s+test\b[^|;]*\$\(")
for path in sorted(glob.glob(os.path.join(ROOT, "tests", "e2e", "*.sh"))):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if STALE_WAIT.search(line):
                problems.append(f"{rel(path)}:{n}: wait_for over a command "
                                f"substitution expanded once (use a function)")

# e2e scripts: no `| grep -q` (see the docstring).
GREP_Q = re.compile(r"\|\s*grep\s+(-[a-zA-Z]*q|--quiet)")
for path in sorted(glob.glob(os.path.join(ROOT, "tests", "e2e", "*.sh")) +
                   glob.glob(os.path.join(ROOT, "bench", "*.sh"))):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.lstrip().startswith("#"):
                continue
            if GREP_Q.search(line):
                problems.append(f"{rel(path)}:{n}: a pipe ends in grep -q; "
                                f"under pipefail its writer can die of "
                                f"SIGPIPE (use `matches`)")

for p in problems:
    print(p)
if problems:
    print(f"{len(problems)} layout problem(s)")
    sys.exit(1)
print(f"layout: {len(files)} files, every include runs down, none over "
      f"{MAX_LINES} lines")
