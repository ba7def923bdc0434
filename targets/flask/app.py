#!/usr/bin/python3
"""The seed examples of Twisted Web's session howtos on Flask's default session.

Flask's default session (SecureCookieSessionInterface) keeps no state on the
server: the session's contents are the "session" cookie itself, JSON signed
with itsdangerous (HMAC-SHA1, salt "cookie-session") under a timestamp. Every
session here is Flask's; this file only maps the seed resources onto
flask.session:

  /          ShowSession: Flask sessions have no id, so the first request that
             asks for the session stores a random one in it (secrets.token_hex,
             256 bits) and makes it permanent; the page shows that stored id
  /expire    ExpireSession: session.clear(), Flask's documented way to end a
             session (the emptied session's cookie is deleted)
  /counter   the session-store example: a counter kept in the session
  /.well-known/sessionspec  the discovery document

The timeout is Flask's own: session.permanent = True with
PERMANENT_SESSION_LIFETIME = --timeout seconds. A permanent session's cookie
is re-signed on every response (SESSION_REFRESH_EACH_REQUEST, default True),
and a cookie whose signature is older than the lifetime is refused when it is
read (itsdangerous max_age). Flask has no expiry notification and no
injectable clock, so there is no /logme, /expired or /_clock: the discovery
document leaves them out and they answer 404.

Usage: /usr/bin/python3 app.py --port P [--timeout SECONDS]
--port 0 binds a free port. The line "listening on http://127.0.0.1:P/ ..."
on stdout says where, once the socket accepts connections. SIGTERM stops the
server and exits 0.
"""

import argparse
import logging
import secrets
import signal
import sys
import threading
from datetime import timedelta
from importlib.metadata import version

from flask import Flask, jsonify, session
from werkzeug.serving import make_server


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--timeout", type=int, default=2,
                   help="PERMANENT_SESSION_LIFETIME in whole seconds (Flask reads it as int seconds)")
    a = p.parse_args(argv)
    if not 0 <= a.port <= 65535 or a.timeout < 1:
        p.error("want 0 <= --port <= 65535 and --timeout >= 1")
    return a


def make_app(timeout):
    app = Flask(__name__)
    # A fresh key per process: cookies from an earlier run are refused.
    app.secret_key = secrets.token_hex(32)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=timeout)
    # Flask's defaults, stated: the cookie is "session" and a permanent
    # session's cookie is re-sent (re-signed) on every response.
    app.config["SESSION_COOKIE_NAME"] = "session"
    app.config["SESSION_REFRESH_EACH_REQUEST"] = True

    discovery = {
        "sessionspec": 1,
        "implementation": f"Flask {version('flask')} default signed-cookie session"
                          f" (itsdangerous {version('itsdangerous')}, Werkzeug {version('werkzeug')};"
                          f" permanent, PERMANENT_SESSION_LIFETIME {timeout} s)",
        "cookie": app.config["SESSION_COOKIE_NAME"],
        "timeout_seconds": timeout,
        "paths": {"session": "/", "expire": "/expire", "counter": "/counter"},
    }

    def current_session():
        """Twisted's request.getSession(): the session, made on first use.

        A session Flask could not read (no cookie, a bad signature, or a
        signature older than the lifetime) is an empty dict here."""
        if "id" not in session:
            session["id"] = secrets.token_hex(32)
            session.permanent = True
        return session

    def text(body):
        return body, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/")
    def show():
        return text("Your session id is: " + current_session()["id"])

    @app.get("/expire")
    def expire():
        session.clear()
        return text("Your session has been expired.")

    @app.get("/counter")
    def counter():
        s = current_session()
        s["count"] = s.get("count", 0) + 1
        return text(str(s["count"]))

    @app.get("/.well-known/sessionspec")
    def well_known():
        return jsonify(discovery)

    return app, discovery


def main(argv):
    args = parse_args(argv)
    # Werkzeug logs every request at INFO; the suite makes thousands.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app, discovery = make_app(args.timeout)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    port = server.socket.getsockname()[1]

    def stop(signum, frame):
        # shutdown() waits for serve_forever, which this thread is running.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on http://127.0.0.1:{port}/ : {discovery['implementation']}"
          f" (session timeout {args.timeout} s)", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
