#!/usr/bin/env bash
# cli_scan.sh -- the spimguard command end to end: scan's handling of bad
# lines (line-numbered errors, the stream goes on, exit 1), train + eval on
# the shared SMS split through the CLI, check, --help of every subcommand,
# and a damaged model file.   usage: cli_scan.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
shared=${SG_SHARED_DATA:-$src/../shared/data}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()   { passes=$((passes+1)); }
bad()  { echo "FAIL: $*"; fails=$((fails+1)); }
expect() { if eval "$2"; then ok; else bad "$1"; fi; }

# --- a model to use
"$bin" train --quiet --model "$tmp/m" "$shared/sms_spam_collection/train.jsonl"
expect "train writes a model" '[ -s "$tmp/m" ]'

# --- scan: good and bad lines mixed
{
  printf '%s\n' '{"id":"ok1","from":"a","to":"b","text":"see you at lunch?"}'
  printf '%s\n' '{"id":"bad-json","from":"a","to":"b","text":"unterminated'
  printf '%s\n' '{"id":"no-to","from":"a","text":"hello"}'
  printf '{"id":"bad-utf8","from":"a","to":"b","text":"caf\xc3"}\n'
  printf '{"id":"big","from":"a","to":"b","text":"%s"}\n' "$(head -c 70000 /dev/zero | tr '\0' a)"
  printf '\n'
  printf '%s\n' '{"id":"ok2","from":"a","to":"b","text":"URGENT! You have won a 1 week FREE membership in our £100,000 Prize Jackpot! Txt the word: CLAIM to No: 81010"}'
} > "$tmp/in.jsonl"
"$bin" scan --model "$tmp/m" "$tmp/in.jsonl" > "$tmp/out.jsonl" 2> "$tmp/err.txt"; rc=$?
expect "scan exits 1 when lines were rejected (got $rc)" '[ $rc -eq 1 ]'
expect "two verdicts for the two good lines" '[ $(wc -l < "$tmp/out.jsonl") -eq 2 ]'
expect "line 2 invalid JSON reported" 'grep -q "in.jsonl:2: invalid JSON" "$tmp/err.txt"'
expect "line 3 missing to reported" 'grep -q "in.jsonl:3: missing field \"to\"" "$tmp/err.txt"'
expect "line 4 invalid UTF-8 reported" 'grep -q "in.jsonl:4: .*UTF-8" "$tmp/err.txt"'
expect "line 5 over the size limit reported" 'grep -q "in.jsonl:5: .*65536-byte limit" "$tmp/err.txt"'
expect "ham delivered" 'grep "\"ok1\"" "$tmp/out.jsonl" | grep -q "\"action\": *\"deliver\""'
expect "spam not delivered" 'grep "\"ok2\"" "$tmp/out.jsonl" | grep -Eq "\"action\": *\"(hold|drop)\""'
expect "spam verdict names a readable reason" 'grep "\"ok2\"" "$tmp/out.jsonl" | grep -Eq "(word|char n-gram|phone|prize)"'

# --- all-good input exits 0; garbage bytes never crash
printf '%s\n' '{"from":"a","to":"b","text":"hi"}' | "$bin" scan --model "$tmp/m" > /dev/null 2>&1
expect "clean stream exits 0" '[ $? -eq 0 ]'
# a line of blanks too long to keep is still reported, not skipped as blank
{ head -c 2000000 /dev/zero | tr '\0' ' '; printf '\n{"id":"next","from":"a","to":"b","text":"hi"}\n'; } \
  | "$bin" scan --model "$tmp/m" > "$tmp/lb.jsonl" 2> "$tmp/lb.err"; rc=$?
expect "an over-long line of blanks is reported (got $rc)" \
  '[ $rc -eq 1 ] && grep -q "<stdin>:1: .*" "$tmp/lb.err" && grep -q "\"next\"" "$tmp/lb.jsonl"'
# a byte-order mark before the first line, and lines of blanks, as editors
# leave them: judged and skipped, not rejected
printf '\xef\xbb\xbf{"id":"bom","from":"a","to":"b","text":"hi"}\n  \n\t \r\n{"id":"after","from":"a","to":"b","text":"yo"}\n' \
  | "$bin" scan --model "$tmp/m" > "$tmp/bom.jsonl" 2> "$tmp/bom.err"; rc=$?
expect "BOM and blank lines: exit 0, two verdicts, no error (got $rc: $(head -c 200 "$tmp/bom.err"))" \
  '[ $rc -eq 0 ] && [ $(grep -c "\"id\": *\"\(bom\|after\)\"" "$tmp/bom.jsonl") -eq 2 ] && [ ! -s "$tmp/bom.err" ]'
head -c 200000 /dev/urandom | "$bin" scan --model "$tmp/m" > /dev/null 2>&1; rc=$?
expect "random bytes: rejected lines, no crash (got $rc)" '[ $rc -eq 1 ]'

# --- eval through the CLI, with --json keys and the ROC picture
"$bin" eval --model "$tmp/m" --json --roc "$tmp/roc.svg" "$shared/sms_spam_collection/test.jsonl" > "$tmp/eval.json"
for k in messages accuracy_pct spam_caught_pct ham_blocked_pct mcc auc one_minus_roca_pct sc_at_hb_0_1_pct sc_at_hb_1_pct; do
  expect "eval --json has $k" 'grep -q "\"$k\"" "$tmp/eval.json"'
done
auc=$(sed 's/.*"auc": \([0-9.]*\).*/\1/' "$tmp/eval.json")
expect "eval AUC $auc >= 0.99" 'awk "BEGIN{exit !($auc >= 0.99)}"'
expect "ROC SVG written" 'grep -q "<svg" "$tmp/roc.svg"'

# --- check one message
"$bin" check --model "$tmp/m" "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121" > "$tmp/check.txt"
expect "check prints an action" 'grep -Eq "^action: +(hold|drop|warn)" "$tmp/check.txt"'
t="Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121"
"$bin" check --model "$tmp/m" --stranger "$t" > "$tmp/check-s.txt"
"$bin" check --model "$tmp/m" --contact "$t" > "$tmp/check-c.txt"
expect "check --stranger: spim from a stranger is dropped" 'grep -Eq "^action: +drop" "$tmp/check-s.txt"'
expect "check --contact: a contact's text alone is at most warned" \
  'grep -Eq "^action: +warn" "$tmp/check-c.txt" && grep -q "CONTACT" "$tmp/check-c.txt"'

# --- --help everywhere, usage errors exit 2
for c in scan check train eval; do
  "$bin" $c --help > /dev/null; expect "$c --help exits 0" '[ $? -eq 0 ]'
done
"$bin" scan --no-such-option > /dev/null 2>&1; expect "unknown option exits 2" '[ $? -eq 2 ]'
"$bin" frobnicate > /dev/null 2>&1; expect "unknown command exits 2" '[ $? -eq 2 ]'

# --- damaged model: fatal, clear message
head -c 1000 "$tmp/m" > "$tmp/broken"
"$bin" scan --model "$tmp/broken" < /dev/null > /dev/null 2> "$tmp/err2.txt"; rc=$?
expect "damaged model exits 3 (got $rc)" '[ $rc -eq 3 ]'
expect "damaged model message" 'grep -q "truncated or damaged" "$tmp/err2.txt"'
SPIMGUARD_MODEL="$tmp/no-such.model" "$bin" check "hi" > /dev/null 2> "$tmp/err3.txt"; rc=$?
expect "a SPIMGUARD_MODEL naming a missing file exits 3 naming it (got $rc)" \
  '[ $rc -eq 3 ] && grep -q "SPIMGUARD_MODEL=.*no-such.model" "$tmp/err3.txt"'

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
