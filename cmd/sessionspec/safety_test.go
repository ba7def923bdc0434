package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// envNetnsBin names the sessionspec binary when the test binary runs
// again inside a network namespace of its own.
const envNetnsBin = "SESSIONSPEC_NETNS_BIN"

// Nothing the target says can make the suite contact another origin, or
// carry its session cookie there: a discovery document naming another
// origin is a harness error (exit 2), and a redirect to another origin is
// an answer, never followed. The test runs inside a network namespace of
// its own (unshare -n, loopback only), with a listener on another
// loopback address that must receive no connection at all.
func TestOffOriginIsNeverContacted(t *testing.T) {
	if os.Getenv(envNetnsBin) == "" {
		if os.Getuid() != 0 {
			t.Skip("needs root for unshare -n (CI runs as root)")
		}
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Fatalf("unshare (util-linux) is needed: %v", err)
		}
		cmd := exec.Command(unshare, "-n", "sh", "-c", `ip link set lo up && exec "$0" -test.run='^TestOffOriginIsNeverContacted$' -test.v`, os.Args[0])
		cmd.Env = append(os.Environ(), envNetnsBin+"="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestOffOriginIsNeverContacted") {
			t.Fatalf("inside the namespace: %v\n%s", err, out)
		}
		t.Logf("inside its own network namespace:\n%s", out)
		return
	}
	// Inside the namespace: only this test's listeners exist.
	var contacted atomic.Int64
	elsewhere, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Close()
	go func() {
		for {
			c, err := elsewhere.Accept()
			if err != nil {
				return
			}
			contacted.Add(1)
			c.Close()
		}
	}()
	offOrigin := "http://" + elsewhere.Addr().String()

	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ref := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	for _, tc := range []struct {
		name string
		h    http.Handler
		code int
		want string
	}{
		{"discovery naming another origin's clock", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == contract.PathDiscovery {
				fmt.Fprintf(w, `{"sessionspec":1,"paths":{"session":"/","clock":%q}}`, offOrigin+"/_clock")
				return
			}
			ref.ServeHTTP(w, r)
		}), 2, "must be a path on the target"},
		{"discovery naming another origin's feed", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == contract.PathDiscovery {
				fmt.Fprintf(w, `{"sessionspec":1,"paths":{"session":"/","expired":"//%s/expired"}}`, elsewhere.Addr())
				return
			}
			ref.ServeHTTP(w, r)
		}), 2, "must be a path on the target"},
		{"session page redirecting elsewhere with its cookie", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				http.SetCookie(w, &http.Cookie{Name: "TWISTED_SESSION", Value: strings.Repeat("ab", 32), Path: "/"})
				http.Redirect(w, r, offOrigin+"/steal", http.StatusFound)
				return
			}
			ref.ServeHTTP(w, r)
		}), 1, ""},
	} {
		srv := httptest.NewServer(tc.h)
		o := sessionspec(t, "check", srv.URL, "--request-timeout", "2s")
		srv.Close()
		if o.code != tc.code || !strings.Contains(o.stderr+o.stdout, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s%s", tc.name, o.code, tc.code, tc.want, o.stdout, o.stderr)
		}
	}
	if n := contacted.Load(); n != 0 {
		t.Fatalf("the off-origin listener was contacted %d times", n)
	}
}

// The reference mounted under a prefix is checked through a base URL
// with that path: every resource, the discovery document and the clock
// are under it, and nothing outside it is ever asked for.
func TestPrefixMount(t *testing.T) {
	t.Parallel()
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ref := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	var outside atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", ref))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		outside.Add(1)
		ref.ServeHTTP(w, r) // answers as the reference would, so a wrong path would pass unseen
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	o := sessionspec(t, "check", srv.URL+"/app/")
	mustPassEveryMust(t, o)
	if o.report.Clock != "controlled" || o.report.Target != "sessionspec reference" {
		t.Fatalf("clock %s, target %q: the discovery document under /app/ was not read", o.report.Clock, o.report.Target)
	}
	if n := outside.Load(); n != 0 {
		t.Fatalf("%d requests went outside /app/", n)
	}
}

// SIGINT in the middle of a case: exit 2, the case reported as
// interrupted (not as a failure), the report written whole, and the --run
// target stopped.
func TestInterruptIsExit2(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	report := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(bin, "check", "http://"+addr, "--label-filter", "TIMEOUT-002", "--json", report,
		"--run", fmt.Sprintf("exec %s serve --timeout 20s --addr %s", bin, addr), "--max-wait", "1m")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.Contains(lines.Text(), "checking") {
		t.Fatalf("first line %q", lines.Text())
	}
	// The case is now waiting out its 21 s; give it a moment to start.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // inside TIMEOUT-002's wait, which lasts 21 s
	cmd.Process.Signal(syscall.SIGINT)
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(rest.String(), "INT ") {
		t.Fatalf("exit %d, want 2 and the case shown interrupted\n%s", code, rest.String())
	}
	var rep spec.Report
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Results) != 1 || rep.Results[0].Outcome != spec.Interrupted {
		t.Fatalf("report: %v %+v", err, rep.Results)
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Fatal("the --run target still answers after the interrupted check")
	}
}

// --deadline ends a run that would take longer: the running case is
// interrupted, exit 2, within seconds of the deadline, whatever the
// target's pace.
func TestDeadlineEndsTheRun(t *testing.T) {
	t.Parallel()
	url := startServe(t, "--timeout", "20s")
	start := time.Now()
	o := sessionspec(t, "check", url, "--label-filter", "TIMEOUT-002", "--deadline", "2s", "--max-wait", "1m")
	if o.code != 2 || o.outcomeOf("TIMEOUT-002") != spec.Interrupted || !strings.Contains(o.stdout, "deadline") {
		t.Fatalf("exit %d, TIMEOUT-002 %q; want 2 and interrupted by the deadline\n%s%s", o.code, o.outcomeOf("TIMEOUT-002"), o.stdout, o.stderr)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("a 2 s deadline took %s", took)
	}
}
