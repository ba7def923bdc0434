package spec

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Prefixes that classify a case that did not pass.
const (
	notApplicable = "NOT APPLICABLE: "
	targetError   = "TARGET ERROR: "
)

// EvidenceEntry is the name of the report entry that carries a failed
// case's HTTP exchanges.
const EvidenceEntry = "HTTP exchanges"

// suite holds what the registered specs check. Run (or a test) sets it
// before the specs run.
var suite struct {
	mu     sync.Mutex
	target *Target
	broken error // first target error: later cases are not tried
}

// Use makes the registered specs check t. It is for `go test` and
// `ginkgo` runs; Run calls it itself.
func Use(t *Target) {
	suite.mu.Lock()
	suite.target, suite.broken = t, nil
	suite.mu.Unlock()
}

// Probe is what a case body works with: the target, fresh users, the
// target's time, and the transcript that becomes the evidence.
type Probe struct {
	ctx   context.Context
	T     *Target
	Tr    *Transcript
	users int
}

var current struct {
	mu    sync.Mutex
	probe *Probe
}

// bodies holds the check of each case, by ID, as the section files
// register them.
var bodies = map[string]func(p *Probe){}

// check registers the body that checks case id.
func check(id string, body func(p *Probe)) bool {
	mustLookup(id)
	if _, dup := bodies[id]; dup {
		panic("spec: case " + id + " is checked twice")
	}
	bodies[id] = body
	return true
}

// Register adds a case to the catalogue with the body that checks it, so
// that other packages (the browser scenarios) contribute cases that run in
// the same suite, with the same IDs, levels and reports. It is meant for
// package initialisation: var _ = spec.Register(...).
func Register(c Case, body func(p *Probe)) bool {
	if _, dup := Lookup(c.ID); dup {
		panic("spec: case " + c.ID + " is already in the catalogue")
	}
	Catalogue = append(Catalogue, c)
	return check(c.ID, body)
}

// The cases run in one container, in catalogue order.
var _ = ginkgo.Describe("sessionspec", ginkgo.Ordered, ginkgo.ContinueOnFailure, func() {
	for _, c := range Catalogue {
		body, ok := bodies[c.ID]
		if !ok {
			continue // TestEveryCaseIsChecked catches this
		}
		ginkgo.It(c.ID+": "+c.Title, ginkgo.Label(string(c.Level), c.Area, c.ID), func(ctx ginkgo.SpecContext) {
			suite.mu.Lock()
			t, broken := suite.target, suite.broken
			suite.mu.Unlock()
			if t == nil {
				ginkgo.Fail(targetError + "no target: call spec.Use or spec.Run first")
			}
			if broken != nil {
				ginkgo.Fail(targetError + "not tried: the target failed earlier: " + broken.Error())
			}
			p := &Probe{ctx: ctx, T: t, Tr: &Transcript{}}
			current.mu.Lock()
			current.probe = p
			current.mu.Unlock()
			body(p)
		})
	}
})

// Every case's evidence is attached when it fails.
var _ = ginkgo.JustAfterEach(func() {
	current.mu.Lock()
	p := current.probe
	current.probe = nil
	current.mu.Unlock()
	if p != nil && ginkgo.CurrentSpecReport().Failed() && p.Tr.Len() > 0 {
		ginkgo.AddReportEntry(EvidenceEntry, p.Tr.String())
	}
})

// Context is the case's context: it ends when the case is interrupted.
func (p *Probe) Context() context.Context { return p.ctx }

// Abort ends the case as a target or harness error (exit code 2), not a
// conformance failure: the target or a tool the case needs did not work.
func (p *Probe) Abort(format string, args ...any) { p.abort(format, args...) }

// abort fails the case as a target error and trips the breaker, so that a
// dead or hung target costs one request timeout, not one per case.
func (p *Probe) abort(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	suite.mu.Lock()
	if suite.broken == nil {
		suite.broken = err
	}
	suite.mu.Unlock()
	ginkgo.Fail(targetError + err.Error())
}

// NotApplicable ends the case as not applicable, with the reason.
func (p *Probe) NotApplicable(format string, args ...any) {
	ginkgo.Skip(notApplicable + fmt.Sprintf(format, args...))
}

// User returns a new user with an empty cookie jar.
func (p *Probe) User(name string) *User {
	p.users++
	return NewUser(p.T, name, p.Tr)
}

// Get requests path as u. A request that gets no answer at all is a
// target error; any answer is returned for the case to judge.
func (p *Probe) Get(u *User, path string) *Response {
	return p.do(u, "GET", path, "")
}

func (p *Probe) do(u *User, method, path, rawCookie string) *Response {
	ginkgo.GinkgoHelper()
	r, err := u.Do(p.ctx, method, path, rawCookie)
	if err != nil {
		p.abort("%s %s: %v", method, u.target.Resolve(path), err)
	}
	return r
}

// Try is Get for cases that judge a missing answer themselves (hostile
// input must not bring the target down, but that is the case's verdict).
func (p *Probe) Try(u *User, rawCookie string) (*Response, error) {
	return u.Do(p.ctx, "GET", p.T.Paths.Session, rawCookie)
}

// Visit loads the session page as u and returns the id it shows (or,
// for a target whose page shows none and that says so, the value of the
// session cookie u holds afterwards).
func (p *Probe) Visit(u *User) string {
	ginkgo.GinkgoHelper()
	r := p.Get(u, p.T.Paths.Session)
	Expect(r.Status).To(Equal(http.StatusOK), "GET %s as %s: status", p.T.Paths.Session, u.Name)
	id, ok := p.idOf(u, r)
	Expect(ok).To(BeTrue(), "GET %s as %s must show \"Your session id is: <id>\"; the body was %q",
		p.T.Paths.Session, u.Name, excerpt(r.Body, 200))
	return id
}

// idOf is the session id a response shows u.
func (p *Probe) idOf(u *User, r *Response) (string, bool) {
	if id, ok := r.SessionID(); ok || !p.T.IDFromCookie {
		return id, ok
	}
	return u.Cookie(p.T.Cookie)
}

// Need ends the case as not applicable if the target lacks a resource.
func (p *Probe) Need(what, path string) {
	if path == "" {
		p.NotApplicable("the target has no %s resource (discovery document paths, or --paths)", what)
	}
}

// NeedTime ends the case as not applicable if it would have to wait d of
// wall-clock time and that is more than the target allows.
func (p *Probe) NeedTime(d time.Duration) {
	if !p.T.Controlled() && d > p.T.MaxWait {
		p.NotApplicable("needs %s of wall-clock time (timeout %s) and --max-wait is %s; give the target a clock (--clock) or a shorter timeout",
			d.Round(time.Millisecond), p.T.Timeout, p.T.MaxWait)
	}
}

// Margin is how far from the timeout a case stays when it checks that a
// session is still alive: a second (less for short timeouts) on a
// controlled clock, the tolerance on the wall clock.
func (p *Probe) Margin() time.Duration {
	if p.T.Controlled() {
		return min(time.Second, p.T.Timeout/10)
	}
	return p.T.Tolerance
}

// Full is how long a case idles to see a session time out: the timeout
// exactly on a controlled clock, plus the tolerance on the wall clock.
func (p *Probe) Full() time.Duration {
	if p.T.Controlled() {
		return p.T.Timeout
	}
	return p.T.Timeout + p.T.Tolerance
}

// Idle lets d of the target's time pass with no request from any user:
// by advancing its clock, or by waiting on the wall clock.
func (p *Probe) Idle(d time.Duration) {
	ginkgo.GinkgoHelper()
	if !p.T.Controlled() {
		p.Tr.Note("waited %s of wall-clock time", d)
		select {
		case <-time.After(d):
		case <-p.ctx.Done():
			ginkgo.Fail("interrupted while waiting")
		}
		return
	}
	clock := NewUser(p.T, "clock", p.Tr)
	r := p.do(clock, "POST", p.T.Paths.Clock+"?advance="+formatDuration(d), "")
	if r.Status != http.StatusOK {
		p.abort("POST %s?advance=%s answered %d %q; the clock must advance and answer 200",
			p.T.Paths.Clock, formatDuration(d), r.Status, excerpt(strings.TrimSpace(r.Body), 200))
	}
}

// formatDuration writes d in Go syntax that also a non-Go clock resource
// can read simply: whole nanoseconds, microseconds, milliseconds or
// seconds where exact.
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d%time.Microsecond == 0:
		return fmt.Sprintf("%dus", d/time.Microsecond)
	}
	return fmt.Sprintf("%dns", d)
}

// Expired returns the uids whose expiry notification has fired so far,
// in the order the feed lists them. It accepts bare uids and the seed's
// "Session <uid> has expired." lines.
func (p *Probe) Expired() []string {
	ginkgo.GinkgoHelper()
	var lines []string
	if p.T.ExpiredLines != nil {
		lines = p.T.ExpiredLines()
		p.Tr.Note("read %d lines of the target's output", len(lines))
	} else {
		p.Need("expired-notification feed", p.T.Paths.Expired)
		r := p.Get(NewUser(p.T, "feed", p.Tr), p.T.Paths.Expired)
		if r.Status != http.StatusOK {
			p.abort("GET %s answered %d; the expired feed must answer 200", p.T.Paths.Expired, r.Status)
		}
		lines = strings.Split(r.Body, "\n")
	}
	return ParseExpired(lines)
}

// ParseExpired extracts uids from feed lines.
func ParseExpired(lines []string) []string {
	var uids []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "Session "); ok {
			if uid, ok := strings.CutSuffix(rest, " has expired."); ok {
				uids = append(uids, uid)
			}
			continue
		}
		if l != "" && !strings.ContainsAny(l, " \t") {
			uids = append(uids, l)
		}
	}
	return uids
}

// count reports how often id occurs in ids.
func count(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// NotificationsFor waits, briefly on a controlled clock and for the
// tolerance on the wall clock, until the feed lists id at least once, and
// returns how often it does.
func (p *Probe) NotificationsFor(id string) int {
	ginkgo.GinkgoHelper()
	wait := 2 * time.Second
	if !p.T.Controlled() {
		wait = 4 * p.T.Tolerance
	}
	deadline := time.Now().Add(wait)
	for {
		n := count(p.Expired(), id)
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}
