package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/spec"
)

// httpCases counts the cases a check without --browser runs: the HTTP
// cases, spec.Cases() (main_test.go uses it too).
func httpCases() int { return len(spec.Cases()) }

// needChromium fails (never skips) the test when there is no browser: the
// browser cases are part of what `make test` checks.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := browser.FindChromium(""); err != nil {
		t.Fatal(err)
	}
}

// shotsOf lists the screenshots of case id in dir.
func shotsOf(t *testing.T, dir, id string) []string {
	t.Helper()
	shots, err := filepath.Glob(filepath.Join(dir, id+"-*.png"))
	if err != nil {
		t.Fatal(err)
	}
	return shots
}

// check URL --browser runs every case, the browser cases too (allCases:
// spec.Cases() and browser.Catalogue()), and passes
// against the reference, with the screenshots of every browser case on
// disk.
func TestCheckBrowserReference(t *testing.T) {
	needChromium(t)
	t.Parallel()
	url := startServe(t, "--fake-clock")
	shots := t.TempDir()
	o := sessionspec(t, "check", url, "--browser", "--screenshots", shots)
	mustPassEveryMust(t, o)
	if all := allCases(); len(o.report.Results) != len(all) || len(browser.Catalogue()) == 0 {
		t.Fatalf("%d results for %d cases (%d of them HTTP cases)", len(o.report.Results), len(all), len(spec.Cases()))
	}
	if want := spec.CatalogueVersion(allCases()); o.report.Catalogue != want {
		t.Errorf("the report's catalogue is %s, want %s (spec.Cases() and browser.Catalogue())", o.report.Catalogue, want)
	}
	if !strings.Contains(o.stdout, "browser screenshots in "+shots) {
		t.Errorf("stdout does not say where the screenshots are:\n%s", o.stdout)
	}
	for _, c := range browser.Catalogue() {
		if len(shotsOf(t, shots, c.ID)) == 0 {
			t.Errorf("%s passed with no screenshot in %s", c.ID, shots)
		}
	}
}

// Against a target that sets a new id on every response, the browser
// cases fail (exit 1), BROWSER-001 first, with the failing screenshot,
// the page text and the cookie jar in the evidence.
func TestCheckBrowserCatchesNewIDEveryResponse(t *testing.T) {
	needChromium(t)
	t.Parallel()
	url := startServe(t, "--fake-clock", "--fault", "new-id-every-response")
	shots := t.TempDir()
	o := sessionspec(t, "check", url, "--browser", "--label-filter", browser.Area, "--screenshots", shots)
	if o.code != 1 || o.outcomeOf("BROWSER-001") != spec.Failed {
		t.Fatalf("exit %d, BROWSER-001 %q; want exit 1 and fail\n%s%s", o.code, o.outcomeOf("BROWSER-001"), o.stdout, o.stderr)
	}
	var r spec.Result
	for _, x := range o.report.Results {
		if x.ID == "BROWSER-001" {
			r = x
		}
	}
	failure := filepath.Join(shots, "BROWSER-001-03-alice-failure.png")
	for _, want := range []string{"after reload 1", "cookie jar:", "TWISTED_SESSION=", "page text:", "Your session id is: ", failure} {
		if !strings.Contains(r.Message+r.Evidence, want) {
			t.Errorf("BROWSER-001's report lacks %q:\n%s\n%s", want, r.Message, r.Evidence)
		}
	}
	if _, err := os.Stat(failure); err != nil {
		t.Errorf("the failing screenshot: %v", err)
	}
}

// On the wall clock, with a short timeout, the browser waits out the
// timeout for real (bounded) and the cases still pass. It runs alone,
// before the parallel tests, so that their load does not stretch a
// browser step past the half timeout between two visits.
func TestCheckBrowserWallClock(t *testing.T) {
	needChromium(t)
	url := startServe(t, "--timeout", "4s")
	o := sessionspec(t, "check", url, "--browser", "--label-filter", browser.Area, "--screenshots", t.TempDir())
	if o.code != 0 || o.report.Clock != "wall" {
		t.Fatalf("exit %d, clock %s; want 0 on the wall clock\n%s%s", o.code, o.report.Clock, o.stdout, o.stderr)
	}
	for _, r := range o.report.Results {
		// Restarting the browser may take too long to see the old session
		// alive on a 4 s timeout: then BROWSER-005 says so.
		if r.Outcome != spec.Passed && !(r.ID == "BROWSER-005" && r.Outcome == spec.NotApplicable) {
			t.Errorf("%s: %s %s", r.ID, r.Outcome, r.Message)
		}
	}
	if o.outcomeOf("BROWSER-002") != spec.Passed {
		t.Errorf("BROWSER-002 (the timeout, waited out) %q", o.outcomeOf("BROWSER-002"))
	}
}

// Without --browser the browser cases are left out, even when the label
// filter names them.
func TestCheckWithoutBrowserLeavesBrowserCasesOut(t *testing.T) {
	t.Parallel()
	url := startServe(t, "--fake-clock")
	o := sessionspec(t, "check", url, "--label-filter", "PERSIST-001 || browser")
	if o.code != 0 || len(o.report.Results) != 1 || o.outcomeOf("PERSIST-001") != spec.Passed {
		t.Fatalf("exit %d with %d results; want only PERSIST-001\n%s%s", o.code, len(o.report.Results), o.stdout, o.stderr)
	}
}

// A browser that cannot be found or started is a harness error: one line,
// exit 2, before any case runs; never a pass or a skip.
func TestCheckBrowserMissingOrBroken(t *testing.T) {
	t.Parallel()
	url := startServe(t, "--fake-clock")
	broken := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'this is not a browser' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  string // $SESSIONSPEC_CHROMIUM
		want string
	}{
		{"missing --chromium", []string{"--browser", "--chromium", "/nonexistent/chromium"}, "", `no browser at "/nonexistent/chromium" (--chromium)`},
		{"missing $" + browser.EnvChromium, []string{"--browser"}, "/nonexistent/chromium", "$" + browser.EnvChromium},
		{"broken", []string{"--browser", "--chromium", broken}, "", "could not start: chrome failed to start: this is not a browser"},
		{"--screenshots without --browser", []string{"--screenshots", t.TempDir()}, "", "--screenshots and --chromium need --browser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"check", url}, tc.args...)...)
			cmd.Env = append(os.Environ(), browser.EnvChromium+"="+tc.env)
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit 2 and %q", code, out, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; lines != 1 {
				t.Errorf("%d lines, want one:\n%s", lines, out)
			}
		})
	}
}
