package spec

import (
	"net/http"

	. "github.com/onsi/gomega"
)

// Session Basics: a session is made on the first visit and found again on
// every later one, through its cookie.
var _ = check("PERSIST-001", func(p *Probe) {
	u := p.User("alice")
	r := p.Get(u, p.T.Paths.Session)
	Expect(r.Status).To(Equal(http.StatusOK), "status of the first visit")
	_, ok := p.idOf(u, r)
	Expect(ok).To(BeTrue(), "the first visit must show \"Your session id is: <id>\"")
	Expect(r.SetCookies).NotTo(BeEmpty(), "the first visit must set the session cookie")
	_, _, ok = r.SessionCookie(p.T.Cookie)
	Expect(ok).To(BeTrue(), "the first visit must set a cookie named %s; it set %v", p.T.Cookie, r.Raw)
})

var _ = check("PERSIST-002", func(p *Probe) {
	u := p.User("alice")
	first := p.Visit(u)
	for i := range 5 {
		Expect(p.Visit(u)).To(Equal(first), "the id shown on reload %d", i+1)
	}
})

var _ = check("PERSIST-003", func(p *Probe) {
	u := p.User("alice")
	first := p.Visit(u)
	u.ClearCookies()
	Expect(p.Visit(u)).NotTo(Equal(first), "after flushing the cookies the id must be new")
})

var _ = check("PERSIST-004", func(p *Probe) {
	seen := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		id := p.Visit(p.User(name))
		Expect(seen).NotTo(HaveKey(id), "%s was given the id already given to %s", name, seen[id])
		seen[id] = name
	}
})

var _ = check("PERSIST-005", func(p *Probe) {
	r := p.Get(p.User("alice"), p.T.Paths.Session)
	names := []string{}
	for _, c := range r.SetCookies {
		names = append(names, c.Name)
	}
	want := "TWISTED_SESSION"
	if p.T.URL.Scheme == "https" {
		want = "TWISTED_SECURE_SESSION" // Twisted's name over TLS
	}
	Expect(names).To(ContainElement(want), "the cookies set on the first visit")
})

var _ = check("PERSIST-006", func(p *Probe) {
	u := p.User("alice")
	r := p.Get(u, p.T.Paths.Session)
	c, raw, ok := r.SessionCookie(p.T.Cookie)
	Expect(ok).To(BeTrue(), "the first visit must set the %s cookie", p.T.Cookie)
	Expect(c.Path).To(Equal("/"), "Path of %q", raw)
	for i := range 3 {
		r := p.Get(u, p.T.Paths.Session)
		_, raw, again := r.SessionCookie(p.T.Cookie)
		Expect(again).To(BeFalse(), "reload %d sent the session cookie again: %q", i+1, raw)
	}
})
