package spec

import (
	. "github.com/onsi/gomega"
)

// Session Endings: a session lives for its timeout after the last access.
var _ = check("TIMEOUT-001", func(p *Probe) {
	idle := p.T.Timeout - p.Margin()
	p.NeedTime(idle)
	u := p.User("alice")
	id := p.Visit(u)
	p.Idle(idle)
	Expect(p.Visit(u)).To(Equal(id), "after %s idle (timeout %s) the session must still be there", idle, p.T.Timeout)
})

var _ = check("TIMEOUT-002", func(p *Probe) {
	p.NeedTime(p.Full())
	u := p.User("alice")
	id := p.Visit(u)
	p.Idle(p.Full())
	Expect(p.Visit(u)).NotTo(Equal(id), "after %s idle (timeout %s) the session must be gone", p.Full(), p.T.Timeout)
})

var _ = check("TIMEOUT-003", func(p *Probe) {
	// Visits three quarters of a timeout apart span more than two
	// timeouts in all; only refresh-on-access keeps the session.
	step := p.T.Timeout * 3 / 4
	p.NeedTime(3*step + p.Full())
	u := p.User("alice")
	id := p.Visit(u)
	for i := range 3 {
		p.Idle(step)
		Expect(p.Visit(u)).To(Equal(id),
			"visit %d, %s after the previous one (timeout %s): a visited session must stay active", i+1, step, p.T.Timeout)
	}
	p.Idle(p.Full())
	Expect(p.Visit(u)).NotTo(Equal(id), "%s after the last visit the session must be gone", p.Full())
})

var _ = check("TIMEOUT-004", func(p *Probe) {
	if p.T.Timeout != DefaultTimeout {
		p.NotApplicable("the target runs a custom timeout of %s (ShortSession); run it with its default to check this", p.T.Timeout)
	}
	p.NeedTime(DefaultTimeout + p.Full())
	u := p.User("alice")
	id := p.Visit(u)
	p.Idle(DefaultTimeout - p.Margin())
	Expect(p.Visit(u)).To(Equal(id), "after %s idle the session must still be there", DefaultTimeout-p.Margin())
	p.Idle(p.Full())
	Expect(p.Visit(u)).NotTo(Equal(id), "after %s idle the session must be gone", p.Full())
})
