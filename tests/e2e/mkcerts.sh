#!/usr/bin/env bash
# mkcerts.sh DIR NAME (used by the TLS tests): makes DIR/NAME-ca.pem (a CA) and DIR/NAME.pem +
# DIR/NAME.key (a certificate it signed, for localhost / 127.0.0.1).
set -euo pipefail
d=$1 n=$2
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$n-ca" \
  -keyout "$d/$n-ca.key" -out "$d/$n-ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$n" \
  -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/$n.ext"
openssl x509 -req -in "$d/$n.csr" -CA "$d/$n-ca.pem" -CAkey "$d/$n-ca.key" \
  -CAcreateserial -days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null
