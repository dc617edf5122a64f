#!/usr/bin/env bash
# cli_urls.sh -- `spimguard urls` end to end: the --json shape of issue 3
# ({"line", "urls": [{"url", "host", "registrable_domain", "findings":
# [{"kind", "brand", "match"}]}]}), text output, --jsonl input, --brands /
# --allow / --blocklist files, bad lines (exit 1, the stream goes on) and
# usage errors (exit 2).   usage: cli_urls.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()   { passes=$((passes+1)); }
bad()  { echo "FAIL: $*"; fails=$((fails+1)); }
expect() { if eval "$2"; then ok; else bad "$1"; fi; }
field() { # JSON-LINE PYTHON-EXPR: the value as compact JSON
  python3 -c 'import sys, json; o = json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2]), separators=(",", ":")))' "$1" "$2"
}
is() { # NAME JSON-LINE PYTHON-EXPR EXPECTED-JSON
  local got; got=$(field "$2" "$3")
  if [ "$got" = "$4" ]; then ok; else bad "$1: got $got"; fi
}

printf '%s\n' 'hi, see https://rnicrosoft-live.com/login' 'no link here' \
  'Security team: verify your account at http://acc-check.example.net/x' \
  'bit.ly/abc and 45.33.12.7/x' > "$tmp/in.txt"
"$bin" urls --json "$tmp/in.txt" > "$tmp/out.jsonl"; rc=$?
expect "urls --json exits 0 (got $rc)" '[ $rc -eq 0 ]'
expect "one JSON object per input line" '[ $(wc -l < "$tmp/out.jsonl") -eq 4 ]'
l1=$(sed -n 1p "$tmp/out.jsonl"); l2=$(sed -n 2p "$tmp/out.jsonl")
l3=$(sed -n 3p "$tmp/out.jsonl"); l4=$(sed -n 4p "$tmp/out.jsonl")
is "line numbers" "$l4" 'o["line"]' '4'
is "keys of a URL" "$l1" 'sorted(o["urls"][0])' '["findings","host","registrable_domain","url","written"]'
is "a plain https link is written plainly" "$l1" 'o["urls"][0]["written"]' '[]'
is "how a bare shortener link was written" "$l4" 'o["urls"][0]["written"]' '["no_scheme","shortener"]'
# a link hidden with a zero-width space, and one written hxxp / [.]: found
# and said to be obfuscated, in both outputs
printf 'see http://micro\xe2\x80\x8bsoft-support.com/fix or hxxp://paypa1[.]com/x\n' > "$tmp/zw.txt"
zw=$("$bin" urls --json "$tmp/zw.txt")
is "zero-width link found with its hidden character removed" "$zw" 'o["urls"][0]["url"]' '"http://microsoft-support.com/fix"'
is "zero-width link is obfuscated" "$zw" 'o["urls"][0]["written"]' '["obfuscated"]'
is "hxxp / [.] link is obfuscated" "$zw" 'o["urls"][1]["written"]' '["obfuscated"]'
printf '{"text":"see bit.ly/x"}\n   \n\n{"text":"no link"}\n' > "$tmp/blank.jsonl"
"$bin" urls --jsonl --json "$tmp/blank.jsonl" > "$tmp/blank.out" 2> "$tmp/blank.err"; rc=$?
expect "urls --jsonl skips empty and blank lines (got $rc, $(wc -l < "$tmp/blank.out") lines)" \
  '[ $rc -eq 0 ] && [ $(wc -l < "$tmp/blank.out") -eq 2 ] && [ ! -s "$tmp/blank.err" ]'
expect "text output says obfuscated" '"$bin" urls "$tmp/zw.txt" | grep -q "microsoft-support.com  \[obfuscated\]"'
is "url, host, registrable_domain" "$l1" '[o["urls"][0][k] for k in ("url", "host", "registrable_domain")]' \
   '["https://rnicrosoft-live.com/login","rnicrosoft-live.com","rnicrosoft-live.com"]'
is "a finding names kind, brand, match" "$l1" 'o["urls"][0]["findings"]' \
   '[{"kind":"LOOKALIKE_DOMAIN","brand":"microsoft.com","match":"visual"}]'
is "a line without URLs has an empty list" "$l2" 'o' '{"line":2,"urls":[]}'
is "the lure is a finding of the foreign link" "$l3" '[f["kind"] for f in o["urls"][0]["findings"]]' '["CREDENTIAL_LURE"]'
is "shortener and IP findings have a null match" "$l4" \
   '[(f["kind"], f["match"]) for u in o["urls"] for f in u["findings"]]' '[["SHORTENER",null],["IP_URL",null]]'

"$bin" urls "$tmp/in.txt" > "$tmp/out.txt"
expect "text output names the swap" 'grep -q "LOOKALIKE_DOMAIN.*visual.*rn→m" "$tmp/out.txt"'

# --- list files: --brands replaces, --allow and --blocklist add
printf 'chatnet.org chatnet.*\n' > "$tmp/brands.txt"
printf 'chatnett.com\n' > "$tmp/allow.txt"
printf 'id,url\n1,"http://evil-host.example.org/a"\n' > "$tmp/block.csv"
printf '%s\n' 'rnicrosoft.com' 'chatnett.org' 'chatnett.com' 'http://evil-host.example.org/a' |
  "$bin" urls --json --brands "$tmp/brands.txt" --allow "$tmp/allow.txt" --blocklist "$tmp/block.csv" > "$tmp/lists.jsonl"
K='[f["kind"] + "/" + str(f["brand"]) for u in o["urls"] for f in u["findings"]]'
is "--brands replaces the shipped list" "$(sed -n 1p "$tmp/lists.jsonl")" "$K" '[]'
is "a lookalike of the operator brand" "$(sed -n 2p "$tmp/lists.jsonl")" "$K" '["LOOKALIKE_DOMAIN/chatnet.org"]'
is "--allow adds to the allow-list" "$(sed -n 3p "$tmp/lists.jsonl")" "$K" '[]'
is "--blocklist reads CSV" "$(sed -n 4p "$tmp/lists.jsonl")" "$K" '["BLOCKLISTED_URL/None"]'

# --- JSONL input, bad lines
printf '%s\n' '{"text":"go to paypa1.com now"}' '{"text":' '{"id":1}' > "$tmp/in.jsonl"
printf '\xff bad utf8 evil.com\n' >> "$tmp/in.jsonl"
"$bin" urls --json --jsonl "$tmp/in.jsonl" > "$tmp/j.out" 2> "$tmp/j.err"; rc=$?
expect "bad lines give exit 1 (got $rc)" '[ $rc -eq 1 ]'
expect "good lines are still judged" '[ $(wc -l < "$tmp/j.out") -eq 1 ] && grep -q paypal.com "$tmp/j.out"'
expect "each bad line is reported as scan reports it (NAME:LINE: what)" \
  'grep -q "in.jsonl:2: invalid JSON at column" "$tmp/j.err" && grep -q "in.jsonl:3: missing field \"text\"" "$tmp/j.err" && grep -q "in.jsonl:4: input is not valid UTF-8" "$tmp/j.err"'

"$bin" urls --no-such-option < /dev/null > /dev/null 2>&1; rc=$?
expect "unknown option exits 2 (got $rc)" '[ $rc -eq 2 ]'
"$bin" urls --brands /nonexistent/brands.txt < /dev/null > /dev/null 2> "$tmp/e"; rc=$?
expect "unreadable list exits 3 (got $rc)" '[ $rc -eq 3 ] && grep -q nonexistent "$tmp/e"'
"$bin" urls --help | grep -q -- "--blocklist FILE"; expect "--help lists the options" '[ $? -eq 0 ]'

echo "cli_urls: $passes passed, $fails failed"
[ $fails -eq 0 ]
