package spec

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// Options shape one run of the suite.
type Options struct {
	// LabelFilter selects cases with a Ginkgo label expression over
	// levels, areas and IDs, e.g. "MUST && !timeout" or "PERSIST-001".
	LabelFilter string
	// OnCase, when set, hears each result as soon as its case ends.
	OnCase func(Result)
	// GinkgoOutput receives Ginkgo's own reporter output; nil discards it.
	GinkgoOutput io.Writer
}

// hooks carries a run's callbacks into the Ginkgo report nodes.
var hooks struct {
	mu     sync.Mutex
	onCase func(Result)
	report *types.Report
}

var _ = ginkgo.ReportAfterEach(func(r ginkgo.SpecReport) {
	hooks.mu.Lock()
	onCase := hooks.onCase
	hooks.mu.Unlock()
	if res, ok := ResultOf(r); ok && onCase != nil {
		onCase(res)
	}
})

var _ = ginkgo.ReportAfterSuite("sessionspec", func(r ginkgo.Report) {
	hooks.mu.Lock()
	hooks.report = &r
	hooks.mu.Unlock()
})

// testingT stands in for *testing.T when the suite runs from a program.
type testingT struct{ failed bool }

func (t *testingT) Fail() { t.failed = true }

var ran sync.Once

// Run checks t with every registered case and returns the report, judged
// without expectations (call Judge again to apply some). Ginkgo allows one
// suite run per process, so Run may be called once.
func Run(ctx context.Context, t *Target, opts Options) (*Report, error) {
	first := false
	ran.Do(func() { first = true })
	if !first {
		return nil, errors.New("spec.Run: the suite can run once per process")
	}
	Use(t)
	hooks.mu.Lock()
	hooks.onCase = opts.OnCase
	hooks.mu.Unlock()
	out := opts.GinkgoOutput
	if out == nil {
		out = io.Discard
	}
	formatter.ColorableStdOut = out

	suiteConfig, reporterConfig := ginkgo.GinkgoConfiguration()
	suiteConfig.LabelFilter = opts.LabelFilter
	suiteConfig.RandomSeed = 1 // a stable order; the cases do not depend on it
	reporterConfig.NoColor = true
	reporterConfig.Succinct = true

	RegisterFailHandler(ginkgo.Fail)
	start := time.Now()
	ginkgo.RunSpecs(&testingT{}, "sessionspec", suiteConfig, reporterConfig)

	hooks.mu.Lock()
	gr := hooks.report
	hooks.mu.Unlock()
	if gr == nil {
		return nil, errors.New("spec.Run: the suite produced no report")
	}
	rep := NewReport(t, *gr)
	rep.Started, rep.Seconds = start, time.Since(start).Seconds()
	rep.Judge(nil)
	return rep, nil
}

// NewReport turns a Ginkgo report of this suite into a Report, cases in
// catalogue order. Cases the label filter left out are not listed.
func NewReport(t *Target, gr types.Report) *Report {
	rep := &Report{Target: t.Name, URL: t.URL.String(), Clock: "wall", Timeout: t.Timeout.Seconds(), Started: gr.StartTime}
	if t.Controlled() {
		rep.Clock = "controlled"
	}
	for _, sr := range gr.SpecReports {
		if r, ok := ResultOf(sr); ok && sr.State != types.SpecStateSkipped || ok && sr.Failure.Message != "" {
			rep.Results = append(rep.Results, r)
		}
	}
	slices.SortStableFunc(rep.Results, func(a, b Result) int { return catalogueIndex(a.ID) - catalogueIndex(b.ID) })
	return rep
}

func catalogueIndex(id string) int {
	return slices.IndexFunc(Catalogue, func(c Case) bool { return c.ID == id })
}

// ResultOf turns the Ginkgo report of one case into a Result. It reports
// false for specs that are not catalogue cases.
func ResultOf(sr types.SpecReport) (Result, bool) {
	var c Case
	found := false
	for _, l := range sr.Labels() {
		if c, found = Lookup(l); found {
			break
		}
	}
	if !found || sr.LeafNodeType != types.NodeTypeIt {
		return Result{}, false
	}
	if sr.State == types.SpecStateSkipped && sr.Failure.Message == "" {
		return Result{}, false // left out by the label filter: not part of this run
	}
	r := Result{Case: c, Duration: sr.RunTime, Seconds: sr.RunTime.Seconds()}
	msg := sr.Failure.Message
	switch {
	case sr.State == types.SpecStatePassed:
		r.Outcome = Passed
	case sr.State == types.SpecStateSkipped:
		r.Outcome = NotApplicable
		r.Message = strings.TrimPrefix(msg, notApplicable)
	case strings.HasPrefix(msg, targetError):
		r.Outcome, r.Message = Errored, strings.TrimPrefix(msg, targetError)
	default:
		r.Outcome, r.Message = Failed, msg
		if sr.State != types.SpecStateFailed {
			r.Message = sr.State.String() + ": " + msg
		}
	}
	if r.Outcome != Passed && r.Outcome != NotApplicable {
		r.Message += "\n(at " + sr.Failure.Location.String() + ")"
	}
	for _, e := range sr.ReportEntries {
		if e.Name == EvidenceEntry {
			r.Evidence = e.Value.String()
		}
	}
	return r, true
}
