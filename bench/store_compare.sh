#!/usr/bin/env bash
# store_compare.sh -- checks per second with the engine's state in each
# store backend (docs/storage.md "Throughput"), same messages, same run:
# `spimguard scan` over a file, then `spimguard serve` fed in batches by
# bench/store_load.py, with memory:, lmdb:, redis:// (one redis-server) and
# redis-cluster:// (3 masters), one daemon and, for the shared backends, two
# daemons on one store.  Messages: the first N of the simulator's default
# scenario (real ham of data/corpus between 2,000 accounts, then the worm).
# Prints wall-clock checks/s and checks per CPU-second of every process
# involved (spimguard + redis-servers), the figure that carries to other
# machines.  Starts its own redis-server processes on loopback ports and
# stops every process it started by PID, also on failure.  Bounded by N.
# Also prints the Redis commands per check (INFO commandstats, summed over
# the servers).  RUNS picks some of the runs, e.g. RUNS="scan:redis
# serve:redis:2" (kinds: memory lmdb redis cluster; default: all);
# CMDSTATS=1 also prints each Redis command's calls per check; MODEL=FILE
# uses that model instead of BUILD_DIR/default.model; CONNS=C sends over C
# connections per daemon (senders hashed to them; default 2: one closed-loop
# connection leaves a daemon idle while its answer travels).  Redis counts the
# commands a script runs as calls too (INFO commandstats).
#   usage: bench/store_compare.sh [BUILD_DIR] [N]   (default build, 50000)
set -u
build=${1:-build}; n=${2:-50000}; batch=${BATCH:-200}
. "$(dirname "$0")/store_setup.sh"

# port P: a free loopback port whose cluster bus port (P+10000) is free too.
port() { $py -c '
import random, socket
def free(p):
    with socket.socket() as s:
        try: s.bind(("127.0.0.1", p)); return True
        except OSError: return False
while True:
    p = random.randint(20000, 50000)
    if free(p) and free(p + 10000): print(p); break'; }
redis() { # redis PORT [cluster]
  mkdir -p "$tmp/r$1"
  local extra=(); [ "${2:-}" = cluster ] && extra=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000)
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/r$1" "${extra[@]}" > "$tmp/r$1/log" 2>&1 &
  pids+=($!); rpids+=($!)
  for _ in $(seq 100); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
  echo "redis-server $1 did not start" >&2; exit 1
}
rpids=()
rp=$(port); redis "$rp"
c1=$(port); c2=$(port); c3=$(port)
for p in $c1 $c2 $c3; do redis "$p" cluster; done
redis-cli --cluster create 127.0.0.1:$c1 127.0.0.1:$c2 127.0.0.1:$c3 --cluster-yes > "$tmp/create.log" 2>&1 || { cat "$tmp/create.log"; exit 1; }
for _ in $(seq 200); do
  ok=0; for p in $c1 $c2 $c3; do redis-cli -p $p cluster info | grep -q cluster_state:ok && ok=$((ok+1)); done
  [ $ok = 3 ] && break; sleep 0.05
done
flush() { for p in $rp $c1 $c2 $c3; do redis-cli -p $p flushall > /dev/null; redis-cli -p $p config resetstat > /dev/null; done; rm -rf "$tmp"/lmdb-*; }
# Redis commands run so far on every server (INFO commandstats, without the
# INFO and CONFIG of this script).
cmds() { local t=0; for p in $rp $c1 $c2 $c3; do
  t=$((t + $(redis-cli -p $p info commandstats | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p' | awk '$1!="info" && $1!="config|resetstat" && $1!="config" {s+=$2} END {print s+0}'))); done; echo $t; }
# Calls per check of each command (CMDSTATS=1), summed over the servers.
cmdlist() { [ -n "${CMDSTATS:-}" ] || return 0; for p in $rp $c1 $c2 $c3; do
  redis-cli -p $p info commandstats | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p'; done |
  awk -v n="$1" '$1!="info" && $1!="config|resetstat" && $1!="config" {s[$1]+=$2} END {for (c in s) printf "    %s %.2f", c, s[c]/n; print ""}'; }
want() { [ -z "${RUNS:-}" ] && return 0; case " $RUNS " in *" $1 "*) return 0 ;; esac; return 1; }
cpu() { $py -c '
import os, sys
t = 0
for pid in sys.argv[1:]:
    try: f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split(); t += int(f[11]) + int(f[12])
    except OSError: pass
print(t / os.sysconf("SC_CLK_TCK"))' "$@"; }

uri_of() { case $1 in
  memory) echo memory: ;; lmdb) echo "lmdb:$tmp/lmdb-$2" ;;
  redis) echo "redis://127.0.0.1:$rp" ;;
  cluster) echo "redis-cluster://127.0.0.1:$c1,127.0.0.1:$c2,127.0.0.1:$c3" ;; esac; }

echo "messages: $n (spimguard simulate, first $n), batches of $batch, ${CONNS:-2} connection(s) per daemon; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %10s %8s %13s %15s %13s %10s\n' "run" "checks/s" "seconds" "checks/CPU-s" "us CPU/check:" "redis" "redis cmds"
printf '%-18s %10s %8s %13s %15s %13s %10s\n' "" "" "" "" "spimguard" "" "per check"
base_scan=; base_serve=

for b in memory lmdb redis cluster; do
  want "scan:$b" || continue
  flush
  uri=$(uri_of $b scan)
  r0=$(cpu "${rpids[@]}")
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$sg" scan --quiet --model "$model" --store "$uri" "$tmp/msgs.jsonl" > /dev/null
  r1=$(cpu "${rpids[@]}")
  read -r wall user sys < "$tmp/time"
  k=$(cmds)
  $py -c "
n,w,c,r,k=$n,$wall,$user+$sys,$r1-$r0,$k
print('%-18s %10.0f %8.2f %13.0f %15.1f %13.1f %10.1f' % ('scan  $b', n/w, w, n/(c+r), 1e6*c/n, 1e6*r/n, k/n))"
  cmdlist "$n"
done

# serve KIND NDAEMONS: start the daemons on one store, feed them, stop them.
serve() {
  want "serve:$1:$2" || return 0
  flush
  local b=$1 k=$2 uri ports=() dp=()
  uri=$(uri_of "$b" serve)
  for i in $(seq "$k"); do serve_start "$i" "$uri"; done
  out=$($py "$here/store_load.py" --ports "$(IFS=,; echo "${ports[*]}")" --file "$tmp/msgs.jsonl" \
        --batch "$batch" --conns "${CONNS:-2}" --pids "$(IFS=,; echo "${dp[*]}")" --rpids "$(IFS=,; echo "${rpids[*]}")") || { echo "$out"; exit 1; }
  for pid in "${dp[@]}"; do kill -TERM "$pid"; wait "$pid"; done
  local nc; nc=$(cmds)
  $py -c "
import json; d=json.loads('''$out''')
n=d['messages']
print('%-18s %10d %8.2f %13d %15.1f %13.1f %10.1f' % ('serve $b x$k', d['checks_per_s'], d['seconds'],
      d['checks_per_cpu_s'], 1e6*d['daemon_cpu_s']/n, 1e6*d['redis_cpu_s']/n, $nc/n))"
  cmdlist "$n"
}
serve memory 1
serve lmdb 1
serve lmdb 2
serve redis 1
serve redis 2
serve cluster 1
serve cluster 2
