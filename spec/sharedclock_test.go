package spec_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// Another run sharing a fake-clock target moves its clock under this
// one's feet: the run says so as a harness error (exit 2), never as a
// verdict about the target. Here "another run" advances the clock a
// second on every request this run makes, as a concurrent check would.
func TestSharedFakeClockIsAHarnessError(t *testing.T) {
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ref := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	var requests atomic.Int64
	meddling := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 20 && r.URL.Path == contract.PathSession {
			clock.Advance(time.Second) // someone else's advance
		}
		ref.ServeHTTP(w, r)
	})
	target, err := spec.HandlerTarget(context.Background(), meddling)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "timeout"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode != spec.ExitHarness {
		t.Fatalf("exit %d, want %d", rep.ExitCode, spec.ExitHarness)
	}
	said := false
	for _, r := range rep.Results {
		if r.Outcome == spec.Errored && strings.Contains(r.Message, "another run") {
			said = true
		}
	}
	for _, p := range rep.Problems {
		said = said || strings.Contains(p, "another run")
	}
	if !said {
		t.Fatalf("no case or problem names the shared clock: %+v %v", rep.Results, rep.Problems)
	}
}
