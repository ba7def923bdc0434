#!/usr/bin/python3
"""The seed examples of Twisted Web's session howtos on CherryPy's sessions tool.

The site is a CherryPy 18.8 application (Debian python3-cherrypy3) served by
CherryPy's own HTTP server (cheroot, through cherrypy.server and the engine)
with the sessions tool on: cherrypy.lib.sessions.RamSession (the default) or
FileSession. Every session is CherryPy's: made, found, locked, loaded, timed
out, saved, deleted and swept by the tool (cherrypy._cptools.SessionTool) and
cherrypy.lib.sessions. This file only maps the seed resources onto
cherrypy.session:

  /          ShowSession: "Your session id is: <cherrypy.session.id>". The
             page calls cherrypy.session.load() first: CherryPy saves a
             session only when its data was loaded in the request
             (Session.save, sessions.py:261), and "recognizes" an id only by
             its saved data (the module's docstring: "if you never save any
             session data, you will get a new session id for every request",
             sessions.py:56-58), so a page that only reads the id would show
             a new id on every visit. Loading is what any read of the session
             (cherrypy.session.get(...)) does; it makes the session on first
             use and refreshes its expiration time on every visit, as
             Twisted's getSession() does.
  /expire    ExpireSession: cherrypy.session.delete() (the Session API's
             "Delete stored session data", sessions.py:312-317), then
             cherrypy.lib.sessions.expire(), the module's documented way to
             "force a session to expire" (sessions.py:44-46, 897-904), which
             only expires the cookie in the client. --expire cookie does only
             the latter (README.md: EXPIRE-002 then fails).
  /counter   the session-store example: "Visit #N for you!", N kept in the
             session under "count" (cherrypy.session['count']).
  /.well-known/sessionspec  the discovery document, a second application
             mounted with the sessions tool off, so it never makes a session
             and sets no cookie.

The timeout is CherryPy's own: tools.sessions.timeout, in minutes, given
--timeout seconds / 60 (a float: Session.save computes
timedelta(seconds=self.timeout * 60), sessions.py:262, so fractional minutes
work to the microsecond; the cookie's Max-Age becomes "2.0", see README.md;
whole minutes are given as an int).
Expired sessions are deleted by the cleanup thread every clean_freq minutes
(sessions.py:297-308, a cherrypy.process.plugins.Monitor); --clean-freq is in
seconds, default CherryPy's 5 minutes. CherryPy has no expiry notification
and no injectable clock (it reads datetime.datetime.now(),
sessions.py:205-211), so there is no /logme, /expired or /_clock: the
discovery document leaves them empty and they answer 404.

DEPLOYMENT CODE, not CherryPy's session behaviour (each line marked in
main()): 127.0.0.1 and port 0, the engine's autoreloader off, the access log
silenced (the suite makes thousands of requests), the listen backlog
(server.socket_queue_size) 128 instead of 5 (as the Beaker and Django adapters
do for wsgiref), a throw-away storage_path for FileSession under /dev/shm,
removed at exit, and SIGTERM/SIGINT wired to the engine's exit.

Usage: /usr/bin/python3 app.py --port P [--timeout SECONDS] [--storage ram|file]
         [--clean-freq SECONDS] [--locking implicit|early|explicit]
         [--thread-pool N] [--expire delete|cookie]
--port 0 binds a free port. The line "listening on http://127.0.0.1:P/ ..."
on stdout says where, once the socket accepts connections. SIGTERM stops the
engine, removes the temporary directory and exits 0.
"""

import argparse
import json
import logging
import os
import platform
import shutil
import signal
import sys
import tempfile

import cheroot
import cherrypy
from cherrypy.lib import sessions


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--timeout", type=float, default=2,
                   help="session timeout in seconds (given to CherryPy as minutes: SECONDS / 60)")
    p.add_argument("--storage", choices=("ram", "file"), default="ram",
                   help="RamSession (CherryPy's default) or FileSession")
    p.add_argument("--clean-freq", type=float, default=300,
                   help="seconds between runs of the cleanup thread (given as minutes: SECONDS / 60;"
                        " default 300, CherryPy's clean_freq = 5; 0 disables it)")
    p.add_argument("--locking", choices=("implicit", "early", "explicit"), default="implicit",
                   help="tools.sessions.locking (CherryPy's default: implicit)")
    p.add_argument("--thread-pool", type=int, default=10,
                   help="server.thread_pool (CherryPy's default: 10)")
    p.add_argument("--expire", choices=("delete", "cookie"), default="delete",
                   help="/expire: session.delete() then sessions.expire() (default), or only sessions.expire()")
    a = p.parse_args(argv)
    if not 0 <= a.port <= 65535 or a.timeout <= 0 or a.clean_freq < 0 or a.thread_pool < 1:
        p.error("want 0 <= --port <= 65535, --timeout > 0, --clean-freq >= 0, --thread-pool >= 1")
    return a


def minutes(seconds):
    """CherryPy's unit: whole minutes as an int, the way its configuration is
    written (timeout = 60), anything else as a float. The difference shows
    in the cookie: Max-Age is timeout * 60 (sessions.py:874), "Max-Age=120"
    for timeout = 2 but "Max-Age=2.0" for 2 s (README.md, finding 3)."""
    if seconds == int(seconds) and int(seconds) % 60 == 0:
        return int(seconds) // 60
    return seconds / 60


def session_config(args, storage_path):
    """The sessions tool's configuration: CherryPy's defaults, each stated,
    except the storage class, its path, the timeout and clean_freq (all in
    minutes, CherryPy's unit)."""
    conf = {
        "tools.sessions.on": True,
        # The back end: RamSession is the default (sessions.py:774).
        "tools.sessions.storage_class": {"ram": sessions.RamSession, "file": sessions.FileSession}[args.storage],
        # The timeout, CherryPy's way: minutes, stored as an expiration time
        # (now + timeout) with the data on every save (sessions.py:256-268),
        # and, with persistent=True, the cookie's Max-Age and Expires
        # (sessions.py:822-830, 873-875, 886-894).
        "tools.sessions.timeout": minutes(args.timeout),
        # The cleanup thread's period in minutes (default 5, sessions.py:158,
        # 717); it is started by the first load() (sessions.py:297-308).
        "tools.sessions.clean_freq": minutes(args.clean_freq),
        # Locking: "implicit" (the default, _cptools.py:298-300) locks the
        # session before the page handler and releases it at save
        # (sessions.py:274-277) or at the end of the request (close,
        # sessions.py:702-709).
        "tools.sessions.locking": args.locking,
        # CherryPy's defaults, stated (sessions.py:716-718): the cookie
        # "session_id", Path from the request's path_header or "/", no
        # Domain, no Secure, no HttpOnly, persistent (Max-Age and Expires =
        # the timeout), no debug log.
        "tools.sessions.name": "session_id",
        "tools.sessions.path": None,
        "tools.sessions.domain": None,
        "tools.sessions.secure": False,
        "tools.sessions.httponly": False,
        "tools.sessions.persistent": True,
        "tools.sessions.debug": False,
    }
    if args.storage == "file":
        # FileSession requires storage_path (sessions.py:475-480, 490-501);
        # lock_timeout None (the default, sessions.py:478) waits for a lock
        # for ever.
        conf["tools.sessions.storage_path"] = storage_path
        conf["tools.sessions.lock_timeout"] = None
    return conf


class Seed(object):
    """The seed resources, on cherrypy.session."""

    def __init__(self, args):
        self.args = args

    @cherrypy.expose
    def index(self):
        s = cherrypy.session
        if self.args.locking == "explicit":
            s.acquire_lock()
        # Twisted's getSession(): load the session so that CherryPy keeps
        # (saves) it and refreshes its expiration time (see the docstring).
        s.load()
        return "Your session id is: " + s.id

    @cherrypy.expose
    def expire(self):
        s = cherrypy.session
        if self.args.expire == "delete":
            if self.args.locking == "explicit":
                s.acquire_lock()
            s.delete()
        sessions.expire()
        return "Your session has been expired."

    @cherrypy.expose
    def counter(self):
        s = cherrypy.session
        # With --locking explicit the application is left to lock the
        # session itself; this page deliberately does not (README.md: what
        # CherryPy's lock does for COUNTER-004).
        s["count"] = s.get("count", 0) + 1
        return "Visit #%d for you!" % s["count"]


class WellKnown(object):
    def __init__(self, body):
        self.body = body

    @cherrypy.expose
    def sessionspec(self):
        cherrypy.response.headers["Content-Type"] = "application/json"
        return self.body  # bytes: tools.encode leaves non-text types alone


def main(argv):
    args = parse_args(argv)
    store = {"ram": "RamSession", "file": "FileSession"}[args.storage]
    discovery = {
        "sessionspec": 1,
        "implementation": f"CherryPy {cherrypy.__version__} sessions tool, {store};"
                          f" timeout {args.timeout:g} s (timeout = {minutes(args.timeout)!r} min),"
                          f" clean_freq {args.clean_freq:g} s, locking {args.locking}"
                          f" (cheroot {cheroot.__version__}, thread_pool {args.thread_pool},"
                          f" python {platform.python_version()})",
        "cookie": "session_id",
        "timeout_seconds": args.timeout,
        # No expiry notification in CherryPy, no injectable clock.
        "paths": {"session": "/", "expire": "/expire", "counter": "/counter",
                  "logme": "", "expired": "", "clock": ""},
    }

    # DEPLOYMENT CODE: FileSession's directory, made at start and removed at
    # exit, in memory (tmpfs) when the machine has one, as the Beaker and
    # Django adapters keep theirs.
    tmp = None
    if args.storage == "file":
        shm = "/dev/shm"
        tmp = tempfile.mkdtemp(prefix="sessionspec-cherrypy-",
                               dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)
    try:
        cherrypy.config.update({
            # DEPLOYMENT CODE: loopback, a port the kernel picks.
            "server.socket_host": "127.0.0.1",
            "server.socket_port": args.port,
            # CherryPy's default worker pool (10, _cpserver.py:78), stated.
            "server.thread_pool": args.thread_pool,
            # DEPLOYMENT CODE: listen backlog 128 instead of 5
            # (_cpserver.py:55), as the other Python adapters do.
            "server.socket_queue_size": 128,
            # DEPLOYMENT CODE: no autoreloader (it would watch this file and
            # restart), errors on stderr, tracebacks not sent to clients.
            "engine.autoreload.on": False,
            "log.screen": True,
            "request.show_tracebacks": False,
            "checker.on": False,
        })
        if tmp:
            os.mkdir(tmp + "/sessions")
        apps = [
            cherrypy.tree.mount(Seed(args), "/", {"/": session_config(args, tmp and tmp + "/sessions")}),
            cherrypy.tree.mount(WellKnown(json.dumps(discovery).encode()), "/.well-known",
                                {"/": {"tools.sessions.on": False}}),
        ]
        # DEPLOYMENT CODE: the suite makes thousands of requests; keep the
        # error log, drop the access log (each application has its own,
        # at INFO, _cplogging.py).
        for log in [cherrypy.log] + [a.log for a in apps]:
            log.access_log.setLevel(logging.WARNING)

        # DEPLOYMENT CODE: SIGTERM and SIGINT end the engine (bus.exit), and
        # block() then returns.
        def stop(signum, frame):
            cherrypy.engine.exit()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        cherrypy.engine.start()
        host, port = cherrypy.server.bound_addr
        where = f"; storage_path {tmp}/sessions" if tmp else ""
        print(f"listening on http://127.0.0.1:{port}/ : {discovery['implementation']}"
              f" (cherrypy module {cherrypy.__file__}{where})", flush=True)
        cherrypy.engine.block()
        print("stopped", flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
