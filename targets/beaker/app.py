#!/usr/bin/python3
"""The seed examples of Twisted Web's session howtos on Beaker's WSGI sessions.

The site is beaker.middleware.SessionMiddleware (Beaker 1.11, Debian
python3-beaker) around a small WSGI application, served by the standard
library's wsgiref server with a thread per request. Every session is
Beaker's: made, found, timed out, saved and deleted by SessionMiddleware,
beaker.session.Session and its namespace (back end). This file only maps the
seed resources onto environ["beaker.session"]:

  /          ShowSession: session.id. Beaker sends the cookie of a new
             session only when the session is saved (Session.save sets
             set_cookie for a new session, beaker/session.py:524-525; the
             middleware's persist() does not save a new session that was only
             read, session.py:495-496), so a request whose session is new (no
             cookie, an id the back end does not hold, or a session that timed
             out: Beaker then starts a new one under a new id) saves it, as
             Twisted's getSession makes one on first use
  /expire    ExpireSession: session.delete(), Beaker's documented way to end
             a session that the request will not use again ("Deletes the
             session from the persistent storage, and sends an expired cookie
             out", session.py:407-412)
  /counter   the session-store example: "Visit #N for you!", N kept in the
             session under "count", then session.save()
  /.well-known/sessionspec  the discovery document (never touches a session)

The timeout is Beaker's own: the session option timeout = --timeout seconds,
checked when a session is loaded (now - _accessed_time > timeout,
session.py:464-466; a timed-out session is replaced by a new one under a new
id, session.py:482-483), with _accessed_time saved on every request that
loads the session (save_accessed_time, Beaker's default). Beaker has no
expiry notification and no injectable clock (it reads time.time()), so there
is no /logme, /expired or /_clock: the discovery document leaves them empty
and they answer 404.

Back ends (--type): "file" (the default mode): one pickle file per session
under a throw-away data_dir, flock()ed lock files under lock_dir, both in a
temporary directory made at start (under /dev/shm when the machine has one)
and removed at exit; "memory": Beaker's in-process dict
(MemoryNamespaceManager).

Usage: /usr/bin/python3 app.py --port P [--timeout SECONDS] [--type file|memory]
--port 0 binds a free port. The line "listening on http://127.0.0.1:P/ ..."
on stdout says where, once the socket accepts connections. SIGTERM stops the
server, removes the temporary directory and exits 0.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
from importlib.metadata import version
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import beaker
from beaker.middleware import SessionMiddleware


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--timeout", type=int, default=2,
                   help="Beaker's session timeout in whole seconds (Beaker takes an int)")
    p.add_argument("--type", choices=("file", "memory"), default="file", help="Beaker's session back end")
    a = p.parse_args(argv)
    if not 0 <= a.port <= 65535 or a.timeout < 1:
        p.error("want 0 <= --port <= 65535 and --timeout >= 1")
    return a


def session_options(kind, timeout, tmp):
    """SessionMiddleware's options: Beaker's defaults, each stated, except the
    back end and the timeout. None of them changes how Beaker behaves beyond
    what the comment says."""
    opts = {
        # The back end.
        "type": kind,
        # The timeout, Beaker's way: seconds since the last load, checked on
        # load. It requires save_accessed_time (session.py:191-192), whose
        # default, True, makes every request that loads the session save its
        # new _accessed_time (SessionObject.persist, session.py:873-877).
        "timeout": timeout,
        "save_accessed_time": True,
        # Beaker's defaults, stated: the cookie name (middleware.py:109), a
        # cookie without Expires that lasts while the browser runs
        # (cookie_expires True, session.py:162, 312-314), SameSite=Lax
        # (session.py:166), no HttpOnly and no Secure (session.py:164), no
        # secret (the cookie's value is the bare id, unsigned), the session
        # saved only when the application calls save() (no "auto"), corrupt
        # session data answered with a new session (invalidate_corrupt True,
        # the middleware's default, middleware.py:108), pickle.
        "key": "beaker.session.id",
        "cookie_expires": True,
        "samesite": "Lax",
        "httponly": False,
        "secure": False,
        "secret": None,
        "auto": False,
        "invalidate_corrupt": True,
        "data_serializer": "pickle",
    }
    if kind == "file":
        # The file back end needs both directories (container.py:629-643);
        # they are throw-away ones, made at start and removed at exit.
        opts["data_dir"] = tmp + "/data"
        opts["lock_dir"] = tmp + "/lock"
    return opts


def make_app(args, tmp):
    opts = session_options(args.type, args.timeout, tmp)
    store = {"file": "file back end (pickle per session, flock)",
             "memory": "memory back end (in-process dict)"}[args.type]
    discovery = {
        "sessionspec": 1,
        "implementation": f"Beaker {version('beaker')} SessionMiddleware, {store};"
                          f" timeout {args.timeout} s (wsgiref, a thread per request,"
                          f" python {platform.python_version()})",
        "cookie": opts["key"],
        "timeout_seconds": args.timeout,
        # No expiry notification in Beaker, no injectable clock.
        "paths": {"session": "/", "expire": "/expire", "counter": "/counter",
                  "logme": "", "expired": "", "clock": ""},
    }
    discovery_body = json.dumps(discovery).encode()

    def respond(start_response, status, body, ctype="text/plain; charset=utf-8"):
        body = body.encode() if isinstance(body, str) else body
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "") or "/"
        routes = ("/", "/expire", "/counter", "/.well-known/sessionspec")
        if path not in routes:
            return respond(start_response, "404 Not Found", "Not Found")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Type", "text/plain"),
                                                      ("Content-Length", "18")])
            return [b"Method Not Allowed"]
        if path == "/.well-known/sessionspec":
            return respond(start_response, "200 OK", discovery_body, "application/json")
        s = environ["beaker.session"]
        if path == "/":
            # Twisted's getSession(): a new session is made (saved) on first
            # use, so that Beaker stores it and sends its cookie.
            if s.is_new:
                s.save()
            return respond(start_response, "200 OK", "Your session id is: " + s.id)
        if path == "/expire":
            s.delete()
            return respond(start_response, "200 OK", "Your session has been expired.")
        # /counter
        s["count"] = s.get("count", 0) + 1
        s.save()
        return respond(start_response, "200 OK", "Visit #%d for you!" % s["count"])

    return SessionMiddleware(app, **opts), discovery


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: the suite's bursts of 50 parallel
    # requests would overflow it (dropped SYNs are retried a second later).
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the suite makes thousands of requests
        pass


def main(argv):
    args = parse_args(argv)
    # The file back end's directories live in memory (tmpfs) when the machine
    # has one, as the Django adapter's database does: on the disk (ext4) the
    # answers during a suite run were slower on this busy machine (median
    # 12-26 ms, max up to 1 s, against 3-10 ms and 85-359 ms on tmpfs), and
    # once too slow for a timing case to judge (README.md, finding 10).
    # tmpfs behaves the same for what Beaker does (flock, rename, 255-byte
    # names).
    shm = "/dev/shm"
    tmp = tempfile.mkdtemp(prefix="sessionspec-beaker-",
                           dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)
    try:
        wsgi, discovery = make_app(args, tmp)
        server = make_server("127.0.0.1", args.port, wsgi,
                             server_class=ThreadingWSGIServer, handler_class=QuietHandler)
        port = server.socket.getsockname()[1]

        def stop(signum, frame):
            # shutdown() waits for serve_forever, which this thread is running.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        where = f"; data_dir {tmp}/data, lock_dir {tmp}/lock" if args.type == "file" else ""
        print(f"listening on http://127.0.0.1:{port}/ : {discovery['implementation']}"
              f" (beaker module {beaker.__file__}{where})", flush=True)
        server.serve_forever(poll_interval=0.1)
        server.server_close()
        print("stopped", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
