#!/usr/bin/env python3
"""Checks that flumen's binary has the functions of app/startup-order.txt
laid out together (app/CMakeLists.txt: gold's --section-ordering-file), and
that the list still names the binary's functions.

  tests/startup_order_check.py BINARY ORDER_FILE

- At least half of the listed sections name a function the binary has
  (else the list is stale: run app/startup_order.sh again).
- 95 % of those functions lie within a span at most 1.5 times their total
  size plus 256 KB (scattered, they span most of the binary's 4 MB of code).

Exits 1 with the reason, 0 when all is well.
"""

import subprocess
import sys

binary, order_file = sys.argv[1], sys.argv[2]
PREFIXES = (".text.startup.", ".text.unlikely.", ".text.hot.", ".text.")

symbols = {}
out = subprocess.run(["nm", "-S", "--defined-only", binary],
                     capture_output=True, text=True, check=True).stdout
for line in out.splitlines():
    parts = line.split()
    if len(parts) == 4 and parts[2] in "tTwW":
        symbols[parts[3]] = (int(parts[0], 16), int(parts[1], 16))

listed = []
with open(order_file) as f:
    for line in f:
        section = line.strip()
        if not section:
            continue
        for prefix in PREFIXES:
            if section.startswith(prefix):
                listed.append(section[len(prefix):])
                break

found = sorted(symbols[name] for name in listed if name in symbols)
if not listed:
    sys.exit(f"startup_order_check: {order_file} lists no sections")
if len(found) * 2 < len(listed):
    sys.exit(f"startup_order_check: only {len(found)} of the {len(listed)} "
             f"sections of {order_file} name a function of {binary}: the "
             "list is stale, run app/startup_order.sh")

total = sum(size for _, size in found)
keep = max(1, int(len(found) * 0.95))
# The narrowest run of `keep` consecutive functions (by address).
best = min(found[i + keep - 1][0] + found[i + keep - 1][1] - found[i][0]
           for i in range(len(found) - keep + 1))
limit = int(total * 1.5) + 256 * 1024
print(f"startup_order_check: {len(found)} of {len(listed)} listed functions "
      f"in the binary, {total // 1024} KB; 95 % of them within "
      f"{best // 1024} KB (limit {limit // 1024} KB)")
if best > limit:
    sys.exit("startup_order_check: the listed functions are not laid out "
             "together: was flumen linked with gold and "
             "--section-ordering-file (app/CMakeLists.txt)?")
