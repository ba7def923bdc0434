package spec

import (
	"fmt"
	"slices"
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

// phased starts one session per phase (one on a controlled clock, where
// there is no phase to hide in), lets each idle for idle after its own
// last visit, then visits each again. It reports, per session, whether
// it was still the same session. The visits are this goroutine's own,
// in time order; no session is visited between its two visits.
func (p *Probe) phased(name string, idle time.Duration) (alive []bool) {
	n := phases
	if p.T.Controlled() {
		n = 1
	}
	users := make([]*User, n)
	ids := make([]string, n)
	due := make([]time.Time, n)
	if p.T.Controlled() {
		users[0] = p.User(name)
		ids[0] = p.Visit(users[0])
		p.Idle(idle)
		return []bool{p.Visit(users[0]) == ids[0]}
	}
	start := time.Now()
	for i := range n {
		p.sleepUntil(start.Add(time.Duration(i) * time.Second / time.Duration(n)))
		users[i] = p.User(fmt.Sprintf("%s-phase-%d", name, i))
		ids[i] = p.Visit(users[i])
		due[i] = time.Now().Add(idle)
	}
	p.Tr.Note("%d sessions started %s apart; each is visited again %s after its first visit", n, time.Second/time.Duration(n), idle)
	alive = make([]bool, n)
	for i := range n {
		p.sleepUntil(due[i])
		alive[i] = p.Visit(users[i]) == ids[i]
	}
	return alive
}

// sleepUntil waits on the wall clock until t (the case needs Time).
func (p *Probe) sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		p.Idle(d)
	}
}

// describe renders per-phase outcomes: "alive at phases 0, 2 of 5".
func describe(alive []bool, want bool) string {
	var at []string
	for i, a := range alive {
		if a == want {
			at = append(at, fmt.Sprint(i))
		}
	}
	return fmt.Sprintf("%s of %d", strings.Join(at, ", "), len(alive))
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
			alive := p.phased("alice", idle)
			p.Expect(slices.Contains(alive, false)).To(BeFalse(),
				"after %s idle (timeout %s, less a second for whole-second stores) every session must still be there; gone at phases %s",
				idle, p.T.Timeout, describe(alive, false))
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
			p.Idle(p.Full())
			p.Expect(p.Visit(u)).NotTo(Equal(id), "after %s idle (timeout %s, plus %s for stores that count whole seconds) the session must be gone", p.Full(), p.T.Timeout, Overshoot)
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
			step := min(p.T.Timeout*3/4, p.Alive())
			visits := int(2*p.T.Timeout/step) + 1
			p.NeedTime(time.Duration(visits)*step + p.Full())
			u := p.User("alice")
			id := p.Visit(u)
			for i := range visits {
				p.Idle(step)
				p.Expect(p.Visit(u)).To(Equal(id),
					"visit %d, %s after the previous one (%s after the session began; timeout %s): a visited session must stay active, so each visit must restart its timeout (refresh on access)",
					i+1, step, time.Duration(i+1)*step, p.T.Timeout)
			}
			p.Idle(p.Full())
			p.Expect(p.Visit(u)).NotTo(Equal(id), "the visits kept the session alive (refresh works), but %s after the last visit it must be gone: it never expired", p.Full())
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
			early := p.phased("early", before)
			late := p.phased("late", p.Exact())
			if slices.Contains(early, false) || slices.Contains(late, true) {
				p.Tr.Note("detected resolution: whole seconds (timeout %s: gone early at phases %s; alive late at phases %s)",
					p.T.Timeout, describe(early, false), describe(late, true))
			}
			p.Expect(slices.Contains(early, false)).To(BeFalse(),
				"after %s idle (timeout %s) every session must still be there; gone at phases %s: the store or its cookie ends sessions up to a second early (an Expires or a timestamp rounded to whole seconds: resolution 1 s)",
				before, p.T.Timeout, describe(early, false))
			p.Expect(slices.Contains(late, true)).To(BeFalse(),
				"after %s idle (timeout %s) every session must be gone; alive at phases %s, so the store keeps sessions up to a second too long: it counts time in whole seconds (resolution 1 s)",
				p.Exact(), p.T.Timeout, describe(late, true))
		},
	},
}
