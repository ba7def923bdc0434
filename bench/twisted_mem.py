#!/usr/bin/python3
"""Memory per live session in Twisted Web 22.4, as bench/refprog mem
measures it for the reference: N sessions made through Twisted's own
Site.makeSession, resident memory read from /proc/self/status before and
after, printed as one JSON line.

    /usr/bin/python3 bench/twisted_mem.py N

Each session is what a running server holds: the Session (with its
Componentized adapter cache, callback list and namespaces), its entry in
Site.sessions and the DelayedCall that Session.startCheckingExpiration
schedules on the reactor. The reactor is Twisted's default one, not
started: task.Clock keeps its calls in a list it re-sorts on every
callLater, which makes a million sessions quadratic; the real reactor
appends them (it heapifies them when it runs), as a live server would.
"""

import gc
import json
import sys
import time

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                kb = line.split()[1]
                return int(kb) * 1024
    raise RuntimeError("no VmRSS")


def main():
    n = int(sys.argv[1])
    site = Site(Resource())
    site.makeSession()  # the first one imports and warms whatever it needs
    gc.collect()
    before = rss()
    t0 = time.monotonic()
    for _ in range(n):
        site.makeSession()
    seconds = time.monotonic() - t0
    after = rss()
    gc.collect()
    settled = rss()
    if len(site.sessions) != n + 1:
        raise SystemExit("site holds %d sessions, want %d" % (len(site.sessions), n + 1))
    pending = len(reactor.getDelayedCalls())
    print(json.dumps({
        "n": n,
        "rss_before": before,
        "rss_after": after,
        "rss_settled": settled,
        "rss_per_session": (after - before) / n,
        "rss_settled_per_session": (settled - before) / n,
        "delayed_calls": pending,
        "seconds": seconds,
    }))


if __name__ == "__main__":
    main()
