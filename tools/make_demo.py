#!/usr/bin/env python3
"""Build data/demo/messages.jsonl, the stream `make demo` scans.

Real texts: ham and spam from the SMS Spam Collection *test* split (not used
to train the default model) and #ubuntu IRC chat lines (CC BY 4.0; see
data/README.md).  They get senders, recipients, contact flags and times so
that the stream looks like an IM server's traffic.  At the end a scripted
compromised-contact episode: one account sends the same credential lure with
a lookalike link to its contacts within two minutes, as a phished account
does (DESIGN.md, threat 3).  Deterministic (seeded).

usage: tools/make_demo.py ../shared/data > data/demo/messages.jsonl
"""
import json
import random
import sys

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
rng = random.Random(2026)
sms = [json.loads(l) for l in open(f"{shared}/sms_spam_collection/test.jsonl")]
ham = [m for m in sms if m["label"] == "ham"]
spam = [m for m in sms if m["label"] == "spam"]
users = [f"user{i:02d}@chat.example" for i in range(24)]
t0 = 1767261600000  # 2026-01-01T10:00:00Z
out = []
t = t0
for m in rng.sample(ham, 40):
    a, b = rng.sample(users, 2)
    t += rng.randint(5, 90) * 1000
    out.append({"id": m["id"], "from": a, "to": b, "text": m["text"], "ts": t,
                "contact": True, "client": "Conversations", "truth": "ham"})
for i, m in enumerate(rng.sample(spam, 14)):
    t += rng.randint(5, 90) * 1000
    out.append({"id": m["id"], "from": f"promo{i}@fresh.example", "to": rng.choice(users),
                "text": m["text"], "ts": t, "contact": False, "client": "bot",
                "truth": "spam"})
out.sort(key=lambda r: r["ts"])
lure = ("Hey, is this you in this video?? Microsoft locked your account, "
        "verify here before it is closed: https://rnicrosoft-live-support.com/verify")
victim = users[3]
for i, u in enumerate(users[4:16]):
    t += 9000
    out.append({"id": f"worm-{i:02d}", "from": victim, "to": u, "text": lure, "ts": t,
                "contact": True, "client": "python-requests", "client_ip": "203.0.113.50",
                "truth": "phishing"})
for r in out:  # "label" (spam|ham) lets `spimguard eval` score the file too
    r["label"] = "ham" if r["truth"] == "ham" else "spam"
    print(json.dumps(r, ensure_ascii=False))
