package spec

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/gomega"
)

// phases is how many sessions a precise timing case starts on the wall
// clock, spread evenly over one second: a store that counts time in whole
// seconds then shows its rounding in some of them on every run, whatever
// the phase of the second the case starts in, instead of in one run out
// of several.
const phases = 5

// phase is one session of a phased measurement: whether it was still the
// same session at its second visit, and how long it had been idle at the
// target then, at least and at most (the target handled each visit at
// some moment between its request and its answer).
type phase struct {
	alive            bool
	minIdle, maxIdle time.Duration
}

// phased starts one session per phase (one on a controlled clock, where
// there is no phase to hide in), lets each idle for idle after its own
// last visit, then visits each again. The visits are this goroutine's own,
// in time order; no session is visited between its two visits. On the
// wall clock each phase carries the bounds of its real idle time, so a
// slow answer is never mistaken for the target's rounding.
//
// A phase judges by the id alone: each visit more per phase (a counter
// to tell an adopted id from a kept session) made the later phases late
// on a loaded machine, and late phases are no verdict. A store that
// adopts ids fails EXPIRE-002 and TIMEOUT-002, which do count.
//
// With replay, each second visit is made by a client that sends the
// cookies the first held after its last visit, whatever their Expires or
// Max-Age said (as TIMEOUT-006 does): it sees how long the server keeps a
// session, where the client's own jar, which drops the cookie at its
// Max-Age, would hide a server that keeps it longer.
func (p *Probe) phased(name string, idle time.Duration, replay bool) []phase {
	// again is who makes u's second visit: u, or with replay a client
	// holding u's cookies as they were after its first.
	again := func(u *User, snap Snapshot) *User {
		if !replay {
			return u
		}
		r := p.User(u.Name + "-replaying-its-jar")
		r.Restore(snap)
		return r
	}
	if p.T.Controlled() {
		u := p.User(name)
		id := p.Visit(u)
		snap := u.Snapshot()
		p.Idle(idle)
		return []phase{{alive: p.Visit(again(u, snap)) == id, minIdle: idle, maxIdle: idle}}
	}
	n := phases
	users := make([]*User, n)
	ids := make([]string, n)
	sent := make([]time.Time, n)
	answered := make([]time.Time, n)
	snaps := make([]Snapshot, n)
	start := time.Now()
	for i := range n {
		p.sleepUntil(start.Add(time.Duration(i) * time.Second / time.Duration(n)))
		users[i] = p.User(fmt.Sprintf("%s-phase-%d", name, i))
		sent[i] = time.Now()
		ids[i] = p.Visit(users[i])
		answered[i] = time.Now()
		snaps[i] = users[i].Snapshot()
	}
	how := "visited again"
	if replay {
		how = "visited again by a client replaying the cookies it held (whatever their Expires or Max-Age)"
	}
	p.Tr.Note("%d sessions started %s apart; each is %s %s after its first visit", n, time.Second/time.Duration(n), how, idle)
	out := make([]phase, n)
	for i := range n {
		p.sleepUntil(answered[i].Add(idle))
		u := again(users[i], snaps[i])
		visit := time.Now()
		out[i].alive = p.Visit(u) == ids[i]
		out[i].minIdle, out[i].maxIdle = visit.Sub(answered[i]), time.Since(sent[i])
	}
	return out
}

// goneBefore are the phases whose session was gone although it had been
// idle for less than limit however the target timed its visits; slow are
// those gone whose idle time may have reached limit only because the
// target answered slowly.
func goneBefore(ps []phase, limit time.Duration) (gone, slow []int) {
	for i, ph := range ps {
		switch {
		case ph.alive:
		case ph.maxIdle < limit:
			gone = append(gone, i)
		default:
			slow = append(slow, i)
		}
	}
	return gone, slow
}

// aliveAfter are the phases whose session was still there although it
// had been idle for limit or more however the target timed its visits.
func aliveAfter(ps []phase, limit time.Duration) (alive []int) {
	for i, ph := range ps {
		if ph.alive && ph.minIdle >= limit {
			alive = append(alive, i)
		}
	}
	return alive
}

// slowNote is what a case says when answers were too slow to judge.
func (p *Probe) slowNote(slow []int, ps []phase) {
	for _, i := range slow {
		p.Tr.Note("phase %d: gone after an idle time between %s and %s: the answers were too slow to tell", i, ps[i].minIdle.Round(time.Millisecond), ps[i].maxIdle.Round(time.Millisecond))
	}
}

// revisit idles step, then visits the session page as u, and returns the
// id it shows and how long its answer took. took is the previous
// answer's time. The target refreshed the session somewhere within the
// previous request and answer and looks now somewhere within this one,
// so the idle time it saw is step plus up to both answers' times: when
// they exceed the tolerance together, a session found gone may have been
// idle past what a whole-second store may round to, and the case ends
// with no verdict instead of a failure.
func (p *Probe) revisit(u *User, id string, step, took time.Duration, what string) (string, time.Duration) {
	p.Idle(step)
	sent := time.Now()
	got := p.Visit(u)
	now := time.Since(sent)
	if got != id && !p.T.Controlled() && took+now > p.T.Tolerance {
		p.Abort("%s found a new session, but the answers around its %s idle took %s and %s (tolerance %s together): the target answered too slowly to judge its refresh",
			what, step, took.Round(time.Millisecond), now.Round(time.Millisecond), p.T.Tolerance)
	}
	return got, now
}

// sleepUntil waits on the wall clock until t (the case needs Time).
func (p *Probe) sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		p.Idle(d)
	}
}

// describe renders phase numbers: "0, 2 of 5", or "none of 5".
func describe(at []int, of int) string {
	if len(at) == 0 {
		return fmt.Sprintf("none of %d", of)
	}
	parts := make([]string, len(at))
	for k, i := range at {
		parts[k] = fmt.Sprint(i)
	}
	return fmt.Sprintf("%s of %d", strings.Join(parts, ", "), of)
}

// Session Endings: a session lives for its timeout after the last access.
var timeoutCases = []Case{
	{
		ID: "TIMEOUT-001", Level: Must, Area: "timeout", Source: SessionEndings,
		Title: "a session idle for less than its timeout survives",
		Seed:  "This attribute gives the number of seconds a session may go without being accessed before it expires.",
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			idle := p.Alive()
			p.NeedTime(idle + time.Second)
			ps := p.phased("alice", idle, false)
			// A session gone when it may have been idle for the timeout less
			// the second this case allows is no verdict (the answers were
			// slow), not a failure; on a controlled clock the idle is exact.
			limit := p.T.Timeout
			if !p.T.Controlled() {
				limit -= Overshoot
			}
			gone, slow := goneBefore(ps, limit)
			p.Expect(gone).To(BeEmpty(),
				"after %s idle (timeout %s, less a second for whole-second stores) every session must still be there; gone at phases %s",
				idle, p.T.Timeout, describe(gone, len(ps)))
			if len(slow) > 0 {
				p.slowNote(slow, ps)
				p.Abort("the target answered so slowly that sessions idle for %s may have reached their timeout %s before it looked (phases %s): no verdict", idle, p.T.Timeout, describe(slow, len(ps)))
			}
		},
	},
	{
		ID: "TIMEOUT-002", Level: Must, Area: "timeout", Source: SessionEndings,
		Title: "a session idle for its timeout is gone (within a second)",
		Seed:  "Stop visiting it for five seconds to see your session expiration message.",
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full())
			u := p.User("alice")
			id := p.Visit(u)
			counted := p.countIfServed(u)
			p.Idle(p.Full())
			p.expectNewSession(u, id, counted, "it is still there", "after %s idle (timeout %s, plus %s for stores that count whole seconds) the session must be gone", p.Full(), p.T.Timeout, Overshoot)
		},
	},
	{
		ID: "TIMEOUT-003", Level: Must, Area: "timeout", Source: SessionEndings,
		Title: "each visit restarts the inactivity timeout",
		Seed:  "Keep visiting it to keep your session active.",
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			// Visits up to three quarters of a timeout apart (never more than
			// Alive) span more than two timeouts in all; only refresh on
			// access keeps the session.
			// Where the target serves a counter, the session counts once
			// before the visits and once after: the visits must keep the
			// session whole, its objects with its id (a store that
			// refreshes a session's record but lets its objects time out
			// by their last write shows the same id at every visit).
			step := min(p.T.Timeout*3/4, p.Alive())
			visits := int(2*p.T.Timeout/step) + 1
			p.NeedTime(time.Duration(visits)*step + p.Full())
			u := p.User("alice")
			sent := time.Now()
			id := p.Visit(u)
			took := time.Since(sent)
			sent = time.Now()
			before := p.countIfServed(u)
			if before > 0 {
				took = time.Since(sent) // the counter was the last visit
			}
			for i := range visits {
				var got string
				got, took = p.revisit(u, id, step, took, fmt.Sprintf("visit %d", i+1))
				p.Expect(got).To(Equal(id),
					"visit %d, %s after the previous one (%s after the session began; timeout %s): a visited session must stay active, so each visit must restart its timeout (refresh on access)",
					i+1, step, time.Duration(i+1)*step, p.T.Timeout)
			}
			counted := p.countIfServed(u)
			if before > 0 {
				why := "the session's objects must live as long as the session"
				if counted == 1 {
					why += ", but they were lost while its id was kept alive: the visits refreshed the session's id, not its objects"
				}
				p.Expect(counted).To(Equal(before+1),
					"after %d visits %s apart (%s in all; timeout %s) the counter, at %d before them, must go on to %d: %s",
					visits, step, time.Duration(visits)*step, p.T.Timeout, before, before+1, why)
			}
			p.Idle(p.Full())
			p.expectNewSession(u, id, counted, "it never expired", "the visits kept the session alive (refresh works), but %s after the last visit it must be gone", p.Full())
		},
	},
	{
		ID: "TIMEOUT-004", Level: Must, Area: "timeout", Source: SessionEndings,
		Title: "the default timeout is 15 minutes",
		Seed:  "The default is 15 minutes.",
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			if p.T.Timeout != DefaultTimeout {
				p.NotApplicable("the target runs a custom timeout of %s (ShortSession); run it with its default to check this", p.T.Timeout)
			}
			p.NeedTime(p.Alive() + p.Full())
			u := p.User("alice")
			id := p.Visit(u)
			p.Idle(p.Alive())
			p.Expect(p.Visit(u)).To(Equal(id), "after %s idle the session must still be there", p.Alive())
			p.Idle(p.Full())
			p.Expect(p.Visit(u)).NotTo(Equal(id), "after %s idle the session must be gone", p.Full())
		},
	},
	{
		// A browser drops a cookie at its Expires or Max-Age, and the
		// suite's jar does too, so a store that leaves timing out to the
		// cookie passes TIMEOUT-001..003 on the wall clock while keeping
		// every session for ever (Rack 2.2's Pool, whose expire_after is
		// only the cookie's Expires). A client that keeps the cookie past
		// its Expires must find the session over all the same.
		ID: "TIMEOUT-006", Level: Must, Area: "timeout", Source: SessionBasics,
		Title: "a timed-out session is over at the server: its cookies replayed after the timeout do not bring it back",
		Seed:  "Session instances are kept on the Site instance until they expire (due to inactivity or because they are explicitly expired).",
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			p.NeedTime(p.Full())
			u := p.User("alice")
			old, snap := p.heldSession(u)
			counted := p.countIfServed(u)
			if counted > 0 {
				snap = u.Snapshot() // the jar as it was with objects stored
			}
			p.Idle(p.Full())
			replay := p.User("alice-replaying-her-jar")
			replay.Restore(snap)
			p.Tr.Note("alice-replaying-her-jar: the cookies alice held %s ago, sent whatever their Expires or Max-Age said: %s", p.Full(), excerpt(snap.String(), 600))
			p.expectNewSession(replay, old, counted, "they still reached it: the server never ended it, only the cookie's expiry would (a client need not honour Expires)",
				"%s after alice's last visit (timeout %s, plus %s for stores that count whole seconds) her cookies, replayed, must not reach her session",
				p.Full(), p.T.Timeout, Overshoot)
		},
	},
	{
		ID: "TIMEOUT-005", Level: Should, Area: "timeout", Source: SessionEndings,
		Title: "a session lives exactly its timeout: there just before it, gone just after (no whole-second rounding)",
		Seed:  "This attribute gives the number of seconds a session may go without being accessed before it expires.",
		Needs: []Resource{Time},
		Check: func(p *Probe) {
			before := p.T.Timeout - p.T.Tolerance
			if p.T.Controlled() {
				before = p.T.Timeout - time.Nanosecond*time.Duration(max(1, p.T.Timeout/time.Millisecond))
			}
			p.NeedTime(before + p.Exact() + 3*time.Second)
			// Early, the client's own jar: a cookie it drops before the
			// timeout ends the session for the user. Late, the cookies
			// replayed: a session the server keeps past the timeout is
			// there for anyone holding its cookie.
			early := p.phased("early", before, false)
			late := p.phased("late", p.Exact(), true)
			gone, slow := goneBefore(early, p.T.Timeout)
			stayed := aliveAfter(late, p.T.Timeout)
			if len(gone)+len(stayed) > 0 {
				p.Tr.Note("detected resolution: whole seconds (timeout %s: gone early at phases %s; there late at phases %s)",
					p.T.Timeout, describe(gone, len(early)), describe(stayed, len(late)))
			}
			p.Expect(gone).To(BeEmpty(),
				"after %s idle (timeout %s) every session must still be there; gone at phases %s: the store or its cookie ends sessions up to a second early (an Expires or a timestamp rounded to whole seconds: resolution 1 s)",
				before, p.T.Timeout, describe(gone, len(early)))
			p.Expect(stayed).To(BeEmpty(),
				"after %s idle (timeout %s) every session must be gone; still there at phases %s, so the store keeps sessions up to a second too long: it counts time in whole seconds (resolution 1 s)",
				p.Exact(), p.T.Timeout, describe(stayed, len(late)))
			if len(slow) > 0 {
				p.slowNote(slow, early)
				p.NotApplicable("the target answered so slowly that sessions idle for %s may have reached their timeout %s before it looked (phases %s): the precision cannot be judged", before, p.T.Timeout, describe(slow, len(early)))
			}
		},
	},
}
