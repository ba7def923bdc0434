#!/usr/bin/python3
"""Pyramid's SignedCookieSessionFactory by hand, over HTTP (evidence for README.md).

Each scenario starts targets/pyramid/app.py on a free loopback port (port 0,
the port read from its "listening on" line), makes requests with http.client,
sending the Cookie header itself (so a cookie can be replayed whatever the
answers said), prints what it saw, and stops that server (SIGTERM to its own
pid). The cookie's payload is readable without the key: base64url of a 64-byte
HMAC-SHA512 followed by the JSON list [accessed, created, data]
(webob/cookies.py:653-661, pyramid/session.py:324-326); "stamp" below is its
first element, the time Pyramid judges the timeout by.

  cookie    one new session's Set-Cookie and its decoded payload
  lifetime  --sessions sessions, each made by GET /counter; its first cookie is
            replayed every --poll s until the answer is "Visit #1" (refused):
            when, relative to the answer and to stamp + timeout
  reissue   for each reissue_time (default, 1, timeout-1, none) and timeout
            (2, 4): a session made by GET /counter, then GET / every --gap s
            with a client that keeps the newest cookie: when the cookie was
            re-issued (stamp) and when the session was lost
  reload    PERSIST-006's exchange (a new session on /, then 3 reloads) --runs
            times, reissue_time 0: how often a reload got a Set-Cookie; then
            the same, started 5 ms before a second boundary; then reloads
            1 s apart, as a person reloads
  expire    /counter twice, /expire, then the cookies replayed
  hostile   cookies the server never issued: status and what came back

  /usr/bin/python3 targets/pyramid/probe.py [--timeout 2] [SCENARIO ...]

Nothing here is used by the suite's runs; the adapter is app.py.
"""

import argparse
import base64
import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ID = re.compile(r"Your session id is: (\S*)")
VISIT = re.compile(r"Visit #(\d+)")
URL = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/")


class Server:
    """app.py on port 0, stopped by SIGTERM to its pid."""

    def __init__(self, *args):
        self.args = args
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "app.py"), "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = URL.search(line)
            if m:
                self.port = int(m.group(1))
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        self.stop()
        raise SystemExit("app.py did not announce its URL")

    def get(self, path, cookie=None, raw_cookie_header=None):
        """One GET on a connection of its own: (status, body, session cookie value or None, raw Set-Cookie)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {}
        if raw_cookie_header is not None:
            headers["Cookie"] = raw_cookie_header
        elif cookie is not None:
            headers["Cookie"] = "session=" + cookie
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        raw = r.getheader("Set-Cookie")
        conn.close()
        value = None
        if raw and raw.startswith("session="):
            value = raw.split(";", 1)[0][len("session="):]
        return r.status, body, value, raw

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def payload(value):
    """[accessed, created, data] of a cookie value (the signature is skipped, not checked)."""
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return json.loads(raw[64:])


def stamp(value):
    return payload(value)[0]


def short(v, n=12):
    return v if v is None or len(v) <= n else v[:n] + "…"


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def scenario_cookie(a):
    with Server("--timeout", str(a.timeout)) as s:
        t = time.time()
        st, body, value, raw = s.get("/")
        print(f"  GET / at {t:.3f} -> {st} {body!r}")
        print(f"  Set-Cookie: {raw[:60]}…{raw[-40:]}  ({len(value)} bytes of value)")
        print(f"  payload [accessed, created, data] = {json.dumps(payload(value))}")


def scenario_lifetime(a):
    T = a.timeout
    print(f"  timeout {T} s, {a.sessions} sessions, each cookie replayed every {a.poll} s on /counter until refused")
    print("  #  answered(s mod 100)  stamp        last accepted        first refused        lifetime")
    lives = []
    with Server("--timeout", str(T)) as s:
        for i in range(a.sessions):
            time.sleep((i * 0.37) % 1)  # spread the sessions over the phases of a second
            st, body, c, _ = s.get("/counter")
            answered = time.time()
            st0 = stamp(c)
            last_ok = first_bad = None
            while True:
                t0 = time.time()
                st, body, _, _ = s.get("/counter", c)
                t1 = time.time()
                n = int(VISIT.search(body).group(1))
                if n == 1:
                    first_bad = t1
                    break
                last_ok = t0
                time.sleep(a.poll)
            life = first_bad - answered
            lives.append(life)
            print(f"  {i + 1:<2} {answered % 100:8.3f}            {st0}   +{last_ok - answered:.3f} s ({last_ok - st0 - T:+.3f})"
                  f"   +{first_bad - answered:.3f} s ({first_bad - st0 - T:+.3f})   {life:.3f} s (T {life - T:+.3f})")
    print(f"  lifetime from the answer to the answer of the first refusal: {min(lives):.3f} .. {max(lives):.3f} s"
          f" (timeout {T} s); brackets: relative to stamp + timeout")


def scenario_reissue(a):
    for T in (2, 4):
        for r in ("default", "1", "timeout-1", "none"):
            with Server("--timeout", str(T), "--reissue-time", r) as s:
                sleep_until(math.floor(time.time()) + 1 + 0.3)  # start at .3 of a second: the same phase each run
                st, body, c, _ = s.get("/counter")
                s0 = stamp(c)
                start = time.time()
                first_id = None
                events = []
                lost = None
                k = 0
                while time.time() - start < 2.5 * T:
                    k += 1
                    sleep_until(start + k * a.gap)
                    t = time.time()
                    st, body, nc, _ = s.get("/", c)
                    sid = ID.search(body).group(1)
                    if first_id is None:
                        first_id = sid
                    if sid != first_id:
                        lost = t - s0
                        break
                    if nc is not None:
                        events.append(f"{t - s0:.2f}->{stamp(nc) - s0}")
                        c = nc
                print(f"  timeout {T} s, reissue {r:<9}: session made at stamp+0.30 s, then GET / every {a.gap} s;"
                      f" re-issued at stamp+[{', '.join(events) or 'never'}] (time->new stamp);"
                      f" {'lost at stamp+%.2f s' % lost if lost is not None else 'alive for %.1f s' % (2.5 * T)}")


def scenario_reload(a):
    with Server("--timeout", "60") as s:
        def one():
            st, body, c, _ = s.get("/")
            resent = 0
            for _ in range(3):
                st, body, nc, _ = s.get("/", c)
                resent += nc is not None
                c = nc or c
            return resent

        took = []
        hits = 0
        for _ in range(a.runs):
            t = time.time()
            hits += one() > 0
            took.append(time.time() - t)
        print(f"  {a.runs} runs of GET / + 3 reloads (each {min(took) * 1000:.1f}-{max(took) * 1000:.1f} ms):"
              f" a reload re-sent the cookie in {hits}")
        hits = 0
        for _ in range(20):
            sleep_until(math.floor(time.time()) + 1 - 0.005)
            hits += one() > 0
        print(f"  20 runs started 5 ms before a second boundary: a reload re-sent the cookie in {hits}")
        st, body, c, _ = s.get("/")
        got = []
        for _ in range(3):
            time.sleep(1.0)
            st, body, nc, _ = s.get("/", c)
            got.append("Set-Cookie" if nc else "none")
            c = nc or c
        print(f"  GET / then 3 reloads 1 s apart: {', '.join(got)}")


def scenario_expire(a):
    with Server("--timeout", str(a.timeout)) as s:
        st, b, c1, _ = s.get("/counter")
        st, b, c2, _ = s.get("/counter", c1)
        st, shown, _, _ = s.get("/", c2)
        print(f"  GET /counter, /counter -> {b!r}; GET / -> {shown!r}")
        st, b, c3, raw = s.get("/expire", c2)
        print(f"  GET /expire -> {b!r}; Set-Cookie: session=…{raw[-24:]}; payload {json.dumps(payload(c3))}")
        for name, c in (("the /expire cookie", c3), ("the cookie held before /expire", c2),
                        ("the first cookie (count 1)", c1)):
            st, b, _, _ = s.get("/counter", c)
            st, shown, _, _ = s.get("/", c)
            print(f"  {name}, replayed: /counter -> {b!r}; / -> {shown[20:32]}…")
        sleep_until(stamp(c2) + a.timeout + 0.05)
        st, b, _, _ = s.get("/counter", c2)
        print(f"  the cookie held before /expire, replayed at its stamp + timeout + 0.05 s -> {b!r}")


def scenario_hostile(a):
    with Server("--timeout", str(a.timeout)) as s:
        st, b, c, _ = s.get("/counter")
        sig_tampered = c[:10] + ("A" if c[10] != "A" else "B") + c[11:]
        unsigned = base64.urlsafe_b64encode(b"\0" * 64 + json.dumps([time.time(), time.time(), {"id": "mallory", "count": 41}]).encode()).decode().rstrip("=")
        cases = [
            ("tampered signature", "session=" + sig_tampered),
            ("unsigned payload, zero HMAC", "session=" + unsigned),
            ("empty", "session="),
            ("not base64", "session=!!!***"),
            ("quoted", 'session="' + c + '"'),
            ("8 KiB", "session=" + "a" * 8192),
            ("non-ASCII (UTF-8 bytes)", "session=\u00e9t\u00e9"),
            ("two cookies, forged first", "session=xyz; session=" + c),
        ]
        for name, header in cases:
            try:
                st, body, nc, _ = s.get("/counter", raw_cookie_header=header)
                print(f"  {name:<28} -> {st} {body!r} {'new cookie' if nc else 'no cookie'}")
            except Exception as e:  # noqa: BLE001 - evidence, whatever it is
                print(f"  {name:<28} -> {type(e).__name__}: {e}")


SCENARIOS = {"cookie": scenario_cookie, "lifetime": scenario_lifetime, "reissue": scenario_reissue,
             "reload": scenario_reload, "expire": scenario_expire, "hostile": scenario_hostile}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--timeout", type=int, default=2)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--poll", type=float, default=0.01)
    p.add_argument("--gap", type=float, default=0.25)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    a = p.parse_args(argv)
    for name in a.scenarios:
        if name not in SCENARIOS:
            p.error(f"unknown scenario {name!r}; want {', '.join(SCENARIOS)}")
    for name in a.scenarios:
        print(f"{name}:", flush=True)
        SCENARIOS[name](a)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
