#!/bin/bash
# redis_replay.sh -- where the CPU of a Redis-backed deployment goes.  Two
# `spimguard serve` daemons share one redis-server, fed by bench/store_load.py
# (as `serve:redis:2` of bench/store_compare.sh), three ways:
#   live      all three processes free to run on any core;
#   pinned    redis-server alone on CPU 1, both daemons and the load
#             generator on CPU 0 (taskset): Redis's cost with a core of its own;
#   replay    the daemons' own commands, recorded with MONITOR during a live
#             run, sent again from one connection to a fresh redis-server
#             with `redis-cli --pipe` (bench/redis_monitor_to_resp.py; WATCH,
#             MULTI and EXEC left out): what Redis alone costs per check and
#             how many checks per second one redis-server core carries.
# Prints checks/s and CPU µs per check of the daemons and of redis-server.
#   usage: bench/redis_replay.sh [BUILD_DIR] [N]   (default build, 50000)
set -u
build=${1:-build}; n=${2:-50000}; batch=${BATCH:-200}; conns=${CONNS:-2}
. "$(dirname "$0")/store_setup.sh"
[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores (the pinned run puts Redis on CPU 1)" >&2; exit 1; }

port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# redis_start CPUSET: a fresh redis-server on a free port (sets rport, rpid).
redis_start() {
  rport=$(port); mkdir -p "$tmp/r$rport"
  taskset -c "$1" redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp/r$rport" > "$tmp/r$rport/log" 2>&1 &
  rpid=$!; pids+=($rpid)
  for _ in $(seq 100); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
  echo "redis-server did not start" >&2; exit 1
}
redis_stop() { kill -TERM "$rpid"; wait "$rpid" 2>/dev/null; }

# live NAME DAEMON_CPUS REDIS_CPUS [monitor]: two daemons on one redis-server.
live() {
  redis_start "$3"
  local mon=
  if [ -n "${4:-}" ]; then redis-cli -p "$rport" monitor > "$tmp/monitor.log" & mon=$!; pids+=($mon); sleep 0.2; fi
  local ports=() dp=()
  for i in 1 2; do serve_start "$i" "redis://127.0.0.1:$rport" "$2"; done
  out=$(taskset -c "$2" $py "$here/store_load.py" --ports "$(IFS=,; echo "${ports[*]}")" --file "$tmp/msgs.jsonl" \
        --batch "$batch" --conns "$conns" --pids "$(IFS=,; echo "${dp[*]}")" --rpids "$rpid") || { echo "$out"; exit 1; }
  for pid in "${dp[@]}"; do kill -TERM "$pid"; wait "$pid"; done
  [ -n "$mon" ] && { sleep 0.3; kill "$mon"; wait "$mon" 2>/dev/null; }
  redis_stop
  [ -n "${4:-}" ] && return 0   # MONITOR slows Redis: no figures from this run
  $py -c "
import json; d=json.loads('''$out'''); n=d['messages']
print('%-26s %10d %15.1f %13.1f' % ('$1', d['checks_per_s'], 1e6*d['daemon_cpu_s']/n, 1e6*d['redis_cpu_s']/n))"
}

echo "messages: $n (spimguard simulate), batches of $batch, $conns connection(s) per daemon; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %10s %15s %13s\n' "run" "checks/s" "us CPU/check:" "redis-server"
printf '%-26s %10s %15s %13s\n' "" "" "two daemons" ""
live "live, any core" 0,1 0,1
live "pinned, Redis on CPU 1" 0 1

live capture 0,1 0,1 monitor
$py "$here/redis_monitor_to_resp.py" "$tmp/monitor.log" > "$tmp/commands.resp" 2> "$tmp/convert.log"
for i in 1 2 3; do
  redis_start 1
  c0=$(ticks "$rpid"); t0=$(date +%s.%N)
  redis-cli -p "$rport" --pipe < "$tmp/commands.resp" > "$tmp/pipe.log" 2>&1
  t1=$(date +%s.%N); c1=$(ticks "$rpid")
  grep -q "errors: 0," "$tmp/pipe.log" || { cat "$tmp/pipe.log"; exit 1; }
  redis_stop
  $py -c "
n, c, w = $n, ($c1 - $c0) / $(getconf CLK_TCK), $t1 - $t0
print('%-26s %10d %15s %13.1f   (%d checks per redis-server CPU-second)' % ('replay $i, one connection', n / w, '-', 1e6 * c / n, n / c))"
done
echo "replayed: $(cat "$tmp/convert.log")"
