#!/usr/bin/python3
"""The seed examples of Twisted Web's session howtos on Pyramid's signed-cookie session.

Pyramid 2.0's SignedCookieSessionFactory (pyramid/session.py) keeps no state on
the server: the session is the "session" cookie, the JSON list
[accessed, created, {data}] signed with HMAC-SHA512 (webob.cookies.
SignedSerializer) and base64url-encoded. Every session here is Pyramid's: the
factory makes request.session from the request's cookie, decides whether it
timed out, and writes the cookie back in a response callback when the session
changed or reissue_time has passed. This file only maps the seed resources onto
request.session:

  /          ShowSession: Pyramid sessions have no id, so the first request that
             asks for the session stores a random one in it (ADAPTER CODE:
             secrets.token_hex, 256 bits); the page shows that stored id
  /expire    ExpireSession: request.session.invalidate(), Pyramid's documented
             way to end a session (ISession.invalidate)
  /counter   the session-store example: "Visit #N for you!", N kept in the session
  /.well-known/sessionspec  the discovery document (never touches the session)

The timeout is Pyramid's own: SignedCookieSessionFactory(timeout=--timeout,
reissue_time=...). A session whose last issued timestamp is more than timeout
seconds old is read as empty (pyramid/session.py:240-244); a request that only
reads the session re-issues the cookie, with a new timestamp, only when more
than reissue_time whole seconds have passed since the timestamp it carries
(manage_accessed, pyramid/session.py:14-26); a request that writes the session
always re-issues it (manage_changed, pyramid/session.py:29-39).

--reissue-time:
  default      leave reissue_time out: the factory's default, 0
  none         reissue_time=None ("the cookie's lifetime will never be extended")
  N            reissue_time=N seconds
  timeout-N    reissue_time = --timeout - N seconds (the modes' way to keep the
               same relation to the timeout at 2 s and at the matrix's 4 s)

Pyramid has no expiry notification and no injectable clock (it calls
time.time()), so there is no /logme, /expired or /_clock: the discovery document
leaves them empty and they answer 404.

Usage: /usr/bin/python3 app.py --port P [--timeout SECONDS] [--reissue-time R]
--port 0 binds a free port. The line "listening on http://127.0.0.1:P/ ..." on
stdout says where, once the socket accepts connections. SIGTERM stops the
server and exits 0.
"""

import argparse
import json
import logging
import platform
import secrets
import signal
import sys
from importlib.metadata import version

from pyramid.config import Configurator
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory
from waitress.server import create_server


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--timeout", type=int, default=2,
                   help="the factory's timeout in whole seconds (Pyramid int()s it, pyramid/session.py:203)")
    p.add_argument("--reissue-time", default="default",
                   help="default (leave it out: 0), none, N, or timeout-N (see the module docstring)")
    a = p.parse_args(argv)
    if not 0 <= a.port <= 65535 or a.timeout < 1:
        p.error("want 0 <= --port <= 65535 and --timeout >= 1")
    r = a.reissue_time
    try:
        if r == "default":
            a.factory_kw, a.reissue_desc = {}, "reissue_time left at the factory's default (0)"
        elif r == "none":
            a.factory_kw, a.reissue_desc = {"reissue_time": None}, "reissue_time None"
        elif r.startswith("timeout-"):
            n = a.timeout - int(r[len("timeout-"):])
            if n < 0:
                raise ValueError
            a.factory_kw, a.reissue_desc = {"reissue_time": n}, f"reissue_time {n} s (timeout - {r[8:]} s)"
        else:
            n = int(r)
            if n < 0:
                raise ValueError
            a.factory_kw, a.reissue_desc = {"reissue_time": n}, f"reissue_time {n} s"
    except ValueError:
        p.error("--reissue-time: want default, none, N >= 0 or timeout-N (N <= --timeout)")
    return a


def text(body):
    return Response(body, content_type="text/plain", charset="utf-8")


def current_session(request):
    """Twisted's request.getSession(): the session, made on first use.

    request.session is Pyramid's CookieSession; one that Pyramid could not
    read (no cookie, a bad signature, or a timestamp older than the timeout)
    is an empty dict here. The "in" is a read (manage_accessed: it may
    re-issue the cookie); the id is ADAPTER CODE: Pyramid sessions have none."""
    session = request.session
    if "id" not in session:
        session["id"] = secrets.token_hex(32)  # ADAPTER CODE: Pyramid's session has no id
    return session


def show(request):
    return text("Your session id is: " + current_session(request)["id"])


def expire(request):
    request.session.invalidate()
    return text("Your session has been expired.")


def counter(request):
    session = current_session(request)
    session["count"] = session.get("count", 0) + 1
    return text(f"Visit #{session['count']} for you!")


def make_app(args):
    # DEPLOYMENT CODE: a fresh secret per process (the factory requires one;
    # 64 random bytes, as long as SHA-512's block), so cookies of an earlier run
    # are refused.
    secret = secrets.token_hex(64)
    # Pyramid's defaults, stated (pyramid/session.py:347-362), but timeout and
    # reissue_time, which the mode chooses.
    factory = SignedCookieSessionFactory(
        secret,
        cookie_name="session",
        max_age=None,
        path="/",
        domain=None,
        secure=False,
        httponly=False,
        samesite="Lax",
        set_on_exception=True,
        timeout=args.timeout,
        hashalg="sha512",
        salt="pyramid.session.",
        serializer=None,
        **args.factory_kw,
    )
    implementation = (f"Pyramid {version('pyramid')} SignedCookieSessionFactory"
                      f" (WebOb {version('webob')}, waitress {version('waitress')},"
                      f" python {platform.python_version()}; timeout {args.timeout} s, {args.reissue_desc})")
    discovery = {
        "sessionspec": 1,
        "implementation": implementation,
        "cookie": "session",
        "timeout_seconds": args.timeout,
        "paths": {"session": "/", "expire": "/expire", "logme": "", "expired": "",
                  "counter": "/counter", "clock": ""},
    }
    discovery_body = json.dumps(discovery)

    def well_known(request):
        return Response(discovery_body, content_type="application/json", charset="utf-8")

    with Configurator(session_factory=factory) as config:
        for name, path, view in (("show", "/", show), ("expire", "/expire", expire),
                                 ("counter", "/counter", counter),
                                 ("well_known", "/.well-known/sessionspec", well_known)):
            config.add_route(name, path)
            config.add_view(view, route_name=name, request_method="GET")
        app = config.make_wsgi_app()
    return app, implementation


def main(argv):
    args = parse_args(argv)
    # DEPLOYMENT CODE: waitress's warnings (e.g. "Task queue depth") to stderr.
    logging.basicConfig(level=logging.WARNING)
    app, implementation = make_app(args)
    # DEPLOYMENT CODE: waitress, the server Pyramid's own documentation and
    # project templates use, on 127.0.0.1 port 0, its defaults otherwise
    # (4 worker threads, backlog 1024).
    server = create_server(app, host="127.0.0.1", port=args.port)

    def stop(signum, frame):
        # waitress's run() ends cleanly on SystemExit (waitress/server.py:320-328).
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on http://127.0.0.1:{server.effective_port}/ : {implementation}", flush=True)
    server.run()
    server.close()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
