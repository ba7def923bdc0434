package spec_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// With IsolateTime on the wall clock, a case that waits for time starts
// only after every other case has ended, so none of their requests reach
// the target while it waits; without it, they run side by side.
func TestIsolateTime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 1 s timeout on the wall clock")
	}
	t.Parallel()
	for _, isolate := range []bool{true, false} {
		site := reference.NewSite(reference.Config{SessionTimeout: time.Second})
		target, err := spec.HandlerTarget(context.Background(), reference.NewServer(site, nil))
		if err != nil {
			t.Fatal(err)
		}
		target.Sessions = 200
		started, ended := map[string]time.Time{}, map[string]time.Time{}
		rep, err := spec.Run(context.Background(), target, spec.Options{
			LabelFilter: "TIMEOUT-002 || SECURE-001 || PERSIST-002", IsolateTime: isolate,
			OnCase: func(r spec.Result) { // one call at a time
				ended[r.ID] = time.Now()
				started[r.ID] = ended[r.ID].Add(-r.Duration)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Results {
			if r.Outcome != spec.Passed {
				t.Errorf("isolate %v: %s %s %s", isolate, r.ID, r.Outcome, r.Message)
			}
		}
		timed := started["TIMEOUT-002"]
		apart := !timed.Before(ended["SECURE-001"]) && !timed.Before(ended["PERSIST-002"])
		if apart != isolate {
			t.Errorf("isolate %v: TIMEOUT-002 started %s after SECURE-001 ended and %s after PERSIST-002 ended",
				isolate, timed.Sub(ended["SECURE-001"]), timed.Sub(ended["PERSIST-002"]))
		}
	}
}
