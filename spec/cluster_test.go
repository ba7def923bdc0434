package spec_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/spec"
)

// checkCluster runs the whole suite against a clustered target of
// package faulty, its replicas in memory, each on a fake clock of its
// own.
func checkCluster(t *testing.T, e faulty.Entry, opts spec.Options) *spec.Report {
	t.Helper()
	hs := faulty.NewClusterHandlers(e.Fault, faulty.ClusterReplicas, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), e.TimeoutOr(contract.DefaultTimeout))
	target, err := spec.ClusterTarget(context.Background(), hs...)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Every clustered fault fails the CLUSTER case named for it, with the
// exchanges naming their replicas, and the honest cluster passes every
// case (the CLUSTER cases among them), on the replicas' fake clocks.
func TestClusterFaultsAreCaught(t *testing.T) {
	t.Parallel()
	for _, e := range slices.Concat(faulty.ClusterFaults, faulty.ClusterHonestEntries) {
		t.Run(string(e.Fault), func(t *testing.T) {
			t.Parallel()
			rep := checkCluster(t, e, spec.Options{})
			wrong := judge(e, rep)
			for _, r := range rep.Results {
				if r.Area == "cluster" && r.Outcome == spec.NotApplicable && r.ID != "CLUSTER-002" {
					wrong = append(wrong, r.ID+" is n/a on a cluster: "+r.Message)
				}
				if r.ID == e.CaughtBy && !strings.Contains(r.Evidence, "-> replica 1 ") {
					wrong = append(wrong, r.ID+"'s evidence does not name the replicas:\n"+r.Evidence)
				}
				if r.ID == e.CaughtBy {
					t.Logf("%s: %s", r.ID, r.Message)
				}
				if r.Outcome == spec.Failed && e.Verdict == faulty.Passes {
					t.Logf("%s evidence:\n%s", r.ID, r.Evidence)
				}
			}
			if len(rep.Replicas) != faulty.ClusterReplicas {
				wrong = append(wrong, "the report records the replicas "+strings.Join(rep.Replicas, ", "))
			}
			if len(wrong) > 0 {
				t.Errorf("verdict on %s (exit %d):", e.Fault, rep.ExitCode)
				for _, w := range wrong {
					t.Errorf("  %s", w)
				}
			}
		})
	}
}

// The read-modify-write counter loses increments on every run, not now
// and then: CLUSTER-007 alone, 20 times.
func TestClusterRMWCaughtEveryRun(t *testing.T) {
	t.Parallel()
	e := faulty.ClusterFaults[slices.IndexFunc(faulty.ClusterFaults, func(e faulty.Entry) bool { return e.Fault == faulty.ClusterRMWCounter })]
	caughtEveryRun(t, e.Fault, "CLUSTER-007", func() *spec.Report {
		return checkCluster(t, e, spec.Options{LabelFilter: "CLUSTER-007"})
	})
}

// caughtEveryRun runs check 20 times and fails unless case id failed in
// every run: a defect that a case catches now and then is not caught.
func caughtEveryRun(t *testing.T, f faulty.Fault, id string, check func() *spec.Report) {
	t.Helper()
	caught := 0
	const runs = 20
	for range runs {
		if rep := check(); rep.Results[0].Outcome == spec.Failed {
			caught++
		}
	}
	t.Logf("%s caught %s in %d of %d runs", id, f, caught, runs)
	if caught != runs {
		t.Fatalf("%s caught %s in %d of %d runs; it must every time", id, f, caught, runs)
	}
}

// Without replicas the CLUSTER cases are n/a and the run is not
// incomplete for them.
func TestClusterCasesNotApplicableAlone(t *testing.T) {
	t.Parallel()
	hs := faulty.NewClusterHandlers(faulty.ClusterHonest, 1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), contract.DefaultTimeout)
	target, err := spec.ClusterTarget(context.Background(), hs...)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Outcome != spec.NotApplicable || !r.AllowedNA {
			t.Errorf("%s: %s (allowed n/a %v) %s", r.ID, r.Outcome, r.AllowedNA, r.Message)
		}
	}
	if rep.ExitCode != spec.ExitPass || len(rep.Summary.Incomplete) > 0 {
		t.Errorf("exit %d, incomplete %v; want 0", rep.ExitCode, rep.Summary.Incomplete)
	}
}

// A signed-cookie site (all its state in the cookie, the secret shared)
// is one session on every replica and refreshes on any: it passes the
// session and timeout cases. It cannot make expire final nor keep
// concurrent increments, as on one replica (EXPIRE-002, EXPIRE-005).
func TestSignedCookieCluster(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clocks := make([]*fakeclock.Fake, faulty.ClusterReplicas)
	for i := range clocks {
		clocks[i] = fakeclock.NewFake(start)
	}
	target, err := spec.ClusterTarget(context.Background(), faulty.NewSignedCluster(clocks, contract.DefaultTimeout)...)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]spec.Outcome{"CLUSTER-001": spec.Passed, "CLUSTER-002": spec.NotApplicable, "CLUSTER-003": spec.Failed,
		"CLUSTER-004": spec.Passed, "CLUSTER-005": spec.NotApplicable, "CLUSTER-006": spec.NotApplicable, "CLUSTER-007": spec.Failed}
	for _, r := range rep.Results {
		if r.Outcome != want[r.ID] {
			t.Errorf("%s: %s, want %s: %s", r.ID, r.Outcome, want[r.ID], r.Message)
		} else if r.Outcome == spec.Failed {
			t.Logf("%s: %s", r.ID, strings.SplitN(r.Message, "\n", 2)[0])
		}
	}
}

// tamper wraps a replica's handler: from its second clock advance on,
// change does what it likes with the request (the first is the run's own
// check of the clock).
func tamper(h http.Handler, change func(w http.ResponseWriter, r *http.Request) bool) http.Handler {
	var advances atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == contract.PathClock && advances.Add(1) > 1 && change(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The replicas' clocks are one controlled clock: replicas that disagree
// are a harness error naming both, a replica that refuses an advance or
// lands elsewhere than the run asked ends the case as an error naming it.
func TestClusterClockIsEveryReplicas(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clocks := []*fakeclock.Fake{fakeclock.NewFake(start), fakeclock.NewFake(start), fakeclock.NewFake(start.Add(5 * time.Second))}
	var hs []http.Handler
	for _, r := range faulty.NewCluster(faulty.ClusterHonest, clocks, contract.DefaultTimeout) {
		hs = append(hs, r)
	}
	target, err := spec.ClusterTarget(context.Background(), hs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "CLUSTER-004"}); err == nil ||
		!strings.Contains(err.Error(), "replica 0's clock") || !strings.Contains(err.Error(), "replica 2's") || strings.Contains(err.Error(), "\n") {
		t.Errorf("skewed replicas: %v; want a one-line harness error naming replicas 0 and 2", err)
	} else {
		t.Logf("skewed: %v", err)
	}

	for name, tc := range map[string]struct {
		change func(w http.ResponseWriter, r *http.Request) bool
		want   string
	}{
		"moved": {func(_ http.ResponseWriter, r *http.Request) bool {
			d, _ := time.ParseDuration(r.URL.Query().Get("advance"))
			r.URL.RawQuery = "advance=" + (d + time.Second).String()
			return false
		}, "replica 1's clock"},
		"refused": {func(w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "no", http.StatusForbidden)
			return true
		}, "answered 403"},
	} {
		hs := faulty.NewClusterHandlers(faulty.ClusterHonest, 3, start, contract.DefaultTimeout)
		hs[1] = tamper(hs[1], tc.change)
		target, err := spec.ClusterTarget(context.Background(), hs...)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "CLUSTER-004"})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Results[0]; r.Outcome != spec.Errored || !strings.Contains(r.Message, tc.want) || rep.ExitCode != spec.ExitHarness {
			t.Errorf("%s: %s %q, exit %d; want an error naming %q, exit 2", name, r.Outcome, r.Message, rep.ExitCode, tc.want)
		} else {
			t.Logf("%s: %s", name, r.Message)
		}
	}
}

// A cluster whose notifications are read from one output (a --run
// cluster printing to one stdout: ExpiredLines) counts each once: the
// feed is not read again per replica. The honest cluster passes every
// notification case so.
func TestClusterWithOneOutputFeed(t *testing.T) {
	t.Parallel()
	hs := faulty.NewClusterHandlers(faulty.ClusterHonest, faulty.ClusterReplicas, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), contract.DefaultTimeout)
	target, err := spec.ClusterTarget(context.Background(), hs...)
	if err != nil {
		t.Fatal(err)
	}
	target.ExpiredLines = func() []string { // every replica's lines, as one process output would have them
		var lines []string
		for _, h := range hs {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost"+contract.PathExpired, nil))
			lines = append(lines, strings.Fields(rec.Body.String())...)
		}
		return lines
	}
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "notify || CLUSTER-005 || CLUSTER-006"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 5 {
		t.Errorf("%d results, want NOTIFY-001..003 and CLUSTER-005/006", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Outcome != spec.Passed {
			t.Errorf("%s: %s %s\n%s", r.ID, r.Outcome, r.Message, r.Evidence)
		}
	}
}

// A shared feed declared by mistake for replicas whose feeds each list
// what they fired costs an honest cluster nothing: the fullest feed of
// each notification is counted, not replica 0's alone.
func TestSharedFeedDeclaredByMistake(t *testing.T) {
	t.Parallel()
	hs := faulty.NewClusterHandlers(faulty.ClusterHonest, faulty.ClusterReplicas, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), contract.DefaultTimeout)
	target, err := spec.ClusterTarget(context.Background(), hs...)
	if err != nil {
		t.Fatal(err)
	}
	target.SharedFeed = true
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "needs-expired"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Outcome != spec.Passed {
			t.Errorf("%s: %s %s\n%s", r.ID, r.Outcome, r.Message, r.Evidence)
		}
	}
}
