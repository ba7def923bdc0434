package spec

import (
	. "github.com/onsi/gomega"
)

// Storing objects in the session: an object made on first use, the same
// one on every later request of that session, gone with the session.
var counterCases = []Case{
	{
		ID: "COUNTER-001", Level: Must, Area: "counter", Source: SessionStore,
		Title: "an object stored in the session persists across requests",
		Seed:  "Future calls to IUserManager(ISession(ctx)) will return the same instance.",
		Needs: []Resource{Counter},
		Check: func(p *Probe) {
			u := p.User("alice")
			for want := 1; want <= 3; want++ {
				p.Expect(p.Count(u)).To(Equal(want), "visit %d to the counter", want)
			}
		},
	},
	{
		ID: "COUNTER-002", Level: Must, Area: "counter", Source: SessionStore,
		Title: "objects stored in one session are invisible to another",
		Seed:  "Can someone give a helloworld example of how to store and retrieve objects specific to a session ?",
		Needs: []Resource{Counter},
		Check: func(p *Probe) {
			alice, bob := p.User("alice"), p.User("bob")
			p.Expect(p.Count(alice)).To(Equal(1), "alice's first visit")
			p.Expect(p.Count(alice)).To(Equal(2), "alice's second visit")
			p.Expect(p.Count(bob)).To(Equal(1), "bob's first visit must not see alice's count")
			p.Expect(p.Count(alice)).To(Equal(3), "alice's third visit must not see bob's count")
		},
	},
	{
		ID: "COUNTER-003", Level: Must, Area: "counter", Source: SessionStore,
		Title: "objects stored in a session are gone when it times out",
		Seed:  "The objects would need to be destroyed automatically when the session expires.",
		Needs: []Resource{Counter, Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full())
			u := p.User("alice")
			p.Expect(p.Count(u)).To(Equal(1), "first visit")
			p.Expect(p.Count(u)).To(Equal(2), "second visit")
			p.Idle(p.Full())
			p.Expect(p.Count(u)).To(Equal(1), "the counter after the session timed out (%s idle) must start again", p.Full())
		},
	},
}
