#!/usr/bin/python3
"""Measures when Flask stops accepting a session cookie (evidence for targets/README.md).

Starts targets/flask/app.py on a free port, makes --sessions new sessions (a
GET / each, a random fraction of a second apart) and, for each, sends the
cookie of that first response again every --poll seconds, never the refreshed
one, until the page shows a different id. Flask keeps no state on the server,
so these probes do not change when the first cookie stops being accepted.
For each session it prints the whole-second timestamp itsdangerous put in the
cookie, when the response arrived, and when the cookie was last accepted and
first refused, relative to that response and to timestamp + timeout.

  /usr/bin/python3 targets/flask/lifetime.py [--timeout 2] [--sessions 10] [--poll 0.01]
"""

import argparse
import base64
import os
import random
import re
import subprocess
import sys
import time
import urllib.request

ID = re.compile(r"Your session id is: (\S+)")


def get(base, path, cookie=None):
    req = urllib.request.Request(base + path)
    if cookie is not None:
        req.add_header("Cookie", "session=" + cookie)
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read().decode()
        sets = [v for k, v in r.headers.items() if k.lower() == "set-cookie"]
    m = ID.search(body)
    value = None
    for v in sets:
        if v.startswith("session="):
            value = v.split(";", 1)[0][len("session="):]
    return (m.group(1) if m else None), value, sets


def timestamp(cookie):
    """The itsdangerous timestamp: the middle of payload.timestamp.signature."""
    ts = cookie.rsplit(".", 2)[1]
    return int.from_bytes(base64.urlsafe_b64decode(ts + "=" * (-len(ts) % 4)), "big")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--timeout", type=int, default=2)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--poll", type=float, default=0.01)
    a = p.parse_args()
    app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.py")
    proc = subprocess.Popen([sys.executable, app, "--port", "0", "--timeout", str(a.timeout)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not m:
            sys.exit(f"the adapter did not start: {line!r}")
        base = m.group(0)
        print(f"# {line.strip()}")
        print(f"# T = {a.timeout} s; times in seconds; 'after resp' is measured from the first"
              f" response's arrival, 'after ts+T' from its signing second + T")
        print("session  signed-at(ts)  resp-at(frac)  last-accepted(after resp)  first-refused(after resp)"
              "  first-refused(after ts+T)")
        lives = []
        for i in range(a.sessions):
            time.sleep(random.random())
            sid, cookie, _ = get(base, "/")
            t0 = time.time()
            ts = timestamp(cookie)
            last_ok = t0
            time.sleep(max(0.0, a.timeout - 0.3))
            while True:
                t = time.time()
                now_id, _, _ = get(base, "/", cookie)
                if now_id != sid:
                    break
                last_ok = t
                time.sleep(a.poll)
            lives.append(t - t0)
            print(f"{i + 1:7d}  {ts:13d}  {t0 - ts:13.3f}  {last_ok - t0:25.3f}  {t - t0:25.3f}"
                  f"  {t - (ts + a.timeout):25.3f}")
        print(f"# first refused between {min(lives):.3f} and {max(lives):.3f} s after the response"
              f" (T = {a.timeout} s)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
