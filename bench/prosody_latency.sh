#!/bin/sh
# prosody_latency.sh -- delivery latency that mod_spimguard adds in Prosody:
# one client sends COUNT ordinary messages to a contact, one at a time, and
# the receiving client timestamps each; the same run with the module off
# and on (tests/cli_prosody.sh --setup-only starts daemon + Prosody on free
# loopback ports and stops them by PID).
#   usage: bench/prosody_latency.sh [BUILD_DIR] [COUNT]   (default 500)
build=${1:-build}
count=${2:-500}
src=$(cd "$(dirname "$0")/.." && pwd)
texts=$(mktemp)
/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("label") == "ham": print(d["text"].replace("\n", " "))
' "${SG_SHARED_DATA:-$src/../shared/data}/sms_spam_collection/test.jsonl" > "$texts"
for module in off on; do
  log=$(mktemp)
  bash "$src/tests/cli_prosody.sh" --setup-only "$build/spimguard" "$src" "$build" "$module" > "$log" 2>&1 &
  hpid=$!
  for _ in $(seq 300); do grep -q '^ready' "$log" && break; sleep 0.1; done
  xport=$(sed -n 's/^ready xmpp_port=\([0-9]*\).*/\1/p' "$log")
  if [ -z "$xport" ]; then echo "setup failed:"; cat "$log"; kill "$hpid"; exit 1; fi
  printf 'module %-3s: ' "$module"
  /usr/bin/python3 "$src/tests/xmpp/e2e.py" latency --xmpp-port "$xport" --count "$count" --texts "$texts"
  kill -TERM "$hpid"; wait "$hpid" 2>/dev/null
  rm -f "$log"
done
rm -f "$texts"
