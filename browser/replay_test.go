//go:build !wasm

package browser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// The embedded walk-throughs parse; every paragraph and claim is the
// seeds' text, verbatim (after the folding spec.Unquoted allows), when
// the seeds are beside this checkout.
func TestWalkthroughsParse(t *testing.T) {
	ws := Walkthroughs()
	if len(ws) != 3 {
		t.Fatalf("%d walk-throughs, want 3", len(ws))
	}
	var quoted []spec.Case
	for _, w := range ws {
		for i, p := range w.Paragraphs {
			quoted = append(quoted, spec.Case{ID: w.ID + " paragraph " + string(rune('1'+i)), Seed: strings.ReplaceAll(p, "``", "")})
		}
		for i, s := range w.Steps {
			if s.Claim != "" {
				quoted = append(quoted, spec.Case{ID: w.ID + " claim of step " + string(rune('1'+i)), Seed: strings.ReplaceAll(s.Claim, "``", "")})
			}
		}
	}
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
		docs = append(docs, strings.ReplaceAll(string(b), "``", ""))
	}
	for _, c := range spec.Unquoted(quoted, docs) {
		t.Errorf("%s is not in the seeds: %q", c.ID, c.Seed)
	}
}

// Malformed scripts are refused in one line with the line number.
func TestParseWalkthroughErrors(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"id: x\ntitle: X\nsource: S\nstep: reload\njudge: id\n", "x.txt:4: a step before any paragraph"},
		{"id: x\ntitle: X\nsource: S\nparagraph: A b c.\nstep: jump\njudge: id\n", `x.txt:5: unknown action "jump"`},
		{"id: x\ntitle: X\nsource: S\nparagraph: A b c.\nstep: reload\nclaim: d e\n", `x.txt:6: claim "d e" is not in the paragraph`},
		{"id: x\ntitle: X\nsource: S\nparagraph: A b c.\nstep: reload\njudge: maybe\n", `x.txt:6: unknown judgement "maybe"`},
		{"id: x\ntitle: X\nsource: S\nparagraph: A b c.\nstep: wait forever\n", `x.txt:5: wait "forever"`},
		{"id: x\ntitle: X\nsource: S\nparagraph: A b c.\nstep: reload\n", "x.txt: step 1 has no judge"},
	} {
		_, err := ParseWalkthrough("x.txt", strings.NewReader(tc.script))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.script, err, tc.want)
		}
	}
}

// Against the reference on a fake clock every claim of every
// walk-through holds; against a target that does not restart the timeout
// on a visit (Twisted 22.4's behaviour), "Keep visiting it to keep your
// session active." fails at the step where the session is gone, and only
// the claims that depend on it fail.
func TestReplay(t *testing.T) {
	b := start(t, "")
	ref, _ := fakeReference(t)
	begin := time.Now()
	r, err := b.Replay(t.Context(), ref, Walkthroughs())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the reference: %s", time.Since(begin).Round(time.Millisecond))
	for _, w := range r.Walks {
		if w.Outcome != spec.Passed {
			t.Errorf("reference, %s: %s: %s", w.Walkthrough.ID, w.Outcome, w.Message)
		}
		if len(w.Steps) != len(w.Walkthrough.Steps) {
			t.Errorf("reference, %s: %d steps played, want %d", w.Walkthrough.ID, len(w.Steps), len(w.Walkthrough.Steps))
		}
		for _, s := range w.Steps {
			if s.Mark != spec.Passed || len(s.Screenshot) == 0 || len(s.Jar) == 0 {
				t.Errorf("reference, %s step %d: %s (%s), %d bytes of screenshot, %d cookies", w.Walkthrough.ID, s.N, s.Mark, s.Reason, len(s.Screenshot), len(s.Jar))
			}
		}
	}
	if r.ExitCode() != 0 || r.Clock != "controlled" {
		t.Errorf("reference: exit %d, clock %s; want 0, controlled", r.ExitCode(), r.Clock)
	}

	// A target without the counter: its walk-through is n/a, exit 3.
	noCounter := *ref
	noCounter.Paths.Counter = ""
	r, err = b.Replay(t.Context(), &noCounter, Walkthroughs()[2:])
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Walks[0]; w.Outcome != spec.NotApplicable || !strings.Contains(w.Message, "counter") || r.ExitCode() != 3 {
		t.Errorf("no counter: %s (%s), exit %d; want n/a naming the counter, exit 3", w.Outcome, w.Message, r.ExitCode())
	}

	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	noRefresh, _ := serve(t, faulty.New(faulty.NoRefresh, clock, reference.DefaultTimeout))
	begin = time.Now()
	r, err = b.Replay(t.Context(), noRefresh, Walkthroughs())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("no refresh: %s", time.Since(begin).Round(time.Millisecond))
	if r.ExitCode() != 1 {
		t.Errorf("no refresh: exit %d, want 1", r.ExitCode())
	}
	var failed []string
	for _, w := range r.Walks {
		for _, s := range w.Steps {
			t.Logf("%s step %d [%s] %q: %s: %s", w.Walkthrough.ID, s.N, s.User, s.Claim, s.Mark, s.Reason)
			if s.Mark == spec.Failed {
				failed = append(failed, w.Walkthrough.ID+": "+s.Claim)
			}
		}
	}
	if len(failed) == 0 || failed[0] != "endings: Keep visiting it to keep your session active." {
		t.Errorf("no refresh: failed claims %q; want the first to be endings' \"Keep visiting it to keep your session active.\"", failed)
	}
	for _, f := range failed {
		if !strings.HasPrefix(f, "endings: Keep visiting") {
			t.Errorf("no refresh: %q failed too", f)
		}
	}
}
