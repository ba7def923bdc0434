package spec

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/gomega"
)

// heldSession visits the session page as u and makes sure u then holds
// the session cookie: a case that replays cookies proves first that
// there was a session cookie to replay.
func (p *Probe) heldSession(u *User) (string, Snapshot) {
	id := p.Visit(u)
	snap := u.Snapshot()
	p.Expect(snap.Has(p.T.Cookie)).To(BeTrue(),
		"after visiting %s, %s must hold the session cookie %q (%s) to replay; her browser would send %q",
		p.T.Paths.Session, u.Name, p.T.Cookie, p.T.CookieSource, snap.String())
	return id, snap
}

// countIfServed visits the counter as u and returns its count, or 0 when
// the target serves no counter: a count held before a session should end
// lets expectNewSession tell why a page still shows the old id.
func (p *Probe) countIfServed(u *User) int {
	if n, ok := p.counterOn(u); ok {
		return n
	}
	return 0
}

// expectNewSession fails the case unless u's next visit shows a session
// other than old. The message is format and args (what must hold), then
// why it does not. When the page shows old again and u held a count
// (counted > 0, countIfServed), the counter tells two defects apart: back
// at 1, the old session's objects are gone and the server serves a new,
// empty session under the old id (it kept the ended session's id, as
// CherryPy does until its cleaner runs, or took it from the client, as
// PHP does without use_strict_mode: the seeds' new session has a new id,
// and a client cannot tell the two apart); above 1, or without a counter,
// livedOn says what is wrong.
//
//	p.expectNewSession(u, id, counted, "it never expired", "%s after the last visit it must be gone", p.Full())
func (p *Probe) expectNewSession(u *User, old string, counted int, livedOn, format string, args ...any) {
	got := p.Visit(u)
	if got != old {
		return
	}
	why := livedOn
	if counted > 0 {
		if n, ok := p.counterOn(u); ok && n == 1 {
			why = fmt.Sprintf("the page shows the old id, but the counter shows 1 where the old session would show %d: the old session's objects are gone, and the server serves a new, empty session under the old id (it kept the ended session's id, or took it from the client); a new session must get a new id, or the client cannot tell it from the old", counted+1)
		} else if ok {
			why = fmt.Sprintf("%s (the counter, at %d before, now shows %d)", livedOn, counted, n)
		}
	}
	p.Expect(got).NotTo(Equal(old), "%s", fmt.Sprintf(format, args...)+": "+why)
}

// Session Basics: a client can end its own session before it times out;
// nothing it kept brings the session back.
var expireCases = []Case{
	{
		ID: "EXPIRE-001", Level: Must, Area: "expire", Source: SessionBasics,
		Title: "after visiting expire, the top page shows a new session",
		Seed:  "You can then visit the expire child and go back to the top page and see that you have a new session.",
		Needs: []Resource{Expire},
		Check: func(p *Probe) {
			u := p.User("alice")
			before := p.Visit(u)
			counted := p.countIfServed(u)
			r := p.Get(u, p.T.Paths.Expire)
			p.Expect(r.Status).To(Equal(http.StatusOK), "GET %s status", p.T.Paths.Expire)
			p.expectNewSession(u, before, counted, "it shows the old one", "the top page after %s must show a new session", p.T.Paths.Expire)
		},
	},
	{
		ID: "EXPIRE-002", Level: Must, Area: "expire", Source: SessionBasics,
		Title: "an expired session never comes back, whatever cookies the client replays",
		Seed:  "Session instances are kept on the Site instance until they expire (due to inactivity or because they are explicitly expired).",
		Needs: []Resource{Expire},
		Check: func(p *Probe) {
			u := p.User("alice")
			old, snap := p.heldSession(u)
			counted := 0
			if p.T.Paths.Counter != "" {
				for range 2 {
					counted = p.Count(u)
				}
				snap = u.Snapshot() // the jar as it was with objects stored
			}
			p.Get(u, p.T.Paths.Expire)
			replay := p.User("alice-replaying-her-whole-jar")
			for i := range 2 {
				replay.Restore(snap)
				p.Tr.Note("alice-replaying-her-whole-jar: the cookie jar alice held before %s: %s", p.T.Paths.Expire, excerpt(snap.String(), 600))
				p.expectNewSession(replay, old, counted, "it came back", "attempt %d: replaying the cookies alice held before %s must not bring the expired session back", i+1, p.T.Paths.Expire)
				if counted > 0 {
					replay.Restore(snap)
					p.Expect(p.Count(replay)).To(Equal(1), "attempt %d: replaying the cookies alice held brought back the objects of her expired session (the counter was at %d)", i+1, counted)
				}
			}
		},
	},
	{
		ID: "EXPIRE-003", Level: Must, Area: "expire", Source: SessionStore,
		Title: "objects stored in an expired session are gone with it",
		Seed:  "The objects would need to be destroyed automatically when the session expires.",
		Needs: []Resource{Expire, Counter},
		Check: func(p *Probe) {
			u := p.User("alice")
			p.Expect(p.Count(u)).To(Equal(1), "first visit to the counter")
			p.Expect(p.Count(u)).To(Equal(2), "second visit to the counter")
			p.Get(u, p.T.Paths.Expire)
			p.Expect(p.Count(u)).To(Equal(1), "the counter after %s must start again", p.T.Paths.Expire)
		},
	},
	{
		ID: "EXPIRE-004", Level: Should, Area: "expire", Source: SessionBasics,
		Title: "the expire resource answers as the example does",
		Seed:  "return 'Your session has been expired.'",
		Needs: []Resource{Expire},
		Check: func(p *Probe) {
			u := p.User("alice")
			p.Visit(u)
			r := p.Get(u, p.T.Paths.Expire)
			p.Expect(r.Status).To(Equal(http.StatusOK))
			p.Expect(strings.TrimSpace(r.Body)).To(Equal("Your session has been expired."))
		},
	},
	{
		ID: "EXPIRE-005", Level: Must, Area: "expire", Source: SessionStore,
		Title: "replaying an older cookie jar never rolls a live session's objects back, nor forks the session",
		Seed:  "Future calls to IUserManager(ISession(ctx)) will return the same instance.",
		Needs: []Resource{Counter},
		Check: func(p *Probe) {
			u := p.User("alice")
			p.Expect(p.Count(u)).To(Equal(1), "alice's first visit to the counter")
			p.Expect(p.Count(u)).To(Equal(2), "alice's second visit to the counter")
			snap := u.Snapshot()
			p.Expect(snap).NotTo(BeEmpty(), "alice must hold a cookie after two visits to the counter")
			p.Expect(p.Count(u)).To(Equal(3), "alice's third visit to the counter")
			old := p.User("alice-with-her-jar-of-visit-2")
			old.Restore(snap)
			p.Tr.Note("alice-with-her-jar-of-visit-2 sends the cookies alice held after her second visit: %s", excerpt(snap.String(), 600))
			n := p.Count(old)
			p.Expect(n).To(Or(Equal(4), Equal(1)),
				"the cookies alice held at count 2, replayed after count 3, must find the same instance (4) or no session at all (1); %d means the session's objects were rolled back", n)
			want := 4
			if n == 4 {
				want = 5
			}
			p.Expect(p.Count(u)).To(Equal(want), "alice's own next visit after the replay: the session must not fork into two histories")
		},
	},
}
