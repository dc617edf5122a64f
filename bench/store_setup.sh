# store_setup.sh -- sourced by bench/store_compare.sh and bench/redis_replay.sh:
# the common set-up of a store benchmark.  Expects build and n; sets here, sg,
# py, tmp (removed at exit, with every process listed in pids killed), model
# (MODEL, or build/default.model, or one trained on data/corpus) and
# $tmp/msgs.jsonl (the first n messages of `spimguard simulate`; n becomes
# their count).
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
