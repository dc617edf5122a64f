# store_setup.sh -- sourced by bench/store_compare.sh and bench/redis_replay.sh:
# the common set-up of a store benchmark.  Expects build and n; sets here, sg,
# py, tmp (removed at exit, with every process listed in pids killed), model
# (MODEL, or build/default.model, or one trained on data/corpus) and
# $tmp/msgs.jsonl (the first n messages of `spimguard simulate`; n becomes
# their count); and serve_start, below.
here=$(cd "$(dirname "$0")" && pwd)
sg=$build/spimguard; py=/usr/bin/python3
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

model=${MODEL:-$build/default.model}
[ -f "$model" ] || { "$sg" train --quiet --model "$tmp/model" "$here"/../data/corpus/*.jsonl; model=$tmp/model; }
"$sg" simulate --quiet | head -n "$n" > "$tmp/msgs.jsonl"
n=$(wc -l < "$tmp/msgs.jsonl")

# serve_start N URI [CPUS]: start daemon N (log $tmp/dN.log) on store URI,
# pinned to CPUS when given; appends its pid to pids and dp and its port to
# ports (arrays the caller declares), or exits with its log.
serve_start() {
  local run=("$sg" serve --port 0 --model "$model" --store "$2") p=
  [ -n "${3:-}" ] && run=(taskset -c "$3" "${run[@]}")
  "${run[@]}" > "$tmp/d$1.log" 2>&1 &
  pids+=($!); dp+=($!)
  for _ in $(seq 200); do
    p=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$tmp/d$1.log"); [ -n "$p" ] && break; sleep 0.05
  done
  [ -n "$p" ] || { cat "$tmp/d$1.log"; exit 1; }
  ports+=("$p")
}
