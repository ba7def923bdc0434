package spec

import (
	. "github.com/onsi/gomega"
)

// logged makes a session for a new user, has its expiry logged (visiting
// the logger several times, as a person would) and returns the user and
// the session's id.
func (p *Probe) logged(name string) (*User, string) {
	u := p.User(name)
	id := p.Visit(u)
	for range 3 {
		p.Get(u, p.T.Paths.LogMe)
	}
	p.Expect(p.Visit(u)).To(Equal(id), "visiting %s must not change the session", p.T.Paths.LogMe)
	return u, id
}

// Session Endings: functions registered with notifyOnExpire run when the
// session ends, however it ends, and only then.
var notifyCases = []Case{
	{
		ID: "NOTIFY-001", Level: Must, Area: "notify", Source: SessionEndings,
		Title: "a registered notification fires once, for the right session, on timeout",
		Seed:  "Stop visiting it for five seconds to see your session expiration message.",
		Needs: []Resource{LogMe, Expired, Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full() + 2*p.Margin())
			_, id := p.logged("alice")
			p.Expect(p.CountNotifications(id)).To(BeZero(), "a notification for %s fired while it was alive", id)
			p.Idle(p.Full())
			p.Expect(p.NotificationsFor(id)).To(Equal(1),
				"notifications for %s, %s after its last visit with no request to the session since: the notification must fire on its own when the session times out, with no further traffic (a store that notices expiry only on the next visit, or never, fails this)",
				id, p.Full())
			p.Idle(p.Margin())
			p.Expect(p.CountNotifications(id)).To(Equal(1), "notifications for %s a little later: it must fire exactly once", id)
		},
	},
	{
		ID: "NOTIFY-002", Level: Must, Area: "notify", Source: SessionEndings,
		Title: "a registered notification fires once, for the right session, on explicit expiry",
		Seed:  "You can have arbitrary functions run when sessions expire, too.",
		Needs: []Resource{Expire, LogMe, Expired, Time},
		Check: func(p *Probe) {
			u, id := p.logged("alice")
			p.Get(u, p.T.Paths.Expire)
			p.Expect(p.NotificationsFor(id)).To(Equal(1), "notifications for %s after it was expired", id)
			if p.T.Controlled() || p.Full() <= p.T.MaxWait {
				p.Idle(p.Full()) // its timeout, had it lived, must not notify again
				p.Expect(p.CountNotifications(id)).To(Equal(1), "notifications for %s a timeout after it was expired", id)
			}
		},
	},
	{
		ID: "NOTIFY-003", Level: Must, Area: "notify", Source: SessionEndings,
		Title: "no notification fires for a session that is kept active",
		Seed:  "Keep visiting it to keep your session active.",
		Needs: []Resource{LogMe, Expired, Time},
		Check: func(p *Probe) {
			step := min(p.T.Timeout/2, p.Alive())
			p.NeedTime(3 * step)
			u, id := p.logged("alice")
			for i := range 3 {
				p.Idle(step)
				p.Expect(p.Visit(u)).To(Equal(id), "visit %d, %s after the previous one", i+1, step)
			}
			p.Expect(p.CountNotifications(id)).To(BeZero(), "a notification fired for %s, which was kept active", id)
		},
	},
}
