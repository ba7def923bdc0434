// Package ginkgosuite runs sessionspec cases as Ginkgo specs, for Go
// users whose tests are written in Ginkgo and for the ginkgo CLI: the very
// same cases as `sessionspec check`, with the same labels (level, area,
// ID, needs-R), so `ginkgo --label-filter='MUST && !timeout'` selects as
// `sessionspec check --label-filter` does.
//
// Nothing is registered by importing it: a suite calls Describe in its
// own test file.
//
//	var _ = ginkgosuite.Describe(func(ctx context.Context) (*spec.Target, error) {
//		t, err := spec.NewTarget(os.Getenv("SESSIONSPEC_URL"))
//		if err != nil {
//			return nil, err
//		}
//		return t, t.Discover(ctx)
//	}, nil)
//
//	func TestSessions(t *testing.T) {
//		gomega.RegisterFailHandler(ginkgo.Fail)
//		ginkgo.RunSpecs(t, "sessions")
//	}
package ginkgosuite

import (
	"context"
	"fmt"
	"sync"

	"github.com/onsi/ginkgo/v2"

	"github.com/sessionspec/sessionspec/spec"
)

// Describe registers one Ginkgo container with an It per case (cases nil
// means spec.Cases()), labelled with the case's level, area, ID and needs-R labels. The
// target is made once, before the first case that runs; each It runs its
// case with spec.Run and ends as the case did: passed, failed (with the
// message and the HTTP exchanges), skipped when not applicable. A failed
// SHOULD or ADVISORY case fails its spec too: filter by label to leave
// those levels out.
func Describe(newTarget func(ctx context.Context) (*spec.Target, error), cases []spec.Case) bool {
	if cases == nil {
		cases = spec.Cases()
	}
	var (
		once   sync.Once
		target *spec.Target
		err    error
	)
	return ginkgo.Describe("sessionspec", func() {
		for _, c := range cases {
			ginkgo.It(c.ID+": "+c.Title, ginkgo.Label(c.Labels()...), func(ctx ginkgo.SpecContext) {
				once.Do(func() { target, err = newTarget(ctx) })
				if err != nil {
					ginkgo.Fail("TARGET ERROR: " + err.Error())
				}
				rep, runErr := spec.Run(ctx, target, spec.Options{Cases: []spec.Case{c}, Parallel: 1})
				if runErr != nil {
					ginkgo.Fail("TARGET ERROR: " + runErr.Error())
				}
				r := rep.Results[0]
				if r.Evidence != "" {
					ginkgo.AddReportEntry("HTTP exchanges", r.Evidence)
				}
				switch r.Outcome {
				case spec.Passed:
				case spec.NotApplicable:
					ginkgo.Skip("NOT APPLICABLE: " + r.Message)
				default:
					ginkgo.Fail(fmt.Sprintf("%s %s: %s\nsource: %s: %q", r.Outcome, r.Level, r.Message, r.Source, r.Seed))
				}
			})
		}
	})
}
