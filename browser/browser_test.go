//go:build !wasm

package browser

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// outcomes collects each browser case's result as the suite runs.
var outcomes struct {
	mu sync.Mutex
	m  map[string]spec.Result
}

var _ = ginkgo.ReportAfterEach(func(r ginkgo.SpecReport) {
	if res, ok := spec.ResultOf(r); ok && res.Area == Area {
		outcomes.mu.Lock()
		if outcomes.m == nil {
			outcomes.m = map[string]spec.Result{}
		}
		outcomes.m[res.ID] = res
		outcomes.mu.Unlock()
	}
})

// TestScenarios plays every browser case in Chromium against the
// reference on a fake clock, served on loopback. Without a browser it
// fails: it never skips. SESSIONSPEC_SCREENSHOTS keeps the screenshots
// in a directory of your choice; -ginkgo.label-filter runs other cases
// too (the default is the browser cases only).
func TestScenarios(t *testing.T) {
	if _, err := FindChromium(""); err != nil {
		t.Fatal(err)
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ref := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	var favicons atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			favicons.Add(1)
		}
		ref.ServeHTTP(w, r)
	}))
	defer srv.Close()
	target, err := spec.NewTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !target.Controlled() {
		t.Fatal("the reference on a fake clock offers no clock resource")
	}
	spec.Use(target)
	dir := os.Getenv("SESSIONSPEC_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	Configure(Options{Screenshots: dir})

	suiteConfig, reporterConfig := ginkgo.GinkgoConfiguration()
	if suiteConfig.LabelFilter == "" {
		suiteConfig.LabelFilter = Area
	}
	reporterConfig.NoColor, reporterConfig.Succinct = true, true
	start := time.Now()
	ginkgo.RunSpecs(t, "sessionspec browser scenarios", suiteConfig, reporterConfig)
	fmt.Println() // the succinct reporter leaves its line open
	t.Logf("the browser cases took %s, Chromium's start included", time.Since(start).Round(time.Millisecond))

	outcomes.mu.Lock()
	defer outcomes.mu.Unlock()
	for _, c := range spec.Catalogue {
		if c.Area != Area {
			continue
		}
		r, ok := outcomes.m[c.ID]
		if ok {
			t.Log(r.Line())
		}
		if !ok || r.Outcome != spec.Passed {
			t.Errorf("%s: %q, want pass: %s", c.ID, r.Outcome, r.Message)
			continue
		}
		shots, _ := filepath.Glob(filepath.Join(dir, c.ID+"-*.png"))
		if len(shots) < 3 {
			t.Errorf("%s passed with %d screenshots in %s", c.ID, len(shots), dir)
		}
		for _, f := range shots {
			if b, err := os.ReadFile(f); err != nil || !strings.HasPrefix(string(b), "\x89PNG\r\n\x1a\n") {
				t.Errorf("%s is not a PNG image (%v)", f, err)
			}
		}
	}
	if n := favicons.Load(); n != 0 {
		t.Errorf("the browser asked the target for /favicon.ico %d times", n)
	}
}

// The browser cases are catalogue cases like the others: stable IDs, the
// area "browser" (their Ginkgo label), a level, a source sentence.
func TestCasesAreCatalogued(t *testing.T) {
	n := 0
	for _, c := range spec.Catalogue {
		if !strings.HasPrefix(c.ID, "BROWSER-") {
			if c.Area == Area {
				t.Errorf("case %s has the area %q but is not a BROWSER case", c.ID, Area)
			}
			continue
		}
		n++
		if want := fmt.Sprintf("BROWSER-%03d", n); c.ID != want {
			t.Errorf("browser case %d is %s, want %s (IDs are stable and in order)", n, c.ID, want)
		}
		if c.Area != Area || c.Title == "" || c.Seed == "" || c.Source == spec.NoSourceSection {
			t.Errorf("case %s: area %q, title %q, source %q, seed %q", c.ID, c.Area, c.Title, c.Source, c.Seed)
		}
		if c.Level != spec.Must && c.Level != spec.Should {
			t.Errorf("case %s has level %s; the browser cases replay the seeds (MUST) or what they imply (SHOULD)", c.ID, c.Level)
		}
	}
	if n != 5 {
		t.Errorf("%d browser cases in the catalogue, want 5", n)
	}
}

// Every sentence a case cites, the browser cases' included, stands in the
// seed documents (spec.Unquoted over the catalogue as this package leaves
// it). The seeds live beside the repository (../shared/seeds); elsewhere
// the test says so and skips.
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
	browserCases := 0
	for _, c := range spec.Catalogue {
		if c.Area == Area {
			browserCases++
		}
	}
	if browserCases == 0 {
		t.Fatal("no browser case in the catalogue: the check would prove nothing")
	}
	for _, c := range spec.Unquoted(docs) {
		t.Errorf("case %s cites %q, which is not in the seeds", c.ID, c.Seed)
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
