#!/usr/bin/env bash
# cli_evidence.sh -- `spimguard scan --evidence` and `spimguard evidence`
# end to end on a simulated worm: the log verifies; copies tampered with in
# each of the four ways (edit, remove, insert, reorder) and a torn tail are
# refused with the first bad line named; a foreign public key fails the
# signatures; redaction keeps the chain valid; the campaign export is a
# self-contained report whose segment verifies with the published key;
# dry-run records without enforcing.
#   usage: cli_evidence.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()  { passes=$((passes+1)); }
bad() { echo "FAIL: $*"; fails=$((fails+1)); }
expect() { if eval "$2"; then ok; else bad "$1"; fi; }
# jf FILE EXPR: a Python expression on d = the JSON in FILE
jf() { "$py" -c "import json,sys; d=json.load(open('$1')); print($2)" 2>/dev/null; }

"$bin" train --quiet --model "$tmp/model" "$src"/data/corpus/*.jsonl || { echo "FAIL: train"; exit 1; }
"$bin" simulate --quiet --nodes 300 --degree 10 --warmup-days 3 --attack-hours 12 \
  --spimmers 3 --spim-msgs 40 > "$tmp/sim.jsonl" || { echo "FAIL: simulate"; exit 1; }

# --- the engine writes the log while it judges
"$bin" scan --model "$tmp/model" --evidence "$tmp/data/evidence" "$tmp/sim.jsonl" > "$tmp/verdicts.jsonl"
expect "scan --evidence exits 0" '[ $? = 0 ]'
ev=$tmp/data/evidence
n=$(wc -l < "$ev/log.jsonl")
expect "the log has entries ($n)" '[ "$n" -gt 50 ]'
expect "account actions are logged" 'grep -q "\"kind\":\"account_action\",.*\"action\":\"lock_and_reset\"" "$ev/log.jsonl"'
expect "a spimmer's suspension is logged" 'grep -q "\"kind\":\"account_action\",.*\"action\":\"suspend\"" "$ev/log.jsonl"'
expect "the secret key is private" '[ "$(stat -c %a "$ev/signing.key")" = 600 ]'

"$bin" evidence verify --data-dir "$tmp/data" > "$tmp/out"
expect "verify --data-dir: OK, exit 0" '[ $? = 0 ] && grep -q ": OK" "$tmp/out"'
"$bin" evidence verify --dir "$ev" --pubkey "$ev/signing.pub" --json > "$tmp/v.json"
expect "verify --json: ok with every signature good" \
  '[ "$(jf "$tmp/v.json" "d[\"ok\"] and d[\"signatures_ok\"] == d[\"checkpoints\"] > 0")" = True ]'
"$bin" evidence verify > /dev/null 2>&1
expect "verify without a directory is a usage error" '[ $? = 2 ]'
"$bin" evidence verify "$tmp/data" > "$tmp/out"
expect "verify DATA_DIR (positional): OK, exit 0" '[ $? = 0 ] && grep -q ": OK" "$tmp/out"'
"$bin" evidence verify "$ev" > "$tmp/out"
expect "verify EVDIR (positional): OK, exit 0" '[ $? = 0 ] && grep -q ": OK" "$tmp/out"'
"$bin" evidence verify "$tmp/data" extra > /dev/null 2> "$tmp/err"
expect "a second positional is a usage error naming it" '[ $? = 2 ] && grep -q "unexpected argument .extra." "$tmp/err"'
"$bin" evidence verify "$tmp/nowhere" > /dev/null 2> "$tmp/err"
expect "a missing path is a usage error naming it" '[ $? = 2 ] && grep -q "nowhere" "$tmp/err"'

# --- a foreign key
"$bin" evidence keygen --out "$tmp/other" > /dev/null
expect "keygen writes a private key and a public key" '[ -f "$tmp/other.pub" ] && [ "$(stat -c %a "$tmp/other.key")" = 600 ]'
"$bin" evidence keygen --out "$tmp/other" > /dev/null 2>&1
expect "keygen never overwrites a key" '[ $? = 3 ]'
"$bin" evidence verify --dir "$ev" --pubkey "$tmp/other.pub" --json > "$tmp/v.json"
expect "another key's public key fails the first checkpoint" \
  '[ $? = 1 ] && [ "$(jf "$tmp/v.json" "d[\"fault\"]")" = bad_signature ]'

# --- tampering: each copy is verified as a log of its own
tamper() { # NAME PYTHON-on-lines
  mkdir -p "$tmp/t/$1"; cp "$ev/signing.pub" "$tmp/t/$1/"
  "$py" - "$ev/log.jsonl" "$tmp/t/$1/log.jsonl" <<EOF
import sys
L = open(sys.argv[1]).readlines()
$2
open(sys.argv[2], "w").writelines(L)
EOF
  "$bin" evidence verify --dir "$tmp/t/$1" --json > "$tmp/t/$1.json"
  echo $?
}
rc=$(tamper edit 'L[20] = L[20].replace("\"ts\":", "\"ts\":1", 1)')
expect "an edited entry: exit 1, fault edited at line 21" \
  '[ "$rc" = 1 ] && [ "$(jf "$tmp/t/edit.json" "d[\"fault\"], d[\"line\"], d[\"found_seq\"]")" = "edited 21 20" ]'
rc=$(tamper remove 'del L[20]')
expect "a removed entry: fault removed, entry 20 named" \
  '[ "$rc" = 1 ] && [ "$(jf "$tmp/t/remove.json" "d[\"fault\"], d[\"line\"], d[\"expected_seq\"]")" = "removed 21 20" ]'
rc=$(tamper insert 'L.insert(20, L[19])')
expect "a duplicated entry: fault inserted at line 21" \
  '[ "$rc" = 1 ] && [ "$(jf "$tmp/t/insert.json" "d[\"fault\"], d[\"line\"]")" = "inserted 21" ]'
rc=$(tamper reorder 'L[20], L[21] = L[21], L[20]')
expect "swapped entries: fault reordered at line 21" \
  '[ "$rc" = 1 ] && [ "$(jf "$tmp/t/reorder.json" "d[\"fault\"], d[\"line\"], d[\"expected_seq\"], d[\"found_seq\"]")" = "reordered 21 20 21" ]'
rc=$(tamper torn 'L[-1] = L[-1][:40]')
expect "a torn last line: fault torn on the last line" \
  '[ "$rc" = 1 ] && [ "$(jf "$tmp/t/torn.json" "d[\"fault\"], d[\"line\"]")" = "torn $n" ]'

# --- redaction: the text goes, the chain stays
id=$(grep -m1 '"kind":"account_action"' "$ev/log.jsonl" | "$py" -c 'import json,sys; print(json.loads(sys.stdin.read())["messages"][0]["id"])')
before=$(wc -l < "$ev/texts.jsonl")
"$bin" evidence redact --dir "$ev" --message "$id" --reason "erasure request 42" --by op1 > "$tmp/out"
expect "redact --message exits 0" '[ $? = 0 ] && grep -q "redacted 1 text" "$tmp/out"'
expect "one text fewer beside the chain" '[ "$(wc -l < "$ev/texts.jsonl")" = $((before - 1)) ]'
"$bin" evidence verify --dir "$ev" > "$tmp/out"
expect "the chain still verifies after redaction" '[ $? = 0 ]'
"$bin" evidence show --dir "$ev" --kind redaction > "$tmp/out"
expect "a redaction entry names reason and actor" 'grep -q "erasure request 42" "$tmp/out" && grep -q "\"actor\":\"op1\"" "$tmp/out"'
"$bin" evidence redact --dir "$ev" --message "$id" --reason again > /dev/null 2>&1
expect "redacting it again finds nothing (exit 1)" '[ $? = 1 ]'

# --- campaign export
camp=$("$py" -c '
import json, collections
c = collections.Counter(json.loads(l).get("campaign") for l in open("'"$ev"'/log.jsonl"))
c.pop(None, None); print(c.most_common(1)[0][0])')
"$bin" evidence export --dir "$ev" --campaign "$camp" --out "$tmp/report" > /dev/null
expect "export exits 0" '[ $? = 0 ]'
for f in report.json report.html graph.svg segment.jsonl signing.pub; do
  expect "export wrote $f" '[ -s "$tmp/report/$f" ]'
done
r=$tmp/report/report.json
expect "the report counts compromised senders and victims" \
  '[ "$(jf "$r" "d[\"summary\"][\"compromised_senders\"] > 0 and d[\"summary\"][\"victims\"] > 0")" = True ]'
expect "the lure domain gets its lookalike analysis" \
  '[ "$(jf "$r" "any(f[\"kind\"] == \"LOOKALIKE_DOMAIN\" for u in d[\"urls\"] for f in u[\"findings\"])")" = True ]'
expect "entries carry their hashes" '[ "$(jf "$r" "all(len(e[\"hash\"]) == 64 for e in d[\"entries\"])")" = True ]'
expect "the HTML is self-contained (no script, no external src/href)" \
  '! grep -qiE "<script|(src|href)=\"?(https?:)?//" "$tmp/report/report.html" && grep -q "<svg" "$tmp/report/report.html"'
expect "the graph is SVG with nodes" 'grep -c "<circle" "$tmp/report/graph.svg" | grep -qv "^0$"'
"$bin" evidence verify --log "$tmp/report/segment.jsonl" --segment --pubkey "$tmp/report/signing.pub" > "$tmp/out"
expect "the exported segment verifies with the published key" '[ $? = 0 ] && grep -q "some elided" "$tmp/out"'
"$bin" evidence export --dir "$ev" --campaign c000000000000 --out "$tmp/none" > /dev/null 2>&1
expect "an unknown campaign: exit 1" '[ $? = 1 ]'

# --- dry-run: recorded, not enforced
printf 'dry_run = true\n' > "$tmp/dry.conf"
"$bin" scan --model "$tmp/model" --policy "$tmp/dry.conf" --evidence "$tmp/dry" "$tmp/sim.jsonl" > "$tmp/dry.jsonl"
expect "dry-run verdicts take no account action" '! grep -q "\"account_action\":\"\(lock_and_reset\|suspend\|throttle\)\"" "$tmp/dry.jsonl"'
expect "dry-run verdicts say what they would have done" 'grep -q "DRY_RUN" "$tmp/dry.jsonl"'
expect "dry-run actions are in the log, marked" 'grep -q "\"kind\":\"account_action\",.*\"dry_run\":true" "$tmp/dry/log.jsonl"'
printf 'dry_run = maybe\n' > "$tmp/bad.conf"
"$bin" scan --model "$tmp/model" --policy "$tmp/bad.conf" "$tmp/sim.jsonl" > /dev/null 2> "$tmp/err"
expect "a bad policy file is fatal with its line" '[ $? = 3 ] && grep -q "bad.conf:1: dry_run" "$tmp/err"'

echo "cli_evidence: $passes passed, $fails failed"
[ "$fails" = 0 ]
