"""harness.py -- what the state-store end-to-end tests share (cli_crash.sh,
cli_multi.sh): start `spimguard serve`, `spimguard scan`, redis-server and a
3-master Redis Cluster on free loopback ports as children that die with
the test (PR_SET_PDEATHSIG) and are stopped by PID at exit, also on failure
or on SIGTERM from a timeout; talk to the daemon's JSON API; count checks.
Standard library only (/usr/bin/python3).
"""
import atexit
import ctypes
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

_children = []          # every Popen we started, stopped by PID at exit
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, stdout=None, stderr=None, stdin=None):
    """Start a child process; it is killed (by PID) when the test ends."""
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=stdin,
                         preexec_fn=_die_with_parent)
    _children.append(p)
    return p


def kill9(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()


def stop_all():
    for p in _children:
        try:
            kill9(p)
        except (ProcessLookupError, ChildProcessError):
            pass
    _children.clear()


atexit.register(stop_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM (timeout?)"))


def default_model(spimguard, src, build, tmp):
    """The model the build trained from data/corpus (BUILD/default.model);
    trained into TMP when the build made none (-DSG_DEFAULT_MODEL=OFF)."""
    built = os.path.join(build, "default.model")
    if os.path.exists(built):
        return built
    model = os.path.join(tmp, "model")
    corpus = os.path.join(src, "data/corpus")
    subprocess.run([spimguard, "train", "--quiet", "--model", model] +
                   [os.path.join(corpus, f) for f in sorted(os.listdir(corpus))
                    if f.endswith(".jsonl")], check=True)
    return model


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def cluster_port():
    """A free port whose cluster bus port (port + 10000) is free too."""
    import random
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        p = rng.randint(20000, 50000)
        if _bindable(p) and _bindable(p + 10000):
            return p
    raise RuntimeError("no free port pair for a cluster node")


class Checks:
    """Named assertions; the test fails at the end if any failed."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, flush=True)
        return cond

    def done(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


# ------------------------------------------------------------ the daemon

class Daemon:
    """One `spimguard serve` on a free port (--port 0, port read from its
    log).  Extra arguments go to the command line as given."""

    def __init__(self, spimguard, model, log, *args):
        self.log = log
        self.proc = spawn([spimguard, "serve", "--port", "0", "--model", model, *args],
                          stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        self.port = None
        for _ in range(200):
            m = re.search(r"listening on \S+ port (\d+)", open(log).read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("daemon did not start:\n" + open(log).read())
        self.conn = None

    def request(self, method, path, body=None, timeout=10):
        """(status, parsed JSON or text); raises OSError when the daemon is
        gone (connection refused or reset, incomplete answer)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = json.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=data,
                              headers={"Content-Type": "application/json"})
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            raise OSError(str(e))
        ctype = r.getheader("Content-Type", "")
        return r.status, json.loads(raw) if "json" in ctype else raw.decode()

    def check(self, msgs):
        """POST /v1/check with one message (dict) or a batch (list)."""
        return self.request("POST", "/v1/check", msgs)

    def account(self, acct):
        return self.request("GET", "/v1/accounts/" + acct)

    def campaign(self, cid):
        return self.request("GET", "/v1/campaigns/" + cid)

    def metric(self, name):
        """Sum of the samples of metric `name` (with its labels as written,
        e.g. 'spimguard_store_errors_total{handled="open"}')."""
        _, text = self.request("GET", "/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or ("{" not in name and line.startswith(name + "{")):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill9(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        kill9(self.proc)

    def term(self):
        """SIGTERM; returns the exit status."""
        if self.conn:
            self.conn.close()
            self.conn = None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


# ------------------------------------------------------------ redis

def _redis_up(port, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            out = subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                 capture_output=True, text=True, timeout=2).stdout
            if "PONG" in out:
                return True
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.05)
    return False


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                          text=True, timeout=10).stdout


def start_redis(tmp, port, cluster=False):
    """A redis-server without persistence on 127.0.0.1:port (cluster mode
    with a node-timeout of 1 s when asked); returns the Popen."""
    d = os.path.join(tmp, f"redis-{port}")
    os.makedirs(d, exist_ok=True)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", d, "--daemonize", "no"]
    if cluster:
        argv += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "1000"]
    p = spawn(argv, stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
    if not _redis_up(port):
        raise RuntimeError(f"redis-server on port {port} did not start")
    return p


def cluster_ok(port):
    return "cluster_state:ok" in redis_cli(port, "cluster", "info")


def wait_cluster(ports, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if all(cluster_ok(p) for p in ports):
            return True
        time.sleep(0.1)
    return False


def start_cluster(tmp, ports):
    """Three masters, no replicas, made with redis-cli --cluster create."""
    procs = [start_redis(tmp, p, cluster=True) for p in ports]
    out = subprocess.run(["redis-cli", "--cluster", "create",
                          *[f"127.0.0.1:{p}" for p in ports], "--cluster-yes"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not wait_cluster(ports):
        raise RuntimeError("cluster create failed:\n" + out.stdout + out.stderr)
    return procs


def slot_owner(ports, key):
    """The port of the master holding key's slot (from CLUSTER NODES)."""
    slot = int(redis_cli(ports[0], "cluster", "keyslot", key).strip())
    for line in redis_cli(ports[0], "cluster", "nodes").splitlines():
        f = line.split()
        if "master" not in f[2]:
            continue
        port = int(f[1].split("@")[0].rsplit(":", 1)[1])
        for rng in f[8:]:
            lo, _, hi = rng.partition("-")
            if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                return port
    return None
