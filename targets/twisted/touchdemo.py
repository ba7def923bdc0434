#!/usr/bin/python3
# In-process, on a task.Clock: does Request.getSession refresh a session it
# finds by its cookie? (Twisted 22.4: only a second call in the same request
# does; twisted/web/server.py:504-513.) Run: /usr/bin/python3 targets/twisted/touchdemo.py
from twisted.internet import task
from twisted.web import server, resource
from twisted.web.test.requesthelper import DummyChannel

clock = task.Clock()
site = server.Site(resource.Resource())
site.sessionFactory = lambda site, uid: server.Session(site, uid, reactor=clock)

def request(uid=None):
    req = server.Request(DummyChannel(), False)
    req.site, req.sitepath = site, []
    if uid:
        req.received_cookies[b"TWISTED_SESSION"] = uid
    return req

s = request().getSession()                       # t=0: made, expiry call at 900
print("t=%5.0f made     lastModified=%4.0f expires at %4.0f" % (clock.seconds(), s.lastModified, s._expireCall.getTime()))
clock.advance(600)
req = request(s.uid)
found = req.getSession()                          # cookie lookup: site.getSession(uid)
print("t=%5.0f 1st call lastModified=%4.0f expires at %4.0f same=%s" % (clock.seconds(), found.lastModified, found._expireCall.getTime(), found is s))
again = req.getSession()                          # second call in the same request: touch()
print("t=%5.0f 2nd call lastModified=%4.0f expires at %4.0f" % (clock.seconds(), again.lastModified, again._expireCall.getTime()))
