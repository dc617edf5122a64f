#!/usr/bin/env bash
# bogofilter_compare.sh -- spimguard's content model and bogofilter (Debian)
# trained on the same SMS Spam Collection train split and measured on the
# same test split, in one run; prints one row each.
#   usage: bench/bogofilter_compare.sh [BUILD_DIR] [SHARED_DATA_DIR]
set -euo pipefail
build=${1:-build}
shared=${2:-$(dirname "$0")/../../shared/data}
sms="$shared/sms_spam_collection"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
command -v bogofilter >/dev/null || { echo "bogofilter not installed (apt-get install bogofilter)"; exit 1; }

"$build/jsonl2mbox" "$sms/train.jsonl" "$tmp/spam.mbox" /dev/null spam
"$build/jsonl2mbox" "$sms/train.jsonl" "$tmp/ham.mbox" /dev/null ham
"$build/jsonl2mbox" "$sms/test.jsonl" "$tmp/test.mbox" "$tmp/test.labels"
mkdir "$tmp/db"
bogofilter -d "$tmp/db" -M -s < "$tmp/spam.mbox"
bogofilter -d "$tmp/db" -M -n < "$tmp/ham.mbox"
# -T prints "H|S|U spamicity" per message; its exit status is the class of
# the last message (0 spam, 1 ham, 2 unsure), so only 3 is an error.
bogofilter -d "$tmp/db" -M -T < "$tmp/test.mbox" > "$tmp/bogo.out" || [ $? -lt 3 ]
awk '{print $2}' "$tmp/bogo.out" > "$tmp/bogo.scores"
paste "$tmp/bogo.scores" "$tmp/test.labels" > "$tmp/bogo.tsv"

"$build/spimguard" train --quiet --model "$tmp/sg.model" "$sms/train.jsonl"

row() { # name json
  echo "$2" | awk -v name="$1" '{
    match($0, /"auc": [0-9.]+/); auc = substr($0, RSTART+7, RLENGTH-7);
    match($0, /"one_minus_roca_pct": [0-9.]+/); roca = substr($0, RSTART+22, RLENGTH-22);
    match($0, /"sc_at_hb_0_1_pct": [0-9.]+/); s01 = substr($0, RSTART+20, RLENGTH-20);
    match($0, /"sc_at_hb_1_pct": [0-9.]+/); s1 = substr($0, RSTART+18, RLENGTH-18);
    match($0, /"accuracy_pct": [0-9.]+/); acc = substr($0, RSTART+16, RLENGTH-16);
    printf "%-22s %8s %10s %14s %12s %9s\n", name, auc, roca, s01, s1, acc }'
}
printf "%-22s %8s %10s %14s %12s %9s\n" filter "ROC AUC" "(1-ROCA)%" "sc@hb<=0.1%" "sc@hb<=1%" "acc%"
row "spimguard" "$("$build/spimguard" eval --json --model "$tmp/sg.model" "$sms/test.jsonl")"
row "bogofilter $(bogofilter --version | head -1 | awk '{print $3}')" "$("$build/spimguard" eval --json --scores "$tmp/bogo.tsv")"
