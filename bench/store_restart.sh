#!/usr/bin/env bash
# store_restart.sh -- how long `spimguard serve` takes to be ready on a data
# directory that holds N accounts (docs/storage.md "Restart"): fills
# DIR/state through `spimguard scan --data-dir DIR` with one message from
# each of N accounts, then starts the daemon on it three times and measures
# the time from exec to the "listening" line and to the first answered
# GET /v1/accounts/{id} of an account in the middle; prints the file size
# and the store's own count of keys and bytes.  The page cache is warm
# (the fill just wrote the file); LMDB maps the file and reads nothing at
# open, so a cold cache changes the first reads, not the start.  Stops
# every process it started by PID.  usage: bench/store_restart.sh [BUILD]
# [N]   (default build, 1000000)
set -u
build=${1:-build}; n=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
sg=$build/spimguard; py=/usr/bin/python3
tmp=${TMPDIR:-/tmp}/sg-restart.$$; mkdir -p "$tmp"; pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
model=$build/default.model
[ -f "$model" ] || { "$sg" train --quiet --model "$tmp/model" "$here"/../data/corpus/*.jsonl; model=$tmp/model; }

$py -c "
import json, sys, time
t0 = int(time.time() * 1000) - $n
w = sys.stdout.write
for i in range($n):
    w('{\"from\":\"acct%07d@restart.example\",\"to\":\"friend%04d@restart.example\",\"contact\":true,\"text\":\"ok, see you at 5\",\"ts\":%d}\n' % (i, i % 1000, t0 + i))
" > "$tmp/accounts.jsonl"
s=$(date +%s.%N)
"$sg" scan --quiet --model "$model" --data-dir "$tmp/d" "$tmp/accounts.jsonl" > /dev/null || exit 1
e=$(date +%s.%N)
rm -f "$tmp/accounts.jsonl"
echo "filled $n accounts in $(echo "$e - $s" | bc) s; data.mdb $(du -b "$tmp/d/state/data.mdb" | cut -f1) bytes ($(du -k "$tmp/d/state/data.mdb" | cut -f1) KiB on disk)"

mid=$(printf 'acct%07d@restart.example' $((n / 2)))
for run in 1 2 3; do
  t0=$(date +%s%N)
  "$sg" serve --port 0 --model "$model" --data-dir "$tmp/d" > "$tmp/serve.log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 2000); do
    port=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$tmp/serve.log"); [ -n "$port" ] && break
    sleep 0.001
  done
  t1=$(date +%s%N)
  code=$(curl -s -o "$tmp/acct.json" -w '%{http_code}' "http://127.0.0.1:$port/v1/accounts/$mid")
  t2=$(date +%s%N)
  [ "$run" = 1 ] && keys=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^spimguard_store_(keys|bytes)/ {printf "%s=%s ", $1, $2}')
  kill -TERM "$pid"; wait "$pid"; pid=
  echo "restart $run: listening after $(( (t1 - t0) / 1000000 )) ms; GET /v1/accounts/$mid ($code, $(head -c 60 "$tmp/acct.json")...) after $(( (t2 - t0) / 1000000 )) ms"
done
echo "store: $keys"
