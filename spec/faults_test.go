package spec_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/spec"
)

// Every deliberately broken target fails the case named for it, from
// inside go test: the fault on a fake clock, reached in memory.
func TestFaultsAreCaught(t *testing.T) {
	t.Parallel()
	for _, f := range faulty.Faults {
		t.Run(string(f.Fault), func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			target, err := spec.NewTarget("http://localhost/")
			if err != nil {
				t.Fatal(err)
			}
			target.Transport = spec.HandlerTransport(faulty.New(f.Fault, clock, contract.DefaultTimeout))
			if err := target.Discover(context.Background()); err != nil {
				t.Fatal(err)
			}
			rep, err := spec.Run(context.Background(), target, spec.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var caught *spec.Result
			for i, r := range rep.Results {
				if r.ID == f.CaughtBy {
					caught = &rep.Results[i]
				}
			}
			if caught == nil || caught.Outcome != spec.Failed {
				t.Fatalf("%s: %+v, want fail", f.CaughtBy, caught)
			}
			if want := caught.Level == spec.Must; want != (rep.ExitCode == spec.ExitFail) && rep.Summary.MustFailures == 0 {
				t.Fatalf("exit %d with %s failing at %s", rep.ExitCode, caught.ID, caught.Level)
			}
			if caught.Evidence == "" {
				t.Fatalf("%s failed without evidence", caught.ID)
			}
		})
	}
}
