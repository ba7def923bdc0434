package spec

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/gomega"
)

// spreadStep is the idle between PERSIST-006's spread reloads.
const spreadStep = 400 * time.Millisecond

// Session Basics: a session is made on the first visit and found again on
// every later one, through its cookie.
var persistenceCases = []Case{
	{
		ID: "PERSIST-001", Level: Must, Area: "persistence", Source: SessionBasics,
		Title: "the first visit creates a session and sets its cookie",
		Seed:  "The Site creates a new instance of Session the first time an application asks for it for a particular session.",
		Check: func(p *Probe) {
			u := p.User("alice")
			r := p.Get(u, p.T.Paths.Session)
			p.Expect(r.Status).To(Equal(http.StatusOK), "status of the first visit")
			_, ok := p.IDOf(u, r)
			p.Expect(ok).To(BeTrue(), "the first visit must show \"Your session id is: <id>\"")
			p.Expect(r.SetCookies).NotTo(BeEmpty(), "the first visit must set the session cookie")
			_, _, ok = r.SessionCookie(p.T.Cookie)
			p.Expect(ok).To(BeTrue(), "the first visit must set the session cookie %s (%s); it set %v", p.T.Cookie, p.T.CookieSource, r.Raw)
		},
	},
	{
		ID: "PERSIST-002", Level: Must, Area: "persistence", Source: SessionBasics,
		Title: "the session id stays the same across reloads",
		Seed:  "You'll see a (rather opaque) session identifier that remains the same across reloads",
		Check: func(p *Probe) {
			u := p.User("alice")
			first := p.Visit(u)
			for i := range 5 {
				p.Expect(p.Visit(u)).To(Equal(first), "the id shown on reload %d", i+1)
			}
		},
	},
	{
		ID: "PERSIST-003", Level: Must, Area: "persistence", Source: SessionBasics,
		Title: "a client that drops its cookie gets a new session",
		Seed:  "(at least until you flush the TWISTED_SESSION cookie from your browser or enough time passes)",
		Check: func(p *Probe) {
			u := p.User("alice")
			first := p.Visit(u)
			u.ClearCookies()
			p.Expect(p.Visit(u)).NotTo(Equal(first), "after flushing the cookies the id must be new")
		},
	},
	{
		ID: "PERSIST-004", Level: Must, Area: "persistence", Source: SessionBasics,
		Title: "distinct clients get distinct sessions",
		Seed:  "The Site creates a new instance of Session the first time an application asks for it for a particular session.",
		Check: func(p *Probe) {
			seen := map[string]string{}
			for _, name := range []string{"alice", "bob", "carol", "dave"} {
				id := p.Visit(p.User(name))
				p.Expect(seen).NotTo(HaveKey(id), "%s was given the id already given to %s", name, seen[id])
				seen[id] = name
			}
		},
	},
	{
		ID: "PERSIST-005", Level: Should, Area: "persistence", Source: SessionBasics,
		Title: "the session cookie is named TWISTED_SESSION (TWISTED_SECURE_SESSION over TLS)",
		Seed:  "until you flush the TWISTED_SESSION cookie from your browser",
		Check: func(p *Probe) {
			r := p.Get(p.User("alice"), p.T.Paths.Session)
			names := []string{}
			for _, c := range r.SetCookies {
				names = append(names, c.Name)
			}
			want := "TWISTED_SESSION"
			if p.T.URL.Scheme == "https" {
				want = "TWISTED_SECURE_SESSION" // Twisted's name over TLS
			}
			p.Expect(names).To(ContainElement(want), "the cookies set on the first visit")
		},
	},
	{
		ID: "PERSIST-006", Level: Should, Area: "persistence", Source: SessionBasics,
		Title: "the session cookie has Path=/ and is sent only when the session is created",
		Seed:  "Each time after the first that a particular session's Session object is requested, it is retrieved from the Site.",
		// Three reloads at once, then reloads spread over more than a
		// second (each well inside the timeout after the one before): a
		// store that re-sends its cookie once per second of its clock
		// (Pyramid's signed cookie with reissue_time 0 stamps whole
		// seconds) is judged by its rule, not by whether quick reloads
		// happened to straddle a second. A spread reload that finds
		// another session ends the reloads with a note: a cookie that is
		// not re-sent keeps the Expires of the first visit, which, rounded
		// down to an HTTP date, may end before the last reload (koa-session
		// at a 2 s timeout).
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			u := p.User("alice")
			r := p.Get(u, p.T.Paths.Session)
			c, raw, ok := r.SessionCookie(p.T.Cookie)
			p.Expect(ok).To(BeTrue(), "the first visit must set the session cookie %q; it set %v", p.T.Cookie, r.Raw)
			p.Expect(c.Path).To(Equal("/"), "Path of %q", raw)
			id, _ := r.SessionID()
			// reload reports whether it found the first session.
			reload := func(i int, after string, spread bool) bool {
				r := p.Get(u, p.T.Paths.Session)
				_, raw, again := r.SessionCookie(p.T.Cookie)
				why := ""
				if got, _ := r.SessionID(); id != "" && got != id {
					if spread {
						// Past the MUST cases' Alive a cookie whose Expires
						// was rounded down may be gone from the jar: a new
						// session's cookie is no resend (TIMEOUT-001 judges
						// how long a session lasts).
						p.Tr.Note("reload %d%s found another session (%s, not %s): the client no longer sent the first one's cookie, or the target ended it; the reloads stop here", i, after, got, id)
						return false
					}
					why = fmt.Sprintf(", for another session (%s, not %s): the first did not last", got, id)
				}
				p.Expect(again).To(BeFalse(), "reload %d%s sent the session cookie again%s: %q", i, after, why, raw)
				return true
			}
			for i := range 3 {
				reload(i+1, "", false)
			}
			step := min(spreadStep, (p.T.Timeout-p.Margin())/2)
			if step < spreadStep/4 {
				p.Tr.Note("timeout %s: no room to spread reloads over a second; only the quick reloads were checked", p.T.Timeout)
				return
			}
			start := time.Now()
			for i, idle := 4, time.Duration(0); idle <= time.Second; i++ {
				p.Idle(step)
				idle += step
				if !reload(i, fmt.Sprintf(", %s after the first visit", idle), true) {
					break
				}
			}
			p.Tr.Note("spread reloads took %s of wall-clock time", time.Since(start).Round(time.Millisecond))
		},
	},
}
