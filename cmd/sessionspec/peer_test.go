package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/internal/peer"
)

// peerRoot makes ROOT/targets/NAME/peer.json (and empty expectation files)
// and returns ROOT.
func peerRoot(t *testing.T, name, manifest string, files ...string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "targets", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, peer.FileName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("# none\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// runIn runs the built sessionspec in dir.
func runIn(t *testing.T, dir string, args ...string) (code int, stdout, stderr string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String(), took
}

const refManifest = `{
  "impl": "sessionspec reference", "kind": "server-side store", "about": "the reference",
  "versions": "{sessionspec} --version",
  "start": "exec {sessionspec} serve --addr 127.0.0.1:0 --timeout {timeout} --max-sessions %d",
  "default": "fake",
  "modes": {
    "fake": {"about": "fake clock", "timeout": "900s", "expect": "expect.txt",
      "start": "exec {sessionspec} serve --addr 127.0.0.1:0 --fake-clock"},
    "wall": {"about": "wall clock", "timeout": "2s", "expect": "", "flags": ["--allow-na", "TIMEOUT-004"]}
  }
}`

// The reference as a peer: started on port 0, its announced URL checked,
// the default reports written under ROOT/reports, and stopped.
func TestCheckTargetReference(t *testing.T) {
	root := peerRoot(t, "ref", fmt.Sprintf(refManifest, 1000000), "expect.txt")
	code, out, errOut, _ := runIn(t, root, "check", "--target", "targets/ref")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"ref (fake): sessionspec ", "fake clock, server-side store\n",
		"checking sessionspec reference", "controlled clock at http://127.0.0.1:",
		"differ from targets/ref/expect.txt -> exit 0",
		"ref (fake): stopped in ", "s: exit status 0\n", // serve exits 0 on SIGTERM
		"ref (fake): exit 0 in ", "; reports/ref-fake.{json,xml}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"reports/ref-fake.json", "reports/ref-fake.xml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("no report: %v", err)
		}
	}
	// --json given: only that report, where it says.
	code, out, errOut, _ = runIn(t, root, "check", "--target", "targets/ref:fake", "--json", "mine.json", "--label-filter", "PERSIST-001")
	if code != 0 || !strings.Contains(out, "ref (fake): exit 0 in ") || strings.Contains(out, "reports/") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "mine.json")); err != nil {
		t.Error(err)
	}
}

// A fixed timeout cannot be changed; an unknown mode is named with the
// modes there are; a URL or --run with --target is refused.
func TestCheckTargetRefusals(t *testing.T) {
	root := peerRoot(t, "ref", fmt.Sprintf(refManifest, 1000000), "expect.txt")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--target", "targets/ref:fake", "--timeout", "4s"}, "starts fake with a fixed timeout of 15m0s (its start command takes none)"},
		{[]string{"--target", "targets/ref:cold"}, `no mode "cold" (modes: fake, wall)`},
		{[]string{"--target", "targets/ref", "http://127.0.0.1:1/"}, "give no URL and no --run"},
		{[]string{"--target", "targets/none"}, "targets/none/peer.json: no such manifest"},
		{[]string{"--install"}, "--install needs --target"},
	} {
		code, out, errOut, _ := runIn(t, root, append([]string{"check"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q, want 2 and one line with %q (stdout %q)", tc.args, code, errOut, tc.want, out)
		}
	}
}

// A peer that never announces is stopped after --start-timeout; one that
// exits is said with its stderr. Both exit 2, in bounded time.
func TestCheckTargetNoAnnouncement(t *testing.T) {
	for _, tc := range []struct{ start, want string }{
		{"echo serving somewhere; exec sleep 97.31", `printed no "listening on http://127.0.0.1:PORT/" line within 1s`},
		{"echo cannot bind >&2; exit 3", "exited before printing"},
	} {
		m := fmt.Sprintf(`{"impl": "x", "kind": "server-side store", "about": "x", "versions": "echo x 1.0",
			"start": %q, "default": "m", "modes": {"m": {"about": "m", "timeout": "2s", "expect": ""}}}`, tc.start)
		root := peerRoot(t, "quiet", m)
		code, _, errOut, took := runIn(t, root, "check", "--target", "targets/quiet", "--start-timeout", "1s")
		if code != 2 || !strings.Contains(errOut, tc.want) || took > 20*time.Second {
			t.Errorf("%s: exit %d after %s, stderr %q; want 2 with %q", tc.start, code, took, errOut, tc.want)
		}
	}
	if n := countProcs(t, "97.31"); n != 0 {
		t.Errorf("%d processes of the silent peer left", n)
	}
}

// countProcs counts processes whose command line contains marker.
func countProcs(t *testing.T, marker string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), marker) &&
			!strings.Contains(string(b), "sessionspec.test") {
			n++
		}
	}
	return n
}

// SIGINT during the check stops the peer too, and exits 2.
func TestCheckTargetInterrupt(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc")
	}
	const marker = 987653
	root := peerRoot(t, "ref", fmt.Sprintf(refManifest, marker), "expect.txt")
	cmd := exec.Command(bin, "check", "--target", "targets/ref:wall")
	cmd.Dir = root
	var out, errb bytes.Buffer
	sout := &syncWriter{w: &out}
	cmd.Stdout, cmd.Stderr = sout, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	printed := func() string {
		sout.mu.Lock()
		defer sout.mu.Unlock()
		return out.String()
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(printed(), "checking") && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("exited early (%v):\n%s\n%s", err, printed(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if countProcs(t, fmt.Sprint(marker)) != 1 {
		cmd.Process.Kill()
		<-done
		t.Fatalf("the peer is not running:\n%s\n%s", printed(), errb.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := <-done
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("after SIGINT: %v, want exit 2", err)
	}
	if n := countProcs(t, fmt.Sprint(marker)); n != 0 {
		t.Errorf("%d peer processes left after SIGINT", n)
	}
}

// Every manifest in the repository loads, and each mode's flags are flags
// of sessionspec check.
func TestRepositoryManifests(t *testing.T) {
	ms, err := peer.List("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 7 {
		t.Fatalf("%d manifests, want the peers of targets/", len(ms))
	}
	runs := 0
	for _, m := range ms {
		for _, r := range m.Runs() {
			runs++
			vals, err := peerValues(m, r)
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, f := range r.Flags {
				v, err := vals.Arg(f)
				if err != nil {
					t.Fatalf("%s: %v", r.Target(), err)
				}
				args = append(args, v)
			}
			args = append(args, "--target", r.Target(), "http://127.0.0.1:1/")
			if _, err := parseCheckFlags(args, &bytes.Buffer{}); err != nil {
				t.Errorf("%s: flags %q: %v", r.Target(), r.Flags, err)
			}
			for _, cmd := range []string{r.Start, m.Build, m.Versions} {
				if _, err := vals.Shell(cmd); err != nil && !strings.Contains(err.Error(), "{redis}") {
					t.Errorf("%s: %v", r.Target(), err)
				}
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"peers", "--root", "../.."}, &out, &errb); code != 0 {
		t.Fatalf("peers: exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n != runs {
		t.Errorf("peers printed %d lines for %d modes:\n%s", n, runs, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"peers", "--root", "../..", "--names", "--stage", "test-twisted"}, &out, &errb); code != 0 {
		t.Fatalf("peers --names: exit %d: %s", code, errb.String())
	}
	if got := out.String(); got != "targets/twisted:wall\ntargets/twisted:controlled\ntargets/twisted:logger\n" {
		t.Errorf("peers --names --stage test-twisted:\n%s", got)
	}
}

// README.md's table of peers is the manifests' (make readme-peers).
func TestReadmeListsThePeers(t *testing.T) {
	ms, err := peer.List("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "<!-- peers")
	end := strings.Index(readme, "<!-- /peers -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no <!-- peers --> … <!-- /peers --> block")
	}
	got := readme[strings.Index(readme[start:], "\n")+start+1 : end]
	// Adding a peer is one folder: README's table catches up at the next
	// make matrix (or make readme-peers). What it says must be true,
	// though: every row is one the manifests give, word for word.
	want := map[string]bool{}
	for _, row := range strings.Split(peersMarkdown(ms), "\n") {
		want[row] = true
	}
	for _, row := range strings.Split(got, "\n") {
		if !want[row] {
			t.Errorf("README.md's table of peers has a row no manifest gives (a peer changed or removed): run make readme-peers\n%s", row)
		}
	}
}
