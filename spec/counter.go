package spec

import (
	"net/http"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Count visits the counter as u and returns the number it shows.
func (p *Probe) Count(u *User) int {
	ginkgo.GinkgoHelper()
	r := p.Get(u, p.T.Paths.Counter)
	Expect(r.Status).To(Equal(http.StatusOK), "GET %s as %s: status", p.T.Paths.Counter, u.Name)
	n, ok := r.Number()
	Expect(ok).To(BeTrue(), "GET %s must show a number; the body was %q", p.T.Paths.Counter, excerpt(r.Body, 200))
	return n
}

// Storing objects in the session: an object made on first use, the same
// one on every later request of that session, gone with the session.
var _ = check("COUNTER-001", func(p *Probe) {
	p.Need("counter", p.T.Paths.Counter)
	u := p.User("alice")
	for want := 1; want <= 3; want++ {
		Expect(p.Count(u)).To(Equal(want), "visit %d to the counter", want)
	}
})

var _ = check("COUNTER-002", func(p *Probe) {
	p.Need("counter", p.T.Paths.Counter)
	alice, bob := p.User("alice"), p.User("bob")
	Expect(p.Count(alice)).To(Equal(1), "alice's first visit")
	Expect(p.Count(alice)).To(Equal(2), "alice's second visit")
	Expect(p.Count(bob)).To(Equal(1), "bob's first visit must not see alice's count")
	Expect(p.Count(alice)).To(Equal(3), "alice's third visit must not see bob's count")
})

var _ = check("COUNTER-003", func(p *Probe) {
	p.Need("counter", p.T.Paths.Counter)
	p.NeedTime(p.Full())
	u := p.User("alice")
	Expect(p.Count(u)).To(Equal(1), "first visit")
	Expect(p.Count(u)).To(Equal(2), "second visit")
	p.Idle(p.Full())
	Expect(p.Count(u)).To(Equal(1), "the counter after the session timed out must start again")
})
