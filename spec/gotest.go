package spec

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// Option changes what Test and TestURL assume of the implementation:
// what its discovery document or the check command's flags would say.
type Option func(*testConfig)

type testConfig struct {
	target  []func(*Target)
	filter  string
	expect  Expectations
	cases   []Case
	allowNA string
}

// WithCookie names the session cookie (default: taken from the first
// response of the session page, or the discovery document).
func WithCookie(name string) Option {
	return func(c *testConfig) {
		c.target = append(c.target, func(t *Target) { t.Cookie, t.CookieSource = name, "option" })
	}
}

// WithTimeout is the implementation's session timeout (default: the
// discovery document's, else 900 s).
func WithTimeout(d time.Duration) Option {
	return func(c *testConfig) { c.target = append(c.target, func(t *Target) { t.Timeout = d }) }
}

// WithPath sets the path of one resource (contract.PathNames); an empty
// path declares that the implementation does not serve it.
func WithPath(name, path string) Option {
	return func(c *testConfig) {
		c.target = append(c.target, func(t *Target) {
			if err := t.Paths.Set(name, path); err != nil {
				panic("spec.WithPath: " + err.Error())
			}
		})
	}
}

// WithIDFromCookie lets the session cookie's value stand for the id on a
// session page that shows none.
func WithIDFromCookie() Option {
	return func(c *testConfig) { c.target = append(c.target, func(t *Target) { t.IDFromCookie = true }) }
}

// WithTarget changes anything else of the target (tolerance, sessions,
// request timeout, ...) after discovery.
func WithTarget(f func(*Target)) Option {
	return func(c *testConfig) { c.target = append(c.target, f) }
}

// WithLabelFilter runs only the cases a Ginkgo label expression selects,
// e.g. "MUST && !security".
func WithLabelFilter(expr string) Option { return func(c *testConfig) { c.filter = expr } }

// WithExpectations makes known deviations pass: a case fails the test
// only when its outcome differs from exp (see ParseExpectations).
func WithExpectations(exp Expectations) Option { return func(c *testConfig) { c.expect = exp } }

// WithCases runs these cases instead of Cases().
func WithCases(cases []Case) Option { return func(c *testConfig) { c.cases = cases } }

// WithAllowNA lets the MUST cases a label expression selects be not
// applicable without failing the test (by default a MUST case that could
// not run fails it: the check was incomplete).
func WithAllowNA(expr string) Option { return func(c *testConfig) { c.allowNA = expr } }

// Test checks a session implementation written as an http.Handler, from
// `go test`, the way testing/fstest.TestFS checks a file system. Each
// case runs as a subtest, against a fresh handler from newHandler, inside
// a testing/synctest bubble, reached through an in-memory transport.
// Time in the bubble is virtual: a handler built on plain time.Now and
// time.AfterFunc has its 900 s default timeout checked in milliseconds,
// exactly. A handler that starts goroutines stops them in a t.Cleanup of
// the *testing.T it is given (the bubble waits for them).
//
// A failed MUST case, an error, or a MUST case that could not run fails
// the subtest; a failed SHOULD or ADVISORY case is logged, as the check
// command reports it without failing.
//
//	func TestSessions(t *testing.T) {
//		spec.Test(t, func(t *testing.T) http.Handler {
//			return mysessions.NewServer()
//		})
//	}
func Test(t *testing.T, newHandler func(*testing.T) http.Handler, opts ...Option) {
	t.Helper()
	cfg := configure(opts)
	cases, err := Select(cfg.casesOr(), cfg.filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHandler(t)
				target, err := NewTarget("http://sessionspec.localhost/")
				if err != nil {
					t.Fatal(err)
				}
				target.Name = "handler"
				target.Transport = HandlerTransport(h)
				// Virtual time is exact and free: no tolerance needed beyond
				// a nanosecond's rounding, and no wait is too long.
				target.Tolerance, target.MaxWait = time.Millisecond, 366*24*time.Hour
				runOne(t, target, c, cfg)
			})
		})
	}
}

// TestURL checks a session implementation served at url (its discovery
// document is read when present), each case a parallel subtest, on the
// target's own clock: the wall clock unless it declares a clock resource.
//
//	func TestDeployed(t *testing.T) {
//		spec.TestURL(t, "http://127.0.0.1:8080", spec.WithTimeout(3*time.Second))
//	}
func TestURL(t *testing.T, url string, opts ...Option) {
	t.Helper()
	cfg := configure(opts)
	cases, err := Select(cfg.casesOr(), cfg.filter)
	if err != nil {
		t.Fatal(err)
	}
	target, err := NewTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	controlled := false
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			tt := *target
			for _, f := range cfg.target {
				f(&tt)
			}
			controlled = tt.Controlled()
			if !controlled {
				t.Parallel() // every case has users and sessions of its own
			}
			runOne(t, &tt, c, cfg)
		})
	}
}

// runOne runs case c against target and reports it to t.
func runOne(t *testing.T, target *Target, c Case, cfg testConfig) {
	t.Helper()
	if !target.Discovered && target.Transport != nil {
		if err := target.Discover(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, f := range cfg.target {
			f(target)
		}
	}
	rep, err := Run(t.Context(), target, Options{Cases: []Case{c}, Parallel: 1, AllowNA: cfg.allowNA})
	if err != nil {
		t.Fatal(err)
	}
	rep.Judge(cfg.expect)
	r := rep.Results[0]
	detail := fmt.Sprintf("%s %s %s: %s", r.Outcome, r.Level, r.ID, r.Title)
	if r.Message != "" {
		detail += "\n" + r.Message
	}
	if r.Seed != "" {
		detail += fmt.Sprintf("\nsource: %s: %q", r.Source, r.Seed)
	}
	if r.Evidence != "" {
		detail += "\nevidence:\n" + r.Evidence
	}
	switch {
	case cfg.expect != nil && r.Differs(true):
		t.Errorf("%s\n(expected %s: %s)", detail, orNone(r.Expected), r.Reason)
	case cfg.expect != nil:
		t.Log(detail)
	case r.Outcome == Failed && r.Level != Must:
		t.Logf("%s\n(a %s case: reported, not fatal)", detail, r.Level)
	case r.Outcome == NotApplicable && rep.ExitCode == ExitIncomplete:
		t.Errorf("%s\n(a MUST case that could not run: the check is incomplete; WithAllowNA(%q) accepts that)", detail, r.ID)
	case r.Outcome == NotApplicable:
		t.Skip(detail)
	case r.Outcome != Passed:
		t.Error(detail)
	}
}

func orNone(o Outcome) string {
	if o == "" {
		return "pass"
	}
	return string(o)
}

func configure(opts []Option) testConfig {
	var cfg testConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func (c testConfig) casesOr() []Case {
	if c.cases != nil {
		return c.cases
	}
	return Cases()
}

// HandlerTarget is the target a handler serves in memory, its discovery
// document read: what a test needs to Run the suite against a handler
// without a network.
//
//	t, err := spec.HandlerTarget(ctx, myHandler)
//	rep, err := spec.Run(ctx, t, spec.Options{LabelFilter: "MUST"})
func HandlerTarget(ctx context.Context, h http.Handler) (*Target, error) {
	t, err := NewTarget("http://localhost/")
	if err != nil {
		return nil, err
	}
	t.Transport = HandlerTransport(h)
	return t, t.Discover(ctx)
}

// ClusterTarget is the target a cluster of handlers serves in memory:
// handlers[0] is the target itself (its discovery document is read), and
// each handler after it one more replica, reached through a transport of
// its own, as if at its own port. Each handler is one replica of one
// site: they share what the implementation shares (its store), and each
// serves its own clock resource and expired feed.
//
//	t, err := spec.ClusterTarget(ctx, replica0, replica1, replica2)
//	rep, err := spec.Run(ctx, t, spec.Options{LabelFilter: "cluster"})
func ClusterTarget(ctx context.Context, handlers ...http.Handler) (*Target, error) {
	if len(handlers) == 0 || len(handlers) > MaxReplicas {
		return nil, fmt.Errorf("a cluster of %d handlers; want 1 to %d", len(handlers), MaxReplicas)
	}
	t, err := NewTarget("http://localhost/")
	if err != nil {
		return nil, err
	}
	t.Transport = HandlerTransport(handlers[0])
	for i, h := range handlers[1:] {
		if err := t.AddReplica(fmt.Sprintf("http://localhost:%d/", 8001+i)); err != nil {
			return nil, err
		}
		t.ReplicaTransports = append(t.ReplicaTransports, HandlerTransport(h))
	}
	return t, t.Discover(ctx)
}

// HandlerTransport delivers requests to a handler in memory: HTTP
// semantics without sockets, for tests (also inside a synctest bubble,
// and where there is no network, GOOS=wasip1 or js).
//
//	target.Transport = spec.HandlerTransport(myHandler)
func HandlerTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	w := httptest.NewRecorder()
	r := req.Clone(req.Context())
	r.RemoteAddr = "127.0.0.1:1234"
	r.RequestURI = req.URL.RequestURI()
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	t.h.ServeHTTP(w, r)
	resp := w.Result()
	resp.Request = req
	return resp, nil
}
