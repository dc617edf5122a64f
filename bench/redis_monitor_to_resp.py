"""redis_monitor_to_resp.py -- turns the output of `redis-cli MONITOR` back
into the Redis protocol (RESP), so that bench/redis_replay.sh can send the
exact commands that spimguard daemons sent, from one connection, to a fresh
redis-server.  MONITOR prints each argument as a double-quoted string with
C escapes (\\xNN, \\n, \\r, \\t, \\a, \\b, \\", \\\\); they are decoded back
to the bytes.  WATCH, UNWATCH, MULTI and EXEC are dropped: one connection
replaying two daemons' interleaved transactions cannot nest them, and they
are 0.04 commands per check (printed, so the reader can see what is left
out); the script's own INFO / CONFIG / PING calls are dropped too.
usage: redis_monitor_to_resp.py MONITOR_LOG > commands.resp
"""
import sys

ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b",
           '"': b'"', "\\": b"\\"}
DROPPED = {b"WATCH", b"UNWATCH", b"MULTI", b"EXEC"}
NOT_OURS = {b"INFO", b"CONFIG", b"PING", b"DBSIZE", b"CLIENT", b"HELLO",
            b"SELECT", b"MONITOR"}


def arguments(line):
    """The arguments of one MONITOR line as bytes, or None for other lines
    (the "OK" that MONITOR answers first)."""
    start = line.find('] "')
    if start < 0 or " lua]" in line[:start + 1]:
        return None  # a command a script ran: replayed with its EVAL
    s, i, out = line[start + 2:], 0, []
    while i < len(s):
        if s[i] != '"':
            i += 1
            continue
        i += 1
        arg = bytearray()
        while i < len(s) and s[i] != '"':
            if s[i] == "\\":
                if s[i + 1] == "x":
                    arg.append(int(s[i + 2:i + 4], 16))
                    i += 4
                    continue
                arg += ESCAPES.get(s[i + 1], s[i + 1].encode("latin1"))
                i += 2
                continue
            arg += s[i].encode("latin1")
            i += 1
        out.append(bytes(arg))
        i += 1
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: redis_monitor_to_resp.py MONITOR_LOG > commands.resp")
    w = sys.stdout.buffer
    kept = dropped = 0
    with open(sys.argv[1], encoding="latin1") as f:
        for line in f:
            a = arguments(line.rstrip("\n"))
            if not a or a[0].upper() in NOT_OURS:
                continue
            if a[0].upper() in DROPPED:
                dropped += 1
                continue
            w.write(b"*%d\r\n" % len(a))
            for x in a:
                w.write(b"$%d\r\n%s\r\n" % (len(x), x))
            kept += 1
    sys.stderr.write("%d commands kept, %d WATCH/UNWATCH/MULTI/EXEC dropped\n"
                     % (kept, dropped))


if __name__ == "__main__":
    main()
