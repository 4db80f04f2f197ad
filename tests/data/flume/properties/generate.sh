#!/usr/bin/env bash
# Regenerates the *.expected files of this directory from Java's own
# java.util.Properties (Dump.java), the reference the reader is tested
# against. Needs a JDK; the outputs are committed.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
javac -d "$tmp" Dump.java
for f in *.properties; do
  java -cp "$tmp" Dump "$f" >"${f%.properties}.expected"
done
