#!/usr/bin/env bash
# cli_prosody.sh -- end to end with a real IM server: Prosody (Debian) with
# integrations/prosody/mod_spimguard.lua, a `spimguard serve` daemon, and
# real XMPP clients (tests/xmpp/e2e.py, python3-slixmpp).  Installs prosody
# and python3-slixmpp from Debian when missing, runs everything on free
# loopback ports in a fresh directory, and stops every process by its PID,
# also on failure.  The checks themselves are in e2e.py (issue 5, part 3).
#   usage: cli_prosody.sh SPIMGUARD SRC_DIR BUILD_DIR
#   also:  cli_prosody.sh --setup-only SPIMGUARD SRC_DIR BUILD_DIR [on|off]
#          (bench/prosody_latency.sh: start, print ports, wait for SIGTERM)
set -u
setup_only=0
if [ "${1:-}" = --setup-only ]; then setup_only=1; shift; fi
bin=$1; src=$2; build=$3; module=${4:-on}
py=/usr/bin/python3

# --- packages (root on the CI machine; update the index only if needed)
need=()
command -v prosody >/dev/null || need+=(prosody)
$py -c 'import slixmpp' 2>/dev/null || need+=(python3-slixmpp)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
    { echo "FAIL: cannot install ${need[*]}"; exit 1; }
  # The package may start its own service on 5222; this test does not need it.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prosody 2>/dev/null; then
    systemctl disable --now prosody >/dev/null 2>&1
  fi
fi

tmp=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  pids=()
}
cleanup() { stop_all; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PID PORT: wait until PORT accepts connections while PID lives
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || return 1
    $py -c "import socket,sys; socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- the daemon
"$bin" train --quiet --model "$tmp/model" "$src"/data/corpus/*.jsonl || { echo "FAIL: train"; exit 1; }
token=e2e-$$-$RANDOM
SPIMGUARD_TOKEN=$token "$bin" serve --port 0 --model "$tmp/model" > "$tmp/daemon.log" 2>&1 &
dpid=$!; pids+=("$dpid")
for _ in $(seq 100); do
  dport=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$tmp/daemon.log")
  [ -n "$dport" ] && break; sleep 0.1
done
[ -n "${dport:-}" ] || { echo "FAIL: daemon did not start"; cat "$tmp/daemon.log"; exit 1; }

# --- Prosody on a free loopback port, as a child, with a fresh data_path
xport=$(free_port)
fport=$(free_port) # the fake daemon of e2e.py's module mode
mkdir -p "$tmp/data" "$tmp/certs" "$tmp/plugins"
cp "$src/integrations/prosody/mod_spimguard.lua" "$tmp/plugins/"
enabled='"roster"; "saslauth"; "disco"; "blocklist"; "ping"; "admin_shell"; "admin_socket";'
[ "$module" = on ] && enabled="$enabled \"spimguard\";"
cat > "$tmp/prosody.cfg.lua" <<EOF
run_as_root = true
pidfile = "$tmp/prosody.pid"
data_path = "$tmp/data"
plugin_paths = { "$tmp/plugins" }
certificates = "$tmp/certs"
interfaces = { "127.0.0.1" }
c2s_ports = { $xport }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = false
authentication = "internal_hashed"
storage = "internal"
log = { { levels = { min = "info" }, to = "file", filename = "$tmp/prosody.log" } }
modules_enabled = { $enabled }
modules_disabled = { "s2s"; "offline" }
spimguard_url = "http://127.0.0.1:$dport"
spimguard_token = "$token"
spimguard_timeout = 2
VirtualHost "localhost"
VirtualHost "fake.test"
  spimguard_url = "http://127.0.0.1:$fport"
  spimguard_token = "fake-token"
  spimguard_timeout = 0.5
  spimguard_fail_open = false
EOF
prosody --config "$tmp/prosody.cfg.lua" -F > "$tmp/prosody.out" 2>&1 &
ppid=$!; pids+=("$ppid")
if ! wait_port "$ppid" "$xport"; then
  echo "FAIL: prosody did not start"; cat "$tmp/prosody.out" "$tmp/prosody.log" 2>/dev/null | tail -20; exit 1
fi
for u in alice bob carol dave erin frank grace spammer; do
  prosodyctl --config "$tmp/prosody.cfg.lua" register "$u" localhost pw >/dev/null 2>&1 ||
    { echo "FAIL: register $u"; tail -5 "$tmp/prosody.log"; exit 1; }
done
for u in alice bob carol; do
  prosodyctl --config "$tmp/prosody.cfg.lua" register "$u" fake.test pw >/dev/null 2>&1 ||
    { echo "FAIL: register $u@fake.test"; exit 1; }
done
if [ "$module" = on ] && ! grep -q "spimguard: checking messages" "$tmp/prosody.log"; then
  echo "FAIL: mod_spimguard not loaded"; tail -20 "$tmp/prosody.log"; exit 1
fi

if [ $setup_only = 1 ]; then
  echo "ready xmpp_port=$xport daemon_port=$dport token=$token"
  while kill -0 "$ppid" 2>/dev/null && kill -0 "$dpid" 2>/dev/null; do sleep 1; done
  exit 0
fi

# --- the clients: the issue's scenarios with the real daemon, then the
# module's own behaviour against a fake daemon
timeout 120 $py "$src/tests/xmpp/e2e.py" scenarios --xmpp-port "$xport" \
  --daemon "http://127.0.0.1:$dport" --token "$token" > "$tmp/e2e.out" 2>&1
rc=$?
timeout 60 $py "$src/tests/xmpp/e2e.py" module --xmpp-port "$xport" \
  --fake-port "$fport" --prosody-config "$tmp/prosody.cfg.lua" >> "$tmp/e2e.out" 2>&1 || rc=1
# (held messages: listed, released and discarded through Prosody's admin
# console by e2e.py's console_scenarios)
cat "$tmp/e2e.out"
echo "cli_prosody: $(grep -c '^PASS' "$tmp/e2e.out") passed, $(grep -c '^FAIL' "$tmp/e2e.out") failed"
if [ $rc -ne 0 ]; then
  echo "--- prosody.log (tail)"; tail -30 "$tmp/prosody.log"
  echo "--- daemon.log (tail)"; tail -10 "$tmp/daemon.log"
fi
kill -0 "$ppid" 2>/dev/null || { echo "FAIL: prosody died"; rc=1; }
kill -0 "$dpid" 2>/dev/null || { echo "FAIL: daemon died"; rc=1; }
grep -E "error|traceback" -i "$tmp/prosody.log" | grep -v "policy-violation\|forbidden" | head -5
stop_all
exit $rc
