package spec

import (
	. "github.com/onsi/gomega"
)

// logged makes a session for a new user, has its expiry logged (visiting
// the logger several times, as a person would) and returns the user and
// the session's id.
func (p *Probe) logged(name string) (*User, string) {
	p.Need("logme", p.T.Paths.LogMe)
	if p.T.ExpiredLines == nil {
		p.Need("expired-notification feed", p.T.Paths.Expired)
	}
	u := p.User(name)
	id := p.Visit(u)
	for range 3 {
		p.Get(u, p.T.Paths.LogMe)
	}
	Expect(p.Visit(u)).To(Equal(id), "visiting %s must not change the session", p.T.Paths.LogMe)
	return u, id
}

// Session Endings: functions registered with notifyOnExpire run when the
// session ends, however it ends, and only then.
var _ = check("NOTIFY-001", func(p *Probe) {
	p.NeedTime(p.Full() + 2*p.Margin())
	_, id := p.logged("alice")
	Expect(count(p.Expired(), id)).To(BeZero(), "a notification for %s fired while it was alive", id)
	p.Idle(p.Full())
	Expect(p.NotificationsFor(id)).To(Equal(1), "notifications for %s after it timed out", id)
	p.Idle(p.Margin())
	Expect(count(p.Expired(), id)).To(Equal(1), "notifications for %s a little later", id)
})

var _ = check("NOTIFY-002", func(p *Probe) {
	p.Need("expire", p.T.Paths.Expire)
	u, id := p.logged("alice")
	p.Get(u, p.T.Paths.Expire)
	Expect(p.NotificationsFor(id)).To(Equal(1), "notifications for %s after it was expired", id)
	if p.T.Controlled() || p.Full() <= p.T.MaxWait {
		p.Idle(p.Full()) // its timeout, had it lived, must not notify again
		Expect(count(p.Expired(), id)).To(Equal(1), "notifications for %s a timeout after it was expired", id)
	}
})

var _ = check("NOTIFY-003", func(p *Probe) {
	step := p.T.Timeout / 2
	p.NeedTime(3 * step)
	u, id := p.logged("alice")
	for i := range 3 {
		p.Idle(step)
		Expect(p.Visit(u)).To(Equal(id), "visit %d, %s after the previous one", i+1, step)
	}
	Expect(count(p.Expired(), id)).To(BeZero(), "a notification fired for %s, which was kept active", id)
})
