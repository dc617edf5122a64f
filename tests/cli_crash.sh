#!/usr/bin/env bash
# cli_crash.sh -- crash safety of the persistent store, end to end: kill -9
# `spimguard scan` (15 times, file and pipe input) and `spimguard serve`
# (12 times, single and batch requests) at random points of a stream,
# restart them on the same --data-dir, and check that the store opens,
# that every verdict already written or returned is reflected in the
# account state and the campaign counts, and that nothing is corrupt.
# The work is in tests/store/crash.py; every process it starts is stopped
# by its PID, also on failure.  Bounded: ~20 s here, killed after 110 s.
#   usage: cli_crash.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout -s TERM 110 /usr/bin/python3 "$src/tests/store/crash.py" "$bin" "$src" "$build" "$tmp"
