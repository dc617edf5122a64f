"""multi.py -- many daemons, one truth: two `spimguard serve` processes on
one redis-server, then on a 3-master Redis Cluster (both started here on
loopback ports).  A compromised contact's burst split across both daemons
gets the account locked at the message where its recipients, counted
across both, reach the threshold -- also when the two halves race -- and
an account's messages sent to both daemons at once are all counted.  On
the cluster, a master killed makes the daemons answer as configured
(store_failure = open: deliver, counted in /metrics; closed: hold) until
it is back.  Driven by tests/cli_multi.sh.  usage: multi.py SPIMGUARD SRC
BUILD TMP
"""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DAY = 86400 * 1000
LURE = "hey {}, is this you in this video?? https://faceb00k-video.com/watch?v=8841"
HAM = ["are we still on for lunch tomorrow at noon, or should we move it?",
       "i just got home, the traffic on the bridge was terrible again tonight",
       "can you send me the notes from today's meeting when you have a minute",
       "thanks for dinner yesterday, the lasagna was amazing as always",
       "we're out of milk and bread, could you grab some on the way home"]


def contacts(name, n):
    return [f"{name}-friend{i}@multi.example" for i in range(n)]


def history(acct, friends, now):
    """Two weeks of ordinary chat from the owner's phone and home network:
    a trusted profile (>= 10 messages, >= 2 days old)."""
    return [{"id": f"{acct}-h{i}", "from": acct, "to": friends[i % len(friends)],
             "contact": True, "text": HAM[i % len(HAM)], "client": "android",
             "client_ip": "198.51.100.23", "ts": now - 14 * DAY + i * DAY // 2}
            for i in range(24)]


def burst(acct, friends, now):
    """The attacker's lure to every contact from a web client on a hosting
    network, 10 s apart."""
    return [{"id": f"{acct}-b{i}", "from": acct, "to": f, "contact": True,
             "text": LURE.format(f.split("-")[1].split("@")[0]), "client": "web",
             "client_ip": "203.0.113.77", "ts": now + i * 10000}
            for i, f in enumerate(friends)]


def locks(v):
    return v.get("account_action") == "lock_and_reset"


def compromised(v):
    return any(r["code"] == "COMPROMISED_SENDER" for r in v.get("reasons", []))


def feed(daemons, msgs):
    """Send msgs one by one, alternating daemons; their verdicts."""
    out = []
    for i, m in enumerate(msgs):
        status, v = daemons[i % 2].check(m)
        if status != 200:
            raise RuntimeError(f"check {m['id']}: {status} {v}")
        out.append(v)
    return out


def split_burst(t, where, daemons, acct, now):
    """Alternating daemons, one message at a time: the lock comes at the
    third distinct recipient counted across both (lock_fanout = 3)."""
    friends = contacts(acct.split("@")[0], 6)
    feed(daemons, history(acct, friends, now))
    vs = feed(daemons, burst(acct, friends, now))
    first = next((i for i, v in enumerate(vs) if locks(v)), None)
    t.ok(first == 2, f"{where}: split burst locks at message 3 (got {first}; "
         f"a daemon counting alone would lock at 5)")
    t.ok(first is not None and compromised(vs[first]),
         f"{where}: the locking verdict says COMPROMISED_SENDER")
    t.ok(all(locks(v) and v["action"] == "hold" for v in vs[2:]),
         f"{where}: every later message is held, account lock_and_reset")
    for k, d in enumerate(daemons):
        status, a = d.account(acct)
        t.ok(status == 200 and a["status"] == "locked",
             f"{where}: daemon {k} sees {acct} locked ({status} {a})")


def racing_burst(t, where, daemons, acct, now):
    """Both halves of the burst at once, one thread per daemon: the commits
    on the account are serialised (watched reads), so exactly two messages
    go out unlocked and one verdict makes the lock."""
    friends = contacts(acct.split("@")[0], 12)
    feed(daemons, history(acct, friends, now))
    msgs = burst(acct, friends, now)
    results = [[], []]

    def run(k):
        for m in msgs[k::2]:
            status, v = daemons[k].check(m)
            results[k].append(v if status == 200 else {"error": status})
    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    vs = results[0] + results[1]
    t.ok(all("error" not in v for v in vs), f"{where}: racing checks answered")
    unlocked = sum(not locks(v) for v in vs)
    made = sum(compromised(v) for v in vs)
    t.ok(unlocked == 2, f"{where}: racing burst: {unlocked} messages before the lock (want 2)")
    t.ok(made == 1, f"{where}: racing burst: {made} verdicts made the lock (want 1)")


def exact_counts(t, where, daemons, acct, now, n=120):
    """n messages of one account, half to each daemon at the same time
    (singles and batches of 4): the profile counts every one."""
    friends = contacts(acct.split("@")[0], 8)
    msgs = [{"id": f"{acct}-c{i}", "from": acct, "to": friends[i % 8], "contact": True,
             "text": HAM[i % len(HAM)], "client": "android", "client_ip": "198.51.100.23",
             "ts": now - DAY + i * 60000} for i in range(n)]
    errors, unjudged = [], []

    def run(k):
        mine = msgs[k::2]
        i = 0
        while i < len(mine):
            part = mine[i:i + (1 if i % 8 == 0 else 4)]
            status, v = daemons[k].check(part[0] if len(part) == 1 else part)
            if status != 200:
                errors.append(status)
            for x in (v if isinstance(v, list) else [v] if isinstance(v, dict) else []):
                if x.get("unjudged"):
                    unjudged.append((x.get("id"), x["reasons"][0].get("detail")))
            i += len(part)
    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    t.ok(not errors, f"{where}: concurrent checks answered ({errors[:3]})")
    t.ok(not unjudged, f"{where}: every concurrent check judged ({len(unjudged)} "
         f"unjudged: {unjudged[:3]})")
    status, a = daemons[0].account(acct)
    got = a["profile"]["messages"] if status == 200 else None
    t.ok(got == n, f"{where}: {n} messages from two daemons at once, {got} counted "
         f"({len(unjudged)} unjudged)")


def scenarios(t, where, daemons, tag):
    now = int(time.time() * 1000)
    split_burst(t, where, daemons, f"carol-{tag}@multi.example", now)
    racing_burst(t, where, daemons, f"dave-{tag}@multi.example", now)
    exact_counts(t, where, daemons, f"erin-{tag}@multi.example", now)


def one_redis(t, spimguard, model, tmp):
    port = harness.free_port()
    harness.start_redis(tmp, port)
    uri = f"redis://127.0.0.1:{port}"
    daemons = [harness.Daemon(spimguard, model, os.path.join(tmp, f"r{k}.log"),
                              "--store", uri) for k in (0, 1)]
    scenarios(t, "redis", daemons, "r")
    for d in daemons:
        t.ok(d.term() == 0, "redis: daemon exits 0 on SIGTERM")


def node_down(t, daemons, ports, procs, tmp):
    """Kill the master of an account's slot; fail-open delivers, fail-closed
    holds, both count it; when the node is back, checks are judged again."""
    acct = "frank@multi.example"
    owner = harness.slot_owner(ports, "acct:{" + acct + "}")
    k = ports.index(owner)
    harness.kill9(procs[k])
    msg = {"id": "frank-1", "from": acct, "to": "grace@multi.example", "contact": True,
           "text": HAM[0]}
    answers = [d.check(msg) for d in daemons]
    for (status, v), want, how in zip(answers, ("deliver", "hold"), ("open", "closed")):
        t.ok(status == 200 and v.get("action") == want and v.get("unjudged") is True,
             f"cluster, node down: store_failure = {how} answers {want} ({status} {v})")
    for d, how in zip(daemons, ("open", "closed")):
        n = d.metric(f'spimguard_store_errors_total{{handled="{how}"}}')
        t.ok(n >= 1, f"cluster, node down: /metrics counts the store error ({how}: {n})")
    procs[k] = harness.start_redis(tmp, owner, cluster=True)
    t.ok(harness.wait_cluster(ports), "cluster is back to ok")
    judged = [False, False]
    end = time.time() + 15
    while not all(judged) and time.time() < end:
        for i, d in enumerate(daemons):
            status, v = d.check(dict(msg, id=f"frank-back-{i}"))
            judged[i] = judged[i] or (status == 200 and "unjudged" not in v)
        time.sleep(0.1)
    t.ok(all(judged), f"cluster: both daemons judge again once the node is back ({judged})")


def cluster(t, spimguard, model, tmp):
    ports = []
    while len(ports) < 3:
        p = harness.cluster_port()
        if p not in ports:
            ports.append(p)
    procs = harness.start_cluster(tmp, ports)
    uri = "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    daemons = [harness.Daemon(spimguard, model, os.path.join(tmp, f"c{k}.log"),
                              "--store", uri, "--set", f"store_failure={how}")
               for k, how in enumerate(("open", "closed"))]
    scenarios(t, "cluster", daemons, "c")
    node_down(t, daemons, ports, procs, tmp)
    for d in daemons:
        t.ok(d.term() == 0, "cluster: daemon exits 0 on SIGTERM")


def main():
    spimguard, src, build, tmp = sys.argv[1:5]
    t = harness.Checks("cli_multi")
    if subprocess.run(["sh", "-c", "command -v redis-server && command -v redis-cli"],
                      capture_output=True).returncode:
        print("SKIP: redis-server / redis-cli not installed")
        return
    model = harness.default_model(spimguard, src, build, tmp)
    t0 = time.time()
    try:
        one_redis(t, spimguard, model, tmp)
        cluster(t, spimguard, model, tmp)
    finally:
        harness.stop_all()
    print(f"cli_multi: {time.time() - t0:.1f} s", flush=True)
    t.done()


if __name__ == "__main__":
    main()
