"""store_race.py -- many daemons racing on one account (docs/storage.md
"Turns"): starts a redis-server or a 3-master Redis Cluster and K
`spimguard serve` daemons on loopback ports (tests/store/harness.py: every
process stopped by its PID at exit), sends N messages of one account, one
thread per daemon, all at once, and prints how many the account's profile
counted and how many were answered "unjudged" (a check that lost the
compare-and-set race CHECK_ATTEMPTS times in a row).  Bounded by N.
  usage: store_race.py SPIMGUARD MODEL TMPDIR N K [single|cluster]
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "store"))
import harness  # noqa: E402

HAM = ["are we still on for lunch tomorrow at noon, or should we move it?",
       "i just got home, the traffic on the bridge was terrible again tonight",
       "can you send me the notes from today's meeting when you have a minute"]


def main():
    spimguard, model, tmp, n, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    kind = sys.argv[6] if len(sys.argv) > 6 else "cluster"
    os.makedirs(tmp, exist_ok=True)
    if kind == "cluster":
        ports = []
        while len(ports) < 3:
            p = harness.cluster_port()
            if p not in ports:
                ports.append(p)
        harness.start_cluster(tmp, ports)
        uri = "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    else:
        p = harness.cluster_port()
        harness.start_redis(tmp, p)
        uri = f"redis://127.0.0.1:{p}"
    ds = [harness.Daemon(spimguard, model, os.path.join(tmp, f"d{i}.log"), "--store", uri,
                         "--set", "store_failure=open") for i in range(k)]
    now = int(time.time() * 1000)
    acct = "racer@race.example"
    msgs = [{"id": f"r{i}", "from": acct, "to": f"f{i % 8}@race.example", "contact": True,
             "text": HAM[i % len(HAM)], "client": "android", "client_ip": "198.51.100.23",
             "ts": now - 86400000 + i * 60000} for i in range(n)]
    unjudged = []

    def run(j):
        for m in msgs[j::k]:
            _, v = ds[j].check(m)
            if isinstance(v, dict) and v.get("unjudged"):
                unjudged.append(m["id"])
    t0 = time.time()
    threads = [threading.Thread(target=run, args=(j,)) for j in range(k)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    _, a = ds[0].account(acct)
    print(f"{kind}: {k} daemons, {n} messages: {a['profile']['messages']} counted, "
          f"{len(unjudged)} unjudged, {time.time() - t0:.1f} s")
    harness.stop_all()


if __name__ == "__main__":
    main()
