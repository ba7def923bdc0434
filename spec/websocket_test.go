//go:build !js && !wasip1

package spec_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// The WebSocket cases over real TCP (httptest.NewServer), as the check
// command runs them: the in-memory runs (TestFaultsAreCaught,
// TestReferenceOnVirtualTime) carry each handshake on a net.Pipe instead.

// checkWS runs the websocket cases against h served over TCP, with
// changes to the target after discovery.
func checkWS(t *testing.T, h http.Handler, change func(*spec.Target)) *spec.Report {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	target, err := spec.NewTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if target.Paths.WebSocket == "" {
		t.Fatal("the target's discovery document declares no ws path")
	}
	if change != nil {
		change(target)
	}
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "websocket"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Results); n != 8 {
		t.Fatalf("%d websocket cases ran, want 8", n)
	}
	return rep
}

func wsOutcomes(rep *spec.Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		b.WriteString(r.ID + " " + string(r.Outcome))
		if r.Outcome != spec.Passed {
			b.WriteString(": " + r.Message + "\n" + r.Evidence)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func everyPass(t *testing.T, rep *spec.Report) {
	t.Helper()
	for _, r := range rep.Results {
		if r.Outcome != spec.Passed {
			t.Errorf("%s %s: %s\n%s", r.ID, r.Outcome, r.Message, r.Evidence)
		}
	}
	if rep.ExitCode != spec.ExitPass {
		t.Errorf("exit %d, want %d", rep.ExitCode, spec.ExitPass)
	}
}

// The reference passes every websocket case over TCP on a fake clock
// (its /_clock), its 900 s default included.
func TestWebSocketReferenceFakeClock(t *testing.T) {
	t.Parallel()
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	site := reference.NewSite(reference.Config{Clock: clock})
	rep := checkWS(t, reference.NewServer(site, nil), nil)
	everyPass(t, rep)
	if rep.Clock != "controlled" {
		t.Errorf("clock %q, want controlled", rep.Clock)
	}
}

// And on the wall clock, with a 2 s timeout.
func TestWebSocketReferenceWallClock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out 2 s timeouts on the wall clock")
	}
	t.Parallel()
	site := reference.NewSite(reference.Config{SessionTimeout: 2 * time.Second})
	start := time.Now()
	rep := checkWS(t, reference.NewServer(site, nil), nil)
	everyPass(t, rep)
	t.Logf("websocket cases on the wall clock, 2 s timeout: %s", time.Since(start).Round(time.Millisecond))
}

// Every websocket fault over TCP fails the case named for it, with
// evidence, and a MUST failure is exit 1; the honest variant passes.
func TestWebSocketFaultsOverTCP(t *testing.T) {
	t.Parallel()
	for _, e := range slices.Concat(faulty.Faults, faulty.Honest) {
		if !strings.HasPrefix(string(e.Fault), "ws-") {
			continue
		}
		t.Run(string(e.Fault), func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			rep := checkWS(t, faulty.New(e.Fault, clock, contract.DefaultTimeout), nil)
			if e.Verdict == faulty.Passes {
				everyPass(t, rep)
				return
			}
			i := slices.IndexFunc(rep.Results, func(r spec.Result) bool { return r.ID == e.CaughtBy })
			if i < 0 {
				t.Fatalf("no case %s", e.CaughtBy)
			}
			r := rep.Results[i]
			if r.Outcome != spec.Failed || r.Evidence == "" {
				t.Errorf("%s must fail with evidence:\n%s", e.CaughtBy, wsOutcomes(rep))
			}
			if want := map[spec.Level]int{spec.Must: spec.ExitFail, spec.Should: spec.ExitPass}[r.Level]; rep.ExitCode != want {
				t.Errorf("exit %d, want %d (%s is %s)", rep.ExitCode, want, r.ID, r.Level)
			}
		})
	}
}

// A target that serves no ws path has the websocket cases n/a, without
// making the run incomplete; one that declares it but answers 404 too.
func TestWebSocketAbsentIsNotApplicable(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*spec.Target){
		"undeclared": func(t *spec.Target) { t.Paths.WebSocket = "" },
		"404":        func(t *spec.Target) { t.Paths.WebSocket = "/no-such-socket" },
	} {
		t.Run(name, func(t *testing.T) {
			clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			rep := checkWS(t, reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil), change)
			for _, r := range rep.Results {
				if r.Outcome != spec.NotApplicable {
					t.Errorf("%s %s, want n/a: %s", r.ID, r.Outcome, r.Message)
				}
			}
			if name == "undeclared" && rep.ExitCode != spec.ExitPass {
				t.Errorf("exit %d: a target without the optional ws resource is not incomplete", rep.ExitCode)
			}
		})
	}
}

// A case that fails shows the socket's traffic in its evidence.
func TestWebSocketEvidence(t *testing.T) {
	t.Parallel()
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rep := checkWS(t, faulty.New(faulty.SocketSurvivesExpire, clock, contract.DefaultTimeout), nil)
	i := slices.IndexFunc(rep.Results, func(r spec.Result) bool { return r.ID == "WS-004" })
	ev := rep.Results[i].Evidence
	for _, want := range []string{"Upgrade: websocket", "101 Switching Protocols", "[alice/ws] <<< \"attached ", "[alice/ws] >>> \"ping\"", "still open 1s later", "GET /expire"} {
		if !strings.Contains(ev, want) {
			t.Errorf("the evidence lacks %q:\n%s", want, ev)
		}
	}
}
