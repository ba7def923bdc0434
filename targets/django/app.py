#!/usr/bin/python3
"""The seed examples of Twisted Web's session howtos on Django's database sessions.

One file is the whole Django site: settings (settings.configure), the URLconf
(this module) and the views, served by the standard library's wsgiref server
with a thread per request. The sessions are django.contrib.sessions with the
database backend (SESSION_ENGINE "django.contrib.sessions.backends.db", the
default), in an SQLite file in a temporary directory that is made at start
(migrate) and removed at exit: under /dev/shm when there is one, WAL journal,
busy timeout 30 s, and a listen backlog of 128, so that the suite's parallel
cases meet neither "database is locked" nor dropped connections (see
targets/README.md, D8 and D9). None of that changes how sessions behave:
every session is Django's, made, found, refreshed, saved and flushed by
SessionMiddleware and the db SessionStore. This file only maps the seed
resources onto request.session:

  /          ShowSession: request.session.session_key. Django makes a session
             key only when the session is saved, so a request that has none
             (no cookie, or a key the database does not hold, or one whose
             expire_date has passed: the backend drops such a key when it
             loads the session) saves the session first, as Twisted's
             getSession makes one on first use
  /expire    ExpireSession: request.session.flush(), Django's documented way
             (deletes the row, drops the key; the middleware deletes the cookie)
  /counter   the session-store example: a counter kept in request.session
  /.well-known/sessionspec  the discovery document

The timeout is Django's own: SESSION_COOKIE_AGE = --timeout seconds, with
SESSION_SAVE_EVERY_REQUEST = True so that every request saves the session and
so moves its expire_date (and the cookie's Max-Age) to now + the age. Django
has no expiry notification and no injectable clock, so there is no /logme,
/expired or /_clock: the discovery document leaves them out and they answer
404.

Usage: /usr/bin/python3 app.py --port P [--timeout SECONDS]
--port 0 binds a free port. The line "listening on http://127.0.0.1:P/ ..."
on stdout says where, once the socket accepts connections. SIGTERM stops the
server, removes the database and exits 0.
"""

import argparse
import os
import secrets
import shutil
import signal
import socketserver
import sqlite3
import sys
import tempfile
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--timeout", type=int, default=2, help="SESSION_COOKIE_AGE in whole seconds")
    a = p.parse_args(argv)
    if not 0 <= a.port <= 65535 or a.timeout < 1:
        p.error("want 0 <= --port <= 65535 and --timeout >= 1")
    return a


DISCOVERY = {}


def text(body):
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


def current_session(request):
    """Twisted's request.getSession(): the request's session, made on first use."""
    s = request.session
    # Reading the session loads it: the db backend keeps the cookie's key only
    # if a row with that key and expire_date > now exists (SessionStore.load),
    # otherwise the key becomes None and the session starts empty.
    s.keys()
    if s.session_key is None:
        s.save()  # SessionStore.create: a new row under a new random key
    return s


def show(request):
    return text("Your session id is: " + current_session(request).session_key)


def expire(request):
    request.session.flush()
    return text("Your session has been expired.")


def counter(request):
    s = request.session
    s["count"] = s.get("count", 0) + 1
    return text(str(s["count"]))


def well_known(request):
    return JsonResponse(DISCOVERY)


urlpatterns = [
    path("", show),
    path("expire", expire),
    path("counter", counter),
    path(".well-known/sessionspec", well_known),
]


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: with the suite's parallel cases the
    # kernel then drops connection attempts (ListenOverflows), and each is
    # retried a second later, which the timing cases see as a lost second.
    # Werkzeug's server (the Flask adapter's) listens with 128.
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the suite makes thousands of requests
        pass


def main(argv):
    args = parse_args(argv)
    # The throw-away database lives in memory (tmpfs) when the machine has
    # one: on a disk, with SQLite's defaults, the suite's parallel cases met
    # "database is locked" (targets/README.md, D8).
    shm = "/dev/shm"
    tmp = tempfile.mkdtemp(prefix="sessionspec-django-",
                           dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)
    try:
        settings.configure(
            DEBUG=False,
            SECRET_KEY=secrets.token_hex(32),
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.sessions"],
            MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
            # SQLite's busy timeout raised from 5 s (Django's documented remedy
            # for "database is locked"), and WAL journaling (set below) so that
            # reads do not wait for writes: the suite makes thousands of
            # sessions in parallel with its timing cases.
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                   "NAME": os.path.join(tmp, "sessions.sqlite3"),
                                   "OPTIONS": {"timeout": 30}}},
            USE_TZ=True,
            # Errors (5xx, and the 400s of SuspiciousOperation such as
            # SessionInterrupted) on stderr: with DEBUG off Django's default
            # logging prints nothing.
            LOGGING={
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"stderr": {"class": "logging.StreamHandler"}},
                "loggers": {
                    "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
                    "django.security": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
                },
            },
            # Django's defaults, stated: the db backend, cookie "sessionid".
            SESSION_ENGINE="django.contrib.sessions.backends.db",
            SESSION_COOKIE_NAME="sessionid",
            # The timeout, Django's way, refreshed on every request.
            SESSION_COOKIE_AGE=args.timeout,
            SESSION_SAVE_EVERY_REQUEST=True,
        )
        django.setup()
        from django.core.management import call_command
        from django.core.wsgi import get_wsgi_application
        call_command("migrate", verbosity=0, interactive=False)
        from django.db import connection
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file for every connection
        connection.close()

        DISCOVERY.update({
            "sessionspec": 1,
            "implementation": f"Django {django.get_version()} database sessions"
                              f" (django.contrib.sessions.backends.db on SQLite {sqlite3.sqlite_version};"
                              f" SESSION_COOKIE_AGE {args.timeout} s, SESSION_SAVE_EVERY_REQUEST)",
            "cookie": settings.SESSION_COOKIE_NAME,
            "timeout_seconds": args.timeout,
            "paths": {"session": "/", "expire": "/expire", "counter": "/counter"},
        })
        server = make_server("127.0.0.1", args.port, get_wsgi_application(),
                             server_class=ThreadingWSGIServer, handler_class=QuietHandler)
        port = server.socket.getsockname()[1]

        def stop(signum, frame):
            # shutdown() waits for serve_forever, which this thread is running.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"listening on http://127.0.0.1:{port}/ : {DISCOVERY['implementation']}"
              f" (session timeout {args.timeout} s; database {settings.DATABASES['default']['NAME']})",
              flush=True)
        server.serve_forever(poll_interval=0.1)
        server.server_close()
        print("stopped", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
