package spec_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/spec"
)

// check runs the whole suite against a faulty target in memory, with the
// flags its entry names, and returns the judged report.
func check(t *testing.T, e faulty.Entry) *spec.Report {
	t.Helper()
	target, err := spec.HandlerTarget(context.Background(), faulty.New(e.Fault, nil, e.TimeoutOr(contract.DefaultTimeout)))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOARCH == "wasm" {
		target.Sessions = 200 // one slow core: SECURE-001 stays meaningful and quick
	}
	opts := spec.Options{}
	for i := 0; i+1 < len(e.Flags); i += 2 {
		switch e.Flags[i] {
		case "--allow-na":
			opts.AllowNA = e.Flags[i+1]
		case "--clock":
			target.Paths.Clock = e.Flags[i+1]
		default:
			t.Fatalf("flag %s has no in-process equivalent here", e.Flags[i])
		}
	}
	rep, err := spec.Run(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// judge says what is wrong with the verdict on e, or "" if nothing.
func judge(e faulty.Entry, rep *spec.Report) []string {
	var wrong []string
	for _, r := range rep.Results {
		switch {
		case r.ID == e.CaughtBy && e.Verdict == faulty.Caught:
			if r.Outcome != spec.Failed {
				wrong = append(wrong, r.ID+" must fail: "+string(r.Outcome)+" "+r.Message)
			} else if r.Evidence == "" {
				wrong = append(wrong, r.ID+" failed without evidence")
			}
		case r.Outcome == spec.NotApplicable && needsOptional(r.Case) && !faulty.Matches(e.NotApplicable, r.ID):
			// A target without an optional resource (components, ws) has
			// those cases n/a, and its run is not incomplete for it.
		case faulty.Matches(e.NotApplicable, r.ID):
			if r.Outcome != spec.NotApplicable {
				wrong = append(wrong, r.ID+" must be n/a: "+string(r.Outcome))
			}
		case e.Verdict != faulty.Caught && !slices.Contains(e.Deviations, r.ID) && r.Outcome != spec.Passed:
			wrong = append(wrong, r.ID+" must pass: "+string(r.Outcome)+" "+r.Message)
		}
	}
	want := map[faulty.Verdict]int{faulty.Passes: spec.ExitPass, faulty.Incomplete: spec.ExitIncomplete}
	if code, ok := want[e.Verdict]; ok && rep.ExitCode != code {
		wrong = append(wrong, "exit code")
	}
	if e.Verdict == faulty.Caught && rep.Summary.MustFailures > 0 && rep.ExitCode != spec.ExitFail {
		wrong = append(wrong, "a MUST failure must be exit 1")
	}
	return wrong
}

// needsOptional reports whether c needs a resource a target need not
// serve.
func needsOptional(c spec.Case) bool {
	return slices.ContainsFunc(c.Needs, func(r spec.Resource) bool {
		return r == spec.Components || r == spec.WebSocket || r == spec.Replicas
	})
}

// Every deliberately broken target fails the case named for it, and every
// honest one passes, from inside go test: in memory, on a fake clock, or
// (for the targets that run on the wall clock) inside a synctest bubble,
// where their time.Now is virtual and their verdict exact.
func TestFaultsAreCaught(t *testing.T) {
	t.Parallel()
	for _, e := range slices.Concat(faulty.Faults, faulty.Honest) {
		t.Run(string(e.Fault), func(t *testing.T) {
			t.Parallel()
			run := func(t *testing.T) {
				rep := check(t, e)
				if wrong := judge(e, rep); len(wrong) > 0 {
					t.Errorf("verdict on %s (exit %d):", e.Fault, rep.ExitCode)
					for _, w := range wrong {
						t.Errorf("  %s", w)
					}
				}
			}
			if e.Wall {
				synctest.Test(t, run)
			} else {
				run(t)
			}
		})
	}
}

// A counter that is loaded as a copy and stored back loses concurrent
// increments on every run, not now and then: COUNTER-004 alone, 20
// times, in memory (HandlerTarget: the requests reach the handler
// concurrently, as over TCP).
func TestCounterCopyCaughtEveryRun(t *testing.T) {
	t.Parallel()
	caughtEveryRun(t, faulty.CounterCopy, "COUNTER-004", func() *spec.Report {
		target, err := spec.HandlerTarget(context.Background(), faulty.New(faulty.CounterCopy, nil, contract.DefaultTimeout))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "COUNTER-004"})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	})
}

// When a page shows the old id where a new session belongs, the failure
// says which defect it is: a store that adopts the id the client sent
// for a new, empty session (the counter starts again), or a session that
// lived on (the counter goes on).
func TestNewSessionDiagnosis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault faulty.Fault
		id    string
		want  string
	}{
		{faulty.AdoptsDestroyedIDs, "EXPIRE-002", "serves a new, empty session under the old id"},
		{faulty.NeverExpires, "TIMEOUT-002", "it is still there (the counter, at 1 before, now shows 2)"},
		{faulty.ExpireDoesNothing, "EXPIRE-001", "it shows the old one (the counter, at 1 before, now shows 2)"},
	} {
		target, err := spec.HandlerTarget(context.Background(), faulty.New(tc.fault, nil, contract.DefaultTimeout))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: tc.id})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Results[0]; r.Outcome != spec.Failed || !strings.Contains(r.Message, tc.want) {
			t.Errorf("%s on %s: %s %q; want a failure saying %q", tc.id, tc.fault, r.Outcome, r.Message, tc.want)
		}
	}
}
