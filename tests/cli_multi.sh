#!/usr/bin/env bash
# cli_multi.sh -- many daemons, one truth: two `spimguard serve` on one
# redis-server, then on a 3-master Redis Cluster, started on loopback ports
# (redis-cli --cluster create).  A compromised contact's burst split across
# both daemons is locked at the third recipient counted across both (also
# when the halves race); messages sent to both daemons at once are all
# counted; a killed master gives fail-open / fail-closed answers counted in
# /metrics, and judging resumes when it is back.  The work is in
# tests/store/multi.py; every process is stopped by its PID, also on
# failure.  Bounded: ~15 s here, killed after 110 s.
#   usage: cli_multi.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout -s TERM 110 /usr/bin/python3 "$src/tests/store/multi.py" "$bin" "$src" "$build" "$tmp"
