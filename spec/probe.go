package spec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"
	"github.com/sessionspec/sessionspec/contract"
)

// The ways a case ends early, carried by a panic from the probe to the
// run that recovers it.
type (
	failure       struct{ msg, at string }
	notApplicable struct{ msg string }
	aborted       struct{ msg string }
)

// Probe is what a case body works with: the target, fresh users, the
// target's time, its own Gomega and the transcript that becomes the
// evidence. A probe belongs to one case of one run.
type Probe struct {
	// T is the target, as this run sees it (read only).
	T *Target
	// Tr records the case's exchanges.
	Tr *Transcript

	ctx  context.Context
	c    Case
	run  *run
	g    gomega.Gomega
	user int
}

func newProbe(ctx context.Context, r *run, c Case) *Probe {
	p := &Probe{T: r.target, Tr: &Transcript{}, ctx: ctx, c: c, run: r}
	p.g = gomega.NewGomega(func(message string, _ ...int) {
		panic(failure{msg: message, at: caseLocation()})
	})
	return p
}

// Expect starts an assertion that fails this case (and only this case)
// when it does not hold:
//
//	p.Expect(p.Visit(u)).To(Equal(id), "after %s idle the session must still be there", idle)
func (p *Probe) Expect(actual any, extra ...any) gomega.Assertion {
	return p.g.Expect(actual, extra...)
}

// Gomega is the case's own Gomega, for Eventually and the rest.
func (p *Probe) Gomega() gomega.Gomega { return p.g }

// caseLocation is the file:line of the first frame outside Gomega and
// the suite's machinery: the line of the case body that failed.
func caseLocation() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.Contains(f.Function, "onsi/gomega") && !machinery[filepath.Base(f.File)] && f.File != "" {
			return fmt.Sprintf("%s:%d", trimPath(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

// machinery are the files whose frames a failure location skips: the
// helpers every case calls.
var machinery = map[string]bool{"probe.go": true, "run.go": true, "client.go": true, "scenario.go": true, "panic.go": true}

// trimPath keeps the last two elements of a source path: spec/timeout.go.
func trimPath(file string) string {
	dir, base := filepath.Split(file)
	return filepath.Join(filepath.Base(dir), base)
}

// Context is the case's context: it ends when the run is interrupted.
func (p *Probe) Context() context.Context { return p.ctx }

// Abort ends the case as a target or harness error (exit code 2), not a
// conformance failure: the target or a tool the case needs did not work.
// Later cases of the run are not tried, so a dead or hung target costs
// one request timeout, not one per case.
func (p *Probe) Abort(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.run.trip(msg)
	panic(aborted{msg})
}

// NotApplicable ends the case as not applicable, with the reason.
func (p *Probe) NotApplicable(format string, args ...any) {
	panic(notApplicable{fmt.Sprintf(format, args...)})
}

// Fail fails the case with a message.
func (p *Probe) Fail(format string, args ...any) {
	panic(failure{msg: fmt.Sprintf(format, args...), at: caseLocation()})
}

// User returns a new user with an empty cookie jar.
func (p *Probe) User(name string) *User {
	p.user++
	return NewUser(p.T, name, p.Tr)
}

// Get requests path as u. A request that gets no answer at all is a
// target error; a 404 from a resource the case needs makes it not
// applicable; any other answer is returned for the case to judge.
func (p *Probe) Get(u *User, path string) *Response {
	return p.do(u, "GET", path, "")
}

func (p *Probe) do(u *User, method, path, rawCookie string) *Response {
	r, err := u.Do(p.ctx, method, path, rawCookie)
	if err != nil {
		if p.ctx.Err() != nil {
			panic(aborted{"interrupted"})
		}
		p.Abort("%s %s: %v", method, p.T.Resolve(path), err)
	}
	if r.Status == http.StatusNotFound {
		for _, name := range []Resource{Expire, LogMe, Expired, Counter, Components, WebSocket} {
			if p.c.needs(name) && path != "" && path == p.T.Paths.Get(string(name)) {
				p.NotApplicable("GET %s answered 404: the target has no %s resource (declare it absent with --paths %s= and the case is n/a without asking)",
					p.T.Resolve(path), name, name)
			}
		}
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
	r := p.Get(u, p.T.Paths.Session)
	p.Expect(r.Status).To(gomega.Equal(http.StatusOK), "GET %s as %s: status", p.T.Paths.Session, u.Name)
	id, ok := p.IDOf(u, r)
	p.Expect(ok).To(gomega.BeTrue(), "GET %s as %s must show \"Your session id is: <id>\"; the body was %q",
		p.T.Paths.Session, u.Name, excerpt(r.Body, 200))
	return id
}

// IDOf is the session id a response shows u.
func (p *Probe) IDOf(u *User, r *Response) (string, bool) {
	if id, ok := r.SessionID(); ok || !p.T.IDFromCookie {
		return id, ok
	}
	return u.Cookie(p.T.Cookie)
}

// Count visits the counter as u and returns the number it shows.
func (p *Probe) Count(u *User) int {
	r := p.Get(u, p.T.Paths.Counter)
	p.Expect(r.Status).To(gomega.Equal(http.StatusOK), "GET %s as %s: status", p.T.Paths.Counter, u.Name)
	n, ok := r.Number()
	p.Expect(ok).To(gomega.BeTrue(), "GET %s must show a number; the body was %q", p.T.Paths.Counter, excerpt(r.Body, 200))
	return n
}

// Need ends the case as not applicable if the target lacks a resource.
// The run calls it for every resource in Case.Needs before the body runs.
func (p *Probe) Need(r Resource) {
	switch r {
	case Expired:
		if p.T.ExpiredLines == nil && p.T.Paths.Expired == "" {
			p.NotApplicable("the target has no expired-notification feed (discovery document paths.expired, --paths expired=/path, or --expired stdout)")
		}
	case Replicas:
		if len(p.T.Replicas) == 0 {
			p.NotApplicable("the target is not a cluster: give its other replicas with --replica URL (or \"replicas\" in its discovery document)")
		}
	case Expire, LogMe, Counter, Components, WebSocket:
		if p.T.Paths.Get(string(r)) == "" {
			p.NotApplicable("the target has no %s resource (discovery document paths.%s, or --paths %s=/path)", r, r, r)
		}
	}
}

// NeedTime ends the case as not applicable if it would have to wait d of
// wall-clock time and that is more than the target allows.
func (p *Probe) NeedTime(d time.Duration) {
	if !p.T.Controlled() && d > p.T.MaxWait {
		p.NotApplicable("needs %s of wall-clock time (timeout %s) and --max-wait is %s; give the target a clock (--clock), a shorter timeout, or a longer --max-wait",
			d.Round(time.Millisecond), p.T.Timeout, p.T.MaxWait)
	}
}

// Margin is how far before the timeout a MUST case checks that a session
// is still alive: a second (a tenth of the timeout if that is less) on a
// controlled clock; on the wall clock a second plus the tolerance, so that
// a store or a cookie that counts whole seconds (an HTTP-date Expires
// rounded down, a TTL in seconds) gets the same verdict on every run.
// TIMEOUT-005 checks the timeout to within the tolerance.
func (p *Probe) Margin() time.Duration {
	if p.T.Controlled() {
		return min(Overshoot, p.T.Timeout/10)
	}
	return Overshoot + p.T.Tolerance
}

// Alive is how long a MUST case idles and still expects the session: the
// timeout less Margin. A wall-clock timeout too short for that makes the
// case not applicable.
func (p *Probe) Alive() time.Duration {
	d := p.T.Timeout - p.Margin()
	if d < p.T.Timeout/4 {
		p.NotApplicable("a wall-clock timeout of %s leaves no room for the 1 s granularity the MUST cases allow (timeout - 1 s - tolerance %s); run the target with a timeout of 2 s or more", p.T.Timeout, p.T.Tolerance)
	}
	return d
}

// Full is how long a case idles to see a session time out in a MUST
// case: the timeout plus Overshoot (a whole-second store conforms), plus
// the tolerance on the wall clock.
func (p *Probe) Full() time.Duration {
	if p.T.Controlled() {
		return p.T.Timeout + Overshoot
	}
	return p.T.Timeout + Overshoot + p.T.Tolerance
}

// Exact is how long a case idles to see a session time out precisely:
// the timeout on a controlled clock, plus the tolerance on the wall clock.
func (p *Probe) Exact() time.Duration {
	if p.T.Controlled() {
		return p.T.Timeout
	}
	return p.T.Timeout + p.T.Tolerance
}

// Idle lets d of the target's time pass with no request from the case:
// by advancing its clock, or by waiting on the wall clock. Only a case
// that needs Time may idle.
func (p *Probe) Idle(d time.Duration) {
	if !p.c.needs(Time) {
		panic(fmt.Sprintf("spec: case %s idles but does not declare Needs: Time", p.c.ID))
	}
	if !p.T.Controlled() {
		p.Tr.Note("waited %s of wall-clock time", d)
		select {
		case <-time.After(d):
		case <-p.ctx.Done():
			panic(aborted{"interrupted while waiting"})
		}
		return
	}
	p.run.advance(p, d)
}

// Notifications returns how often the expiry notification of each of
// ids has fired so far, from the target's feed: the feed resource (asked
// for just those ids, ?id=…, and read whole, streamed, when it does not
// understand the question) or the lines the --run target printed. It
// accepts bare uids and the seed's "Session <uid> has expired." lines.
//
// On a clustered target the feed is the union of every replica's (each
// lists the notifications it fired): the counts are their sums; or,
// when the replicas share one log (Target.SharedFeed), the highest count
// of each id in any one feed. That declaration is trusted: replicas that
// each fire every notification into a feed of their own look the same.
func (p *Probe) Notifications(ids ...string) map[string]int {
	if len(p.T.Replicas) == 0 || p.T.ExpiredLines != nil {
		return p.NotificationsOn(0, ids...)
	}
	sum := make(map[string]int, len(ids))
	most := make(map[string]int, len(ids)) // the highest count of each id in any one feed
	per := make([]string, p.T.ReplicaCount())
	var first map[string]int
	everyFeedAlike := true
	for i := range per {
		counts := p.NotificationsOn(i, ids...)
		for id, n := range counts {
			sum[id] += n
			most[id] = max(most[id], n)
		}
		if i == 0 {
			first = counts
		}
		everyFeedAlike = everyFeedAlike && maps.Equal(counts, first) && slices.ContainsFunc(slices.Collect(maps.Values(counts)), func(n int) bool { return n > 0 })
		per[i] = fmt.Sprintf("replica %d: %v", i, counts)
	}
	if p.T.SharedFeed {
		// One log, read through every replica: each feed is the whole of
		// it, as of its reading; the fullest reading counts (a feed read a
		// moment earlier may lack a notification fired since).
		p.Tr.Note("the replicas share one feed (shared_feed): %s; counted as the fullest: %v", strings.Join(per, ", "), most)
		return most
	}
	p.Tr.Note("notifications in each replica's feed: %s; in all: %v", strings.Join(per, ", "), sum)
	if everyFeedAlike {
		p.Tr.Note("every replica's feed lists the same notifications: if the replicas write to one log, say so (--shared-feed, or \"shared_feed\": true in the discovery document) and the fullest feed is counted; if each replica fired them, that is the defect")
	}
	return sum
}

// NotificationsOn is Notifications from replica i's feed.
func (p *Probe) NotificationsOn(replica int, ids ...string) map[string]int {
	counts := make(map[string]int, len(ids))
	for _, id := range ids {
		counts[id] = 0
	}
	if p.T.ExpiredLines != nil {
		lines := p.T.ExpiredLines()
		p.Tr.Note("read %d lines of the target's output", len(lines))
		for _, l := range lines {
			countLine(counts, l)
		}
		return counts
	}
	p.Need(Expired)
	feed := p.T.Paths.Expired
	q := url.Values{}
	for _, id := range ids {
		if len(id) < 1000 {
			q.Add("id", id)
		}
	}
	sep := "?"
	if strings.Contains(feed, "?") {
		sep = "&"
	}
	if err := p.readFeedOn(replica, feed+sep+q.Encode(), counts); err != nil {
		// A feed that does not take the question gets it plainly.
		if err := p.readFeedOn(replica, feed, counts); err != nil {
			p.Abort("%v", err)
		}
	}
	return counts
}

// errFeedStatus is a feed that did not answer 200.
var errFeedStatus = errors.New("feed status")

// readFeed streams one answer of the feed into counts.
func (p *Probe) readFeed(path string, counts map[string]int) error {
	return p.readFeedOn(0, path, counts)
}

// readFeedOn streams one answer of replica i's feed into counts.
func (p *Probe) readFeedOn(replica int, path string, counts map[string]int) error {
	for id := range counts {
		counts[id] = 0
	}
	req, err := http.NewRequestWithContext(onReplica(p.ctx, replica), "GET", p.T.Resolve(path), nil)
	if err != nil {
		return err
	}
	if !p.T.sameOrigin(req.URL) {
		return fmt.Errorf("%s is not on the target's origin: not contacted", req.URL)
	}
	ex := Exchange{User: (&User{Name: "feed", target: p.T, replica: replica}).evidenceName(req), Request: p.T.renderRouted(req)}
	client := p.T.client()
	client.Timeout = 0 // bounded by the context and the byte limit below, not a whole-answer timeout
	ctx, cancel := context.WithTimeout(req.Context(), max(p.T.RequestTimeout, time.Minute))
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		ex.Err = unwrapURLError(err)
		p.Tr.add(ex)
		if p.ctx.Err() != nil {
			panic(aborted{"interrupted"})
		}
		return fmt.Errorf("GET %s: %v", req.URL, ex.Err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ex.Response = renderResponse(resp, "")
		p.Tr.add(ex)
		if resp.StatusCode == http.StatusNotFound && path == p.T.Paths.Expired {
			p.NotApplicable("GET %s answered 404: the target has no expired feed (declare it absent with --paths logme=,expired=)", req.URL)
		}
		return fmt.Errorf("GET %s answered %d; the expired feed must answer 200: %w", req.URL, resp.StatusCode, errFeedStatus)
	}
	r := bufio.NewReaderSize(io.LimitReader(resp.Body, maxFeed+1), 64<<10)
	var read, lines int
	var first strings.Builder
	for {
		line, err := r.ReadSlice('\n')
		read += len(line)
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) { // an over-long line counts for nothing
				line, err = r.ReadSlice('\n')
				read += len(line)
			}
			continue
		}
		if len(line) > 0 {
			lines++
			if first.Len() < 512 {
				first.Write(line)
			}
			countLine(counts, string(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			ex.Err = err
			p.Tr.add(ex)
			return fmt.Errorf("reading %s after %d bytes: %v", req.URL, read, err)
		}
		if read > maxFeed {
			p.Tr.add(ex)
			p.Abort("GET %s: the feed is longer than %d MiB; sessionspec reads at most that much", req.URL, maxFeed>>20)
		}
	}
	ex.Response = renderResponse(resp, first.String()) + fmt.Sprintf("(%d lines, %d bytes in all)\n", lines, read)
	p.Tr.add(ex)
	return nil
}

// countLine counts a feed line for the ids in counts.
func countLine(counts map[string]int, l string) {
	l = strings.TrimSpace(l)
	if rest, ok := strings.CutPrefix(l, "Session "); ok {
		if uid, ok := strings.CutSuffix(rest, " has expired."); ok {
			l = uid
		} else {
			return
		}
	}
	if n, ok := counts[l]; ok {
		counts[l] = n + 1
	}
}

// CountNotifications is how often id's notification has fired so far.
func (p *Probe) CountNotifications(id string) int { return p.Notifications(id)[id] }

// NotificationsFor waits, briefly on a controlled clock and for the
// tolerance on the wall clock, until the feed lists id at least once, and
// returns how often it does.
func (p *Probe) NotificationsFor(id string) int {
	wait := 2 * time.Second
	if !p.T.Controlled() {
		wait = max(4*p.T.Tolerance, time.Second)
	}
	deadline := time.Now().Add(wait)
	for {
		n := p.CountNotifications(id)
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-p.ctx.Done():
			panic(aborted{"interrupted"})
		}
	}
}

// clockTime reads a clock-control answer.
func clockTime(r *Response) (time.Time, error) { return contract.ParseClockTime(r.Body) }
