#!/usr/bin/python3
"""The Twisted Web session examples, served by Twisted's own Site and Session.

The resources are the examples of Twisted 22.4's "Session Basics",
"Storing Objects in the Session" and "Session Endings" howtos, as the docs
give them in Python 3 (/usr/share/doc/twisted-doc/html/_sources/web/howto/
web-in-60/session-*.rst.txt). Sessions are made, found, timed out and
expired by twisted.web.server alone; nothing here refreshes, stores or
expires a session by itself.

    GET  /                        ShowSession: "Your session id is: <uid>"
    GET  /expire                  ExpireSession
    GET  /logme                   ExpirationLogger (its callback also feeds /expired)
    GET  /expired                 text/plain: uids whose expiry callback ran, one a line
    GET  /counter                 CounterResource (ICounter adapted from the Session)
    GET  /ws + Upgrade: websocket  a WebSocket attached to the session (autobahn)
    GET  /ws?id=<uid>             text/plain: one line per detached socket of that session
    GET  /.well-known/sessionspec the sessionspec discovery document
    GET  /_clock                  --controlled-clock only: the sessions' clock, RFC 3339
    POST /_clock?advance=D        --controlled-clock only: task.Clock.advance(D)

Run it with Debian's interpreter, /usr/bin/python3 (python3-twisted 22.4).
"""

import argparse
import datetime
import json
import re
import sys
from fractions import Fraction
from urllib.parse import parse_qs, urlsplit

import twisted
from twisted.internet import reactor, task
from twisted.python.components import registerAdapter
from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.web.resource import Resource
from twisted.web.server import Session, Site
from zope.interface import Attribute, Interface, implementer

# --- Session Basics, as the docs give it ------------------------------------


class ShowSession(Resource):
    def render_GET(self, request):
        return b"Your session id is: " + request.getSession().uid


class ExpireSession(Resource):
    def render_GET(self, request):
        request.getSession().expire()
        return b"Your session has been expired."


# --- Storing Objects in the Session, as the docs give it --------------------


class ICounter(Interface):
    value = Attribute("An int value which counts up once per page view.")


@implementer(ICounter)
class Counter(object):
    def __init__(self, session):
        self.value = 0


registerAdapter(Counter, Session, ICounter)


class CounterResource(Resource):
    def render_GET(self, request):
        session = request.getSession()
        counter = ICounter(session)
        counter.value += 1
        return (
            b"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            b"<title></title></head><body>"
            b"Visit #" + str(counter.value).encode("utf-8") + b" for you!"
        )


# --- Session Endings, as the docs give it ------------------------------------

# The uids whose expiry callback has run, in order: what /expired serves.
# (Not in the docs: the docs' example only prints.)
expired = []


class ExpirationLogger(Resource):
    sessions = set()

    def render_GET(self, request):
        session = request.getSession()
        if session.uid not in self.sessions:
            self.sessions.add(session.uid)
            session.notifyOnExpire(lambda: self._expired(session.uid))
        # The docs return "", which Twisted 22.4 answers with a 500
        # "Request did not return bytes"; bytes, as every other example.
        return b""

    def _expired(self, uid):
        # uid is bytes in Python 3: decoded so that the line reads as the
        # Python 2 example printed it, not "Session b'...' has expired.".
        print("Session", uid.decode("ascii"), "has expired.", flush=True)
        self.sessions.remove(uid)
        expired.append(uid.decode("ascii"))


# --- A WebSocket attached to the session (autobahn) ---------------------------
#
# Glyph's "client object ... stuck to your Session": the handshake finds the
# session its TWISTED_SESSION cookie names with Twisted's own Site.getSession
# (KeyError: no such session, refused with 403), and the socket registers
# Session.notifyOnExpire, so Twisted's expiry (expire(), or the callLater of
# startCheckingExpiration, on whatever reactor the session was given)
# detaches and closes it. Nothing here touches, refreshes or expires a
# session.

# uid (str) -> how many of its sockets have been detached: what GET /ws?id= serves.
detached = {}

CLOSE_SESSION_ENDED = 4001


def cookie_value(header, name):
    """The value of cookie name in a Cookie header (str), split as Twisted's
    http.Request.parseCookies splits it (the last one of a name wins)."""
    value = None
    for cook in (header or "").split(";"):
        cook = cook.lstrip()
        k, sep, v = cook.partition("=")
        if sep and k == name:
            value = v
    return value


class SessionSocket(WebSocketServerProtocol):
    session = None
    uid = None
    attached = False
    isDetached = False

    def onConnect(self, request):
        site = self.factory.site
        # The cookie Request.getSession reads: b"_".join([b"TWISTED_SESSION"] + sitepath),
        # the site is mounted at the root.
        uid = cookie_value(request.headers.get("cookie"), "TWISTED_SESSION")
        if not uid:
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "no session cookie")
        try:
            self.session = site.getSession(uid.encode("ascii"))
        except (KeyError, UnicodeEncodeError):
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "no such session")
        self.uid = uid
        return None

    def onOpen(self):
        session = self.session
        if self.factory.site.sessions.get(session.uid) is not session:
            # It ended between the handshake and now: never attached.
            self.sendClose(code=CLOSE_SESSION_ENDED, reason="session expired")
            return
        self.attached = True
        session.notifyOnExpire(self._sessionEnded)
        self.sendMessage(("attached " + self.uid).encode("ascii"))

    def onMessage(self, payload, isBinary):
        if isBinary:
            self.sendClose(code=1003, reason="text only")
        elif payload == b"ping":
            self.sendMessage(("pong " + self.uid).encode("ascii"))
        else:
            self.sendMessage(b"unknown message: send ping")

    def _detach(self):
        if self.attached and not self.isDetached:
            self.isDetached = True
            detached[self.uid] = detached.get(self.uid, 0) + 1

    def _sessionEnded(self):
        # Detached before the close frame, so a client that saw the frame
        # finds the line.
        if self.isDetached:
            return
        self._detach()
        self.sendClose(code=CLOSE_SESSION_ENDED, reason="session expired")

    def onClose(self, wasClean, code, reason):
        # A socket that ends otherwise (its client closed it, the connection
        # dropped) is detached too, once. Its notifyOnExpire callback stays
        # registered (Session has no way to remove one) and does nothing.
        self._detach()


class WebSocketOrFeed(Resource):
    """/ws: with an Upgrade header, autobahn's WebSocketResource; without,
    the detached feed for the ids asked (?id=<uid>, repeatable)."""

    isLeaf = True

    def __init__(self, factory):
        super().__init__()
        self.ws = WebSocketResource(factory)

    def render(self, request):
        if (request.getHeader(b"upgrade") or b"").lower() == b"websocket":
            return self.ws.render(request)
        if request.method not in (b"GET", b"HEAD"):
            request.setResponseCode(405)
            request.setHeader(b"Allow", b"GET, HEAD")
            return b""
        ids = parse_qs(urlsplit(request.uri).query.decode("utf-8", "replace")).get("id", [])
        if not ids:
            request.setResponseCode(426)
            request.setHeader(b"Upgrade", b"websocket")
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return (b"GET /ws upgrades to a WebSocket attached to your session; "
                    b"GET /ws?id=<uid> lists the sockets of that session detached so far\n")
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        return "".join((uid + "\n") * detached.get(uid, 0) for uid in ids[:200]).encode("utf-8", "replace")


# --- What the conformance suite reads ---------------------------------------


class ExpiredFeed(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        return "".join(uid + "\n" for uid in expired).encode("ascii")


class DiscoveryDocument(Resource):
    isLeaf = True

    def __init__(self, document):
        super().__init__()
        self.body = json.dumps(document, indent=2).encode("utf-8") + b"\n"

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"application/json")
        request.setHeader(b"Cache-Control", b"no-store")
        return self.body


_UNITS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3,
          "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_TERM = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_MAX_ADVANCE_NS = 100 * 365 * 24 * 3600 * 10**9


def parse_go_duration(text):
    """Return a Go duration string (e.g. 899s, 1m30s, 1.5ms, 1ns) in whole
    nanoseconds, truncated as Go does; ValueError if it is not one."""
    sign, s = 1, text
    if s[:1] in ("+", "-"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(text)
    total, pos = Fraction(0), 0
    while pos < len(s):
        m = _TERM.match(s, pos)
        if not m or m.group(1) in ("", "."):
            raise ValueError(text)
        total += Fraction(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * int(total)


def rfc3339nano(seconds):
    """Format IReactorTime.seconds() (a POSIX time) as Go's RFC3339Nano."""
    ns = round(Fraction(seconds) * 10**9)
    whole, frac = divmod(ns, 10**9)
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    text = (t + datetime.timedelta(seconds=whole)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + ("%09d" % frac).rstrip("0")
    return text + "Z"


class ClockResource(Resource):
    """GET: the sessions' clock. POST ?advance=D: clock.advance(D) seconds;
    the answer comes after every session call that fell due has run,
    because task.Clock.advance runs them before it returns."""

    isLeaf = True

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def _answer(self, request):
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        return (rfc3339nano(self.clock.seconds()) + "\n").encode("ascii")

    def _bad(self, request, reason):
        request.setResponseCode(400)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return (reason + "\n").encode("utf-8")

    def render_GET(self, request):
        if urlsplit(request.uri).query:
            return self._bad(request, "GET /_clock takes no parameters")
        return self._answer(request)

    def render_POST(self, request):
        query = urlsplit(request.uri).query.decode("utf-8", "replace")
        try:
            params = parse_qs(query, keep_blank_values=True, strict_parsing=True)
        except ValueError as e:
            return self._bad(request, "malformed query: %s" % e)
        if list(params) != ["advance"]:
            return self._bad(request, "POST /_clock takes exactly one parameter, advance=DURATION")
        if len(params["advance"]) != 1:
            return self._bad(request, "advance given %d times; give it once" % len(params["advance"]))
        value = params["advance"][0]
        try:
            ns = parse_go_duration(value)
        except ValueError:
            return self._bad(request, "advance=%r is not a duration (use Go syntax such as 5s, 1m30s, 250ms)" % value)
        if ns < 0:
            return self._bad(request, "advance=%s is negative; the clock only moves forward" % value)
        if ns > _MAX_ADVANCE_NS:
            return self._bad(request, "advance=%s is more than 100 years" % value)
        self.clock.advance(ns / 10**9)
        return self._answer(request)


def seconds(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return int(value) if value.is_integer() else value


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0,
                    help="TCP port on 127.0.0.1 (default 0: any free one; the URL is printed first)")
    ap.add_argument("--timeout", type=seconds, default=None,
                    help="session timeout in seconds, as the docs' ShortSession subclass "
                         "set as site.sessionFactory (default: Twisted's own, 900)")
    ap.add_argument("--controlled-clock", action="store_true",
                    help="sessions schedule their expiry on a task.Clock (Session(..., reactor=clock)), "
                         "driven through /_clock")
    args = ap.parse_args()

    sessionFactory = Session
    if args.timeout is not None:
        class ShortSession(Session):
            sessionTimeout = args.timeout

        sessionFactory = ShortSession

    root = Resource()
    root.putChild(b"", ShowSession())
    root.putChild(b"expire", ExpireSession())
    root.putChild(b"logme", ExpirationLogger())
    root.putChild(b"counter", CounterResource())
    root.putChild(b"expired", ExpiredFeed())

    factory = Site(root)
    factory.sessionFactory = sessionFactory

    wsFactory = WebSocketServerFactory()
    # DEPLOYMENT CODE: autobahn waits closeHandshakeTimeout (1 s) for the
    # client's answer to its close frame, then resets the connection. The
    # wait is on txaio's batched timer, whose call_later truncates now +
    # delay to the whole second (int(now + delay), txaio/_common.py:84), so
    # the 1 s wait ends anywhere from 0 to 1 s after the close frame: one
    # sent at hh:mm:47.969 was followed by a reset at 48.001 (strace), and a
    # client that had not answered within those 32 ms never saw the frame
    # (WS-004 failed 2 runs in 25 on a loaded machine). With 5 s the wait
    # is 4 to 5 s.
    wsFactory.setProtocolOptions(closeHandshakeTimeout=5)
    wsFactory.protocol = SessionSocket
    wsFactory.site = factory
    root.putChild(b"ws", WebSocketOrFeed(wsFactory))

    paths = {"session": "/", "expire": "/expire", "logme": "/logme",
             "expired": "/expired", "counter": "/counter", "ws": "/ws"}
    if args.controlled_clock:
        # Twisted's own injection point: Session(site, uid, reactor=...).
        # Site.makeSession calls sessionFactory(site, uid), then
        # startCheckingExpiration, which does reactor.callLater(sessionTimeout, expire).
        clock = task.Clock()
        sessionClass = sessionFactory
        factory.sessionFactory = lambda site, uid: sessionClass(site, uid, reactor=clock)
        root.putChild(b"_clock", ClockResource(clock))
        paths["clock"] = "/_clock"

    version = ".".join(twisted.__version__.split(".")[:2])
    well_known = Resource()
    well_known.putChild(b"sessionspec", DiscoveryDocument({
        "sessionspec": 1,
        "implementation": "Twisted Web %s (seed examples)" % version,
        "cookie": "TWISTED_SESSION",
        "timeout_seconds": sessionFactory.sessionTimeout,
        "paths": paths,
    }))
    root.putChild(b".well-known", well_known)

    port = reactor.listenTCP(args.port, factory, interface="127.0.0.1")
    print("listening on http://127.0.0.1:%d/" % port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
