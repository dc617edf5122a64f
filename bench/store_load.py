"""store_load.py -- load generator of bench/store_compare.sh: sends the
messages of a JSONL file, as they are, to one or more `spimguard serve`
daemons in batches over keep-alive HTTP (--conns connections per daemon,
default 1, each a closed loop), each sender's messages always to the same
daemon and connection (as a load balancer hashing the sender would) and in
stream order.  Request bodies
are built before the clock starts.  Prints one JSON line: messages,
seconds, checks/s, and the CPU seconds the daemons (--pids) and the
redis-servers (--rpids) used meanwhile, from /proc.  Loopback only;
bounded by the file.  usage: store_load.py --ports P1[,P2] --file F
[--batch N] [--conns C] [--pids PID,...] [--rpids PID,...]
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import zlib


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--pids", default="")
    ap.add_argument("--rpids", default="")
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    pids = [int(p) for p in a.pids.split(",") if p]
    rpids = [int(p) for p in a.rpids.split(",") if p]
    lanes = len(ports) * a.conns  # lane k: daemon k % len(ports)
    parts = [[] for _ in range(lanes)]
    with open(a.file, "rb") as f:
        for line in f:
            m = json.loads(line)
            parts[zlib.crc32(m["from"].encode()) % lanes].append(line.strip())
    bodies = [[b"[" + b",".join(p[i:i + a.batch]) + b"]" for i in range(0, len(p), a.batch)]
              for p in parts]
    errors = []

    def run(k):
        c = http.client.HTTPConnection("127.0.0.1", ports[k % len(ports)], timeout=60)
        for body in bodies[k]:
            c.request("POST", "/v1/check", body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            out = r.read()
            if r.status != 200 or b'"error"' in out:
                errors.append((r.status, out[:200]))
        c.close()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(lanes)]
    cpu0, rcpu0, t0 = cpu_seconds(pids), cpu_seconds(rpids), time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    secs = time.monotonic() - t0
    cpu, rcpu = cpu_seconds(pids) - cpu0, cpu_seconds(rpids) - rcpu0
    n = sum(len(p) for p in parts)
    print(json.dumps({"messages": n, "seconds": round(secs, 3),
                      "checks_per_s": round(n / secs), "daemon_cpu_s": round(cpu, 2),
                      "redis_cpu_s": round(rcpu, 2),
                      "checks_per_cpu_s": round(n / (cpu + rcpu)) if cpu + rcpu else None,
                      "errors": len(errors)}))
    if errors:
        print("errors:", errors[:3], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
