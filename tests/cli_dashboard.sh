#!/usr/bin/env bash
# cli_dashboard.sh -- the enforcement side of `spimguard serve` end to end:
# a daemon with a --data-dir is fed a simulated worm over POST /v1/check;
# 50 fresh accounts flood false spam reports against one innocent account,
# which stays unactioned; an appeal and an operator decision go through the
# API (the decision lowers the reporters' trust, the evidence log records
# both and still verifies); then headless Chromium (Debian `chromium`,
# installed here when missing) loads the dashboard at `/`, takes a
# screenshot (BUILD_DIR/dashboard.png) and the page's DOM is checked:
# campaign listed with its spread graph, counts non-zero, accounts, appeal
# and reports shown.
#   usage: cli_dashboard.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
py=/usr/bin/python3
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0; passes=0
ok()  { passes=$((passes+1)); }
bad() { echo "FAIL: $*"; fails=$((fails+1)); }
expect() { if eval "$2"; then ok; else bad "$1"; echo "  body: $(head -c 300 "$tmp/body" 2>/dev/null)"; fi; }
j() { "$py" -c "import json,sys; d=json.load(open('$tmp/body')); print($1)" 2>/dev/null; }
req() { # METHOD PATH [BODY]
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1")
  [ -n "${3:-}" ] && args+=(--data-binary "$3")
  code=$(curl "${args[@]}" "http://127.0.0.1:$port$2")
}

# --- Chromium: Debian's package, installed when missing (root only)
chrome=$(command -v chromium || true)
if [ -z "$chrome" ] && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "$tmp/apt.log" 2>&1 ||
    { apt-get update -qq > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "$tmp/apt.log" 2>&1; }
  chrome=$(command -v chromium || true)
fi

"$bin" train --quiet --model "$tmp/model" "$src"/data/corpus/*.jsonl || { echo "FAIL: train"; exit 1; }
"$bin" simulate --quiet --nodes 300 --degree 10 --warmup-days 3 --attack-hours 12 \
  --spimmers 3 --spim-msgs 40 > "$tmp/sim.jsonl" || { echo "FAIL: simulate"; exit 1; }

printf '# policy of the test daemon\nsuspend_hours = 0\n' > "$tmp/policy.conf"
"$bin" serve --port 0 --model "$tmp/model" --data-dir "$tmp/data" --set policy_file="$tmp/policy.conf" \
  > "$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$tmp/serve.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: daemon did not start"; cat "$tmp/serve.log"; exit 1; }

# --- feed the worm (batches of 500, ground truth stripped)
"$py" - "$tmp/sim.jsonl" "$port" "$tmp/innocent" <<'EOF' || bad "feeding the daemon"
import json, sys, urllib.request
path, port, out = sys.argv[1], sys.argv[2], sys.argv[3]
msgs, bad_accounts, ham_senders, last = [], set(), {}, 0
for line in open(path):
    m = json.loads(line)
    if m["truth_compromised_at"] is not None or m["truth_kind"] != "ham":
        bad_accounts.add(m["from"])
    else:
        ham_senders[m["from"]] = ham_senders.get(m["from"], 0) + 1
    msgs.append({k: v for k, v in m.items() if not k.startswith("truth_")})
    last = max(last, m["ts"])
for i in range(0, len(msgs), 500):
    r = urllib.request.Request(f"http://127.0.0.1:{port}/v1/check", method="POST",
                               data=json.dumps(msgs[i:i + 500]).encode())
    urllib.request.urlopen(r).read()
innocent = max((a for a in ham_senders if a not in bad_accounts), key=ham_senders.get)
open(out, "w").write(f"{innocent} {last + 60000}")
EOF
read -r innocent next_ts < "$tmp/innocent" # the stream's own clock goes on

# --- 50 fresh accounts flood false reports against one innocent account
accepted=0
for i in $(seq -w 1 50); do
  req POST /v1/report "{\"reporter\":\"fresh$i@throwaway.example\",\"account\":\"$innocent\",\"label\":\"spam\"}"
  [ "$code" = 200 ] && accepted=$((accepted+1))
done
expect "the 50 false reports are taken ($accepted)" '[ "$accepted" = 50 ]'
req GET "/v1/accounts/$innocent"
expect "the innocent account is not suspended (status $(j 'd["status"]'))" \
  '[ "$code" = 200 ] && [ "$(j "d[\"status\"]")" = ok ] && [ "$(j "d[\"reports\"][\"spam\"]")" = 50 ]'
req POST /v1/check "{\"from\":\"$innocent\",\"to\":\"someone@sim.example\",\"ts\":$next_ts,\"contact\":true,\"text\":\"see you at the station at six\"}"
expect "its next message is delivered with no account action" \
  '[ "$(j "d[\"action\"], d[\"account_action\"]")" = "deliver none" ]'
req GET /v1/enforcement/accounts
expect "it has no enforcement case" '[ "$(j "any(a[\"id\"] == \"$innocent\" for a in d[\"accounts\"])")" = False ]'
expect "the worm's senders do (locked)" '[ "$(j "sum(a[\"status\"] == \"locked\" for a in d[\"accounts\"]) > 0")" = True ]'
locked=$(j '[a["id"] for a in d["accounts"] if a["status"] == "locked"][0]')
confirmed=$(j '[a["id"] for a in d["accounts"] if a["status"] == "locked"][1]')

# --- appeal and decisions
req POST "/v1/accounts/$innocent/appeal" '{"text":"why?"}'
expect "an account with no action cannot appeal (404)" '[ "$code" = 404 ]'
req POST "/v1/accounts/$locked/appeal" '{"text":"it was me sharing a video"}'
expect "appeal of a locked account is open" '[ "$code" = 200 ] && [ "$(j "d[\"appeal\"]")" = open ]'
req POST "/v1/accounts/$confirmed/appeal" '{"text":"please"}'
req POST "/v1/report" "{\"reporter\":\"fresh01@throwaway.example\",\"account\":\"$confirmed\",\"label\":\"spam\"}"
req POST "/v1/accounts/$confirmed/decision" '{"decision":"maybe"}'
expect "a decision must be clear or confirm (400)" '[ "$code" = 400 ]'
req GET "/v1/accounts/$confirmed/decision"
expect "decision is POST only (405)" '[ "$code" = 405 ]'
req POST "/v1/accounts/$confirmed/decision" '{"decision":"clear","operator":"op-kim","note":"owner verified"}'
expect "clearing restores the account and penalizes its reporter" \
  '[ "$code" = 200 ] && [ "$(j "d[\"case\"][\"status\"], d[\"case\"][\"appeal\"], d[\"reporters_penalized\"]")" = "ok cleared 1" ] && [ "$(j "d[\"learned_ham\"] > 0")" = True ]'
req GET /v1/enforcement/appeals
expect "one appeal stays open" '[ "$(j "len(d[\"appeals\"])")" = 1 ] && [ "$(j "d[\"appeals\"][0][\"id\"]")" = "$locked" ]'
req GET /v1/enforcement/summary
expect "summary: evidence entries and the decision counted" \
  '[ "$(j "d[\"evidence\"][\"entries\"] > 10 and d[\"enforcement\"][\"cleared\"] == 1")" = True ]'

# --- the dashboard in headless Chromium
req GET /dashboard.js
expect "dashboard.js is served" '[ "$code" = 200 ]'
if [ -z "$chrome" ]; then
  echo "SKIP: no chromium (not root, or the package cannot be installed): dashboard not rendered"
else
  flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
         --disable-background-networking --disable-component-update --disable-sync
         --virtual-time-budget=8000 --window-size=1400,2200)
  timeout 120 "$chrome" "${flags[@]}" --user-data-dir="$tmp/c1" --screenshot="$build/dashboard.png" \
    "http://127.0.0.1:$port/" > /dev/null 2>&1
  expect "a screenshot is taken ($build/dashboard.png)" '[ "$(stat -c %s "$build/dashboard.png" 2>/dev/null || echo 0)" -gt 20000 ]'
  timeout 120 "$chrome" "${flags[@]}" --user-data-dir="$tmp/c2" --dump-dom \
    "http://127.0.0.1:$port/" > "$tmp/dom.html" 2> /dev/null
  "$py" - "$tmp/dom.html" "$locked" > "$tmp/dom.txt" <<'EOF'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.text = {}; s.rows = {}; s.circles = 0; s.loaded = False
    def handle_starttag(s, tag, a):
        a = dict(a)
        s.stack.append(a.get("id"))
        if tag == "body" and a.get("data-loaded") == "1": s.loaded = True
        if tag == "tr":
            for k in ("campaign", "account", "appeal", "report"):
                if (a.get("class") or "").split()[:1] == [k]: s.rows[k] = s.rows.get(k, 0) + 1
        if tag == "circle": s.circles += 1
    def handle_endtag(s, tag):
        if s.stack: s.stack.pop()
    def handle_data(s, d):
        for i in s.stack:
            if i: s.text[i] = s.text.get(i, "") + d
p = P(); p.feed(open(sys.argv[1]).read())
num = lambda k: int(p.text.get(k, "0").strip() or 0)
print("loaded", p.loaded)
print("campaign_rows", p.rows.get("campaign", 0))
print("graph_nodes", p.circles)
print("total_checks", num("total-checks"))
print("locked", num("count-locked"))
print("suspended", num("count-suspended"))
print("appeal_rows", p.rows.get("appeal", 0))
print("report_rows", p.rows.get("report", 0))
print("appeal_names_locked", sys.argv[2] in p.text.get("appeals", ""))
print("status_live", p.text.get("status", "").startswith("live"))
EOF
  v() { awk -v k="$1" '$1 == k {print $2}' "$tmp/dom.txt"; }
  expect "the page loaded its data (status live)" '[ "$(v loaded)" = True ] && [ "$(v status_live)" = True ]'
  expect "campaigns are listed ($(v campaign_rows))" '[ "$(v campaign_rows)" -gt 0 ]'
  expect "the spread graph is drawn ($(v graph_nodes) nodes)" '[ "$(v graph_nodes)" -gt 2 ]'
  expect "messages counted ($(v total_checks))" '[ "$(v total_checks)" -gt 6000 ]'
  expect "locked accounts counted ($(v locked))" '[ "$(v locked)" -gt 0 ]'
  expect "suspended spimmers counted ($(v suspended))" '[ "$(v suspended)" -gt 0 ]'
  expect "the open appeal is shown" '[ "$(v appeal_rows)" = 1 ] && [ "$(v appeal_names_locked)" = True ]'
  expect "recent reports are shown ($(v report_rows))" '[ "$(v report_rows)" -gt 0 ]'
fi

# --- SIGHUP reloads the policy file
printf 'dry_run = true\nevidence_dir = /elsewhere\n' > "$tmp/policy.conf"
kill -HUP "$pid"
for _ in $(seq 50); do
  req GET /v1/enforcement/summary
  [ "$(j 'd["policy"]["dry_run"]')" = True ] && break
  sleep 0.1
done
expect "SIGHUP: the policy's dry_run takes effect without a restart" '[ "$(j "d[\"policy\"][\"dry_run\"]")" = True ]'
expect "SIGHUP: keys that need a restart are named in the log" 'grep -q "policy: evidence_dir changed; they need a restart" "$tmp/serve.log"'

# --- stop; the evidence log verifies, appeal and decision included
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
"$bin" evidence verify --data-dir "$tmp/data" > "$tmp/out"
expect "the daemon's evidence log verifies after a clean stop" '[ $? = 0 ] && grep -q "0 entries after it not signed" "$tmp/out"'
expect "appeal and decision are in the log" \
  'grep -q "\"kind\":\"appeal\"" "$tmp/data/evidence/log.jsonl" && grep -q "\"kind\":\"decision\",.*\"actor\":\"op-kim\"" "$tmp/data/evidence/log.jsonl"'

echo "cli_dashboard: $passes passed, $fails failed"
[ "$fails" = 0 ]
