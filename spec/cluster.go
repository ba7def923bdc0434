package spec

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/gomega"
)

// A clustered target is N replicas of one site (Target.Replicas): the
// suite is their load balancer, one origin and one cookie jar per user,
// sending each request to the replica the case chooses (User.On). The
// seeds know one Site; a site made of replicas is still that one Site,
// so what the documents say of it holds whichever replica answers. The
// CLUSTER cases are MUST for that reason: a user who declares replicas
// says they are one site, and a session that is one thing on one replica
// and another on the next is not the documents' session. Without
// replicas they are n/a, and the run is not incomplete for it.

// Replicas is how many replicas the target has (1: not a cluster).
func (p *Probe) Replicas() int { return p.T.ReplicaCount() }

// onReplica is " on replica i" for a target with replicas, else "": a
// message names a replica only where there is more than one.
func (p *Probe) onReplica(i int) string {
	if p.Replicas() < 2 {
		return ""
	}
	return fmt.Sprintf(" on replica %d", i)
}

// counterOn visits the counter as u and reports whether the target
// serves one (a 404 means it does not: the case's counter part is left
// out, with a note), and the number it shows.
func (p *Probe) counterOn(u *User) (int, bool) {
	if p.T.Paths.Counter == "" {
		return 0, false
	}
	r := p.Get(u, p.T.Paths.Counter)
	if r.Status == http.StatusNotFound {
		p.Tr.Note("GET %s answered 404: the target has no counter; the counter part of this case is left out", p.T.Paths.Counter)
		return 0, false
	}
	p.Expect(r.Status).To(Equal(http.StatusOK), "GET %s as %s%s: status", p.T.Paths.Counter, u.Name, p.onReplica(u.Replica()))
	n, ok := r.Number()
	p.Expect(ok).To(BeTrue(), "GET %s%s must show a number; the body was %q", p.T.Paths.Counter, p.onReplica(u.Replica()), excerpt(r.Body, 200))
	return n, true
}

var clusterCases = []Case{
	{
		// MUST: the Site is one, whichever replica answers; a session
		// that differs between replicas is two sessions.
		ID: "CLUSTER-001", Level: Must, Area: "cluster", Source: SessionBasics,
		Title: "a session made on one replica is the same session on every other, its counter visible there on the very next request",
		Seed:  "Each time after the first that a particular session's Session object is requested, it is retrieved from the Site.",
		Needs: []Resource{Replicas},
		Check: func(p *Probe) {
			n := p.Replicas()
			u := p.User("alice")
			id := p.Visit(u.On(0))
			for i := 1; i < n; i++ {
				p.Expect(p.Visit(u.On(i))).To(Equal(id),
					"alice's session was made on replica 0; her next request, on replica %d, must find the same session (one site: the session is in the store every replica shares)", i)
			}
			p.Expect(p.Visit(u.On(0))).To(Equal(id), "back on replica 0, alice's session must still be the one it made")
			c := p.User("carol")
			for k := 1; k <= 2*n; k++ {
				got, ok := p.counterOn(c.On((k - 1) % n))
				if !ok {
					return
				}
				p.Expect(got).To(Equal(k),
					"visit %d to the counter, on replica %d, right after visit %d on replica %d: the counter's value must be the one the previous request stored, whichever replica stored it",
					k, (k-1)%n, k-1, (k-2+n)%n)
			}
		},
	},
	{
		// MUST: COMPONENT-* are MUST on one replica; a component set on
		// one replica and missing on another is the same defect.
		ID: "CLUSTER-002", Level: Must, Area: "cluster", Source: SessionStore,
		Title: "a component set on one replica is the one every other replica returns, on the very next request",
		Seed:  "Future calls to IUserManager(ISession(ctx)) will return the same instance.",
		Needs: []Resource{Replicas, Components},
		Check: func(p *Probe) {
			n := p.Replicas()
			u := p.User("alice")
			p.Visit(u.On(0))
			v := token("cluster")
			p.setComponent(u.On(0), "shop", "user", v)
			for i := 1; i < n; i++ {
				got, set := p.getComponent(u.On(i), "shop", "user")
				p.Expect(set).To(BeTrue(), "application shop's component user was set on replica 0; on replica %d it is unset", i)
				p.Expect(got).To(Equal(v), "application shop's component user, set on replica 0, read on replica %d", i)
			}
			w := token("cluster")
			p.setComponent(u.On(n-1), "shop", "user", w)
			got, _ := p.getComponent(u.On(0), "shop", "user")
			p.Expect(got).To(Equal(w), "application shop's component user, set again on replica %d, read on replica 0: the new value must replace the old everywhere", n-1)
		},
	},
	{
		// MUST: EXPIRE-001/002 are MUST; a replica that still serves the
		// session after another expired it breaks both.
		ID: "CLUSTER-003", Level: Must, Area: "cluster", Source: SessionBasics,
		Title: "expire on one replica is final on all of them at once, whatever cookies the client replays",
		Seed:  "You can then visit the expire child and go back to the top page and see that you have a new session.",
		Needs: []Resource{Replicas, Expire},
		Check: func(p *Probe) {
			n := p.Replicas()
			last := n - 1
			u := p.User("alice")
			old, _ := p.heldSession(u.On(0))
			for i := 1; i < n; i++ { // every replica has seen the session (and may cache it)
				p.Expect(p.Visit(u.On(i))).To(Equal(old), "alice's session, made on replica 0, on replica %d", i)
			}
			counted := 0
			for i := range n {
				c, ok := p.counterOn(u.On(i))
				if !ok {
					break
				}
				counted = c
			}
			snap := u.Snapshot()
			r := p.Get(u.On(last), p.T.Paths.Expire)
			p.Expect(r.Status).To(Equal(http.StatusOK), "GET %s on replica %d: status", p.T.Paths.Expire, last)
			p.Tr.Note("alice's session %s was expired on replica %d; the next request on each other replica replays the cookie jar she held before: %s", old, last, excerpt(snap.String(), 600))
			for i := range last {
				replay := p.User(fmt.Sprintf("alice-replaying-her-jar-%d", i))
				replay.Restore(snap)
				p.Expect(p.Visit(replay.On(i))).NotTo(Equal(old),
					"the session was expired on replica %d; the very next request to replica %d, with the cookies alice held before, was served the expired session: replica %d still accepts it (a local copy or cache that the expiry did not reach, or state kept in the cookie itself, which no replica can revoke)", last, i, i)
				if counted > 0 {
					replay.Restore(snap)
					c, _ := p.counterOn(replay.On(i))
					p.Expect(c).To(Equal(1), "the counter on replica %d, with the cookies alice held before the expiry on replica %d (it was at %d): the expired session's objects must be gone", i, last, counted)
				}
			}
			for i := range n {
				p.Expect(p.Visit(u.On(i))).NotTo(Equal(old), "alice's own browser after the expiry, on replica %d", i)
			}
		},
	},
	{
		// MUST: TIMEOUT-003 is MUST; the replicas are one site, so a visit
		// to any of them is an access to the session.
		ID: "CLUSTER-004", Level: Must, Area: "cluster", Source: SessionEndings,
		Title: "visits alternating between replicas keep a session alive across more than two timeouts, on every replica, the one that made it included",
		Seed:  "Keep visiting it to keep your session active.",
		Needs: []Resource{Replicas, Time},
		Check: func(p *Probe) {
			// As TIMEOUT-003: visits up to three quarters of a timeout apart
			// (never more than Alive, which leaves a whole-second store its
			// second), spanning more than two timeouts. They alternate over
			// the replicas but replica 0, which made the session and then
			// hears of it only through what the others share: a replica
			// whose refresh stays local, or one that ends a session by its
			// own stale deadline, cannot hide behind visits of its own
			// (with two replicas the visits are all on replica 1, since
			// replica 1 and 0 alternating a short step apart would keep a
			// session alive that only ever refreshes on replica 0). Then
			// replica 0 must still find it.
			n := p.Replicas()
			step := min(p.T.Timeout*3/4, p.Alive())
			visits := int(2*p.T.Timeout/step) + 1
			p.NeedTime(time.Duration(visits+1)*step + p.Full())
			u := p.User("alice")
			sent := time.Now()
			id := p.Visit(u.On(0))
			took := time.Since(sent)
			prev := 0
			visit := func(i, on int) {
				var got string
				got, took = p.revisit(u.On(on), id, step, took, fmt.Sprintf("visit %d (replica %d)", i, on))
				p.Expect(got).To(Equal(id),
					"visit %d, on replica %d, %s after the previous one on replica %d (%s after the session began on replica 0; timeout %s): a visit on any replica must restart the session's timeout on all of them (a refresh that stays on the replica that saw the visit, or a replica that ends the session by a deadline it alone kept, lets it die)",
					i, on, step, prev, time.Duration(i)*step, p.T.Timeout)
				prev = on
			}
			for i := range visits {
				visit(i+1, 1+i%(n-1))
			}
			visit(visits+1, 0)
			on := n - 1
			p.Idle(p.Full())
			p.Expect(p.Visit(u.On(on))).NotTo(Equal(id), "the visits kept the session alive, but %s after the last one it must be gone, on replica %d too", p.Full(), on)
		},
	},
	{
		// MUST: NOTIFY-001 is MUST; a notification that every replica
		// fires has fired N times.
		ID: "CLUSTER-005", Level: Must, Area: "cluster", Source: SessionEndings,
		Title: "a registered notification fires exactly once in the union of all replicas' feeds, on timeout",
		Seed:  "Stop visiting it for five seconds to see your session expiration message.",
		Needs: []Resource{Replicas, LogMe, Expired, Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full() + 2*p.Margin())
			n := p.Replicas()
			u := p.User("alice")
			id := p.Visit(u.On(0))
			for i := range n { // registered through every replica: still one registration
				p.Get(u.On(i), p.T.Paths.LogMe)
			}
			p.Expect(p.Visit(u.On(n-1))).To(Equal(id), "visiting %s must not change the session", p.T.Paths.LogMe)
			p.Expect(p.CountNotifications(id)).To(BeZero(), "a notification for %s fired while it was alive", id)
			p.Idle(p.Full())
			p.Expect(p.NotificationsFor(id)).To(Equal(1),
				"notifications for %s in all %d replicas' feeds together, %s after its last visit: the session timed out once, so its notification must fire once in the whole site, not once per replica (see the counts of each replica above)",
				id, n, p.Full())
			p.Idle(p.Margin())
			p.Expect(p.CountNotifications(id)).To(Equal(1), "notifications for %s in all replicas' feeds a little later: it must fire exactly once", id)
		},
	},
	{
		// MUST: NOTIFY-002 is MUST.
		ID: "CLUSTER-006", Level: Must, Area: "cluster", Source: SessionEndings,
		Title: "a registered notification fires exactly once in the union of all replicas' feeds, on expire",
		Seed:  "You can have arbitrary functions run when sessions expire, too.",
		Needs: []Resource{Replicas, Expire, LogMe, Expired, Time},
		Check: func(p *Probe) {
			n := p.Replicas()
			u := p.User("alice")
			id := p.Visit(u.On(0))
			for i := range n {
				p.Get(u.On(i), p.T.Paths.LogMe)
			}
			p.Expect(p.Visit(u.On(n-1))).To(Equal(id), "visiting %s must not change the session", p.T.Paths.LogMe)
			p.Get(u.On(n-1), p.T.Paths.Expire)
			p.Expect(p.NotificationsFor(id)).To(Equal(1),
				"notifications for %s in all %d replicas' feeds together after it was expired on replica %d: it ended once, so its notification must fire once in the whole site (see the counts of each replica above)", id, n, n-1)
			if p.T.Controlled() || p.Full() <= p.T.MaxWait {
				p.Idle(p.Full()) // its timeout, had it lived, must not notify again on any replica
				p.Expect(p.CountNotifications(id)).To(Equal(1), "notifications for %s in all replicas' feeds a timeout after it was expired", id)
			}
		},
	},
	{
		// MUST: the counter is one instance ("the same instance"); an
		// increment that another overwrote was never made on it. A store
		// that keeps the counter in a signed cookie loses them too (every
		// concurrent request carries the same state), as it forks the
		// session in EXPIRE-005.
		ID: "CLUSTER-007", Level: Must, Area: "cluster", Source: SessionStore,
		Title: "concurrent increments spread over the replicas are all counted",
		Seed:  "Future calls to IUserManager(ISession(ctx)) will return the same instance.",
		Needs: []Resource{Replicas, Counter},
		Check: func(p *Probe) {
			p.IncrementsAllCounted(p.User("alice"), p.Replicas())
		},
	},
}
