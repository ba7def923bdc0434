#!/usr/bin/python3
"""Beaker's session middleware by hand, in process (evidence for README.md).

Drives beaker.middleware.SessionMiddleware with the adapter's options
(app.session_options) through plain WSGI calls, no server, to show what the
settings the adapter did NOT choose would do, each as a few requests:

  expire-invalidate   /expire with session.invalidate() instead of delete():
                      does the old cookie still reach the old session?
  expire-no-timeout   session.delete() as the adapter does, but with
                      Beaker's default timeout None: does the old cookie
                      still name a session?
  secret              the adapter's options plus secret=...: is a
                      client-chosen id (ROBUST-001) still adopted?
  lock                /counter inside session.lock()/unlock() (Beaker's own,
                      "use with caution" API): are concurrent increments
                      still lost? (--threads threads, one increment each)
  files               what the file back end leaves on disk after /expire and
                      after a timeout (the data files and their contents)

  /usr/bin/python3 targets/beaker/probe.py [--type file|memory] [SCENARIO ...]

Nothing here is used by the suite's runs; the adapter is app.py.
"""

import argparse
import glob
import io
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the peer's folder
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from beaker.middleware import SessionMiddleware  # noqa: E402

from app import session_options  # noqa: E402

COOKIE = re.compile(r"beaker\.session\.id=([^;]*)")


def site(opts, expire="delete", lock=False):
    def app(environ, start_response):
        s = environ["beaker.session"]
        path = environ["PATH_INFO"]
        if path == "/":
            if s.is_new:
                s.save()
            body = "Your session id is: " + s.id
        elif path == "/expire":
            if expire == "delete":
                s.delete()
            else:
                s.invalidate()
            body = "Your session has been expired."
        else:
            if lock:
                s.lock()
                try:
                    s.load()  # reread under the lock
                    s["count"] = s.get("count", 0) + 1
                    s.save()
                    s.persist()
                finally:
                    s.unlock()
            else:
                s["count"] = s.get("count", 0) + 1
                s.save()
            body = "Visit #%d for you!" % s["count"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body.encode()]
    return SessionMiddleware(app, **opts)


def get(wsgi, path, cookie=None):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "probe", "SERVER_PORT": "80",
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http"}
    if cookie is not None:
        environ["HTTP_COOKIE"] = "beaker.session.id=" + cookie
    out = {}

    def start_response(status, headers, exc_info=None):
        out["headers"] = headers
    body = b"".join(wsgi(environ, start_response)).decode()
    sets = [v.strip() for k, v in out["headers"] if k.lower() == "set-cookie"]
    return body, sets


def show(label, path, cookie, res):
    body, sets = res
    print(f"  {label:<34} GET {path:<9} -> {body!r}  Set-Cookie: {sets or '-'}")


def new_cookie(res):
    for v in res[1]:
        m = COOKIE.search(v)
        if m and "expires=" not in v:
            return m.group(1)
    return None


def dump(tmp):
    for f in sorted(glob.glob(tmp + "/data/**/*.cache", recursive=True)):
        with open(f, "rb") as fh:
            print("   ", f[len(tmp):], pickle.load(fh))


def expire_scenario(kind, tmp, expire, timeout):
    opts = session_options(kind, timeout, tmp)
    opts["timeout"] = timeout
    w = site(opts, expire=expire)
    r = get(w, "/")
    c = new_cookie(r)
    show("alice's first visit", "/", None, r)
    show("alice", "/counter", c, get(w, "/counter", c))
    show("alice", "/counter", c, get(w, "/counter", c))
    show(f"alice, /expire ({expire}())", "/expire", c, get(w, "/expire", c))
    show("the old cookie replayed", "/counter", c, get(w, "/counter", c))
    show("the old cookie replayed", "/", c, get(w, "/", c))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--type", choices=("file", "memory"), default="file")
    p.add_argument("--timeout", type=int, default=2)
    p.add_argument("--threads", type=int, default=50)
    p.add_argument("scenario", nargs="*",
                   default=["expire-invalidate", "expire-no-timeout", "secret", "lock", "files"])
    a = p.parse_args(argv)
    import warnings
    warnings.simplefilter("always")
    for name in a.scenario:
        tmp = tempfile.mkdtemp(prefix="sessionspec-beaker-probe-")
        try:
            print(f"== {name} ({a.type} back end)")
            if name == "expire-invalidate":
                expire_scenario(a.type, tmp, "invalidate", a.timeout)
            elif name == "expire-no-timeout":
                expire_scenario(a.type, tmp, "delete", None)
            elif name == "secret":
                for secret in (None, "probe-secret"):
                    opts = session_options(a.type, a.timeout, tmp)
                    opts["secret"] = secret
                    w = site(opts)
                    r = get(w, "/")
                    real = new_cookie(r)
                    show(f"secret={secret!r}: first visit", "/", None, r)
                    forged = "0123456789abcdef0123456789abcdef"
                    if secret:  # the same shape as the real, signed value: 40 hex + 32 hex
                        forged = "f" * 40 + forged
                    show("a client-chosen cookie", "/", forged, get(w, "/", forged))
            elif name == "lock":
                for lock in (False, True):
                    w = site(session_options(a.type, a.timeout, tmp), lock=lock)
                    c = new_cookie(get(w, "/"))
                    gate = threading.Barrier(a.threads)

                    errors = []

                    def one():
                        gate.wait()
                        try:
                            get(w, "/counter", c)
                        except Exception as e:  # Beaker's LockError, inside session.lock()
                            errors.append(f"{type(e).__name__}: {e}")
                    ts = [threading.Thread(target=one) for _ in range(a.threads)]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                    how = "inside session.lock()" if lock else "as the adapter (no lock)"
                    if errors:
                        print(f"  {how:<26} {len(errors)} of {a.threads} concurrent increments raised"
                              f" {sorted(set(errors))}")
                        continue
                    body, _ = get(w, "/counter", c)
                    n = int(re.search(r"\d+", body).group())
                    print(f"  {how:<26} {a.threads} concurrent increments, then one more: {body!r}:"
                          f" {a.threads + 1 - n} lost")
            elif name == "files":
                if a.type != "file":
                    print("  (file back end only)")
                    continue
                expire_scenario(a.type, tmp, "delete", a.timeout)
                print("  data files after /expire:")
                dump(tmp)
                shutil.rmtree(tmp + "/data", ignore_errors=True)
                w = site(session_options(a.type, a.timeout, tmp))
                c = new_cookie(get(w, "/"))
                show("bob", "/counter", c, get(w, "/counter", c))
                time.sleep(a.timeout + 0.5)
                show(f"bob after {a.timeout + 0.5} s idle", "/counter", c, get(w, "/counter", c))
                print("  data files after the timeout:")
                dump(tmp)
            else:
                p.error("unknown scenario " + name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
