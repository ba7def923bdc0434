package spec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/internal/oneline"
)

// DefaultParallel is how many cases run at once by default.
const DefaultParallel = 16

// Options shape one run of the suite.
type Options struct {
	// Cases are the cases to run, in report order; nil means Cases().
	// Browser cases join a run here: append(spec.Cases(), b.Cases()...).
	Cases []Case
	// LabelFilter selects cases with a Ginkgo label expression over
	// levels, areas, IDs and needs-R labels, e.g. "MUST && !timeout", "PERSIST-001" or "needs-counter".
	// A filter that selects no case is an error.
	LabelFilter string
	// Parallel is how many cases run at once (DefaultParallel when 0; 1
	// runs them one after another). On a controlled clock a case that
	// lets time pass always runs alone.
	Parallel int
	// OnCase, when set, hears each result as soon as its case ends (one
	// call at a time, in the order they end).
	OnCase func(Result)
	// AllowNA is a label expression of the MUST cases that may be not
	// applicable without making the run incomplete.
	AllowNA string
	// IsolateTime, on the wall clock, runs the cases that let time pass
	// only after every other case has ended, so that while they wait no
	// other case's requests reach the target. A store that ends sessions
	// only while it serves requests (PHP collecting garbage in
	// session_start) otherwise gets timing verdicts that depend on how
	// busy the other cases kept it. The run takes longer: the other
	// cases' time is no longer hidden behind the waits.
	IsolateTime bool
}

// run is the state one Run shares between its cases.
type run struct {
	target *Target

	mu     sync.Mutex
	broken string // first target error: later cases are not tried

	// clock serialises time on a controlled clock: a case that lets time
	// pass holds it exclusively, every other case shares it.
	clock    sync.RWMutex
	clockNow []time.Time // each replica's controlled clock's time as this run last saw it
}

// trip records the first target error of the run.
func (r *run) trip(msg string) {
	r.mu.Lock()
	if r.broken == "" {
		r.broken = msg
	}
	r.mu.Unlock()
}

// ParseLabelFilter checks a label expression (Ginkgo's syntax) and
// returns the function that applies it to a case.
func ParseLabelFilter(expr string) (func(Case) bool, error) {
	if strings.TrimSpace(expr) == "" {
		return func(Case) bool { return true }, nil
	}
	f, err := types.ParseLabelFilter(expr)
	if err != nil {
		msg := err.Error()
		if ge, ok := err.(types.GinkgoError); ok {
			msg = ge.Message
		}
		return nil, fmt.Errorf("label filter %q: %s", expr, oneline.Clip(msg, 300))
	}
	return func(c Case) bool { return f(c.Labels()) }, nil
}

// Select returns the cases a label filter selects, in order. A malformed
// filter, or one that selects nothing, is an error.
func Select(cases []Case, expr string) ([]Case, error) {
	match, err := ParseLabelFilter(expr)
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, c := range cases {
		if match(c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("label filter %q selects none of the %d cases (labels are levels, areas, IDs and needs-RESOURCE: see sessionspec list)", expr, len(cases))
	}
	return out, nil
}

// Run checks t with the selected cases and returns the report, judged
// without expectations (call Judge again to apply some). Run may be
// called any number of times, also at once, with the same Target; it
// does not change it. The error is a harness or target error that kept
// the run from starting: a bad filter, an unreachable target, a clock
// that does not move.
//
//	t, _ := spec.NewTarget("http://127.0.0.1:8080")
//	if err := t.Discover(ctx); err != nil { ... }
//	rep, err := spec.Run(ctx, t, spec.Options{LabelFilter: "MUST"})
//	rep.WriteJSON(os.Stdout)
func Run(ctx context.Context, t *Target, opts Options) (*Report, error) {
	cases := opts.Cases
	if cases == nil {
		cases = Cases()
	}
	selected, err := Select(cases, opts.LabelFilter)
	if err != nil {
		return nil, err
	}
	allowNA, err := ParseLabelFilter(opts.AllowNA)
	if err != nil {
		return nil, fmt.Errorf("allowed n/a: %v", err)
	}
	if opts.AllowNA == "" {
		allowNA = func(Case) bool { return false }
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	tt := *t
	if tt.Transport == nil && tt.own == nil {
		tt.own = NewTransport()
	}
	r := &run{target: &tt}
	// Connections the transport dialled but never sent a request on (a
	// burst of concurrent requests dials more than it ends up using) look
	// like requests on their way to the target, and hold up its graceful
	// shutdown: close every idle one when the run ends.
	defer tt.closeIdle()
	start := time.Now()
	if tt.Cookie == "" {
		if err := r.detectCookie(ctx); err != nil {
			return nil, err
		}
	}
	if tt.Controlled() {
		if err := r.checkClock(ctx); err != nil {
			return nil, err
		}
	}

	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	results := make([]Result, len(selected))
	var report sync.Mutex
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	// With IsolateTime on the wall clock, two rounds: the cases that let
	// no time pass, then, once all of them have ended, those that do.
	isolate := opts.IsolateTime && !tt.Controlled()
	for round := range 2 {
		for i, c := range selected {
			if isolate && c.needs(Time) != (round == 1) || !isolate && round == 1 {
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				res := r.runCase(ctx, c)
				results[i] = res
				if opts.OnCase != nil {
					report.Lock()
					opts.OnCase(res)
					report.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	rep := &Report{
		Target: tt.Name, URL: tt.URL.String(), Replicas: tt.ReplicaNames(), Clock: "wall", Timeout: tt.Timeout.Seconds(),
		Cookie: tt.Cookie, CookieSource: tt.CookieSource,
		Version: Version, Catalogue: CatalogueVersion(cases),
		Started: start, Seconds: time.Since(start).Seconds(), Results: results,
	}
	if tt.Controlled() {
		rep.Clock = "controlled"
		if err := r.clockUntouched(ctx); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		}
	}
	for i := range rep.Results {
		res := &rep.Results[i]
		res.AllowedNA = res.Outcome == NotApplicable && res.Level == Must && (allowNA(res.Case) || lacksOptional(&tt, res.Case))
	}
	rep.Judge(nil)
	return rep, nil
}

// runCase runs one case and says how it ended.
func (r *run) runCase(ctx context.Context, c Case) (res Result) {
	res = Result{Case: c}
	r.mu.Lock()
	broken := r.broken
	r.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		res.Outcome, res.Message = Interrupted, "not started: the run was interrupted"
		return res
	case broken != "":
		res.Outcome, res.Message = Errored, "not tried: the target failed earlier: "+broken
		return res
	}
	if r.target.Controlled() {
		if c.needs(Time) {
			r.clock.Lock()
			defer r.clock.Unlock()
		} else {
			r.clock.RLock()
			defer r.clock.RUnlock()
		}
	}
	p := newProbe(ctx, r, c)
	start := time.Now()
	defer func() {
		res.Duration = time.Since(start)
		res.Seconds = res.Duration.Seconds()
		rec := recover()
		switch v := rec.(type) {
		case nil:
			res.Outcome = Passed
		case failure:
			res.Outcome, res.Message = Failed, v.msg
			if v.at != "" {
				res.Message += "\n(at " + v.at + ")"
			}
		case notApplicable:
			res.Outcome, res.Message = NotApplicable, v.msg
		case aborted:
			res.Outcome, res.Message = Errored, v.msg
		default:
			res.Outcome = Errored
			res.Message = fmt.Sprintf("harness error (a bug in sessionspec, not in the target): panic: %v\n%s", v, stackExcerpt())
		}
		if ctx.Err() != nil && res.Outcome != Passed {
			res.Outcome, res.Message = Interrupted, "interrupted: "+ctxReason(ctx)
		}
		if (res.Outcome == Failed || res.Outcome == Errored || res.Outcome == Interrupted) && p.Tr.Len() > 0 {
			res.Evidence = p.Tr.String()
		}
	}()
	if c.Check == nil {
		panic(fmt.Sprintf("case %s has no Check", c.ID))
	}
	for _, need := range c.Needs {
		p.Need(need)
	}
	c.Check(p)
	return res
}

func ctxReason(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return "the run's deadline passed"
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause.Error()
	}
	return "the run was interrupted"
}

// stackExcerpt is the part of the stack that tells where a harness panic
// came from.
func stackExcerpt() string {
	lines := strings.Split(string(debug.Stack()), "\n")
	var keep []string
	for _, l := range lines {
		if strings.Contains(l, "sessionspec/") && !strings.Contains(l, "spec/run.go") {
			keep = append(keep, strings.TrimSpace(l))
		}
		if len(keep) == 8 {
			break
		}
	}
	return strings.Join(keep, "\n")
}

// detectCookie takes the session cookie's name from the first answer of
// the session page to a new user: the one cookie it sets, or among
// several the one whose name says session (TWISTED_SESSION, then a name
// with "sess" or "sid" in it), else the first.
func (r *run) detectCookie(ctx context.Context) error {
	t := r.target
	u := NewUser(t, "detect", &Transcript{})
	resp, err := u.Do(ctx, "GET", t.Paths.Session, "")
	if err != nil {
		return fmt.Errorf("target %s: %v", t.Resolve(t.Paths.Session), err)
	}
	if len(resp.SetCookies) == 0 {
		t.CookieSource = "none set by the first visit"
		return nil
	}
	best := resp.SetCookies[0].Name
	score := func(name string) int {
		l := strings.ToLower(name)
		switch {
		case name == contract.CookieName || name == contract.SecureCookieName:
			return 3
		case strings.Contains(l, "sess"):
			return 2
		case strings.Contains(l, "sid"):
			return 1
		}
		return 0
	}
	for _, c := range resp.SetCookies[1:] {
		if score(c.Name) > score(best) {
			best = c.Name
		}
	}
	t.Cookie, t.CookieSource = best, "detected"
	return nil
}

// clockReplicas is how many clocks a controlled clock is: one per
// replica when the clock resource is on the target's origin (each
// replica serves its own), else one (a clock the user named elsewhere).
func (r *run) clockReplicas() int {
	t := r.target
	u, err := url.Parse(t.Resolve(t.Paths.Clock))
	if err != nil || origin(u) != origin(t.URL) {
		return 1
	}
	return t.ReplicaCount()
}

// clockName names replica i's clock in messages.
func (r *run) clockName(i int) string {
	t := r.target
	if r.clockReplicas() == 1 {
		return t.Resolve(t.Paths.Clock)
	}
	return fmt.Sprintf("replica %d's clock %s", i, t.ReplicaURL(i).ResolveReference(&url.URL{Path: strings.TrimPrefix(t.Resolve(t.Paths.Clock), t.URL.String())}))
}

// checkClock makes sure a clock-control resource does what it claims
// before any case relies on it: it reads the time, advances a
// millisecond, and reads it again, on every replica's clock; the
// replicas' clocks must agree to within the tolerance.
func (r *run) checkClock(ctx context.Context) error {
	t := r.target
	n := r.clockReplicas()
	r.clockNow = make([]time.Time, n)
	for i := range n {
		u := NewUser(t, "clock", &Transcript{}).On(i)
		name := r.clockName(i)
		read := func(method, query string) (time.Time, error) {
			resp, err := u.Do(ctx, method, t.Paths.Clock+query, "")
			if err != nil {
				return time.Time{}, fmt.Errorf("clock %s: %v", name, err)
			}
			if resp.Status != http.StatusOK {
				return time.Time{}, fmt.Errorf("clock: %s %s%s answered %d %q, want 200", method, name, query, resp.Status, oneline.Clip(excerpt(resp.Body, 120), 120))
			}
			now, err := clockTime(resp)
			if err != nil {
				return time.Time{}, fmt.Errorf("clock: %s %s%s: %v", method, name, query, err)
			}
			return now, nil
		}
		t0, err := read("GET", "")
		if err != nil {
			return err
		}
		t1, err := read("POST", "?advance=1ms")
		if err != nil {
			return err
		}
		t2, err := read("GET", "")
		if err != nil {
			return err
		}
		if off := t2.Sub(t0) - time.Millisecond; off < -time.Microsecond || off > time.Microsecond || !t1.Equal(t2) {
			return fmt.Errorf("clock: advancing 1ms moved %s from %s to %s (POST answered %s); the clock resource does not control the target's time, or another run shares it",
				name, t0.Format(time.RFC3339Nano), t2.Format(time.RFC3339Nano), t1.Format(time.RFC3339Nano))
		}
		r.clockNow[i] = t2
	}
	for i := 1; i < n; i++ {
		if d := r.clockNow[i].Sub(r.clockNow[0]).Abs(); d > t.Tolerance {
			return fmt.Errorf("clock: replica 0's clock reads %s and replica %d's %s, %s apart (tolerance %s): the replicas of one site must share one time",
				r.clockNow[0].Format(time.RFC3339Nano), i, r.clockNow[i].Format(time.RFC3339Nano), d, t.Tolerance)
		}
	}
	return nil
}

// advance moves a controlled clock by d for p's case, which holds the
// clock exclusively: every replica's clock at once, done when all have
// answered. A clock that refuses is a harness error; one that lands
// anywhere but where this run expects was moved by someone else: another
// run shares the target, and no verdict about time can be trusted.
func (r *run) advance(p *Probe, d time.Duration) {
	t := r.target
	n := len(r.clockNow)
	type answer struct {
		resp *Response
		err  error
	}
	answers := make([]answer, n)
	path := t.Paths.Clock + "?advance=" + contract.FormatAdvance(d)
	if n == 1 {
		resp, err := NewUser(t, "clock", p.Tr).Do(p.ctx, "POST", path, "")
		answers[0] = answer{resp, err}
	} else {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, err := NewUser(t, "clock", p.Tr).On(i).Do(p.ctx, "POST", path, "")
				answers[i] = answer{resp, err}
			})
		}
		wg.Wait()
	}
	for i, a := range answers {
		if a.err != nil {
			if p.ctx.Err() != nil {
				panic(aborted{"interrupted"})
			}
			p.Abort("POST %s?advance=%s (%s): %v", t.Paths.Clock, contract.FormatAdvance(d), r.clockName(i), a.err)
		}
		resp := a.resp
		if resp.Status != http.StatusOK {
			p.Abort("POST %s?advance=%s (%s) answered %d %q; the clock must advance and answer 200",
				t.Paths.Clock, contract.FormatAdvance(d), r.clockName(i), resp.Status, excerpt(strings.TrimSpace(resp.Body), 200))
		}
		now, err := clockTime(resp)
		if err != nil {
			p.Abort("POST %s (%s): %v", t.Paths.Clock, r.clockName(i), err)
		}
		if want := r.clockNow[i].Add(d); !now.Equal(want) {
			p.Abort("%s is at %s after advancing %s from %s, not %s: it moved by %s that this run did not ask for; another run (or client) shares this fake-clock target, so its timing cannot be trusted: give each check a target of its own",
				r.clockName(i), now.Format(time.RFC3339Nano), d, r.clockNow[i].Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), now.Sub(want))
		}
		r.clockNow[i] = now
	}
}

// clockUntouched checks, after the last case, that nobody else moved
// the controlled clock (any replica's) since this run last did.
func (r *run) clockUntouched(ctx context.Context) error {
	t := r.target
	for i := range r.clockNow {
		resp, err := NewUser(t, "clock", &Transcript{}).On(i).Do(ctx, "GET", t.Paths.Clock, "")
		if err != nil || resp.Status != http.StatusOK {
			continue // the cases have said what there was to say about the clock
		}
		now, err := clockTime(resp)
		if err == nil && !now.Equal(r.clockNow[i]) {
			return fmt.Errorf("%s moved by %s during the run that this run did not ask for: another run shares this fake-clock target", r.clockName(i), now.Sub(r.clockNow[i]))
		}
	}
	return nil
}

// Optional resources are parts of the contract a target need not serve:
// a case that is not applicable because the target lacks one does not
// make the run incomplete.
var optionalResources = []Resource{Components, WebSocket}

// lacksOptional reports whether c needs an optional resource t does not
// serve: also Replicas, of a target that is not a cluster.
func lacksOptional(t *Target, c Case) bool {
	if c.needs(Replicas) && len(t.Replicas) == 0 {
		return true
	}
	for _, r := range optionalResources {
		if c.needs(r) && t.Paths.Get(string(r)) == "" {
			return true
		}
	}
	return false
}
