#!/usr/bin/python3
"""CherryPy's sessions tool by hand, over HTTP (evidence for README.md).

Each scenario starts targets/cherrypy/app.py on a free loopback port (port 0,
the port read from its "listening on" line), makes a few requests with
urllib, prints what it saw, and stops that server (SIGTERM to its own pid).

  ids       --sessions new sessions: id length, alphabet, distinct ids, the
            values seen at each position (CherryPy: hexlify(os.urandom(20)),
            sessions.py:252-254)
  adopt     cookies the server never issued (forged, empty, a path, 4 KiB):
            status, the id shown, the cookie set; in both storage classes
  stale     a session used, then idle past its timeout, its cookie replayed:
            with CherryPy's clean_freq (5 min) and with 1 s
  sweep     when the cleanup thread ends a timed-out session: --replays
            sessions made 0.1 s apart (at different phases of the cleaner),
            each cookie replayed once, at a random delay between the timeout
            and the timeout + clean_freq + 0.3 s
  lock      --threads requests to /counter with one cookie, released together
            (a threading.Barrier), then one more: the count shows how many
            increments were lost, for each storage class and locking mode
  files     what FileSession leaves in storage_path after sessions time out
            and the cleanup thread ran (session files and .lock files)
  expire    /expire as the adapter does it (session.delete() and
            sessions.expire()) against sessions.expire() alone (--expire
            cookie): the old cookie replayed

  /usr/bin/python3 targets/cherrypy/probe.py [--timeout 2] [SCENARIO ...]

Nothing here is used by the suite's runs; the adapter is app.py.
"""

import argparse
import collections
import math
import random
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ID = re.compile(r"Your session id is: (\S*)")
VISIT = re.compile(r"Visit #(\d+)")
URL = re.compile(r"listening on (http://127\.0\.0\.1:\d+/)")
PATH = re.compile(r"storage_path (\S+?)\)")


class Server:
    """app.py on port 0, stopped by SIGTERM to its pid on exit."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "app.py"), "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.storage = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = URL.search(line)
            if m:
                self.url = m.group(1)
                p = PATH.search(line)
                self.storage = p.group(1) if p else None
                # Drain the rest of its output so that it never blocks.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        self.stop()
        raise SystemExit("app.py did not announce its URL")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def get(base, path, cookie=None):
    """(status, body, Set-Cookie header or None, the id it sets or None)."""
    req = urllib.request.Request(base + path.lstrip("/"))
    if cookie is not None:
        req.add_header("Cookie", "session_id=" + cookie)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, body, headers = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read().decode(errors="replace"), e.headers
    sc = headers.get("Set-Cookie")
    m = re.match(r"session_id=([^;]*)", sc or "")
    return status, body, sc, (m.group(1) if m else None)


def short(s, n=12):
    return s if s is None or len(s) <= n else s[:n] + "…"


def ids(a):
    with Server("--timeout", str(a.timeout)) as s:
        seen = []
        for _ in range(a.sessions):
            st, body, sc, cid = get(s.url, "/")
            seen.append(ID.search(body).group(1))
    lengths = collections.Counter(len(i) for i in seen)
    alphabet = sorted(set("".join(seen)))
    per_pos = [len(set(i[k] for i in seen)) for k in range(min(lengths))]
    print(f"{len(seen)} sessions: {len(set(seen))} distinct ids, lengths {dict(lengths)}, alphabet {''.join(alphabet)}")
    print(f"values seen per position: min {min(per_pos)}, max {max(per_pos)} of {len(alphabet)}"
          f" -> {sum(math.log2(v) for v in per_pos):.0f} bits if every position is uniform")
    print(f"example: {seen[0]}")


def adopt(a):
    forged = "0123456789abcdef0123456789abcdef01234567"
    values = [("forged, an id's shape", forged), ("16 hex", "0123456789abcdef"), ("empty", ""),
              ("path", "../../../etc/passwd"), ("slash", "x/y"), ("4 KiB", "a" * 4096)]
    for storage in ("ram", "file"):
        print(f"--storage {storage}")
        with Server("--timeout", str(a.timeout), "--storage", storage) as s:
            for label, v in values:
                st, body, sc, cid = get(s.url, "/", v)
                shown = ID.search(body)
                shown = shown.group(1) if shown else None
                print(f"  Cookie: session_id={short(v, 24)!s:<27} ({label}) -> {st}, shows {short(shown)!s:<13}"
                      f" Set-Cookie id {short(cid)}{'  (= the cookie sent)' if cid == v else ''}")
                if st != 200:
                    st2, _, sc2, _ = get(s.url, "/", v)
                    print(f"    the same cookie again -> {st2}, Set-Cookie: {sc2}")


def stale(a):
    t = a.timeout
    for clean in ("300", "1"):
        print(f"--clean-freq {clean} (seconds; given to CherryPy as {int(clean) / 60:g} min)")
        with Server("--timeout", str(t), "--clean-freq", clean) as s:
            t0 = time.time()
            _, body, _, c = get(s.url, "/")
            first = ID.search(body).group(1)
            print(f"  t=0.00  GET /                 -> shows {short(first)}, cookie {short(c)}")
            for _ in range(2):
                _, body, _, _ = get(s.url, "/counter", c)
                print(f"  t={time.time() - t0:.2f}  GET /counter (cookie) -> {body}")
            for idle in (t + 1.25, t + 1.25 + 3):
                time.sleep(idle)
                _, body, sc, cid = get(s.url, "/counter", c)
                _, body2, _, _ = get(s.url, "/", c)
                print(f"  t={time.time() - t0:.2f}  after {idle:.2f} s idle, the old cookie replayed:"
                      f" /counter -> {body}; / -> {ID.search(body2).group(1) == first and 'the same id' or 'a new id'};"
                      f" Set-Cookie id {short(cid)}")


def sweep(a):
    t, cf = a.timeout, a.clean_freq
    rng = random.Random(a.seed)
    with Server("--timeout", str(t), "--clean-freq", str(cf)) as s:
        sessions = []
        for i in range(a.replays):
            d = t + rng.uniform(-0.1, cf + 0.3)
            _, _, _, c = get(s.url, "/counter")          # made, saved, counted 1
            sessions.append((time.time() + d, d, c))
            time.sleep(0.1)                               # the next one at another phase of the cleaner
        # each cookie replayed once, d after its last use
        seen = []
        for due, d, c in sorted(sessions):
            time.sleep(max(0, due - time.time()))
            late = time.time() - (due - d)
            _, body, sc, cid = get(s.url, "/counter", c)
            seen.append((late, cid == c, body))
        for late, same, body in sorted(seen):
            print(f"  replayed {late:.3f} s after its last use (timeout {t} s, clean_freq {cf:g} s):"
                  f" {body:<18} {'same id' if same else 'new id'}")
        same = [late for late, s_, _ in seen if s_ and late > t]
        new = [late for late, s_, _ in seen if not s_]
        if same:
            print(f"  past the timeout, the old id still served up to {max(same) - t:.3f} s after it")
        if new:
            print(f"  a new id from {min(new) - t:.3f} s after the timeout")


def burst(url, cookie, n):
    barrier = threading.Barrier(n)
    out = []

    def one():
        barrier.wait()
        out.append(get(url, "/counter", cookie)[:2])
    ts = [threading.Thread(target=one) for _ in range(n)]
    t0 = time.time()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return out, time.time() - t0


def lock(a):
    for storage in ("ram", "file"):
        for locking in ("implicit", "explicit"):
            with Server("--timeout", "60", "--storage", storage, "--locking", locking,
                        "--thread-pool", str(a.thread_pool)) as s:
                _, body, _, c = get(s.url, "/counter")
                out, took = burst(s.url, c, a.threads)
                statuses = collections.Counter(st for st, _ in out)
                counts = [int(VISIT.search(b).group(1)) for st, b in out if st == 200]
                _, body, _, _ = get(s.url, "/counter", c)
                after = int(VISIT.search(body).group(1)) if VISIT.search(body) else None
                ok = statuses.get(200, 0)
                said = body if after else re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", body)).strip()[:80]
                lost = f"{1 + ok + 1 - after} increments lost" if after else "no count"
                print(f"  {storage:<4} locking={locking:<8} {a.threads} requests in {took:.2f} s: statuses {dict(statuses)},"
                      f" {len(set(counts))} distinct counts; the next visit says {said!r}: {lost}")


def files(a):
    with Server("--timeout", str(a.timeout), "--storage", "file", "--clean-freq", "1") as s:
        for _ in range(a.sessions):
            get(s.url, "/")
        _, _, _, c = get(s.url, "/counter")
        get(s.url, "/expire", c)
        get(s.url, "/", "0123456789abcdef0123456789abcdef01234567")  # an unknown id: locked, never saved

        def count():
            names = os.listdir(s.storage)
            locks = sum(n.endswith(".lock") for n in names)
            return len(names) - locks, locks
        print(f"  {a.sessions} sessions made, one more counted and expired, one forged id: session files, lock files = {count()}")
        time.sleep(a.timeout + 2.5)
        print(f"  {a.timeout + 2.5:.1f} s later (timeout {a.timeout} s, clean_freq 1 s): session files, lock files = {count()}")


def expire(a):
    for how in ("delete", "cookie"):
        with Server("--timeout", "60", "--expire", how) as s:
            _, body, _, c = get(s.url, "/")
            print(f"  --expire {how}: GET / -> {body}")
            for _ in range(2):
                print(f"    GET /counter -> {get(s.url, '/counter', c)[1]}")
            st, body, sc, _ = get(s.url, "/expire", c)
            print(f"    GET /expire -> {body}  Set-Cookie: {sc}")
            print(f"    the old cookie replayed: GET /counter -> {get(s.url, '/counter', c)[1]};"
                  f" GET / -> {get(s.url, '/', c)[1]}")


SCENARIOS = {"ids": ids, "adopt": adopt, "stale": stale, "sweep": sweep, "lock": lock, "files": files, "expire": expire}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--timeout", type=int, default=2)
    p.add_argument("--sessions", type=int, default=2000)
    p.add_argument("--threads", type=int, default=50)
    p.add_argument("--thread-pool", type=int, default=10)
    p.add_argument("--clean-freq", type=float, default=1.0, help="for sweep, in seconds")
    p.add_argument("--replays", type=int, default=20, help="for sweep: sessions, each replayed once")
    p.add_argument("--seed", type=int, default=1, help="for sweep: the delays' random seed")
    p.add_argument("scenario", nargs="*", default=list(SCENARIOS))
    a = p.parse_args(argv)
    for name in a.scenario:
        if name not in SCENARIOS:
            p.error(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
    for name in a.scenario:
        print(f"== {name}", flush=True)
        SCENARIOS[name](a)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main(sys.argv[1:]))
