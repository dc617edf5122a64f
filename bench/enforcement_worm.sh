#!/bin/sh
# Enforcement figures in the simulated worm scenario (docs/enforcement.md):
# the simulator's stream (ground truth in truth_*) is judged by `spimguard
# scan --evidence`, then the evidence log alone is scored against the truth:
#   - share of compromised accounts (that sent lures) locked (lock_and_reset)
#   - share of spim senders suspended (and throttled)
#   - innocent accounts ever actioned (target 0), and innocent accounts with
#     a message held
#   - time from an account's first lure to its lock (median, p95, max), from
#     the scenario's first lure to the first lock, and from the first spim
#     message to the first suspension
#   - evidence entries written and `evidence verify` time
# usage: bench/enforcement_worm.sh [BUILD_DIR] [simulate options...]
#   e.g. bench/enforcement_worm.sh build --graph ../shared/data/snap_ego_facebook/facebook_combined.txt
set -e
build=${1:-build}
[ $# -gt 0 ] && shift
sg="$build/spimguard"
model=${SG_MODEL:-$build/default.model}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$sg" simulate --quiet "$@" > "$t/sim.jsonl"
s=$(date +%s.%N)
"$sg" scan --model "$model" --evidence "$t/ev" "$t/sim.jsonl" > "$t/verdicts.jsonl"
e=$(date +%s.%N)
v0=$(date +%s.%N)
"$sg" evidence verify --dir "$t/ev" > "$t/verify.txt" || { cat "$t/verify.txt"; exit 1; }
v1=$(date +%s.%N)
python3 - "$t/sim.jsonl" "$t/ev/log.jsonl" "$s" "$e" "$v0" "$v1" <<'EOF'
import json, sys
sim, log, s, e, v0, v1 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
compromised, spimmers, senders, first_lure, lures = set(), set(), set(), {}, {}
first_lure_all = first_spim = None
for line in open(sim):
    m = json.loads(line)
    a = m["from"]
    senders.add(a)
    if m.get("truth_compromised_at") is not None:
        compromised.add(a)
    if m["truth_kind"] == "spim":
        spimmers.add(a)
    if m["truth_kind"] == "spim":
        first_spim = m["ts"] if first_spim is None else min(first_spim, m["ts"])
    if m["truth_kind"] == "lure":
        first_lure_all = m["ts"] if first_lure_all is None else min(first_lure_all, m["ts"])
    if m["truth_kind"] == "lure":
        first_lure.setdefault(a, m["ts"])
        lures[a] = lures.get(a, 0) + 1
luring = set(first_lure)
actions, held, kinds = {}, set(), {}
for line in open(log):
    x = json.loads(line)
    kinds[x["kind"]] = kinds.get(x["kind"], 0) + 1
    if x["kind"] == "account_action":
        actions.setdefault(x["account"], {}).setdefault(x["action"], x["ts"])
    elif x["kind"] == "message_action":
        held.add(x["account"])
innocent = senders - compromised - spimmers
locked = {a for a in luring if "lock_and_reset" in actions.get(a, {})}
suspended = {a for a in spimmers if "suspend" in actions.get(a, {})}
throttled = {a for a in spimmers if actions.get(a)}
innocent_actioned = {a for a in innocent if a in actions}
innocent_held = {a for a in innocent if a in held}
delays = sorted((actions[a]["lock_and_reset"] - first_lure[a]) / 1000 for a in locked)
def pct(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
first_lock = min((actions[a]["lock_and_reset"] for a in locked), default=None)
first_susp = min((actions[a]["suspend"] for a in suspended), default=None)
since = lambda a, b: round((a - b) / 1000, 1) if a is not None and b is not None else None
print(json.dumps({
    "accounts": len(senders), "compromised_luring": len(luring),
    "compromised_locked": len(locked),
    "compromised_locked_pct": round(100 * len(locked) / max(1, len(luring)), 2),
    "spim_senders": len(spimmers), "spim_senders_suspended": len(suspended),
    "spim_senders_suspended_pct": round(100 * len(suspended) / max(1, len(spimmers)), 2),
    "spim_senders_actioned": len(throttled),
    "innocent_accounts": len(innocent), "innocent_actioned": len(innocent_actioned),
    "innocent_with_a_held_message": len(innocent_held),
    "lock_delay_s_median": round(pct(delays, 0.5), 1),
    "lock_delay_s_p95": round(pct(delays, 0.95), 1),
    "lock_delay_s_max": round(delays[-1], 1) if delays else None,
    "first_lure_to_first_lock_s": since(first_lock, first_lure_all),
    "first_spim_to_first_suspension_s": since(first_susp, first_spim),
    "evidence_entries": kinds, "scan_s": round(e - s, 1), "verify_s": round(v1 - v0, 2)},
    sort_keys=False))
EOF
