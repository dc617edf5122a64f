"""crash.py -- kill -9 `spimguard scan` and `spimguard serve` at random
points of a message stream, many times, restart them on the same data
directory, and check that the store opens, that every verdict already
written or returned is reflected in the account state and the campaign
counts (nothing committed is lost), that no more is there than the
messages in flight at the kills could add (nothing half-applied or
invented), and that every account and campaign reads back intact.
Driven by tests/cli_crash.sh.  usage: crash.py SPIMGUARD SRC BUILD TMP
"""
import collections
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCAN_KILLS = 15
SERVE_KILLS = 12
SCAN_GROUP = 256     # messages per store commit of scan over a file
MAX_BATCH = 16       # largest batch the serve client sends

TEXTS = [
    "are we still on for lunch tomorrow at noon, or should we move it?",
    "i just got home, the traffic on the bridge was terrible again tonight",
    "can you send me the notes from today's meeting when you have a minute",
    "happy birthday!! hope you have a wonderful day with the family",
    "did you see the game last night? what a finish in the last minute",
    "i'll pick up the kids from school today, you go to the gym",
    "the new coffee place downstairs is really good, we should try it",
    "reminder: dentist appointment on thursday at half past three",
    "thanks for dinner yesterday, the lasagna was amazing as always",
    "my flight lands at seven, can you pick me up at the airport please",
    "we're out of milk and bread, could you grab some on the way home",
    "the report is almost done, i'll send it over before the deadline",
    "let's watch that new series everyone keeps talking about this weekend",
    "i found your umbrella in my car, i'll bring it back on monday",
    "running a bit late, save me a seat near the front if you can",
    "grandma says hi and wants to know when you are coming to visit",
]
OFFER = "hey, look at this deal before it's gone https://crashdeals.net/offer?ref={}"


def make_stream(seed, naccts=200):
    """Chat between young accounts (no profile yet, so nothing locks and
    every judged message counts once in its sender's state), plus a link
    campaign; time-ordered, ending now."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    t0 = now - 6 * 3600 * 1000
    accts = [f"u{i:02d}@crash{seed}.example" for i in range(naccts)]
    contacts = {a: rng.sample([b for b in accts if b != a], 6) for a in accts}
    events = []
    for a in accts:
        for _ in range(rng.randint(60, 110)):
            t = t0 + rng.randint(0, 5 * 3600 * 1000)
            events.append((t, a, rng.choice(contacts[a]), rng.choice(TEXTS)))
    for a in rng.sample(accts, 8):
        base = t0 + rng.randint(3600 * 1000, 4 * 3600 * 1000)
        for k, b in enumerate(rng.sample(contacts[a], 3)):
            events.append((base + k * 20000, a, b, OFFER.format(rng.randint(1000, 9999))))
    events.sort()
    return [{"id": f"m{i:05d}", "from": a, "to": b, "contact": True, "text": text,
             "ts": t, "client": "android", "client_ip": "198.51.100.7"}
            for i, (t, a, b, text) in enumerate(events)]


def complete_lines(path):
    """Verdicts of the complete lines of a scan output (a kill may cut the
    last one)."""
    out = []
    with open(path, "rb") as f:
        for line in f.read().split(b"\n")[:-1]:
            try:
                out.append(json.loads(line))
            except ValueError:
                break
    return out


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def run_scan_once(spimguard, model, data_dir, rest, tmp, k, kill_at):
    """One scan over the messages `rest` (a file, or a pipe on odd k);
    SIGKILL once it has written kill_at verdicts (None: let it finish), so
    the kill points do not depend on how fast the machine is.  Its
    verdicts, whether it was killed, and how many counts a kill may repeat."""
    src = os.path.join(tmp, f"rest{k}.jsonl")
    with open(src, "w") as f:
        f.writelines(json.dumps(m) + "\n" for m in rest)
    out = os.path.join(tmp, f"scan{k}.out")
    piped = k % 2 == 1
    argv = [spimguard, "scan", "--quiet", "--model", model, "--data-dir", data_dir]
    p = harness.spawn(argv + ([] if piped else [src]), stdout=open(out, "wb"),
                      stderr=subprocess.DEVNULL,
                      stdin=subprocess.PIPE if piped else subprocess.DEVNULL)
    if piped:
        def feed():
            try:
                with open(src, "rb") as f:
                    p.stdin.write(f.read())
                p.stdin.close()
            except OSError:
                pass
        threading.Thread(target=feed, daemon=True).start()
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline:
        if kill_at is not None and count_lines(out) >= kill_at:
            break
        time.sleep(0.002)
    killed = p.poll() is None
    if killed and kill_at is None:
        harness.kill9(p)
        raise RuntimeError("scan did not finish in 60 s")
    if killed:
        harness.kill9(p)
    return complete_lines(out), killed, (1 if piped else SCAN_GROUP)


def scan_phase(t, spimguard, model, tmp):
    stream = make_stream(1)
    data_dir = os.path.join(tmp, "scan-data")
    rng = random.Random(11)
    verdicts, pos, kills, slack, k, progress = [], 0, 0, 0, 0, []
    while pos < len(stream):
        last = kills >= SCAN_KILLS or len(stream) - pos < 200
        # kill after a random share of what is left for the kills to come,
        # so the stream always outlasts SCAN_KILLS kills
        share = max(1, (len(stream) - pos) // (SCAN_KILLS - kills + 1))
        got, killed, per_kill = run_scan_once(
            spimguard, model, data_dir, stream[pos:], tmp, k,
            None if last else rng.randint(1, share))
        k += 1
        for v in got:
            if not t.ok(v.get("id") == stream[pos]["id"],
                        f"scan verdict {v.get('id')} where {stream[pos]['id']} was due"):
                return
            verdicts.append(v)
            pos += 1
        if killed:
            kills += 1
            slack += per_kill
            progress.append(len(got))
    t.ok(kills >= SCAN_KILLS, f"scan was killed {kills} times (want {SCAN_KILLS})")
    print(f"scan: {len(stream)} messages, {k} runs, {kills} kills; verdicts out before "
          f"each kill: {sorted(progress)}", flush=True)
    d = harness.Daemon(spimguard, model, os.path.join(tmp, "scan-inspect.log"),
                       "--data-dir", data_dir)
    verify(t, "scan", d, stream, verdicts, slack)
    t.ok(d.term() == 0, "inspecting daemon exits 0 on SIGTERM")


# ------------------------------------------------------------ serve

def send_until_killed(d, stream, pos, rng, answered, end=None):
    """Send from pos on (singles and batches) until the daemon dies or
    `end` (default: the stream's end) is reached; verdicts go to
    `answered`.  Returns the new position."""
    end = len(stream) if end is None else min(end, len(stream))
    while pos < end:
        n = 1 if rng.random() < 0.5 else rng.randint(2, MAX_BATCH)
        part = stream[pos:min(pos + n, end)]
        n = len(part)
        try:
            status, body = d.check(part[0] if n == 1 else part)
        except OSError:
            return pos
        got = [body] if n == 1 else body
        if status != 200 or len(got) != len(part) or \
                any(v.get("id") != m["id"] for v, m in zip(got, part)):
            raise RuntimeError(f"bad answer {status}: {str(body)[:300]}")
        answered.extend(got)
        pos += len(part)
    return pos


def serve_phase(t, spimguard, model, tmp):
    stream = make_stream(2)
    data_dir = os.path.join(tmp, "serve-data")
    rng = random.Random(22)
    answered, pos, kills, runs = [], 0, 0, 0
    while True:
        d = harness.Daemon(spimguard, model, os.path.join(tmp, f"serve{runs}.log"),
                           "--data-dir", data_dir)
        runs += 1
        if kills >= SERVE_KILLS or len(stream) - pos < 200:
            break
        # killed mid-request by the timer, or at the latest once a random
        # share of what is left for the kills to come was sent, so the
        # stream outlasts SERVE_KILLS kills however fast the machine is
        share = max(1, (len(stream) - pos) // (SERVE_KILLS - kills + 1))
        timer = threading.Timer(rng.uniform(0.01, 0.1), d.proc.kill)
        timer.start()
        pos = send_until_killed(d, stream, pos, rng, answered, pos + rng.randint(1, share))
        timer.cancel()
        d.kill9()
        kills += 1
    pos = send_until_killed(d, stream, pos, rng, answered)
    t.ok(pos == len(stream), "the last daemon answered the rest of the stream")
    t.ok(kills >= SERVE_KILLS, f"serve was killed {kills} times (want {SERVE_KILLS})")
    print(f"serve: {len(stream)} messages, {runs} daemons, {kills} kills", flush=True)
    verify(t, "serve", d, stream, answered, kills * MAX_BATCH)
    t.ok(d.term() == 0, "daemon exits 0 on SIGTERM")


# ------------------------------------------------------------ verify

def verify(t, what, d, stream, verdicts, slack):
    """Every answered message is counted in its sender's state and its
    campaign; at most `slack` more (messages committed at a kill before
    their answer went out, and then sent again)."""
    t.ok([v["id"] for v in verdicts] == [m["id"] for m in stream],
         f"{what}: every message answered exactly once, in order")
    sent = collections.Counter(m["from"] for m in stream)
    extra = 0
    for acct, n in sorted(sent.items()):
        status, a = d.account(acct)
        if not t.ok(status == 200, f"{what}: account {acct} reads back ({status})"):
            continue
        got = a["profile"]["messages"]
        t.ok(got >= n, f"{what}: {acct} has {got} messages counted, {n} answered")
        t.ok(a["status"] == "ok", f"{what}: {acct} status {a['status']}")
        extra += got - n
    t.ok(0 <= extra <= slack, f"{what}: {extra} messages counted twice (at most {slack})")
    per_camp = collections.Counter(v["campaign"] for v in verdicts if v.get("campaign"))
    t.ok(len(per_camp) >= 2, f"{what}: campaigns formed ({len(per_camp)})")
    cextra = 0
    for cid, n in per_camp.items():
        status, c = d.campaign(cid)
        if not t.ok(status == 200, f"{what}: campaign {cid} reads back ({status})"):
            continue
        t.ok(c["messages"] >= n, f"{what}: campaign {cid} counts {c['messages']}, {n} answered")
        cextra += c["messages"] - n
    t.ok(cextra <= slack, f"{what}: campaign messages counted twice: {cextra} (at most {slack})")
    print(f"{what}: {len(sent)} accounts, {len(per_camp)} campaigns; "
          f"{extra} account and {cextra} campaign counts from re-sent messages", flush=True)


def main():
    spimguard, src, build, tmp = sys.argv[1:5]
    model = harness.default_model(spimguard, src, build, tmp)
    t = harness.Checks("cli_crash")
    t0 = time.time()
    try:
        scan_phase(t, spimguard, model, tmp)
        serve_phase(t, spimguard, model, tmp)
    finally:
        harness.stop_all()
    print(f"cli_crash: {time.time() - t0:.1f} s", flush=True)
    t.done()


if __name__ == "__main__":
    main()
