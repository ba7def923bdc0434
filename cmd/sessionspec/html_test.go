package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// envHTMLShot names a file that TestCheckHTMLInChromium also saves its
// screenshot of the page to, for a person to look at.
const envHTMLShot = "SESSIONSPEC_HTML_SHOT"

// viewer is a headless Chromium of the test's own, to look at a page as
// a person would.
type viewer struct {
	ctx context.Context
}

func newViewer(t *testing.T) *viewer {
	t.Helper()
	path, err := browser.FindChromium("")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser: no deadline on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &viewer{ctx: ctx}
}

// open loads a local file and waits until its images are decoded.
func (v *viewer) open(t *testing.T, path string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(v.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs)); err != nil {
		t.Fatalf("loading %s: %v", abs, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`Promise.all([...document.images].map(i => { i.loading = "eager"; return i.decode().catch(() => null); })).then(() => true)`,
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("decoding the page's images: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page into T.
func eval[T any](t *testing.T, v *viewer, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, 30*time.Second)
	defer cancel()
	x, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return x
}

// screenshot takes a screenshot of the whole page, or of the element of
// id when id is not "", and saves it as name in dir, and also at
// $envHTMLShot (name's suffix after the first dash inserted before .png)
// when that is set.
func (v *viewer) screenshot(t *testing.T, dir, name, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, 60*time.Second)
	defer cancel()
	what := chromedp.FullScreenshot(100) // 100: PNG
	if id != "" {
		what = chromedp.Screenshot(chromedp.ID(id))
	}
	png, err := chromedp.Run(ctx, what)
	if err != nil {
		t.Fatalf("screenshot of the page: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if dest := os.Getenv(envHTMLShot); dest != "" {
		suffix := ""
		if _, s, ok := strings.Cut(strings.TrimSuffix(name, ".png"), "-"); ok {
			suffix = "-" + s
		}
		dest = strings.TrimSuffix(dest, ".png") + suffix + ".png"
		if err := os.WriteFile(dest, png, 0o644); err != nil {
			t.Errorf("$%s: %v", envHTMLShot, err)
		} else {
			t.Logf("the page's screenshot: %s", dest)
		}
	}
	return path
}

// check --html against a target that does not restart the timeout on a
// visit (Twisted 22.4's behaviour) writes a page that Chromium shows: the
// summary with exit 1, TIMEOUT-003 failed with its cited sentence and its
// exchanges, and every browser case with the screenshot of each of its
// steps, embedded, captioned with what the step did and saw.
func TestCheckHTMLInChromium(t *testing.T) {
	needChromium(t)
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(faulty.New(faulty.NoRefresh, clock, reference.DefaultTimeout))
	defer srv.Close()
	dir := t.TempDir()
	page, shots := filepath.Join(dir, "report.html"), filepath.Join(dir, "shots")
	start := time.Now()
	o := sessionspec(t, "check", srv.URL, "--browser", "--screenshots", shots,
		"--label-filter", "TIMEOUT-001 || TIMEOUT-003 || browser", "--html", page)
	t.Logf("check --browser --html: %s", time.Since(start).Round(time.Millisecond))
	if o.code != 1 || o.outcomeOf("TIMEOUT-003") != spec.Failed || o.outcomeOf("TIMEOUT-001") != spec.Passed {
		t.Fatalf("exit %d, TIMEOUT-003 %q, TIMEOUT-001 %q; want exit 1, fail, pass\n%s%s",
			o.code, o.outcomeOf("TIMEOUT-003"), o.outcomeOf("TIMEOUT-001"), o.stdout, o.stderr)
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// Self-contained: no script, no style sheet or image from elsewhere.
	for _, bad := range []string{"<script", "<link", `src="http`, `src="file:`, `src="shots/`} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}

	v := newViewer(t)
	start = time.Now()
	v.open(t, page)
	t.Logf("Chromium loaded the page (%d KiB): %s", len(raw)/1024, time.Since(start).Round(time.Millisecond))

	summary := eval[string](t, v, `document.querySelector("header").innerText + "\n" + document.querySelector("table.facts").innerText`)
	for _, want := range []string{"exit 1", "a conformance failure", srv.URL, "TWISTED_SESSION", "discovery", "sessionspec " + spec.Version, "15m0s", "controlled"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary does not show %q:\n%s", want, summary)
		}
	}
	failing := eval[string](t, v, `document.getElementById("TIMEOUT-003").innerText`)
	for _, want := range []string{"FAIL", "TIMEOUT-003", "MUST", "each visit restarts the inactivity timeout",
		"Keep visiting it to keep your session active.", "Twisted Web: Session Endings",
		"a visited session must stay active", "evidence", "GET / HTTP/1.1", "Cookie: TWISTED_SESSION="} {
		if !strings.Contains(failing, want) {
			t.Errorf("TIMEOUT-003 as Chromium shows it lacks %q:\n%s", want, failing)
		}
	}
	if passing := eval[string](t, v, `document.getElementById("TIMEOUT-001").innerText`); !strings.Contains(passing, "PASS") || strings.Contains(passing, "GET / HTTP/1.1") {
		t.Errorf("TIMEOUT-001 must show PASS and, without --html-evidence, no exchanges:\n%s", passing)
	}

	// Every browser case shows every screenshot of its own on disk, in
	// step order, decoded by Chromium, each with a caption.
	type figure struct {
		Src     string `json:"src"`
		Width   int    `json:"width"`
		Caption string `json:"caption"`
	}
	for _, c := range browser.Catalogue() {
		figs := eval[[]figure](t, v, `[...document.querySelectorAll("#`+c.ID+` figure.step")].filter(f => f.querySelector("img")).map(f => {
			const i = f.querySelector("img");
			return {src: i.getAttribute("src").slice(0, 22), width: i.naturalWidth, caption: f.querySelector("figcaption").innerText};
		})`)
		files := shotsOf(t, shots, c.ID)
		if len(files) == 0 || len(figs) != len(files) {
			t.Errorf("%s: %d screenshots on the page, %d in %s", c.ID, len(figs), len(files), shots)
			continue
		}
		for i, f := range figs {
			_, slug, _ := strings.Cut(strings.TrimPrefix(filepath.Base(files[i]), c.ID+"-"), "-")
			slug = strings.ReplaceAll(strings.TrimSuffix(slug, ".png"), "-", " ")
			if f.Src != "data:image/png;base64," || f.Width == 0 || !strings.Contains(f.Caption, slug) {
				t.Errorf("%s, screenshot %d (%s): src %q, width %d, caption %q; want an embedded PNG that Chromium decoded, captioned %q",
					c.ID, i+1, filepath.Base(files[i]), f.Src, f.Width, f.Caption, slug)
			}
		}
		// What the step did and saw comes from the case's transcript,
		// kept for the cases that passed too.
		if !strings.Contains(figs[0].Caption, "open "+srv.URL) || !strings.Contains(figs[0].Caption, "Your session id is: ") {
			t.Errorf("%s's first step is not captioned with what the browser did and showed: %q", c.ID, figs[0].Caption)
		}
	}
	if failed := eval[int](t, v, `document.querySelectorAll("#BROWSER-002 figure.step.failure img").length`); o.outcomeOf("BROWSER-002") == spec.Failed && failed == 0 {
		t.Errorf("BROWSER-002 failed, and its page shows no screenshot taken when it failed")
	}

	// For a person to look at: the whole page, the failing case, a
	// browser case.
	for _, s := range []struct{ name, id string }{{"report.png", ""}, {"report-TIMEOUT-003.png", "TIMEOUT-003"}, {"report-BROWSER-002.png", "BROWSER-002"}} {
		t.Logf("screenshot: %s", v.screenshot(t, dir, s.name, s.id))
	}
}

// --html-evidence shows the exchanges of the cases that passed too; it
// needs --html. An unwritable --html path is exit 2 before any case runs.
func TestCheckHTMLFlags(t *testing.T) {
	t.Parallel()
	url := startServe(t, "--fake-clock")
	page := filepath.Join(t.TempDir(), "r.html")
	o := sessionspec(t, "check", url, "--label-filter", "PERSIST-001", "--html", page, "--html-evidence")
	if o.code != 0 {
		t.Fatalf("exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "GET / HTTP/1.1") || !strings.Contains(string(raw), `id="PERSIST-001"`) {
		t.Errorf("with --html-evidence the page lacks PERSIST-001's exchanges")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--html-evidence"}, "--html-evidence needs --html"},
		{[]string{"--html", filepath.Join(t.TempDir(), "missing", "r.html")}, "report file:"},
	} {
		start := time.Now()
		out, err := exec.Command(bin, append([]string{"check", url}, tc.args...)...).CombinedOutput()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 2 || !strings.Contains(string(out), tc.want) || time.Since(start) > 5*time.Second {
			t.Errorf("%v: exit %d in %s, output %q; want exit 2 at once, saying %q", tc.args, code, time.Since(start), out, tc.want)
		}
	}
}
