package spec

import (
	"net/http"
	"strings"

	. "github.com/onsi/gomega"
)

// Session Basics: a client can end its own session before it times out.
var _ = check("EXPIRE-001", func(p *Probe) {
	p.Need("expire", p.T.Paths.Expire)
	u := p.User("alice")
	before := p.Visit(u)
	r := p.Get(u, p.T.Paths.Expire)
	Expect(r.Status).To(Equal(http.StatusOK), "GET %s status", p.T.Paths.Expire)
	Expect(p.Visit(u)).NotTo(Equal(before), "the top page after %s must show a new session", p.T.Paths.Expire)
})

var _ = check("EXPIRE-002", func(p *Probe) {
	p.Need("expire", p.T.Paths.Expire)
	u := p.User("alice")
	old := p.Visit(u)
	cookie, _ := u.Cookie(p.T.Cookie)
	p.Get(u, p.T.Paths.Expire)
	replay := p.User("alice-replaying-her-old-cookie")
	for i := range 2 {
		replay.SetCookie(p.T.Cookie, cookie)
		Expect(p.Visit(replay)).NotTo(Equal(old), "attempt %d: the expired session came back", i+1)
	}
})

var _ = check("EXPIRE-003", func(p *Probe) {
	p.Need("expire", p.T.Paths.Expire)
	p.Need("counter", p.T.Paths.Counter)
	u := p.User("alice")
	Expect(p.Count(u)).To(Equal(1), "first visit to the counter")
	Expect(p.Count(u)).To(Equal(2), "second visit to the counter")
	p.Get(u, p.T.Paths.Expire)
	Expect(p.Count(u)).To(Equal(1), "the counter after %s must start again", p.T.Paths.Expire)
})

var _ = check("EXPIRE-004", func(p *Probe) {
	p.Need("expire", p.T.Paths.Expire)
	u := p.User("alice")
	p.Visit(u)
	r := p.Get(u, p.T.Paths.Expire)
	Expect(r.Status).To(Equal(http.StatusOK))
	Expect(strings.TrimSpace(r.Body)).To(Equal("Your session has been expired."))
})
