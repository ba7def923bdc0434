package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// envReplayOut names a directory that TestReplayInChromium writes its
// pages into (reference/ and twisted/ under it) instead of a temporary
// one: the examples in docs/replay are made so.
const envReplayOut = "SESSIONSPEC_REPLAY_OUT"

// replayOut is where the pages of the replay against name go.
func replayOut(t *testing.T, name string) string {
	if dir := os.Getenv(envReplayOut); dir != "" {
		out := filepath.Join(dir, name)
		os.RemoveAll(out)
		return out
	}
	return filepath.Join(t.TempDir(), name)
}

// startTwisted starts Twisted 22.4 serving the seed examples on a
// controlled clock (targets/twisted/seedsite.py, task.Clock behind
// /_clock) on a port it picks itself and prints, and stops it when the
// test ends. Without Twisted the test fails.
func startTwisted(t *testing.T) string {
	t.Helper()
	py := os.Getenv("TWISTED_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import twisted, autobahn").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import twisted and autobahn (install Debian's python3-twisted and python3-autobahn: make deps; or set TWISTED_PYTHON): %v: %s", py, err, out)
	}
	cmd := exec.Command(py, "-u", filepath.Join("..", "..", "targets", "twisted", "seedsite.py"), "--controlled-clock", "--port", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	got := make(chan string, 1)
	go func() {
		if lines.Scan() {
			got <- lines.Text()
		}
		close(got)
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-got:
		m := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("seedsite.py's first line %q names no URL", line)
		}
		return m[1]
	case <-time.After(30 * time.Second):
		t.Fatal("seedsite.py printed no URL within 30 s")
	}
	return ""
}

// The pages of `sessionspec replay`, loaded in headless Chromium: against
// the reference (serve --fake-clock) every claim of every walk-through is
// shown held, green; against Twisted 22.4 on a controlled clock, "Keep
// visiting it to keep your session active." is shown failed, red, in the
// paragraph and at step 6 of "Session Endings", where the session the
// browser kept visiting was gone, and every other claim held.
func TestReplayInChromium(t *testing.T) {
	needChromium(t)
	v := newViewer(t)
	type mark struct {
		Class string `json:"class"`
		Text  string `json:"text"`
	}
	marks := func(t *testing.T) []mark {
		return eval[[]mark](t, v, `[...document.querySelectorAll("blockquote.seed mark")].map(m => ({class: m.className, text: m.innerText}))`)
	}
	text := func(t *testing.T, selector string) string {
		return eval[string](t, v, `(document.querySelector(`+"`"+selector+"`"+`) || {innerText: ""}).innerText`)
	}
	mustShow := func(t *testing.T, what, got string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s as Chromium shows it lacks %q:\n%s", what, w, got)
			}
		}
	}
	// decoded counts the screenshots of the page that Chromium decoded.
	decoded := func(t *testing.T) (int, int) {
		n := eval[[]int](t, v, `[document.querySelectorAll(".rstep img").length, [...document.querySelectorAll(".rstep img")].filter(i => i.naturalWidth > 0).length]`)
		return n[0], n[1]
	}

	t.Run("reference", func(t *testing.T) {
		url := startServe(t, "--fake-clock")
		out := replayOut(t, "reference")
		start := time.Now()
		o := sessionspec(t, "replay", url, "--out", out, "--shot-width", "640")
		t.Logf("replay against the reference: exit %d in %s\n%s", o.code, time.Since(start).Round(time.Millisecond), o.stdout)
		if o.code != 0 {
			t.Fatalf("exit %d, want 0\n%s%s", o.code, o.stdout, o.stderr)
		}
		v.open(t, filepath.Join(out, "index.html"))
		mustShow(t, "the index", text(t, "body"), "exit 0", "every claim of every walk-through held (20 claims)",
			"Session Basics", "Session Endings", "The counter", "7 of 7", "6 of 6", url)
		for _, page := range []string{"basics", "endings", "counter"} {
			v.open(t, filepath.Join(out, page+".html"))
			mustShow(t, page, text(t, "header"), "every claim held")
			ms := marks(t)
			if len(ms) < 3 {
				t.Errorf("%s: %d claims marked in the seed's paragraphs, want 3 or more", page, len(ms))
			}
			for _, m := range ms {
				if m.Class != "pass" {
					t.Errorf("%s: the claim %q is marked %q, want pass", page, m.Text, m.Class)
				}
			}
			if n := eval[int](t, v, `document.querySelectorAll(".rstep:not(.pass)").length`); n != 0 {
				t.Errorf("%s: %d steps not passed", page, n)
			}
			if all, ok := decoded(t); all == 0 || ok != all {
				t.Errorf("%s: %d of %d screenshots decoded", page, ok, all)
			}
		}
		v.open(t, filepath.Join(out, "endings.html"))
		mustShow(t, "endings, step 6", text(t, "#step-6"), "PASS", "step 6", "Keep visiting it to keep your session active.",
			"the browser still holds the TWISTED_SESSION cookie", "no expiry notification", "TWISTED_SESSION", "browser session")
		t.Logf("screenshot: %s", v.screenshot(t, t.TempDir(), "replay-reference-endings.png", ""))
	})

	t.Run("twisted", func(t *testing.T) {
		url := startTwisted(t)
		out := replayOut(t, "twisted")
		start := time.Now()
		o := sessionspec(t, "replay", url, "--out", out, "--shot-width", "640")
		t.Logf("replay against Twisted 22.4: exit %d in %s\n%s", o.code, time.Since(start).Round(time.Millisecond), o.stdout)
		if o.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", o.code, o.stdout, o.stderr)
		}
		v.open(t, filepath.Join(out, "index.html"))
		mustShow(t, "the index", text(t, "body"), "exit 1", "1 of 20 claims did not hold", "Twisted Web 22.4",
			"did not hold: step 6: Keep visiting it to keep your session active.")
		for _, page := range []string{"basics", "counter"} {
			v.open(t, filepath.Join(out, page+".html"))
			mustShow(t, page, text(t, "header"), "every claim held")
		}
		v.open(t, filepath.Join(out, "endings.html"))
		mustShow(t, "the header", text(t, "header"), "Session Endings: replayed against Twisted Web 22.4", "1 of 7 claims did not hold")
		// In the seed's paragraph: the sentence red, with the steps that
		// judged it; every other claim green.
		for _, m := range marks(t) {
			want := "pass"
			if strings.HasPrefix(m.Text, "Keep visiting it to keep your session active.") {
				want = "fail"
			}
			if m.Class != want {
				t.Errorf("the claim %q is marked %q, want %s", m.Text, m.Class, want)
			}
		}
		if got := eval[string](t, v, `getComputedStyle(document.querySelector("blockquote.seed mark.fail")).backgroundColor`); got != "rgb(247, 183, 183)" {
			t.Errorf("the failed claim's background is %q, want the red rgb(247, 183, 183)", got)
		}
		// At the step where it fails: its claim, FAIL, and why.
		mustShow(t, "step 6", text(t, "#step-6"), "FAIL", "step 6", "claim: Keep visiting it to keep your session active.",
			"the target set a new TWISTED_SESSION cookie", "a new session", "it ended while it was being visited", "reloaded "+url+"/logme")
		if failed := eval[[]string](t, v, `[...document.querySelectorAll(".rstep.fail")].map(s => s.id)`); len(failed) != 1 || failed[0] != "step-6" {
			t.Errorf("failed steps %q, want [step-6]", failed)
		}
		mustShow(t, "step 5", text(t, "#step-5"), "PASS", "Keep visiting it to keep your session active.")
		if all, ok := decoded(t); all != 8 || ok != all {
			t.Errorf("%d of %d screenshots decoded, want 8 of 8", ok, all)
		}
		dir := t.TempDir()
		t.Logf("screenshot: %s", v.screenshot(t, dir, "replay-twisted-endings.png", ""))
		t.Logf("screenshot: %s", v.screenshot(t, dir, "replay-twisted-step6.png", "step-6"))
	})
}

// replay says in one line, exit 2, when it cannot run: no Chromium, a
// wall-clock wait beyond --max-wait, bad arguments.
func TestReplayRefuses(t *testing.T) {
	needChromium(t)
	t.Parallel()
	url := startServe(t, "--timeout", "2s")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--chromium", "/nonexistent/chromium"}, `no browser at "/nonexistent/chromium" (--chromium)`},
		{[]string{url, "--max-wait", "5s"}, `"Session Endings" would wait 10.25s on the wall clock (session timeout 2s, no clock resource) and --max-wait is 5s`},
		{[]string{"a", "b"}, `want at most one URL`},
		{[]string{"--shot-width", "-1"}, `--shot-width must not be negative`},
	} {
		o := sessionspec(t, append([]string{"replay", "--out", t.TempDir()}, tc.args...)...)
		if o.code != 2 || !strings.Contains(o.stderr, tc.want) || strings.Count(strings.TrimSpace(o.stderr), "\n") != 0 {
			t.Errorf("replay %q: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, o.code, o.stderr, tc.want)
		}
	}
}
