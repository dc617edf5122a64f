#!/usr/bin/env bash
# cli_serve.sh -- `spimguard serve` end to end over HTTP with curl, on a
# free loopback port: every endpoint, bearer auth (config < env < option),
# the body limit, JSON errors with 4xx codes, batches, reports by id and
# by content with the per-reporter limit, accounts, campaigns, /metrics,
# SIGHUP reload (token and blocklist), SIGTERM (in-flight request answered,
# exit 0), and state + learned model kept in --data-dir across a restart.
#   usage: cli_serve.sh SPIMGUARD SRC_DIR BUILD_DIR
set -u
bin=$1; src=$2; build=$3
py=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0; passes=0
ok()  { passes=$((passes+1)); }
bad() { echo "FAIL: $*"; fails=$((fails+1)); }
expect() { if eval "$2"; then ok; else bad "$1"; echo "  body: $(head -c 400 "$tmp/body" 2>/dev/null)"; fi; }

# A model from the corpora shipped in data/ (the build may have none).
"$bin" train --quiet --model "$tmp/model" "$src"/data/corpus/*.jsonl || { echo "FAIL: train"; exit 1; }

# start NAME [args...]: run the daemon in the background, wait for its port.
start() {
  local name=$1; shift
  "$bin" serve --port 0 --model "$tmp/model" "$@" > "$tmp/$name.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$tmp/$name.log")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: daemon $name did not start"; cat "$tmp/$name.log"; exit 1
}

# req METHOD PATH [BODY|@FILE] [TOKEN]: sets $code and $ctype; body in $tmp/body.
req() {
  local m=$1 path=$2 data=${3:-} tok=${4-$token}
  local args=(-s -o "$tmp/body" -w '%{http_code} %{content_type}' -X "$m")
  [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
  [ -n "$data" ] && args+=(--data-binary "$data")
  read -r code ctype < <(curl "${args[@]}" "http://127.0.0.1:$port$path")
}
# jq-like: j 'EXPR' evaluates a Python expression on d = the JSON body.
j() { "$py" -c "import json,sys; d=json.load(open('$tmp/body')); print($1)" 2>/dev/null; }
is_json_error() { [ "${ctype%%;*}" = application/json ] && [ -n "$(j 'd["error"]')" ]; }
metric() { curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

cat > "$tmp/serve.conf" <<EOF
# test config
token = filetok
report_burst = 3
report_per_hour = 1
max_batch = 50
max_body_bytes = 65536
blocklist_file = $tmp/block.txt
EOF
: > "$tmp/block.txt"
SPIMGUARD_TOKEN=envtok start main --config "$tmp/serve.conf"
main_pid=$pid
token=envtok

# --- health and auth
req GET /healthz "" ""
expect "healthz needs no token (got $code)" '[ "$code" = 200 ] && [ "$(j "d[\"status\"]")" = ok ]'
req POST /v1/check '{"from":"a","to":"b","text":"hi"}' ""
expect "check without token is 401 with a JSON error (got $code)" '[ "$code" = 401 ] && is_json_error'
req POST /v1/check '{"from":"a","to":"b","text":"hi"}' filetok
expect "env token overrides the config file's (got $code)" '[ "$code" = 401 ]'
req GET /metrics "" wrongtoken
expect "metrics with a wrong token is 401 (got $code)" '[ "$code" = 401 ] && is_json_error'
req GET /metrics
expect "a fresh daemon has taken no online step (training steps not counted)" \
  'grep -q "^spimguard_model_updates_total 0$" "$tmp/body"'

# --- single checks
req POST /v1/check '{"id":"h1","from":"carol@x","to":"bob@x","contact":true,"text":"are we still on for lunch tomorrow at noon?"}'
expect "ham is delivered (got $code)" '[ "$code" = 200 ] && [ "$(j "d[\"action\"]")" = deliver ] && [ "$(j "d[\"id\"]")" = h1 ]'
req POST /v1/check '{"id":"s1","from":"spammer@x","to":"bob@x","contact":false,"text":"URGENT! You have won a 1 week FREE membership in our £100,000 Prize Jackpot! Txt the word: CLAIM to No: 81010 T&C www.dbuk.net LCCLTD POBOX 4403LDNW1A7RW18"}'
expect "spim from a stranger is not delivered, labelled spim + stranger" \
  '[ "$code" = 200 ] && [[ "$(j "d[\"action\"]")" =~ ^(hold|drop)$ ]] && [ "$(j "\"spim\" in d[\"labels\"] and \"stranger\" in d[\"labels\"]")" = True ]'
req POST /v1/check '{"id":"p1","from":"carol@x","to":"bob@x","contact":true,"text":"hey, can you check this for me? https://rnicrosoft-login.com/verify"}'
expect "lookalike link is flagged with its reason" \
  '[ "$(j "\"lookalike_url\" in d[\"labels\"]")" = True ] && grep -q "rnicrosoft-login.com looks like microsoft.com" "$tmp/body"'

# --- errors: every one JSON with a 4xx
req POST /v1/check '{"from":"a","text":"no recipient"}'
expect "missing field is 400 naming it" '[ "$code" = 400 ] && is_json_error && [ "$(j "d[\"error\"]")" = "missing field \"to\"" ]'
req POST /v1/check 'this is not json'
expect "invalid JSON is 400" '[ "$code" = 400 ] && is_json_error'
printf '{"from":"a","to":"b","text":"caf\xc3"}' > "$tmp/bad-utf8.json"
req POST /v1/check "@$tmp/bad-utf8.json"
expect "invalid UTF-8 is 400" '[ "$code" = 400 ] && is_json_error && j "d[\"error\"]" | grep -q UTF-8'
req POST /v1/check '"hi"'
expect "a JSON string is 400 naming what is expected" '[ "$code" = 400 ] && is_json_error && j "d[\"error\"]" | grep -q "expected a message object or an array"'
req POST /v1/check '42'
expect "a JSON number is 400 too" '[ "$code" = 400 ] && j "d[\"error\"]" | grep -q "expected a message object"'
req GET /metrics
errs0=$(sed -n 's/^spimguard_check_errors_total //p' "$tmp/body")
req POST /v1/check ''
expect "empty body is 400" '[ "$code" = 400 ] && is_json_error'
req GET /metrics
expect "... and counted in spimguard_check_errors_total" \
  '[ "$(sed -n "s/^spimguard_check_errors_total //p" "$tmp/body")" = $((errs0 + 1)) ]'
req GET /v1/check
expect "GET /v1/check is 405" '[ "$code" = 405 ] && is_json_error'
req GET /v1/nowhere
expect "unknown path is 404" '[ "$code" = 404 ] && is_json_error'
req GET '/v1/accounts/%FFa%C3'
expect "a path that is not UTF-8 is 404 with an error that is still JSON (got $code)" \
  '[ "$code" = 404 ] && is_json_error'
# an error that echoes a long path is cut to 511 bytes: never inside a
# character (2- and 3-byte ones), or the answer would not be JSON
for ch in %C3%A9 %E2%82%AC; do
  long=; for _ in $(seq 300); do long+=$ch; done
  req GET "/v1/nowhere/$long"
  expect "a long non-ASCII path is cut at a whole character in the 404 ($ch, got $code)" \
    '[ "$code" = 404 ] && is_json_error'
done
head -c 70000 /dev/zero | tr '\0' a > "$tmp/big.txt"
req POST /v1/check "@$tmp/big.txt"
expect "body over max_body_bytes is 413 (got $code)" '[ "$code" = 413 ] && is_json_error'
read -r code ctype < <(curl -s -o "$tmp/body" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $token" \
  -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/big.txt" "http://127.0.0.1:$port/v1/check")
expect "chunked body over the limit is 413 (got $code)" '[ "$code" = 413 ] && is_json_error'
"$bin" serve --help > "$tmp/help.txt"
expect "serve --help lists the config keys" 'grep -q "max_body_bytes" "$tmp/help.txt" && grep -q SPIMGUARD_TOKEN "$tmp/help.txt"'

# --- batches
req POST /v1/check '[{"id":"b1","from":"a@x","to":"b@x","text":"see you at 5"},{"id":"b2","from":"a@x"},{"id":"b3","from":"spammer@x","to":"c@x","contact":false,"text":"WINNER!! You have won a £1000 cash prize. Call 09061701461 to claim now"}]'
expect "batch answers each element in order" '[ "$code" = 200 ] && [ "$(j "len(d)")" = 3 ] && [ "$(j "d[0][\"id\"]")" = b1 ] && [ "$(j "d[2][\"id\"]")" = b3 ]'
expect "a bad element gets its own error" '[ "$(j "d[1][\"error\"]")" = "missing field \"to\"" ] && [ "$(j "d[1][\"index\"]")" = 1 ]'
expect "batch judges spam as spam" '[[ "$(j "d[2][\"action\"]")" =~ ^(warn|hold|drop)$ ]]'
req POST /v1/check '[{"id":"d1","from":"a@x","to":"b@x","text":"hi","text":"WIN"}]'
expect "a name repeated in a batch element is invalid JSON (got $code)" '[ "$code" = 400 ] && is_json_error'
"$py" -c 'import json; print(json.dumps([{"from":"a","to":"b","text":"x"}]*51))' > "$tmp/b51.json"
req POST /v1/check "@$tmp/b51.json"
expect "batch over max_batch is 413" '[ "$code" = 413 ] && is_json_error'
req POST /v1/check '[1, "x"]'
expect "batch of non-objects: per-element errors" '[ "$code" = 200 ] && [ -n "$(j "d[0][\"error\"]")" ]'

# --- reports
req POST /v1/report '{"reporter":"bob@x","id":"s1","label":"spam"}'
expect "report by id from the recipient is taken and learned" \
  '[ "$code" = 200 ] && [ "$(j "d[\"learned\"]")" = True ] && [ "$(j "d[\"account\"]")" = spammer@x ]'
req POST /v1/report '{"reporter":"eve@x","id":"s1","label":"spam"}'
expect "report by someone who did not receive the message is 403" '[ "$code" = 403 ] && is_json_error'
req POST /v1/report '{"reporter":"bob@x","id":"nope","label":"spam"}'
expect "report naming an unknown id is 404" '[ "$code" = 404 ] && is_json_error'
req POST /v1/report '{"reporter":"bob@x","id":"s1","label":"maybe"}'
expect "report with a bad label is 400" '[ "$code" = 400 ] && is_json_error'
req POST /v1/report '{"label":"spam","id":"s1"}'
expect "report without reporter is 400" '[ "$code" = 400 ] && is_json_error'
req POST /v1/report '{"reporter":"bob@x","label":"spam","message":{"from":"spammer@x","to":"bob@x","text":"WINNER!! claim your prize now, call 09061701461"}}'
expect "report by content is taken but not learned (the text is the caller's claim)" \
  '[ "$code" = 200 ] && [ "$(j "d[\"accepted\"]")" = True ] && [ "$(j "d[\"learned\"]")" = False ]'
req POST /v1/report '{"reporter":"bob@x","label":"spam","account":"spammer@x"}'
expect "third report is within the burst of 3" '[ "$code" = 200 ]'
expect "a repeated report about the same account is not counted twice" '[ "$(j "d[\"counted\"]")" = False ]'
req POST /v1/report '{"reporter":"bob@x","label":"spam","account":"carol@x"}'
expect "fourth report in a row is rate limited: 429" '[ "$code" = 429 ] && is_json_error'

# --- accounts and campaigns
req GET /v1/accounts/spammer@x
expect "account view shows state and report tally" \
  '[ "$code" = 200 ] && [ "$(j "d[\"status\"]")" = ok ] && [ "$(j "d[\"reports\"][\"spam\"]")" = 1 ] && [ "$(j "d[\"profile\"][\"stranger_messages\"] >= 1")" = True ]'
req GET /v1/accounts/nobody@x
expect "unknown account is 404" '[ "$code" = 404 ] && is_json_error'
req POST /v1/check '{"from":"fastclock@x","to":"bob@x","text":"see you soon","ts":"2031-01-01T00:00:00Z"}'
req GET /v1/accounts/fastclock@x
expect "a ts years ahead of the daemon's clock is taken at the wall clock" \
  '[ "$code" = 200 ] && [ "$(j "1700000000000 < d[\"first_seen_ms\"] < 1893456000000")" = True ]'
yesterday=$(( $(date +%s) * 1000 - 86400000 ))
req POST /v1/check '{"from":"history@x","to":"bob@x","text":"see you soon","ts":'$yesterday'}'
req GET /v1/accounts/history@x
expect "a ts in the past (history import) is kept" \
  '[ "$code" = 200 ] && [ "$(j "d[\"first_seen_ms\"]")" = '$yesterday' ]'
# an id longer than the store keys hold (512 bytes: hashed there) and than
# the old 1,024-byte path buffer: checked, reported, viewed and reset
long=$("$py" -c 'print("d" * 1500 + "@example.org")')
req POST /v1/check '{"from":"'$long'","to":"bob@x","text":"see you soon"}'
req POST /v1/report '{"reporter":"erin@x","label":"spam","account":"'$long'"}'
expect "a report about an account with a 1,512-byte id is counted (got $code)" \
  '[ "$code" = 200 ] && [ "$(j "d[\"counted\"]")" = True ]'
req GET "/v1/accounts/$long"
expect "an account with a 1,512-byte id can be viewed, its report tally too (got $code)" \
  '[ "$code" = 200 ] && [ "$(j "len(d[\"id\"])")" = 1512 ] && [ "$(j "d[\"reports\"][\"spam\"]")" = 1 ]'
req POST "/v1/accounts/$long/reset"
expect "an account with a 1,512-byte id can be reset (got $code)" '[ "$code" = 200 ]'
"$py" - > "$tmp/camp.json" <<'EOF'
import json
t = "Your parcel is waiting, confirm delivery here: https://parcel-redelivery-fee.com/track?c=%d today"
print(json.dumps([{"id": "c%d" % i, "from": "bulk%d@x" % (i % 4), "to": "victim%d@x" % i,
                   "contact": False, "text": t % i} for i in range(24)]))
EOF
req POST /v1/check "@$tmp/camp.json"
camp=$(j 'd[-1]["campaign"]')
expect "a bulk run from several senders forms a campaign" '[ -n "$camp" ] && [ "$camp" != None ]'
req GET /v1/campaigns
expect "GET /v1/campaigns lists it with its senders and URL" \
  '[ "$code" = 200 ] && [ "$(j "[c for c in d[\"campaigns\"] if c[\"id\"] == \"$camp\"][0][\"senders\"] >= 2")" = True ]'
req GET "/v1/campaigns/$camp"
expect "GET /v1/campaigns/ID shows one campaign" '[ "$code" = 200 ] && [ "$(j "d[\"id\"]")" = "$camp" ]'
req GET /v1/campaigns/c000000000000
expect "unknown campaign is 404" '[ "$code" = 404 ] && is_json_error'

# --- metrics
expect "metrics count delivered checks" '[ "$(metric "spimguard_checks_total{action=\"deliver\"}")" -ge 2 ]'
expect "metrics count the spim label" '[ "$(metric "spimguard_check_labels_total{label=\"spim\"}")" -ge 2 ]'
expect "metrics count accepted and rate-limited reports (bob's 3, erin's 1)" \
  '[ "$(metric "spimguard_reports_total{label=\"spam\",result=\"accepted\"}")" = 4 ] && [ "$(metric "spimguard_reports_total{label=\"spam\",result=\"rate_limited\"}")" = 1 ]'
expect "metrics have the latency histogram" '[ "$(metric "spimguard_request_duration_seconds_count{kind=\"single\"}")" -ge 3 ]'
expect "metrics show model and store sizes" '[ "$(metric spimguard_model_weights)" = 4194304 ] && [ "$(metric "spimguard_store_keys{backend=\"memory\"}")" -gt 0 ]'
expect "metrics count batch errors" '[ "$(metric spimguard_check_errors_total)" -ge 3 ]'

# --- SIGHUP: new token, new blocklist entry
req POST /v1/check '{"from":"a@x","to":"b@x","contact":true,"text":"look https://totally-harmless-example.net/x"}'
expect "domain not blocklisted before reload" '[ "$(j "\"blocklisted_url\" in d[\"labels\"]")" = False ]'
echo totally-harmless-example.net > "$tmp/block.txt"
sed -i 's/^token = filetok/token = newtok/' "$tmp/serve.conf"
kill -HUP "$main_pid"
for _ in $(seq 50); do grep -q "reloaded config" "$tmp/main.log" && break; sleep 0.1; done
req POST /v1/check '{"from":"a@x","to":"b@x","contact":true,"text":"look https://totally-harmless-example.net/x"}'
expect "env token still wins over the reloaded file" '[ "$code" = 200 ]'
expect "blocklist reloaded on SIGHUP" '[ "$(j "\"blocklisted_url\" in d[\"labels\"]")" = True ]'
expect "reload counted" '[ "$(metric "spimguard_reloads_total{result=\"ok\"}")" = 1 ]'
echo "port = banana" >> "$tmp/serve.conf"
kill -HUP "$main_pid"
for _ in $(seq 50); do grep -q "reload failed" "$tmp/main.log" && break; sleep 0.1; done
expect "a bad config on reload is refused and the daemon keeps running" \
  'grep -q "reload failed, old config kept: .*port: \"banana\" is not a number" "$tmp/main.log" && kill -0 $main_pid'

# --- SIGTERM with a request in flight
"$py" -c 'import json; print(json.dumps([{"from":"u%d"%i,"to":"v","text":"hello there number %d, see you soon"%i} for i in range(50)]))' > "$tmp/b50.json"
curl -s -o "$tmp/inflight.json" -H "Authorization: Bearer $token" --data-binary "@$tmp/b50.json" "http://127.0.0.1:$port/v1/check" &
cpid=$!
kill -TERM "$main_pid"
wait "$cpid"; crc=$?
wait "$main_pid"; rc=$?
expect "SIGTERM: exit 0 (got $rc)" '[ $rc -eq 0 ] && grep -q "stopped" "$tmp/main.log"'
expect "in-flight request answered or refused cleanly (curl $crc)" \
  '[ $crc -ne 0 ] || "$py" -c "import json; d=json.load(open(\"$tmp/inflight.json\")); assert len(d)==50 or \"error\" in d"'
expect "port closed after stop" '! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"'

# --- more batches at once than the request threads' queue holds (4 per
# thread): the overflow runs on the HTTP workers; every batch is answered
# in full and in order
start burst --token t4 --threads 2
cat > "$tmp/burst.py" <<'EOF'
import http.client, json, sys, threading
port = int(sys.argv[1])
hdr = {"Authorization": "Bearer t4", "Content-Type": "application/json"}
res = [None] * 24
def go(k):
    body = json.dumps([{"id": "k%d-%d" % (k, i), "from": "b%d@x" % k, "to": "r%d@x" % i,
                        "text": "meeting moved to %d, bring the slides" % i} for i in range(200)])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/check", body, hdr)
    r = c.getresponse(); d = json.loads(r.read())
    res[k] = r.status == 200 and [v.get("id") for v in d] == ["k%d-%d" % (k, i) for i in range(200)]
ts = [threading.Thread(target=go, args=(k,)) for k in range(24)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sum(1 for x in res if x))
EOF
out=$("$py" "$tmp/burst.py" "$port" 2>&1)
expect "24 batches at once over a queue of 8: all answered in full and in order (got $out)" '[ "$out" = 24 ]'
kill -TERM "$pid"; wait "$pid"

# --- SIGTERM does not wait for a client that never finishes its body: its
# request was never in flight (drain_ms is 20 s here; the exit comes at once)
start halfbody --token t5 --set drain_ms=20000
"$py" - "$port" "$pid" > "$tmp/half.out" 2>&1 <<'EOF' &
import os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t5\r\n"
          b"Content-Length: 1000\r\n\r\n{\"from\":\"a")
time.sleep(0.5)
t0 = time.monotonic(); os.kill(pid, signal.SIGTERM)
while True:
    try: os.kill(pid, 0)
    except OSError: break
    if time.monotonic() - t0 > 15: break
    time.sleep(0.05)
print("%.1f" % (time.monotonic() - t0))
time.sleep(0.2)
EOF
hpid=$!
wait "$pid"; rc=$?
wait "$hpid"
secs=$(cat "$tmp/half.out")
expect "SIGTERM with a half-sent body open: exit 0 without waiting for drain_ms (exit $rc after $secs s)" \
  '[ $rc -eq 0 ] && awk -v s="$secs" "BEGIN{exit !(s+0 < 10)}"'

# --- SIGTERM with batches running on the request threads: each connection
# is first used for /healthz (so the daemon holds it), then four 1000-message
# batches go out at once and SIGTERM follows; every batch must be answered
# (200 with 1000 verdicts, or a clean 503 if it arrived after the drain
# began), the daemon must exit 0, and no connection may be dropped unanswered.
start drain --token t3 --threads 2
cat > "$tmp/drain.py" <<'EOF'
import http.client, json, os, signal, sys, threading
port, pid = int(sys.argv[1]), int(sys.argv[2])
texts = ["see you at the station at %d" % i for i in range(50)] + \
        ["WINNER!! claim your £%d prize, call 09061701461 now" % i for i in range(50)]
body = json.dumps([{"from": "s%d@x" % i, "to": "r@x", "text": texts[i % 100]}
                   for i in range(1000)])
hdr = {"Authorization": "Bearer t3", "Content-Type": "application/json"}
conns = []
for _ in range(4):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/healthz"); c.getresponse().read()
    conns.append(c)
for c in conns:
    c.request("POST", "/v1/check", body, hdr)
# SIGTERM once a batch is being answered (its whole body arrived), so that
# the drain has one to finish even on a loaded machine: in flight counts
# this /metrics request too, hence >= 2; a batch may also be done already
import time
probe = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
until = time.time() + 5
while time.time() < until:
    probe.request("GET", "/metrics", headers=hdr)
    m = probe.getresponse().read().decode()
    busy = [l for l in m.splitlines() if l.startswith("spimguard_inflight_requests ")]
    done = [l for l in m.splitlines() if l.startswith("spimguard_request_duration_seconds_count{kind=\"batch\"}")]
    if (busy and int(busy[0].split()[1]) >= 2) or (done and float(done[0].split()[1]) >= 1):
        break
    time.sleep(0.01)
probe.close()
os.kill(pid, signal.SIGTERM)
ok = refused = 0
for c in conns:
    r = c.getresponse(); d = json.loads(r.read())
    if r.status == 200 and len(d) == 1000 and all("action" in v for v in d): ok += 1
    elif r.status == 503 and "error" in d: refused += 1
    else: sys.exit("bad answer: %d %.200s" % (r.status, d))
print(ok, refused)
EOF
out=$("$py" "$tmp/drain.py" "$port" "$pid" 2>&1); prc=$?
wait "$pid"; rc=$?
expect "SIGTERM with 4 batches on the request threads: all answered ($out), exit $rc" \
  '[ $prc -eq 0 ] && [ $rc -eq 0 ] && [ "$(echo "$out" | awk "{print \$1 + \$2}")" = 4 ] && [ "$(echo "$out" | awk "{print \$1}")" -ge 1 ]'

# --- bad config / options
"$bin" serve --set port=banana > "$tmp/bad.log" 2>&1; rc=$?
expect "a bad option value exits 2 with the reason" '[ $rc -eq 2 ] && grep -q "port: \"banana\" is not a number" "$tmp/bad.log"'
"$bin" serve --listen 0.0.0.0 --port 0 --model "$tmp/model" > "$tmp/open.log" 2>&1; rc=$?
expect "refuses a non-loopback address without a token (exit 2, usage)" '[ $rc -eq 2 ] && grep -q "without a token" "$tmp/open.log"'

# --- --data-dir: LMDB state and the learned model survive a restart
token=t2
start dd --token t2 --data-dir "$tmp/dd"
req POST /v1/check '{"id":"d1","from":"zed@x","to":"amy@x","text":"WINNER!! claim your cash prize, call 09061701461 now"}'
req POST /v1/report '{"reporter":"amy@x","id":"d1","label":"spam"}'
expect "report in data-dir daemon learned" '[ "$(j "d[\"learned\"]")" = True ]'
kill -TERM "$pid"; wait "$pid"; rc=$?
expect "data-dir daemon stops with 0 and saves the learned model" '[ $rc -eq 0 ] && [ -s "$tmp/dd/model.bin" ]'
start dd2 --token t2 --data-dir "$tmp/dd"
expect "restart loads the learned model" 'grep -q "model $tmp/dd/model.bin" "$tmp/dd2.log"'
req GET /v1/accounts/zed@x
expect "restart keeps account state in LMDB (got $code)" '[ "$code" = 200 ] && [ "$(j "d[\"profile\"][\"messages\"]")" = 1 ]'
kill -TERM "$pid"; wait "$pid"

# --- a short soak with the load generator (the documented figures use
# bench/serve_load.sh with 5 minutes): no errors, clean SIGTERM
if [ -x "$build/bench_serve" ]; then
  shared="${SG_SHARED_DATA:-$src/../shared/data}/sms_spam_collection/test.jsonl"
  [ -f "$shared" ] || shared="$src/data/corpus/sms_spam_train.jsonl"
  for mode in single batch; do
    "$build/bench_serve" --spawn "$bin" --model "$tmp/model" --data "$shared" \
      --mode $mode --batch 100 --conns 4 --seconds "${SG_SOAK_SECONDS:-3}" > "$tmp/soak.txt" 2>&1; rc=$?
    expect "soak ($mode): no errors, daemon exits 0 (rc $rc: $(tr '\n' ' ' < "$tmp/soak.txt"))" \
      '[ $rc -eq 0 ] && grep -q "^errors: 0" "$tmp/soak.txt" && grep -q "exit status after SIGTERM: 0" "$tmp/soak.txt"'
  done
fi

echo "cli_serve: $passes passed, $fails failed"
[ $fails -eq 0 ]
