#!/usr/bin/python3
# The complete example of Twisted Web's "Session Endings" howto, ported to
# Python 3 and nothing else. Changes from the docs' text (the Python 2
# version of the seed; Twisted 22.4's docs already have the first two):
#   - print is a function; putChild takes bytes;
#   - render_GET returns b"" (the docs' "" makes Twisted 22.4 answer 500,
#     "Request did not return bytes");
#   - uid is bytes in Python 3: decoded for the message, so that it reads
#     "Session <uid> has expired." as in Python 2, not "Session b'<uid>' ...";
#   - the port comes from argv[1] (or $PORT, else the docs' 8080) and only
#     127.0.0.1 is bound; port 0 binds a free one, and the line
#     "listening on http://127.0.0.1:PORT/" says which (for the suite).
# Run it unbuffered (/usr/bin/python3 -u) when something reads its output.
import os
import sys

from twisted.web.server import Site, Session
from twisted.web.resource import Resource
from twisted.internet import reactor

class ShortSession(Session):
    sessionTimeout = 5

class ExpirationLogger(Resource):
    sessions = set()

    def render_GET(self, request):
        session = request.getSession()
        if session.uid not in self.sessions:
            self.sessions.add(session.uid)
            session.notifyOnExpire(lambda: self._expired(session.uid))
        return b""

    def _expired(self, uid):
        print("Session", uid.decode(), "has expired.")
        self.sessions.remove(uid)

rootResource = Resource()
rootResource.putChild(b"logme", ExpirationLogger())
factory = Site(rootResource)
factory.sessionFactory = ShortSession

port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8080"))
listening = reactor.listenTCP(port, factory, interface="127.0.0.1")
print("listening on http://127.0.0.1:%d/" % listening.getHost().port)
reactor.run()
