package spec

import (
	"net/http"

	. "github.com/onsi/gomega"
)

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
		Check: func(p *Probe) {
			u := p.User("alice")
			r := p.Get(u, p.T.Paths.Session)
			c, raw, ok := r.SessionCookie(p.T.Cookie)
			p.Expect(ok).To(BeTrue(), "the first visit must set the session cookie %q; it set %v", p.T.Cookie, r.Raw)
			p.Expect(c.Path).To(Equal("/"), "Path of %q", raw)
			for i := range 3 {
				r := p.Get(u, p.T.Paths.Session)
				_, raw, again := r.SessionCookie(p.T.Cookie)
				p.Expect(again).To(BeFalse(), "reload %d sent the session cookie again: %q", i+1, raw)
			}
		},
	},
}
