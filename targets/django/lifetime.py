#!/usr/bin/python3
"""Measures when Django's db backend stops finding a session (evidence for targets/README.md).

Starts targets/django/app.py on a free port. With SESSION_SAVE_EVERY_REQUEST
every request that finds a session moves its expiry, so each probe uses a
session of its own: for each delay in --delays (seconds after the first
response, or T-x / T+x) it makes --sessions new sessions (a GET / each, a
quarter of a second apart, so that requests rarely overlap), waits that long
after the response arrived, and sends the cookie once more. Right after each
first response it reads the session's row from the adapter's SQLite file
(read-only): expire_date against the time the response arrived shows how much
of the timeout the request itself used. It prints, per delay, how many
sessions were still found and the range of expire_date - arrival.

  /usr/bin/python3 targets/django/lifetime.py [--timeout 2] [--sessions 8] [--delays T-0.25,T-0.05,T+0.05,T+0.25]
"""

import argparse
import datetime
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

ID = re.compile(r"Your session id is: (\S+)")


def get(base, path, cookie=None):
    req = urllib.request.Request(base + path)
    if cookie is not None:
        req.add_header("Cookie", "sessionid=" + cookie)
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read().decode()
        sets = [v.strip() for k, v in r.headers.items() if k.lower() == "set-cookie"]
    m = ID.search(body)
    return (m.group(1) if m else None), sets


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--timeout", type=int, default=2)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--delays", default="T-0.25,T-0.05,T+0.05,T+0.25")
    a = p.parse_args()
    delays = []
    for d in a.delays.split(","):
        d = d.strip()
        delays.append(a.timeout + float(d[1:]) if d.startswith("T") else float(d))
    app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.py")
    proc = subprocess.Popen([sys.executable, app, "--port", "0", "--timeout", str(a.timeout)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        db = re.search(r"database (/\S+?)\)", line)
        if not m or not db:
            sys.exit(f"the adapter did not start: {line!r}")
        base = m.group(0)
        print(f"# {line.strip()}")

        def expire_date(sid):
            con = sqlite3.connect(f"file:{db.group(1)}?mode=ro", uri=True)
            try:
                (stored,) = con.execute("SELECT expire_date FROM django_session WHERE session_key = ?",
                                        (sid,)).fetchone()
            finally:
                con.close()
            return stored, datetime.datetime.fromisoformat(stored).replace(
                tzinfo=datetime.timezone.utc).timestamp()

        sid, sets = get(base, "/")
        t0 = time.time()
        stored, exp = expire_date(sid)
        print(f"# Set-Cookie: {sets[0]}")
        print(f"# row {sid}: expire_date {stored!r} (UTC) = response arrival + {exp - t0:.6f} s")

        results = {d: [] for d in delays}
        lock = threading.Lock()

        def probe(d, start):
            time.sleep(start)
            sid, _ = get(base, "/")
            t0 = time.time()
            _, exp = expire_date(sid)
            time.sleep(max(0.0, t0 + d - time.time()))
            t = time.time()
            again, _ = get(base, "/", sid)  # Django's cookie value is the session key
            with lock:
                results[d].append((again == sid, t - t0, exp - t0))

        jobs = [d for _ in range(a.sessions) for d in delays]
        threads = [threading.Thread(target=probe, args=(d, i * 0.25 + random.random() * 0.05))
                   for i, d in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("delay after response (s)  still found  probe sent at (s)  expire_date - arrival (s)")
        for d in delays:
            found = sum(1 for ok, _, _ in results[d] if ok)
            sent = [t for _, t, _ in results[d]]
            margin = [m for _, _, m in results[d]]
            print(f"{d:24.3f}  {found:4d} of {len(results[d]):<3d}  {min(sent):.3f}..{max(sent):.3f}"
                  f"      {min(margin):.3f}..{max(margin):.3f}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
