#!/bin/sh
# serve_load.sh -- the daemon's figures (docs/daemon.md "Measured"): single
# checks and batches through `spimguard serve` on loopback with real SMS
# messages (memory store: the daemon's state stays in its own process, so
# the figures are the daemon's, not a store server's), then a soak that
# prints the daemon's RSS every 30 s, then the in-process cost of the two
# phases of a check (bench_split).  Client and daemon share the machine's
# cores; the daemon's CPU time per message is the figure that does not
# depend on what else runs.  Bounded: every run has a duration.
#   usage: bench/serve_load.sh [BUILD_DIR] [SOAK_SECONDS]   (default 300)
build=${1:-build}
soak=${2:-300}
here=$(dirname "$0")
data=${SG_SHARED_DATA:-$here/../../shared/data}/sms_spam_collection/test.jsonl
b="$build/bench_serve --spawn $build/spimguard --store memory: --data $data"
run() { echo "\$ bench_serve $*"; $b "$@" | sed 's/^/  /'; echo; }
run --mode single --conns 8 --seconds 20
run --mode single --conns 1 --seconds 10
run --mode batch --batch 100 --conns 2 --seconds 20
run --mode batch --batch 100 --conns 1 --seconds 10
run --mode batch --batch 1000 --conns 2 --seconds 20
run --mode single --conns 8 --seconds "$soak" --rss-every 30
echo "\$ bench_split $data 100000"
"$build/bench_split" "$data" 100000 | sed 's/^/  /'
