package htmlreport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// result makes a result of a catalogue case.
func result(t *testing.T, id string, o spec.Outcome, msg, evidence string) spec.Result {
	t.Helper()
	c, ok := spec.Lookup(id)
	if !ok {
		t.Fatalf("no case %s", id)
	}
	return spec.Result{Case: c, Outcome: o, Message: msg, Evidence: evidence, Seconds: 0.0123}
}

func judged(rs []spec.Result, exp spec.Expectations, problems ...string) *spec.Report {
	rep := &spec.Report{
		Target: "lib <1.0>", URL: "http://127.0.0.1:9/app/", Clock: "controlled", Timeout: 900,
		Cookie: "TWISTED_SESSION", CookieSource: "discovery", Version: spec.Version, Catalogue: "abc123",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seconds: 1.5, Results: rs, Problems: problems,
	}
	rep.Judge(exp)
	return rep
}

func render(t *testing.T, rep *spec.Report, o Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, rep, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func mustContain(t *testing.T, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
}

// The summary says what was checked and how it ended; a failed case shows
// its level, cited sentence, message and exchanges, all escaped; a case
// that passed shows no exchanges unless asked for.
func TestWriteSummaryAndCases(t *testing.T) {
	hostile := "[alice] <<<\nHTTP/1.1 200 OK\n\n<script>alert('owned')</script> & <img src=x onerror=alert(1)>"
	rep := judged([]spec.Result{
		result(t, "PERSIST-001", spec.Passed, "", ""),
		result(t, "TIMEOUT-003", spec.Failed, "visit 2: a visited session must stay active <b>", hostile),
		result(t, "EXPIRE-001", spec.NotApplicable, "the target serves no expire resource", ""),
	}, nil)
	page := render(t, rep, Options{Transcripts: map[string]string{"PERSIST-001": "[alice] >>>\nGET /persist-transcript HTTP/1.1\n"}})
	mustContain(t, page,
		"<title>sessionspec: lib &lt;1.0&gt;</title>", "exit 1</b> — a conformance failure: 1 MUST case(s) failed",
		"http://127.0.0.1:9/app/", "TWISTED_SESSION", "(from discovery)", "sessionspec "+spec.Version+", catalogue abc123",
		"15m0s", "started 2026-01-02 03:04:05 UTC", `<section class="case fail" id="TIMEOUT-003">`,
		`<span class="badge fail">FAIL</span>`, "<q>Keep visiting it to keep your session active.</q><cite>Twisted Web: Session Endings</cite>",
		"a visited session must stay active &lt;b&gt;", "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;",
		"<b>Incomplete:</b> MUST cases not applicable: EXPIRE-001", "the target serves no expire resource", "12 ms",
	)
	for _, bad := range []string{"<script>", "<img src=x", "/persist-transcript"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	// The failure's exchanges are open; on request, every case's are there.
	if !regexp.MustCompile(`(?s)id="TIMEOUT-003".*<details open>`).MatchString(page) {
		t.Errorf("the failure's evidence is not open")
	}
	all := render(t, rep, Options{AllEvidence: true, Transcripts: map[string]string{"PERSIST-001": "[alice] >>>\nGET /persist-transcript HTTP/1.1\n"}})
	mustContain(t, all, "GET /persist-transcript HTTP/1.1")
}

// A clustered target's page names its replicas; a single target's has no
// replicas row.
func TestReplicasShown(t *testing.T) {
	rep := judged([]spec.Result{result(t, "CLUSTER-001", spec.Passed, "", "")}, nil)
	if page := render(t, rep, Options{}); strings.Contains(page, "<th>replicas</th>") {
		t.Error("a single target's page has a replicas row")
	}
	rep.Replicas = []string{"http://127.0.0.1:9/app/", "http://127.0.0.1:10/app/", "http://127.0.0.1:11/<x>/"}
	mustContain(t, render(t, rep, Options{}), "<th>replicas</th>",
		"<code>http://127.0.0.1:10/app/</code>, <code>http://127.0.0.1:11/&lt;x&gt;/</code>")
}

// The exit code's meaning follows the verdict: with expectations,
// incomplete, a harness problem.
func TestExitMeaning(t *testing.T) {
	pass := result(t, "PERSIST-001", spec.Passed, "", "")
	fail := result(t, "TIMEOUT-003", spec.Failed, "m", "")
	na := result(t, "EXPIRE-001", spec.NotApplicable, "none", "")
	for _, tc := range []struct {
		rep    *spec.Report
		expect bool
		code   int
		want   string
	}{
		{judged([]spec.Result{pass}, nil), false, 0, "every MUST case ran and passed"},
		{judged([]spec.Result{pass, fail}, spec.Expectations{"TIMEOUT-003": {Outcome: spec.Failed, Reason: "known"}}), true, 0, "every outcome matched the expectations"},
		{judged([]spec.Result{pass, fail}, spec.Expectations{}), true, 1, "a conformance failure: 1 outcome(s) differ from the expectations"},
		{judged([]spec.Result{pass, na}, nil), false, 3, "incomplete: nothing failed, but MUST case(s) were not applicable: EXPIRE-001"},
		{judged([]spec.Result{pass}, nil, "another run moved the clock"), false, 2, "a harness error: another run moved the clock"},
	} {
		if tc.rep.ExitCode != tc.code || ExitMeaning(tc.rep, tc.expect) != tc.want {
			t.Errorf("exit %d %q; want %d %q", tc.rep.ExitCode, ExitMeaning(tc.rep, tc.expect), tc.code, tc.want)
		}
	}
}

// fakePNG is a file that starts as a PNG does, n bytes long.
func fakePNG(t *testing.T, path string, n int, mod time.Time) {
	t.Helper()
	b := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{'x'}, n-8)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mod.IsZero() {
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

// A browser case shows its own screenshots of this run in step order
// (numerically: step 100 after step 99), captioned by the steps its
// transcript notes; screenshots beyond the embedding bound are linked,
// relative to the page.
func TestScreenshots(t *testing.T) {
	dir := t.TempDir()
	shots := filepath.Join(dir, "shots")
	if err := os.Mkdir(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Minute)
	fakePNG(t, filepath.Join(shots, "BROWSER-001-01-alice-top-page.png"), 1000, time.Time{})
	fakePNG(t, filepath.Join(shots, "BROWSER-001-02-alice-reload-1.png"), 1000, time.Time{})
	fakePNG(t, filepath.Join(shots, "BROWSER-001-100-alice-reload-99.png"), 1000, time.Time{})
	fakePNG(t, filepath.Join(shots, "BROWSER-001-04-alice-failure.png"), 1000, time.Time{})
	fakePNG(t, filepath.Join(shots, "BROWSER-001-05-alice-old.png"), 1000, started.Add(-time.Hour)) // an earlier run's
	fakePNG(t, filepath.Join(shots, "BROWSER-0011-01-other-case.png"), 1000, time.Time{})
	if err := os.WriteFile(filepath.Join(shots, "BROWSER-001-06-not-a-png.png"), []byte("GIF89a"), 0o644); err != nil {
		t.Fatal(err)
	}
	transcript := fmt.Sprintf(`# browser step 01 [alice] open http://t/ -> http://t/ (200): "Your session id is: abc"
  screenshot %[1]s/BROWSER-001-01-alice-top-page.png

# browser step 02 [alice] reload -> http://t/ (200): "Your session id is: <abc>"
  screenshot %[1]s/BROWSER-001-02-alice-reload-1.png

# browser step 03 [alice] the cookie jar after the reloads:
  TWISTED_SESSION=abc; Domain=t; Path=/

# browser evidence [alice] when the case failed:
  screenshot %[1]s/BROWSER-001-04-alice-failure.png
  page http://t/
  page text:
    Your session id is: abc

`, shots)
	c := result(t, "PERSIST-001", spec.Failed, "m", transcript)
	c.ID, c.Area = "BROWSER-001", "browser"
	rep := judged([]spec.Result{c}, nil)
	rep.Started = started
	// Room for two of the screenshots.
	page := render(t, rep, Options{Screenshots: shots, Dir: dir, MaxEmbed: 2000})

	imgs := regexp.MustCompile(`<img src="([^"]*)" alt="([^"]+)"`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, m := range imgs {
		src := m[1]
		if strings.HasPrefix(src, "data:") {
			src = src[:30]
		}
		got = append(got, m[2]+" "+src)
	}
	want := []string{
		"BROWSER-001-01-alice-top-page.png data:image/png;base64,iVBORw0K",
		"BROWSER-001-02-alice-reload-1.png data:image/png;base64,iVBORw0K",
		"BROWSER-001-04-alice-failure.png shots/BROWSER-001-04-alice-failure.png",
		"BROWSER-001-06-not-a-png.png shots/BROWSER-001-06-not-a-png.png",
		"BROWSER-001-100-alice-reload-99.png shots/BROWSER-001-100-alice-reload-99.png",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screenshots:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mustContain(t, page,
		"<b>step 1: alice top page</b>", `[alice] open http://t/ -&gt; http://t/ (200): &#34;Your session id is: abc&#34;`,
		"<b>step 2: alice reload 1</b>", "Your session id is: &lt;abc&gt;",
		`<figure class="step noshot"><figcaption><b>step 3</b><span class="detail">[alice] the cookie jar after the reloads:`+"\n  TWISTED_SESSION=abc",
		"<b>step 4: alice failure</b> <span class=\"badge fail\">when it failed</span><span class=\"detail\">[alice] when the case failed; the page: http://t/",
		"2 embedded (2 KiB), <b>3 linked</b>, not embedded: the page embeds at most 2 KiB",
	)
	if strings.Contains(page, "alice-old") || strings.Contains(page, "other-case") {
		t.Errorf("the page shows an earlier run's screenshot or another case's")
	}

	// No embedding at all: every screenshot is linked.
	if page := render(t, rep, Options{Screenshots: shots, Dir: dir, MaxEmbed: -1}); strings.Contains(page, "data:image") {
		t.Errorf("MaxEmbed -1 embedded a screenshot")
	}
	// A browser case without screenshots says so.
	page = render(t, rep, Options{Screenshots: filepath.Join(dir, "none")})
	mustContain(t, page, "no screenshots of BROWSER-001 from this run in "+filepath.Join(dir, "none"))
}

// WriteFile writes the page whole or not at all: a failed rendering
// leaves the old file as it was and no temporary file beside it.
func TestWriteFileWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, nil, Options{}); err == nil {
		t.Fatal("no error for a nil report")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("the old page became %q", b)
	}
	rep := judged([]spec.Result{result(t, "PERSIST-001", spec.Passed, "", "")}, nil)
	if err := WriteFile(path, rep, Options{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(path); len(entries) != 1 || !strings.HasSuffix(string(b), "</html>\n") {
		t.Errorf("%d files in the directory, page ends %q", len(entries), b[max(0, len(b)-20):])
	}
	if err := WriteFile(filepath.Join(dir, "missing", "r.html"), rep, Options{}); err == nil {
		t.Error("no error for a missing directory")
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteReportsWriteErrors(t *testing.T) {
	rep := judged([]spec.Result{result(t, "PERSIST-001", spec.Passed, "", "")}, nil)
	if err := Write(&failingWriter{n: 100}, rep, Options{}); err == nil {
		t.Error("no error from a failing writer")
	}
	if err := Write(io.Discard, rep, Options{}); err != nil {
		t.Error(err)
	}
}

// The Recorder keeps the transcript of a case that passed, which the
// report leaves out, and changes nothing else.
func TestRecorder(t *testing.T) {
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(reference.NewServer(reference.NewSite(reference.Config{Clock: clock, SessionTimeout: reference.DefaultTimeout}), nil))
	defer srv.Close()
	ctx := context.Background()
	target, err := spec.NewTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder()
	cases := rec.Wrap(spec.Cases())
	rep, err := spec.Run(ctx, target, spec.Options{Cases: cases, LabelFilter: "PERSIST-001 || PERSIST-002"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.ExitCode != 0 || rep.Results[0].Evidence != "" {
		t.Fatalf("%d results, exit %d, evidence %q", len(rep.Results), rep.ExitCode, rep.Results[0].Evidence)
	}
	if rep.Catalogue != spec.CatalogueVersion(spec.Cases()) {
		t.Errorf("wrapping changed the catalogue version")
	}
	tr := rec.Transcripts()
	if len(tr) != 2 || !strings.Contains(tr["PERSIST-001"], "GET / HTTP/1.1") || !strings.Contains(tr["PERSIST-002"], "Cookie: ") {
		t.Errorf("transcripts: %v", tr)
	}
}
