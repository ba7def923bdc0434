//go:build !wasm

package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/internal/oneline"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// serve serves h on 127.0.0.1 for the duration of the test, counting the
// requests for /favicon.ico, and returns the target, discovered.
func serve(t *testing.T, h http.Handler) (*spec.Target, *atomic.Int64) {
	t.Helper()
	var favicons atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			favicons.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	target, err := spec.NewTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	return target, &favicons
}

// fakeReference is the reference on a fake clock, served on loopback.
func fakeReference(t *testing.T) (*spec.Target, *atomic.Int64) {
	t.Helper()
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	target, favicons := serve(t, reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil))
	if !target.Controlled() {
		t.Fatal("the reference on a fake clock offers no clock resource")
	}
	return target, favicons
}

// start starts a Browser whose screenshots go to dir (a fresh temporary
// directory when empty) and stops it when the test ends. Without a
// browser the test fails: it never skips.
func start(t *testing.T, dir string) *Browser {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	begin := time.Now()
	b, err := Start(t.Context(), Options{Screenshots: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	t.Logf("Chromium started in %s", time.Since(begin).Round(time.Millisecond))
	return b
}

// run runs cases against target and fails the test on a harness error.
func run(t *testing.T, target *spec.Target, opts spec.Options) *spec.Report {
	t.Helper()
	begin := time.Now()
	rep, err := spec.Run(t.Context(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cases in %s", len(rep.Results), time.Since(begin).Round(time.Millisecond))
	return rep
}

// result is the result of case id in rep.
func result(t *testing.T, rep *spec.Report, id string) spec.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s", id)
	return spec.Result{}
}

// allPass checks that every case of rep passed, except those allowed to
// be n/a, and that every browser case left at least three PNG screenshots
// in dir.
func allPass(t *testing.T, rep *spec.Report, dir string, naOK ...string) {
	t.Helper()
	browserCases := 0
	for _, r := range rep.Results {
		t.Log(r.Line())
		// The reference here is one process: the cluster cases are n/a.
		naAllowed := slices.Contains(naOK, r.ID) || slices.Contains(r.Case.Needs, spec.Replicas)
		if r.Outcome != spec.Passed && !(r.Outcome == spec.NotApplicable && naAllowed) {
			t.Errorf("%s: %s, want pass: %s\n%s", r.ID, r.Outcome, r.Message, r.Evidence)
			continue
		}
		if r.Area != Area || r.Outcome != spec.Passed {
			continue
		}
		browserCases++
		shots, _ := filepath.Glob(filepath.Join(dir, r.ID+"-*.png"))
		if len(shots) < 3 {
			t.Errorf("%s passed with %d screenshots in %s", r.ID, len(shots), dir)
		}
		for _, f := range shots {
			if b, err := os.ReadFile(f); err != nil || !strings.HasPrefix(string(b), "\x89PNG\r\n\x1a\n") {
				t.Errorf("%s is not a PNG image (%v)", f, err)
			}
		}
	}
	if browserCases == 0 {
		t.Error("no browser case passed")
	}
}

// TestScenarios plays every browser case in Chromium against the
// reference on a fake clock, served on loopback, together with every
// HTTP case, as many at once as spec.Run runs by default: the browser
// cases take turns in the Browser while the HTTP cases go on. Without a
// browser it fails: it never skips. SESSIONSPEC_SCREENSHOTS keeps the
// screenshots in a directory of your choice.
func TestScenarios(t *testing.T) {
	dir := os.Getenv("SESSIONSPEC_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	b := start(t, dir)
	if b.ScreenshotDir() != dir {
		t.Errorf("ScreenshotDir() = %q, want %q", b.ScreenshotDir(), dir)
	}
	target, favicons := fakeReference(t)
	rep := run(t, target, spec.Options{Cases: append(spec.Cases(), b.Cases()...)})
	allPass(t, rep, dir)
	if n := len(rep.Results); n != len(spec.Cases())+7 {
		t.Errorf("%d results, want the %d HTTP cases and 7 browser cases", n, len(spec.Cases()))
	}
	if rep.ExitCode != spec.ExitPass {
		t.Errorf("exit code %d, want %d", rep.ExitCode, spec.ExitPass)
	}
	if rep.Catalogue != spec.CatalogueVersion(append(spec.Cases(), Catalogue()...)) {
		t.Errorf("the run's catalogue %s is not that of spec.Cases() and Catalogue()", rep.Catalogue)
	}
	if n := favicons.Load(); n != 0 {
		t.Errorf("the browser asked the target for /favicon.ico %d times", n)
	}
}

// A Browser is a value: its cases run again in a second run, also in two
// runs at once, while a second Browser runs beside them; BROWSER-005
// restarts each Browser's Chromium meanwhile. Each run passes, and the second Browser's
// screenshots stay in its own directory. Once stopped, a Browser's cases
// end as errors that say so.
func TestBrowsersAreIndependentValues(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := start(t, dirA), start(t, dirB)
	first, _ := fakeReference(t)
	allPass(t, run(t, first, spec.Options{Cases: a.Cases()}), dirA)

	type job struct {
		name string
		b    *Browser
		dir  string
	}
	jobs := []job{{"a again", a, dirA}, {"a at once", a, dirA}, {"b", b, dirB}}
	reports := make([]*spec.Report, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	begin := time.Now()
	for i, j := range jobs {
		target, _ := fakeReference(t)
		// A case with two users and the case that restarts Chromium.
		opts := spec.Options{Cases: j.b.Cases(), LabelFilter: "BROWSER-003 || BROWSER-005"}
		wg.Go(func() { reports[i], errs[i] = spec.Run(t.Context(), target, opts) })
	}
	wg.Wait()
	t.Logf("three runs at once, two on one Browser: %s", time.Since(begin).Round(time.Millisecond))
	for i, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			allPass(t, reports[i], j.dir)
		})
	}
	// Each step of a case has one screenshot: a directory holds the last
	// run of each case, never a mix of two.
	for _, dir := range []string{dirA, dirB} {
		shots, _ := filepath.Glob(filepath.Join(dir, "BROWSER-*.png"))
		steps := map[string]string{}
		for _, f := range shots {
			step := filepath.Base(f)[:len("BROWSER-001-01")]
			if other, ok := steps[step]; ok {
				t.Errorf("two screenshots of step %s in %s: %s and %s", step, dir, other, filepath.Base(f))
			}
			steps[step] = filepath.Base(f)
		}
	}

	b.Stop()
	b.Stop() // harmless
	target, _ := fakeReference(t)
	rep := run(t, target, spec.Options{Cases: b.Cases(), LabelFilter: "BROWSER-004"})
	if r := rep.Results[0]; r.Outcome != spec.Errored || !strings.Contains(r.Message, "stopped") {
		t.Errorf("a case of a stopped Browser: %s %q, want an error saying it was stopped", r.Outcome, r.Message)
	}
}

// On the wall clock, with a short timeout (4 s), the browser waits out
// the timeout for real (bounded) and the cases still pass.
func TestScenariosWallClock(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	target, favicons := serve(t, reference.NewServer(reference.NewSite(reference.Config{SessionTimeout: 4 * time.Second}), nil))
	if target.Controlled() || target.Timeout != 4*time.Second {
		t.Fatalf("the reference on the wall clock: controlled %v, timeout %s; want the wall clock and 4s", target.Controlled(), target.Timeout)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	rep, err := spec.Run(ctx, target, spec.Options{Cases: b.Cases()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cases on the wall clock in %s", len(rep.Results), time.Since(begin).Round(time.Millisecond))
	// Restarting the browser may take too long to set the old cookie back
	// on a 4 s timeout: then the old cookie sent while the browser was
	// closed judges BROWSER-005 (TestRestartLongerThanTheTimeoutAllows).
	allPass(t, rep, dir)
	if r := result(t, rep, "BROWSER-002"); r.Outcome != spec.Passed {
		t.Errorf("BROWSER-002 (the timeout, waited out): %s", r.Outcome)
	}
	if n := favicons.Load(); n != 0 {
		t.Errorf("the browser asked the target for /favicon.ico %d times", n)
	}
}

// At a 2 s timeout a Chromium restart takes longer than the 375 ms
// BROWSER-005 leaves itself to set the old cookie back in the browser;
// the old cookie, sent by a client while the browser was closed, judges
// instead, and the case passes rather than having no verdict.
func TestRestartLongerThanTheTimeoutAllows(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	target, _ := serve(t, reference.NewServer(reference.NewSite(reference.Config{SessionTimeout: 2 * time.Second}), nil))
	rep := run(t, target, spec.Options{Cases: b.Cases(), LabelFilter: "BROWSER-005"})
	r := result(t, rep, "BROWSER-005")
	if r.Outcome != spec.Passed {
		t.Fatalf("BROWSER-005 at a 2 s timeout: %s %q", r.Outcome, r.Message)
	}
}

// Against a target that sets a new id on every response, BROWSER-001
// fails (a MUST case: exit code 1), with the failing screenshot, the page
// text and the cookie jar in the evidence.
func TestFaultyTargetFails(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	target, _ := serve(t, faulty.New(faulty.NewIDEveryResponse, clock, reference.DefaultTimeout))
	rep := run(t, target, spec.Options{Cases: b.Cases(), LabelFilter: "BROWSER-001"})
	r := result(t, rep, "BROWSER-001")
	if r.Outcome != spec.Failed || rep.ExitCode != spec.ExitFail {
		t.Fatalf("BROWSER-001 %s, exit code %d; want fail and %d\n%s\n%s", r.Outcome, rep.ExitCode, spec.ExitFail, r.Message, r.Evidence)
	}
	failure := filepath.Join(dir, "BROWSER-001-03-alice-failure.png")
	for _, want := range []string{"after reload 1", "cookie jar:", "TWISTED_SESSION=", "page text:", "Your session id is: ", failure} {
		if !strings.Contains(r.Message+r.Evidence, want) {
			t.Errorf("BROWSER-001's report lacks %q:\n%s\n%s", want, r.Message, r.Evidence)
		}
	}
	if _, err := os.Stat(failure); err != nil {
		t.Errorf("the failing screenshot: %v", err)
	}
}

// Against the reference, the page's WebSocket closes with 4001 "session
// expired" when a second tab expires the session, and with cookies
// blocked the browser gets a new session on every load and no id in any
// address; the screenshots show the socket's messages and its close.
func TestSocketAndCookielessPass(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	target, favicons := fakeReference(t)
	if target.Paths.WebSocket == "" {
		t.Fatal("the reference declares no ws path")
	}
	rep := run(t, target, spec.Options{Cases: b.Cases(), LabelFilter: "BROWSER-006 || BROWSER-007"})
	allPass(t, rep, dir)
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want BROWSER-006 and BROWSER-007", len(rep.Results))
	}
	// A passing case keeps no evidence: its screenshots show the steps.
	for _, step := range []string{"BROWSER-006-*-alice-socket-attached.png", "BROWSER-006-*-alice-tab-2-expire.png", "BROWSER-006-*-alice-socket-after-expire.png",
		"BROWSER-007-*-alice-cookies-blocked-load-3.png", "BROWSER-007-*-alice-cookies-blocked-counter-load-3.png"} {
		if shots, _ := filepath.Glob(filepath.Join(dir, step)); len(shots) != 1 {
			t.Errorf("screenshots %s: %v, want one", step, shots)
		}
	}
	if n := favicons.Load(); n != 0 {
		t.Errorf("the browser asked the target for /favicon.ico %d times", n)
	}
}

// BROWSER-006 fails against a target whose /expire leaves the session's
// sockets open; BROWSER-007 fails (an ADVISORY case) against a target
// that writes ;jsessionid=<id> into its links for a browser without
// cookies.
func TestSocketAndCookielessFaults(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	for _, tc := range []struct {
		fault faulty.Fault
		id    string
		want  []string
	}{
		{faulty.SocketSurvivesExpire, "BROWSER-006", []string{"still open", "attached "}},
		{faulty.SessionIDInLinks, "BROWSER-007", []string{";jsessionid=", "no address the browser shows"}},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			target, _ := serve(t, faulty.New(tc.fault, clock, reference.DefaultTimeout))
			rep := run(t, target, spec.Options{Cases: b.Cases(), LabelFilter: tc.id})
			r := result(t, rep, tc.id)
			if r.Outcome != spec.Failed {
				t.Fatalf("%s %s; want fail\n%s\n%s", tc.id, r.Outcome, r.Message, r.Evidence)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.Message+r.Evidence, want) {
					t.Errorf("%s's report lacks %q:\n%s\n%s", tc.id, want, r.Message, r.Evidence)
				}
			}
			t.Logf("%s: %s", tc.id, oneline.Clip(r.Message, 400))
		})
	}
}

// A browser that cannot be found or started is an error of Start, in one
// line that names what to do, never a Browser that skips.
func TestStartMissingOrBroken(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'this is not a browser' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ chromium, want string }{
		"missing": {"/nonexistent/chromium", `no browser at "/nonexistent/chromium" (--chromium)`},
		"broken":  {broken, "this is not a browser"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Start(t.Context(), Options{Chromium: tc.chromium, Screenshots: t.TempDir()})
			if err == nil {
				b.Stop()
				t.Fatal("Start succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("%q; want one line with %q", msg, tc.want)
			}
		})
	}
}

// The browser cases are cases like the others: stable IDs, the area
// "browser" (their label), a level, a source sentence. Catalogue and
// (*Browser).Cases describe them alike; the HTTP cases have none of
// them.
func TestCasesAreCatalogued(t *testing.T) {
	for _, c := range spec.Cases() {
		if c.Area == Area || strings.HasPrefix(c.ID, "BROWSER-") {
			t.Errorf("spec.Cases() has %s (area %q): the browser cases join a run explicitly", c.ID, c.Area)
		}
	}
	cat, bound := Catalogue(), (&Browser{}).Cases()
	if len(cat) != 7 || len(bound) != len(cat) {
		t.Fatalf("%d cases in the catalogue, %d bound to a browser; want 7", len(cat), len(bound))
	}
	for i, c := range cat {
		if want := fmt.Sprintf("BROWSER-%03d", i+1); c.ID != want {
			t.Errorf("browser case %d is %s, want %s (IDs are stable and in order)", i+1, c.ID, want)
		}
		if c.Area != Area || c.Title == "" || c.Seed == "" || c.Source == spec.NoSourceSection || c.Check == nil {
			t.Errorf("case %s: area %q, title %q, source %q, seed %q", c.ID, c.Area, c.Title, c.Source, c.Seed)
		}
		// BROWSER-007 is ADVISORY, as URL-001 is: no seed requires it.
		if c.Level != spec.Must && c.Level != spec.Should && !(c.ID == "BROWSER-007" && c.Level == spec.Advisory) {
			t.Errorf("case %s has level %s; the browser cases replay the seeds (MUST) or what they imply (SHOULD)", c.ID, c.Level)
		}
		b := bound[i]
		if b.ID != c.ID || b.Level != c.Level || b.Area != c.Area || b.Title != c.Title || b.Source != c.Source || b.Seed != c.Seed || !slices.Equal(b.Needs, c.Needs) {
			t.Errorf("Catalogue()[%d] = %+v, (*Browser).Cases()[%d] = %+v", i, c, i, b)
		}
	}
}

// A case of Catalogue, run, is an error that says what to use instead.
func TestCatalogueCasesDoNotRun(t *testing.T) {
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	target, err := spec.NewTarget("http://sessionspec.localhost/")
	if err != nil {
		t.Fatal(err)
	}
	target.Transport = spec.HandlerTransport(reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil))
	if err := target.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(t.Context(), target, spec.Options{Cases: Catalogue(), LabelFilter: "BROWSER-001"})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Outcome != spec.Errored || !strings.Contains(r.Message, "no browser: use (*Browser).Cases") || rep.ExitCode != spec.ExitHarness {
		t.Errorf("%s %q, exit code %d; want an error naming (*Browser).Cases, exit code %d", r.Outcome, r.Message, rep.ExitCode, spec.ExitHarness)
	}
}

// Every sentence a browser case cites stands in the seed documents. The
// seeds live beside the repository (../shared/seeds); elsewhere the test
// says so and skips.
func TestSeedsAreQuotedVerbatim(t *testing.T) {
	files, _ := filepath.Glob("../../shared/seeds/*.txt")
	if len(files) == 0 {
		t.Skip("the seed documents are not beside this checkout (../shared/seeds)")
	}
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, c := range spec.Unquoted(Catalogue(), docs) {
		t.Errorf("case %s cites %q, which is not in the seeds", c.ID, c.Seed)
	}
	if bad := spec.Unquoted(Catalogue(), nil); len(bad) != len(Catalogue()) {
		t.Fatalf("Unquoted found %d of the %d sentences in no documents at all", len(Catalogue())-len(bad), len(Catalogue()))
	}
}

func TestFindChromium(t *testing.T) {
	t.Setenv(EnvChromium, "")
	if _, err := FindChromium("/nonexistent/chromium"); err == nil || !strings.Contains(err.Error(), "--chromium") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a missing --chromium: %v; want one line naming --chromium", err)
	}
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	if _, err := FindChromium(""); err == nil || !strings.Contains(err.Error(), EnvChromium) {
		t.Errorf("a missing $%s: %v", EnvChromium, err)
	}
	if p, err := FindChromium("sh"); err != nil || !filepath.IsAbs(p) {
		t.Errorf("a browser named on PATH: %q, %v", p, err)
	}
	t.Setenv(EnvChromium, "")
	saved := candidates
	defer func() { candidates = saved }()
	candidates = []string{"/nonexistent/chromium", "no-such-chromium-browser"}
	if _, err := FindChromium(""); err == nil || !strings.Contains(err.Error(), "no Chromium found (tried /nonexistent/chromium, no-such-chromium-browser)") || strings.Contains(err.Error(), "\n") {
		t.Errorf("no browser anywhere: %v", err)
	}
}

func TestCookieApplies(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8080/app/page")
	for _, tc := range []struct {
		domain, path string
		want         bool
	}{
		{"127.0.0.1", "/", true},
		{"127.0.0.1", "/app", true},
		{"127.0.0.1", "/app/", true},
		{"127.0.0.1", "/ap", false},
		{"127.0.0.1", "/other", false},
		{"127.0.0.2", "/", false},
		{"example.com", "/", false},
	} {
		if got := cookieApplies(&network.Cookie{Domain: tc.domain, Path: tc.path}, u); got != tc.want {
			t.Errorf("Domain=%s Path=%s for %s: %v, want %v", tc.domain, tc.path, u, got, tc.want)
		}
	}
	v, _ := url.Parse("http://www.example.com/")
	if !cookieApplies(&network.Cookie{Domain: ".example.com", Path: "/"}, v) {
		t.Error("a cookie for .example.com does not apply to www.example.com")
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"alice-top-page":          "alice-top-page",
		"Alice Tab 2 / reload #3": "alice-tab-2-reload-3",
		"--x--":                   "x",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}
