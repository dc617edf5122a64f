#!/bin/sh
# make bench: print spimguard's speed and accuracy figures beside bogofilter's.
#   usage: bench/run.sh [BUILD_DIR]
build=${1:-build}
here=$(dirname "$0")
shared=${SG_SHARED_DATA:-$here/../../shared/data}
echo "== content model vs bogofilter, SMS Spam Collection train -> test"
bash "$here/bogofilter_compare.sh" "$build" "$shared"
echo
echo "== content model accuracy: cross-validation, default model, cross-domain"
"$build/bench_accuracy" "$shared"
echo
echo "== in-process speed (one core)"
"$build/bench_scan" "$shared/sms_spam_collection/test.jsonl" 3
echo
echo "== bogofilter scoring speed (batch mbox, same test split x20)"
t=$(mktemp -d)
"$build/jsonl2mbox" "$shared/sms_spam_collection/train.jsonl" "$t/spam.mbox" /dev/null spam
"$build/jsonl2mbox" "$shared/sms_spam_collection/train.jsonl" "$t/ham.mbox" /dev/null ham
"$build/jsonl2mbox" "$shared/sms_spam_collection/test.jsonl" "$t/test.mbox" /dev/null
mkdir "$t/db"; bogofilter -d "$t/db" -M -s < "$t/spam.mbox"; bogofilter -d "$t/db" -M -n < "$t/ham.mbox"
for i in $(seq 20); do cat "$t/test.mbox"; done > "$t/big.mbox"
s=$(date +%s.%N); n=$(bogofilter -d "$t/db" -M -T < "$t/big.mbox" | wc -l); e=$(date +%s.%N)
echo "bogofilter: $(echo "$n $s $e" | awk '{printf "%.0f", $1/($3-$2)}') messages/s"
rm -rf "$t"
for b in "$build"/bench_*; do
  case "$b" in */bench_scan|*/bench_accuracy) continue;; esac
  [ -x "$b" ] && { echo; echo "== $(basename "$b")"; "$b"; }
done
