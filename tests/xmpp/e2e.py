#!/usr/bin/python3
"""e2e.py -- real XMPP clients (slixmpp, Debian's python3-slixmpp) against a
Prosody with mod_spimguard and a `spimguard serve` daemon, for
tests/cli_prosody.sh and bench/prosody_latency.sh.

  e2e.py scenarios --xmpp-port P --daemon URL --token T
      the end-to-end checks of issue 5 (prints PASS/FAIL lines, exit 1 on
      any failure)
  e2e.py module --xmpp-port P --fake-port F
      the module's own behaviour against a fake daemon on port F that answers
      by keyword (virtual host fake.test, fail-closed, 0.5 s timeout): warn,
      hold, drop, timeout, suspend, roster contact flag, forged marks; with
      --prosody-config CFG also the operator's console for held messages
      (prosodyctl shell spimguard held/release/discard)
  e2e.py latency --xmpp-port P --count N
      alice -> bob delivery latency of N ordinary messages between contacts,
      one at a time; prints p50/p99 in ms

Accounts alice, bob, carol, dave, erin, frank, grace, spammer exist with
password "pw" (the shell script registers them).  Run with /usr/bin/python3.
"""
import argparse
import asyncio
import http.server
import threading
import json
import logging
import statistics
import sys
import time
import urllib.error
import urllib.request

import slixmpp

DOMAIN = "localhost"
NS_MARK = "urn:spimguard:0"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "spammer"]
WAIT = 1.5  # seconds to wait before concluding "not delivered"
LONG = 8.0  # most to wait for something that must happen (returns early)


class Client(slixmpp.ClientXMPP):
    """A client that keeps what it receives: messages and errors."""

    def __init__(self, user):
        super().__init__(f"{user}@{DOMAIN}/e2e", "pw")
        self.user = user
        self.inbox = []   # (time, from bare, body, raw xml)
        self.errors = []  # (time, raw xml)
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_error)

    async def on_start(self, _):
        self.send_presence()
        await self.get_roster()
        self.ready.set()

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            self.inbox.append((time.monotonic(), msg["from"].bare, msg["body"], str(msg)))
            self.changed.set()

    def on_error(self, msg):
        self.errors.append((time.monotonic(), str(msg)))
        self.changed.set()

    @staticmethod
    def mark(raw):
        """The attributes and reason texts of the spimguard mark in a
        received stanza, or None."""
        el = slixmpp.xmlstream.ET.fromstring(raw).find("{%s}spimguard" % NS_MARK)
        if el is None:
            return None
        return dict(el.attrib, reasons=[r.text for r in el])

    def got_from(self, sender):
        return [m for m in self.inbox if m[1] == f"{sender}@{DOMAIN}"]

    async def wait_for(self, pred, timeout=LONG):
        end = time.monotonic() + timeout
        while not pred():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return pred()
        return True


async def connect_all(port, users):
    clients = {u: Client(u) for u in users}
    for c in clients.values():
        c.connect(("127.0.0.1", port), disable_starttls=True)
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients.values())), 20)
    return clients


async def add_contacts(owner, contacts):
    for c in contacts:
        await owner.update_roster(f"{c}@{DOMAIN}", name=c.capitalize())


class Daemon:
    def __init__(self, url, token):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read().decode()
                return r.status, (json.loads(raw) if path != "/metrics" else raw)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or "{}")

    def metric(self, name):
        _, text = self.call("GET", "/metrics")
        for line in text.splitlines():
            if line.split(" ")[0] == name:
                return float(line.split(" ")[1])
        return None


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def expect(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS: {what}")
        else:
            self.failed += 1
            print(f"FAIL: {what} {detail}")


def seed_history(d, sender, contacts):
    """Five days of ordinary messages from `sender` to its contacts, sent to
    the daemon with past timestamps: the profile an established account
    has (the daemon would have seen them had it been running)."""
    texts = ["are you coming to the game tonight?", "thanks for yesterday, it was fun",
             "did you finish the report for monday", "ok see you at the station at 6",
             "can you send me the photos from the trip", "happy birthday!! have a great day",
             "I'm running 10 minutes late sorry", "what time does the movie start",
             "let's get coffee next week", "good luck with the exam tomorrow"]
    now = int(time.time() * 1000)
    batch = [{"from": f"{sender}@{DOMAIN}", "to": f"{contacts[i % len(contacts)]}@{DOMAIN}",
              "text": texts[i % len(texts)], "contact": True, "client_ip": "127.0.0.1",
              "ts": now - 5 * 86400000 + i * 3 * 3600000} for i in range(30)]
    code, verdicts = d.call("POST", "/v1/check", batch)
    return code == 200 and all(v.get("action") == "deliver" for v in verdicts)


async def scenario_ham(cl, ck):
    text = "are we still on for lunch tomorrow at noon?"
    cl["alice"].send_message(mto=f"bob@{DOMAIN}", mbody=text, mtype="chat")
    got = await cl["bob"].wait_for(lambda: cl["bob"].got_from("alice"))
    m = cl["bob"].got_from("alice")
    ck.expect("ordinary chat between contacts arrives", got)
    ck.expect("... unchanged (same body, no spimguard mark)",
              got and m[0][2] == text and NS_MARK not in m[0][3], m[:1])


async def scenario_spim(cl, ck):
    text = ("URGENT! You have won a 1 week FREE membership in our £100,000 Prize Jackpot! "
            "Txt the word: CLAIM to No: 81010 T&C www.dbuk.net LCCLTD POBOX 4403LDNW1A7RW18")
    victims = ["bob", "carol", "erin", "frank", "grace"]
    for v in victims:
        cl["spammer"].send_message(mto=f"{v}@{DOMAIN}", mbody=text, mtype="chat")
    sp = cl["spammer"]
    await sp.wait_for(lambda: len(sp.errors) >= len(victims))
    await asyncio.sleep(0.3)
    ck.expect("spim from a fresh stranger does not arrive",
              not any(cl[v].got_from("spammer") for v in victims))
    ck.expect("the spimmer gets an error (policy-violation)",
              sp.errors and all("policy-violation" in e[1] for e in sp.errors),
              [e[1][:300] for e in sp.errors[:1]])


async def scenario_phish(cl, ck):
    text = "hey, can you check this for me? https://rnicrosoft-login.com/verify"
    cl["carol"].send_message(mto=f"bob@{DOMAIN}", mbody=text, mtype="chat")
    bob = cl["bob"]
    arrived = await bob.wait_for(lambda: bob.got_from("carol"), WAIT)
    if arrived:
        body, raw = bob.got_from("carol")[0][2], bob.got_from("carol")[0][3]
        ck.expect("lookalike link from a contact arrives with a visible warning",
                  body.startswith("[Warning") and body.endswith(text), body)
        mark = Client.mark(raw)
        ck.expect("... and a machine-readable mark", mark and mark["action"] == "warn", raw)
    else:
        print("note: the lookalike link was not delivered (verdict hold or drop)")
        ck.expect("lookalike link from a contact is not delivered unmarked", True)


async def scenario_compromise(cl, ck, d):
    contacts = ["bob", "carol", "erin", "frank", "grace"]
    ck.expect("dave's five days of history accepted by the daemon", seed_history(d, "dave", contacts))
    link = "hey, is this you in the photo? https://rnicrosoft-login.com/photo?id=3391"
    dave = cl["dave"]
    for c in contacts[:4]:
        dave.send_message(mto=f"{c}@{DOMAIN}", mbody=link, mtype="chat")
    end = time.monotonic() + LONG
    while True:  # the burst's checks run as Prosody relays the messages
        code, acct = d.call("GET", f"/v1/accounts/dave@{DOMAIN}")
        if (code == 200 and acct.get("status") == "locked") or time.monotonic() > end:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    ck.expect("the burst of one link to many contacts gets dave locked",
              code == 200 and acct.get("status") == "locked", acct)
    ck.expect("none of the burst arrives unmarked",
              not any(m[3].find(NS_MARK) < 0 for c in contacts for m in cl[c].got_from("dave")))
    errors_before = len(dave.errors)
    dave.send_message(mto=f"grace@{DOMAIN}", mbody="are we still on for lunch?", mtype="chat")
    await dave.wait_for(lambda: len(dave.errors) > errors_before)
    await asyncio.sleep(0.3)
    ck.expect("a locked account's later message is not delivered", not cl["grace"].got_from("dave"))
    last = dave.errors[-1][1] if dave.errors else ""
    ck.expect("... and the sender is told the account is locked",
              "forbidden" in last and "locked" in last, last[:300])


async def scenario_report(cl, ck, d):
    bob = cl["bob"]
    iq = bob.make_iq_set()
    iq.append(slixmpp.xmlstream.ET.fromstring(
        '<block xmlns="urn:xmpp:blocking"><item jid="spammer@%s">'
        '<report xmlns="urn:xmpp:reporting:1" reason="urn:xmpp:reporting:spam">'
        '<text>prize spam</text></report></item></block>' % DOMAIN))
    res = await iq.send(timeout=10)
    ck.expect("XEP-0191 block with a XEP-0377 report is accepted", res["type"] == "result")
    key = 'spimguard_reports_total{label="spam",result="accepted"}'
    end = time.monotonic() + 5
    while time.monotonic() < end and not (d.metric(key) or 0) >= 1:
        await asyncio.sleep(0.1)
    ck.expect("the report reaches the daemon and shows in /metrics", (d.metric(key) or 0) >= 1)
    code, acct = d.call("GET", f"/v1/accounts/spammer@{DOMAIN}")
    ck.expect("... counted against the reported account",
              code == 200 and acct["reports"]["spam"] == 1, acct)
    ck.expect("... and taught the content model (the reported message was known by id)",
              (d.metric("spimguard_reports_learned_total") or 0) >= 1)


async def run_scenarios(args):
    ck = Checks()
    d = Daemon(args.daemon, args.token)
    cl = await connect_all(args.xmpp_port, USERS)
    await add_contacts(cl["bob"], ["alice", "carol", "dave"])
    for c in ["carol", "erin", "frank", "grace"]:
        await add_contacts(cl[c], ["dave"])
    await scenario_ham(cl, ck)
    await scenario_spim(cl, ck)
    await scenario_phish(cl, ck)
    await scenario_compromise(cl, ck, d)
    await scenario_report(cl, ck, d)
    for c in cl.values():
        c.disconnect()
    print(f"e2e: {ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


# ---------------------------------------------------------------- module mode

class FakeDaemon(http.server.BaseHTTPRequestHandler):
    """Answers /v1/check by keyword in the text; records every request."""
    seen = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeDaemon.seen.append((self.path, body, self.headers.get("Authorization")))
        text = body.get("text", "")
        v = {"id": body.get("id"), "action": "deliver", "score": 0.01, "labels": [],
             "reasons": [], "campaign": None, "account_action": "none"}
        if "WARNME" in text:
            v.update(action="warn", score=0.7, labels=["phishing"],
                     reasons=[{"code": "LOOKALIKE_DOMAIN", "weight": 2.5, "detail": "looks like a bank"}])
        elif "HOLDME" in text:
            v.update(action="hold", score=0.95)
        elif "DROPME" in text:
            v.update(action="drop", score=0.99)
        elif "SUSPENDME" in text:
            v.update(action="deliver", account_action="suspend")
        elif "SLOWME" in text:
            time.sleep(2.0)
        raw = json.dumps(v).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def fake_checks(fake, sender):
    return [b for p, b, _ in fake.seen if p == "/v1/check" and b["from"].startswith(sender + "@")]


async def module_scenarios(cl, ck):
    a, b, c = cl["alice"], cl["bob"], cl["carol"]
    to = "bob@fake.test"
    a.send_message(mto=to, mbody="hello WARNME http://bank.example", mtype="chat")
    await b.wait_for(lambda: len(b.inbox) >= 1)
    got = b.inbox[-1] if b.inbox else (0, "", "", "")
    ck.expect("warn: delivered with the visible prefix",
              got[2].startswith("[Warning") and got[2].endswith("hello WARNME http://bank.example"), got[2])
    mark = Client.mark(got[3]) if got[3] else None
    ck.expect("warn: machine-readable mark with action, labels and reason",
              mark and mark["action"] == "warn" and mark["labels"] == "phishing"
              and mark["reasons"] == ["looks like a bank"], got[3])
    seen = fake_checks(FakeDaemon, "alice")
    ck.expect("the daemon is told the sender is a roster contact",
              seen and seen[-1]["contact"] is True and seen[-1]["to"] == to, seen[-1:])
    n = len(b.inbox)
    c.send_message(mto=to, mbody="hi, HOLDME please", mtype="chat")
    await asyncio.sleep(WAIT)
    seen = fake_checks(FakeDaemon, "carol")
    ck.expect("... and a stranger is not", seen and seen[-1]["contact"] is False, seen[-1:])
    ck.expect("hold: not delivered, no error to the sender", len(b.inbox) == n and not c.errors)
    c.send_message(mto=to, mbody="DROPME now", mtype="chat")
    await c.wait_for(lambda: c.errors)
    ck.expect("drop: the sender gets policy-violation from the server",
              c.errors and "policy-violation" in c.errors[-1][1] and 'by="fake.test"' in c.errors[-1][1],
              c.errors[-1:])
    a.send_message(mto=to, mbody="SLOWME", mtype="chat")
    await a.wait_for(lambda: a.errors)
    # the fake answers "deliver" after 2 s: an error can only come from the
    # module's own timeout (0.5 s) with fail-closed
    ck.expect("timeout + fail-closed: the sender gets service-unavailable",
              a.errors and "service-unavailable" in a.errors[-1][1], a.errors[-1:])
    ck.expect("... and nothing delivered", len(b.inbox) == n)
    forged = slixmpp.xmlstream.ET.fromstring('<spimguard xmlns="urn:spimguard:0" action="deliver"/>')
    m = a.make_message(mto=to, mbody="plain hello", mtype="chat")
    m.append(forged)
    m.send()
    await b.wait_for(lambda: len(b.inbox) > n)
    ck.expect("a client cannot forge the spimguard mark",
              len(b.inbox) > n and NS_MARK not in b.inbox[-1][3], b.inbox[-1:])
    calls = len(FakeDaemon.seen)
    c.send_message(mto=to, mbody="SUSPENDME", mtype="chat")
    await asyncio.sleep(0.5)
    errs = len(c.errors)
    c.send_message(mto=to, mbody="an ordinary message", mtype="chat")
    await c.wait_for(lambda: len(c.errors) > errs)
    ck.expect("account action suspend: that message is held and later ones bounce",
              len(c.errors) > errs and "forbidden" in c.errors[-1][1] and "suspended" in c.errors[-1][1],
              c.errors[-1:])
    ck.expect("... without asking the daemon again", len(FakeDaemon.seen) == calls + 1)
    ck.expect("every request carried the bearer token",
              all(h == "Bearer fake-token" for _, _, h in FakeDaemon.seen))


def shell(cfg, *words):
    """One command of Prosody's admin console (prosodyctl shell): (rc, output)."""
    import subprocess
    r = subprocess.run(["prosodyctl", "--config", cfg, "shell", *words],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def held_keys(out, text):
    """Archive keys of the held messages whose body line shows text."""
    lines = out.splitlines()
    return [lines[i - 1].split()[0] for i in range(1, len(lines))
            if text in lines[i] and lines[i].startswith("    ") and lines[i - 1].strip()]


async def console_scenarios(cl, ck, cfg):
    """The operator's console for held messages (mod_spimguard + admin shell)."""
    a, b = cl["alice"], cl["bob"]
    rc, out = shell(cfg, "spimguard", "held", "fake.test")
    keys = held_keys(out, "hi, HOLDME please")
    ck.expect("console: `held` lists the held message with its sender, score and body",
              rc == 0 and len(keys) == 1 and "from carol@fake.test" in out and "score 0.95" in out
              and "2 held messages" in out, out)
    checked = [m for m in fake_checks(FakeDaemon, "carol") if "HOLDME" in m["text"]]
    n = len(b.inbox)
    rc, out2 = shell(cfg, "spimguard", "release", "fake.test", "bob", keys[0] if keys else "none")
    await b.wait_for(lambda: len(b.inbox) > n)
    got = b.inbox[-1] if len(b.inbox) > n else (0, "", "", "")
    ck.expect("console: `release` delivers it to the recipient, stamped with its time (XEP-0203)",
              rc == 0 and got[1].startswith("carol@fake.test") and got[2] == "hi, HOLDME please"
              and "urn:xmpp:delay" in got[3] and NS_MARK not in got[3], (out2, got))
    await asyncio.sleep(0.3)
    reports = [body for p, body, _ in FakeDaemon.seen if p == "/v1/report"]
    ck.expect("... and reports it to the daemon as not spam, by the recipient, by message id",
              checked and reports and reports[-1]["label"] == "not_spam"
              and reports[-1]["reporter"] == "bob@fake.test" and reports[-1]["id"] == checked[-1]["id"],
              reports[-1:])
    forged = slixmpp.xmlstream.ET.fromstring('<released xmlns="urn:spimguard:0" secret="guess"/>')
    m = a.make_message(mto="bob@fake.test", mbody="HOLDME with a forged release", mtype="chat")
    m.append(forged)
    m.send()
    await asyncio.sleep(WAIT)
    ck.expect("a client cannot forge a release: its message is held",
              all("forged release" not in x[2] for x in b.inbox))
    rc, out = shell(cfg, "spimguard", "held", "fake.test", "bob")
    rest = [l.split()[0] for l in out.splitlines() if " to bob@fake.test " in l]
    for k in rest:
        shell(cfg, "spimguard", "discard", "fake.test", "bob", k)
    rc, out3 = shell(cfg, "spimguard", "held", "fake.test")
    ck.expect("console: `discard` deletes held messages (2 left, then none)",
              len(rest) == 2 and "forged release" in out and "0 held messages" in out3, (out, out3))
    rc, out4 = shell(cfg, "spimguard", "release", "fake.test", "bob", "no-such-key")
    ck.expect("console: releasing an unknown id is an error", rc != 0 and "no held message" in out4, out4)


async def run_module(args):
    global DOMAIN
    DOMAIN = "fake.test"
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.fake_port), FakeDaemon)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ck = Checks()
    cl = await connect_all(args.xmpp_port, ["alice", "bob", "carol"])
    await add_contacts(cl["bob"], ["alice"])
    await module_scenarios(cl, ck)
    if args.prosody_config:
        await console_scenarios(cl, ck, args.prosody_config)
    for c in cl.values():
        c.disconnect()
    srv.shutdown()
    print(f"module: {ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


async def run_latency(args):
    cl = await connect_all(args.xmpp_port, ["alice", "bob"])
    await add_contacts(cl["bob"], ["alice"])
    alice, bob = cl["alice"], cl["bob"]
    texts = [l.strip() for l in open(args.texts)] if args.texts else ["see you at 5, ok?"]
    lat = []
    for i in range(args.count + 20):
        n = len(bob.inbox)
        t0 = time.monotonic()
        alice.send_message(mto=f"bob@{DOMAIN}", mbody=texts[i % len(texts)], mtype="chat")
        if not await bob.wait_for(lambda: len(bob.inbox) > n):
            print("message %d lost" % i)
            return 1
        if i >= 20:  # warm-up
            lat.append((bob.inbox[-1][0] - t0) * 1000)
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print("messages %d  p50 %.2f ms  p99 %.2f ms  mean %.2f ms" %
          (len(lat), p(0.50), p(0.99), statistics.mean(lat)))
    for c in cl.values():
        c.disconnect()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["scenarios", "module", "latency"])
    ap.add_argument("--fake-port", type=int, default=0)
    ap.add_argument("--xmpp-port", type=int, required=True)
    ap.add_argument("--daemon", default="")
    ap.add_argument("--token", default="")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--texts", default="")
    ap.add_argument("--prosody-config", default="")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    run = {"scenarios": run_scenarios, "module": run_module, "latency": run_latency}[args.mode]
    rc = loop.run_until_complete(asyncio.wait_for(run(args), 120))
    sys.exit(rc)


if __name__ == "__main__":
    main()
