#!/usr/bin/env python3
"""Measures what two replicas of a clustered seed site do with one session,
by hand, outside the suite: the figures targets/README.md quotes for
express-redis and scs-redis.

    cluster_probe.py URL_A URL_B [--timeout SECONDS] [--runs N] [--n N]

Each measurement uses fresh sessions (its own cookie, sent by hand):

  increments  N concurrent GET /counter spread over A and B (even to A, odd
              to B), then one more on A: how many of the N were counted;
  pageview    GET /counter on A and GET / on B at once, 20 times: how often
              the page view (which should not change anything) undid the
              increment;
  resurrect   GET /expire on A and GET /counter on B at once, 20 times: how
              often the expired id is still served afterwards;
  refresh     visits alternating A, B every 0.6 x timeout for 3 timeouts:
              whether the session survived, then idle for 1.5 x timeout;
  emptyrace   with --redis URL and --prefix (the store's key prefix: sess:
              for connect-redis, scs:session: for redisstore): GET /logme on
              A (an empty page), then at once GET the session's key from
              Redis, 200 times: how often the answer came before the store
              had the logme mark (the next request, on any replica, would
              read the session without it).

Only the standard library; every request goes to 127.0.0.1.
"""
import argparse
import re
import threading
import time
import urllib.request

ID = re.compile(r"Your session id is: (\S+)")
VISIT = re.compile(r"Visit #(\d+) for you!")


class Client:
    """One browser: a single session cookie, set from any replica."""

    def __init__(self, name):
        self.name = name
        self.cookie = None
        self.lock = threading.Lock()

    def get(self, base, path, cookie=None):
        req = urllib.request.Request(base.rstrip("/") + path)
        c = cookie if cookie is not None else self.cookie
        if c:
            req.add_header("Cookie", c)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read().decode()
            for h in resp.headers.get_all("Set-Cookie") or []:
                pair = h.split(";", 1)[0]
                if pair.split("=", 1)[0] == self.name:
                    with self.lock:
                        self.cookie = pair
            return body


def cookie_name(base):
    import json
    with urllib.request.urlopen(base.rstrip("/") + "/.well-known/sessionspec", timeout=10) as r:
        return json.load(r)["cookie"]


def start(a, name):
    c = Client(name)
    sid = ID.search(c.get(a, "/")).group(1)
    return c, sid


def increments(a, b, name, n):
    c, _ = start(a, name)
    cookie = c.cookie
    threads = [threading.Thread(target=c.get, args=((a if i % 2 == 0 else b), "/counter", cookie)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return int(VISIT.search(c.get(a, "/counter", cookie)).group(1)) - 1


def at_once(*calls):
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, f):
        barrier.wait()
        out[i] = f()
    ts = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(calls)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def pageview(a, b, name, trials):
    lost = 0
    for _ in range(trials):
        c, _ = start(a, name)
        cookie = c.cookie
        c.get(a, "/counter", cookie)  # count 1
        at_once(lambda: c.get(a, "/counter", cookie), lambda: c.get(b, "/", cookie))
        n = int(VISIT.search(c.get(a, "/counter", cookie)).group(1))
        if n != 3:
            lost += 1
    return lost


def resurrect(a, b, name, trials):
    back = 0
    for _ in range(trials):
        c, sid = start(a, name)
        cookie = c.cookie
        at_once(lambda: c.get(a, "/expire", cookie), lambda: c.get(b, "/counter", cookie))
        time.sleep(0.05)
        again = ID.search(c.get(a, "/", cookie)).group(1)
        if again == sid:
            back += 1
    return back


def refresh(a, b, name, timeout):
    c, sid = start(a, name)
    cookie = c.cookie
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 3 * timeout:
        time.sleep(0.6 * timeout)
        i += 1
        got = ID.search(c.get(b if i % 2 else a, "/", cookie)).group(1)
        if got != sid:
            return f"lost after {time.monotonic() - t0:.1f}s ({i} visits)"
    time.sleep(1.5 * timeout)
    gone = ID.search(c.get(b, "/", cookie)).group(1) != sid
    return f"alive through {i} alternating visits over {time.monotonic() - t0 - 1.5 * timeout:.1f}s; " + \
        ("gone" if gone else "STILL THERE") + f" after {1.5 * timeout:.1f}s idle"


def redis_get(url, key):
    """GET key over a fresh connection (RESP by hand: the standard library
    has no Redis client)."""
    import socket
    from urllib.parse import urlparse
    u = urlparse(url)
    db = (u.path or "/0").strip("/") or "0"
    with socket.create_connection((u.hostname, u.port or 6379), timeout=5) as s:
        f = s.makefile("rb")

        def cmd(*args):
            s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
            line = f.readline()
            if line.startswith(b"$"):
                n = int(line[1:])
                return None if n < 0 else f.read(n + 2)[:-2]
            if line.startswith(b"-"):
                raise RuntimeError(line.decode().strip())
            return line
        cmd(b"SELECT", db.encode())
        return cmd(b"GET", key.encode())


def emptyrace(a, name, redis, prefix, trials):
    early = 0
    for _ in range(trials):
        c, sid = start(a, name)
        c.get(a, "/logme")
        v = redis_get(redis, prefix + sid)
        if v is None or b"logme" not in v:
            early += 1
    return early


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--timeout", type=float, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--redis", help="the Redis URL, for emptyrace")
    p.add_argument("--prefix", help="the store's key prefix, for emptyrace")
    p.add_argument("--only", help="run only this measurement")
    args = p.parse_args()
    name = cookie_name(args.a)
    if args.redis and args.prefix:
        n = 200
        print(f"emptyrace: GET /logme answered before the store had the mark {emptyrace(args.a, name, args.redis, args.prefix, n)} of {n} times")
        if args.only == "emptyrace":
            return
    counted = [increments(args.a, args.b, name, args.n) for _ in range(args.runs)]
    where = "2 replicas" if args.a != args.b else "1 replica"
    print(f"increments: {args.n} concurrent over {where}, {args.runs} runs: counted {counted}")
    print(f"pageview: a GET / on B at the same time as a GET /counter on A undid the increment {pageview(args.a, args.b, name, args.trials)} of {args.trials} times")
    print(f"resurrect: GET /expire on A at the same time as GET /counter on B: the expired id was served again {resurrect(args.a, args.b, name, args.trials)} of {args.trials} times")
    print(f"refresh: {refresh(args.a, args.b, name, args.timeout)}")


if __name__ == "__main__":
    main()
