package spec

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/gomega"
)

// A second protocol attached to the web session (Glyph's post): a
// WebSocket opened with the session's cookie is attached to it, and is
// detached (closed) when the session ends.
//
// The target contract (see package contract's Paths.WebSocket): GET on
// the ws path with a WebSocket upgrade and the session's cookie opens a
// socket attached to that session. Its first text message is "attached
// <id>"; a text message "ping" gets "pong <id>" while the session lives.
// When the session ends (/expire, timeout) the target closes the socket
// with a close frame within DetachBound. A socket opened without a live
// session's cookie is refused (any answer but 101) or attached to a new
// session, never to an ended or unknown one. For the detached cases, GET
// on the ws path without an upgrade, ?id=<id>, lists the sockets of that
// session detached so far, one line (the id) per socket, as the expired
// feed lists notifications; a target that does not answer it 200 has
// those cases not applicable.

// DetachBound is how soon after its session has ended a target must have
// sent a socket attached to it a close frame: after the answer to
// /expire, after the answer to the clock advance that ended it, or on the
// wall clock after the moment the timeout cases allow (the timeout,
// Overshoot and the tolerance after the last access).
const DetachBound = time.Second

// socketSettle is how long a case watches a socket for a close that
// must not come, after a step that must not end its session.
const socketSettle = 100 * time.Millisecond

// detachSettle is how long a case watches the detached feed for a
// second line that must not come, after the sockets have closed.
const detachSettle = 250 * time.Millisecond

// replyWait is how long a case waits for the target's answer on a
// socket.
func (p *Probe) replyWait() time.Duration { return p.T.RequestTimeout }

// attachedSocket opens a socket as u, who holds session id, and requires
// it attached to that session.
func (p *Probe) attachedSocket(u *User, id string) *Socket {
	s, refused := p.OpenSocket(u)
	if s == nil {
		p.Fail("GET %s with the cookie of %s's live session %s was refused (%d %q): a socket opened with a live session's cookie must be attached to that session",
			p.T.Paths.WebSocket, u.Name, id, refused.Status, excerpt(strings.TrimSpace(refused.Body), 200))
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	msg, got := s.Next(p.replyWait())
	p.Expect(got).To(BeTrue(), "the socket of %s must first say which session it is attached to (\"attached <id>\")", u.Name)
	uid, named := strings.CutPrefix(strings.TrimSpace(msg), "attached ")
	p.Expect(named).To(BeTrue(), "the first message on the socket must be \"attached <id>\"; it was %q", excerpt(msg, 200))
	p.Expect(uid).To(Equal(id), "the socket %s opened with the cookie of her session must be attached to that session, the one her page shows", u.Name)
	ok = true
	return s
}

// pong asks the socket for "pong <id>".
func (p *Probe) pong(s *Socket, id, when string) {
	reply, ok := s.Ask("ping", p.replyWait())
	p.Expect(ok).To(BeTrue(), "%s: the socket of live session %s must answer \"ping\"", when, id)
	p.Expect(strings.TrimSpace(reply)).To(Equal("pong "+id), "%s: \"ping\" on the socket of live session %s", when, id)
}

// notAttachedTo opens a socket as u, whose cookies name no live session
// (what says why), and requires it refused, or attached to a session
// other than old (when old is not empty).
func (p *Probe) notAttachedTo(u *User, old, what string) {
	s, refused := p.OpenSocket(u)
	if s == nil {
		p.Tr.Note("%s: refused with %d, as it may be", what, refused.Status)
		return
	}
	defer s.Close()
	msg, ok := s.Next(p.replyWait())
	if !ok {
		if _, ended := s.Ended(); ended {
			return // upgraded, then closed at once: attached to nothing
		}
		p.Fail("%s: the target upgraded the socket but did not say which session it is attached to (\"attached <id>\")", what)
	}
	uid, named := strings.CutPrefix(strings.TrimSpace(msg), "attached ")
	p.Expect(named).To(BeTrue(), "%s: the first message on an upgraded socket must be \"attached <id>\"; it was %q", what, excerpt(msg, 200))
	p.Expect(uid).NotTo(BeEmpty(), "%s: attached to no id", what)
	if old != "" {
		p.Expect(uid).NotTo(Equal(old), "%s: the socket was attached to session %s, which has ended: it must be refused, or attached to a new session", what, old)
	}
	if reply, ok := s.Ask("ping", p.replyWait()); ok && old != "" {
		p.Expect(strings.TrimSpace(reply)).NotTo(Equal("pong "+old), "%s: the socket answers for session %s, which has ended", what, old)
	}
}

// closedWithin requires the socket to end with a close frame within d.
func (p *Probe) closedWithin(s *Socket, id string, d time.Duration, after string) {
	e, ended := s.WaitEnd(d)
	p.Expect(ended).To(BeTrue(), "the socket attached to session %s was still open %s after %s: when the session ends, the target must detach and close every socket attached to it", id, d, after)
	p.Expect(e.Frame).To(BeTrue(), "the socket attached to session %s ended after %s, but without a close frame (%v): the target must close it with a close frame", id, after, e.Err)
}

// stillOpen requires the socket not to have been closed.
func (p *Probe) stillOpen(s *Socket, id, when string) {
	e, ended := s.WaitEnd(socketSettle)
	p.Expect(ended).To(BeFalse(), "%s: the socket attached to live session %s was closed (%s); it must stay attached while the session lives", when, id, e)
}

// detached reads how many sockets of session id the target lists as
// detached: GET <ws path>?id=<id>, without an upgrade. A target that
// does not answer 200 makes the case not applicable.
func (p *Probe) detached(id string) int {
	counts := map[string]int{id: 0}
	path := p.T.Paths.WebSocket
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	if err := p.readFeed(path+sep+"id="+url.QueryEscape(id), counts); err != nil {
		if errors.Is(err, errFeedStatus) {
			p.NotApplicable("the target lists no detached sockets (%v): GET %s?id=<id> without an upgrade must answer 200 with one line, the id, per socket of that session detached so far", err, p.T.Paths.WebSocket)
		}
		p.Abort("%v", err)
	}
	return counts[id]
}

// detachedFor waits, as NotificationsFor does, until the target lists
// at least want detached sockets of session id, and returns how many it
// lists.
func (p *Probe) detachedFor(id string, want int) int {
	wait := 2 * time.Second
	if !p.T.Controlled() {
		wait = max(4*p.T.Tolerance, time.Second)
	}
	deadline := time.Now().Add(wait)
	for {
		n := p.detached(id)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-p.ctx.Done():
			panic(aborted{"interrupted"})
		}
	}
}

// stillDetached requires the count of id's detached sockets to stay want
// for a while after the sockets have closed on both sides.
func (p *Probe) stillDetached(id string, want int, sockets ...*Socket) {
	for _, s := range sockets {
		s.Close()
	}
	deadline := time.Now().Add(detachSettle)
	for {
		n := p.detached(id)
		p.Expect(n).To(Equal(want), "detached sockets of session %s after they closed: each socket is detached exactly once", id)
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-time.After(detachSettle / 5):
		case <-p.ctx.Done():
			panic(aborted{"interrupted"})
		}
	}
}

// waitEnds waits until every socket has ended or d has passed, and
// leaves the verdict to the detached feed.
func waitEnds(d time.Duration, sockets ...*Socket) {
	deadline := time.Now().Add(d)
	for _, s := range sockets {
		s.WaitEnd(max(time.Until(deadline), 0))
	}
}

// forgedID is an id no target issued: 64 random hex digits.
func forgedID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// detachedSentence is Glyph's list of the ways a client object is
// detached.
const detachedSentence = `When you log out / your broker goes stale / your IRC connection drops / your web session times out, the symmetric "detached" method is called.`

var websocketCases = []Case{
	{
		ID: "WS-001", Level: Must, Area: "websocket", Source: WhatIsASession,
		Title: "a socket opened with the session's cookie is attached to that session, the one the page shows",
		Seed:  "Once you've decided what kind of client object you're using, however, the 'attached' method of your perspective will be called with it.",
		Needs: []Resource{WebSocket},
		Check: func(p *Probe) {
			alice, bob := p.User("alice"), p.User("bob")
			aliceID, bobID := p.Visit(alice), p.Visit(bob)
			s := p.attachedSocket(alice, aliceID)
			defer s.Close()
			t := p.attachedSocket(bob, bobID)
			defer t.Close()
			p.pong(s, aliceID, "alice's socket")
			p.pong(t, bobID, "bob's socket")
			p.Expect(p.Visit(alice)).To(Equal(aliceID), "alice's page after she opened a socket: the socket joins her session, it does not replace it")
		},
	},
	{
		ID: "WS-002", Level: Must, Area: "websocket", Source: SessionBasics,
		Title: "the socket keeps working while its session lives, up to its timeout",
		Seed:  "Session instances are kept on the Site instance until they expire (due to inactivity or because they are explicitly expired).",
		Needs: []Resource{WebSocket, Time},
		Check: func(p *Probe) {
			alive := p.Alive()
			p.NeedTime(alive)
			u := p.User("alice")
			id := p.Visit(u)
			s := p.attachedSocket(u, id)
			defer s.Close()
			p.pong(s, id, "at once")
			p.pong(s, id, "again")
			step := alive / 3
			for i := range 3 {
				p.Idle(step)
				when := fmt.Sprintf("%s after the socket opened (timeout %s)", time.Duration(i+1)*step, p.T.Timeout)
				e, ended := s.Ended()
				p.Expect(ended).To(BeFalse(), "%s: the socket attached to live session %s was closed (%s); it must stay attached while the session lives", when, id, e)
				p.pong(s, id, when)
			}
		},
	},
	{
		ID: "WS-003", Level: Must, Area: "websocket", Source: WhatIsASession,
		Title: "a socket without a live session's cookie is refused or gets a new session, never an ended or unknown one",
		Seed:  "For the web, it will be an object stuck to your Session (which has been initialized using the handshake code above).",
		Needs: []Resource{WebSocket, Expire},
		Check: func(p *Probe) {
			alice := p.User("alice")
			old, snap := p.heldSession(alice)
			p.notAttachedTo(p.User("nobody"), "", "a socket opened with no cookie")
			forged := forgedID()
			mallory := p.User("mallory")
			mallory.SetCookie(p.T.Cookie, forged)
			p.notAttachedTo(mallory, forged, "a socket opened with a session id the target never issued")
			p.Get(alice, p.T.Paths.Expire)
			p.notAttachedTo(alice, old, "alice's socket after "+p.T.Paths.Expire)
			replay := p.User("alice-replaying-her-jar")
			replay.Restore(snap)
			p.Tr.Note("alice-replaying-her-jar: the cookie jar alice held before %s: %s", p.T.Paths.Expire, excerpt(snap.String(), 600))
			p.notAttachedTo(replay, old, "a socket opened with the cookies alice held before "+p.T.Paths.Expire)
		},
	},
	{
		ID: "WS-004", Level: Must, Area: "websocket", Source: WhatIsASession,
		Title: "expiring the session from a page closes its socket with a close frame, within a second",
		Seed:  detachedSentence,
		Needs: []Resource{WebSocket, Expire},
		Check: func(p *Probe) {
			u := p.User("alice")
			id, snap := p.heldSession(u)
			s := p.attachedSocket(u, id)
			defer s.Close()
			p.pong(s, id, "before "+p.T.Paths.Expire)
			p.Get(u, p.T.Paths.Expire)
			p.closedWithin(s, id, DetachBound, "the answer to "+p.T.Paths.Expire)
			replay := p.User("alice-replaying-her-jar")
			replay.Restore(snap)
			p.notAttachedTo(replay, id, "a socket opened with the cookies alice held before "+p.T.Paths.Expire)
		},
	},
	{
		ID: "WS-005", Level: Must, Area: "websocket", Source: WhatIsASession,
		Title: "a session that times out closes its socket with a close frame, within a second, and not before",
		Seed:  detachedSentence,
		Needs: []Resource{WebSocket, Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full() + DetachBound)
			u := p.User("alice")
			id, snap := p.heldSession(u)
			s := p.attachedSocket(u, id)
			defer s.Close()
			p.Idle(p.Alive())
			p.stillOpen(s, id, p.Alive().String()+" after the socket opened")
			p.Idle(p.Full() - p.Alive())
			p.closedWithin(s, id, DetachBound, "the session timed out ("+p.Full().String()+" after its last access, with no traffic since)")
			replay := p.User("alice-replaying-her-jar")
			replay.Restore(snap)
			p.notAttachedTo(replay, id, "a socket opened with the cookies alice held before her session timed out")
		},
	},
	{
		ID: "WS-006", Level: Must, Area: "websocket", Source: WhatIsASession,
		Title: "expiring the session from a page detaches each of its sockets exactly once",
		Seed:  detachedSentence,
		Needs: []Resource{WebSocket, Expire},
		Check: func(p *Probe) {
			u := p.User("alice")
			id := p.Visit(u)
			p.Expect(p.detached(id)).To(BeZero(), "detached sockets of session %s before it had any", id)
			s1 := p.attachedSocket(u, id)
			defer s1.Close()
			s2 := p.attachedSocket(u, id)
			defer s2.Close()
			p.pong(s1, id, "the first socket")
			p.pong(s2, id, "the second socket")
			p.Expect(p.detached(id)).To(BeZero(), "detached sockets of session %s while it lives and both are open", id)
			p.Get(u, p.T.Paths.Expire)
			waitEnds(DetachBound, s1, s2)
			p.Expect(p.detachedFor(id, 2)).To(Equal(2), "detached sockets of session %s after %s: its two sockets, once each", id, p.T.Paths.Expire)
			p.stillDetached(id, 2, s1, s2)
		},
	},
	{
		ID: "WS-007", Level: Must, Area: "websocket", Source: WhatIsASession,
		Title: "a session that times out detaches each of its sockets exactly once",
		Seed:  detachedSentence,
		Needs: []Resource{WebSocket, Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full() + p.Margin() + DetachBound)
			u := p.User("alice")
			id := p.Visit(u)
			p.Expect(p.detached(id)).To(BeZero(), "detached sockets of session %s before it had any", id)
			s1 := p.attachedSocket(u, id)
			defer s1.Close()
			s2 := p.attachedSocket(u, id)
			defer s2.Close()
			p.Idle(p.Alive())
			p.Expect(p.detached(id)).To(BeZero(), "detached sockets of session %s %s after its last access: it lives", id, p.Alive())
			p.Idle(p.Full() - p.Alive())
			waitEnds(DetachBound, s1, s2)
			p.Expect(p.detachedFor(id, 2)).To(Equal(2), "detached sockets of session %s after it timed out: its two sockets, once each", id)
			p.Idle(p.Margin())
			p.stillDetached(id, 2, s1, s2)
		},
	},
	{
		ID: "WS-008", Level: Should, Area: "websocket", Source: WhatIsASession,
		Title: "socket traffic does not keep the web session alive: it times out a timeout after the last request",
		Seed:  "Web session management is a mostly-separate system, more of a kludge over the HTTP protocol than a general way of representing stateful interaction.",
		Needs: []Resource{WebSocket, Time},
		Check: func(p *Probe) {
			step := p.T.Timeout / 4
			p.NeedTime(p.Full() + step)
			u := p.User("alice")
			id, snap := p.heldSession(u)
			s := p.attachedSocket(u, id)
			defer s.Close()
			opened := time.Now()
			var idled time.Duration
			elapsed := func() time.Duration {
				if p.T.Controlled() {
					return idled
				}
				return time.Since(opened)
			}
			for elapsed() < p.Full() {
				p.Idle(step)
				idled += step
				if elapsed() < p.Alive() {
					p.pong(s, id, elapsed().Round(time.Millisecond).String()+" after the socket opened, with a ping every "+step.String())
					continue
				}
				if _, ok := s.Ask("ping", p.replyWait()); !ok {
					break // closed: the session has timed out, as it may by now
				}
			}
			if e, ended := s.Ended(); ended {
				p.Tr.Note("the socket has ended: %s", e)
			} else {
				p.Tr.Note("the socket is still open (if the session has ended, that is what WS-005 checks)")
			}
			// The server's side of the session, whatever the cookie's own
			// expiry: the jar alice held, replayed.
			replay := p.User("alice-replaying-her-jar")
			replay.Restore(snap)
			p.Expect(p.Visit(replay)).NotTo(Equal(id),
				"session %s's last request was %s ago (the socket's opening), with a \"ping\" on its socket every %s since, and the session is still there: socket traffic kept the web session alive; it must time out a timeout after its last request",
				id, elapsed().Round(time.Millisecond), step)
		},
	},
}
