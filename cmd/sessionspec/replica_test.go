package main

import (
	"encoding/json"
	"io"
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

// startCluster serves the replicas of a clustered target of package
// faulty on loopback ports of their own, each on its own fake clock, and
// returns their URLs (with a trailing slash), the first the target's.
func startFaultyCluster(t *testing.T, f faulty.Fault, advertise bool) []string {
	t.Helper()
	return startFaultyClusterWith(t, f, advertise, func(h http.Handler) http.Handler { return h })
}

// startFaultyClusterWith is startFaultyCluster with each replica's
// handler wrapped.
func startFaultyClusterWith(t *testing.T, f faulty.Fault, advertise bool, wrap func(http.Handler) http.Handler) []string {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clocks := make([]*fakeclock.Fake, faulty.ClusterReplicas)
	for i := range clocks {
		clocks[i] = fakeclock.NewFake(start)
	}
	var urls []string
	var servers []*httptest.Server
	replicas := faulty.NewCluster(f, clocks, reference.DefaultTimeout)
	for _, r := range replicas {
		srv := httptest.NewUnstartedServer(wrap(r)) // listening, not serving yet
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
		urls = append(urls, "http://"+srv.Listener.Addr().String()+"/")
	}
	for i, r := range replicas {
		if advertise {
			r.Advertise = urls // the target's own URL among them: dropped
		}
		servers[i].Start()
	}
	return urls
}

// alignClocks advances the fake clocks of the serve processes at urls to
// the latest of them: each started its clock at the second it started,
// and processes started a second apart are not one site's replicas.
func alignClocks(t *testing.T, urls []string) {
	t.Helper()
	nows := make([]time.Time, len(urls))
	latest := time.Time{}
	for i, u := range urls {
		resp, err := http.Get(u + strings.TrimPrefix(contract.PathClock, "/"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		if nows[i], err = contract.ParseClockTime(string(b)); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if nows[i].After(latest) {
			latest = nows[i]
		}
	}
	for i, u := range urls {
		if d := latest.Sub(nows[i]); d > 0 {
			resp, err := http.Post(u+strings.TrimPrefix(contract.PathClock, "/")+"?advance="+contract.FormatAdvance(d), "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: advancing the clock by %s: %s", u, d, resp.Status)
			}
		}
	}
}

// replicaFlags are --replica flags for urls.
func replicaFlags(urls []string) []string {
	var out []string
	for _, u := range urls {
		out = append(out, "--replica", u)
	}
	return out
}

// `sessionspec check URL --replica URL2 --replica URL3` against each
// clustered fault on three loopback ports exits 1, naming the case that
// catches it, with exchanges that say which replica they went to; against
// the honest cluster it exits 0 with every CLUSTER case passing.
func TestCheckReplicasCatchClusterFaults(t *testing.T) {
	t.Parallel()
	for _, e := range slices.Concat(faulty.ClusterFaults, faulty.ClusterHonestEntries) {
		t.Run(string(e.Fault), func(t *testing.T) {
			urls := startFaultyCluster(t, e.Fault, false)
			o := sessionspec(t, append([]string{"check", urls[0]}, replicaFlags(urls[1:])...)...)
			if o.report == nil {
				t.Fatalf("no report: exit %d\n%s%s", o.code, o.stdout, o.stderr)
			}
			if !slices.Equal(o.report.Replicas, urls) || !strings.Contains(o.stdout, "a cluster of 3 replicas") {
				t.Errorf("the report records the replicas %v, want %v", o.report.Replicas, urls)
			}
			if e.Verdict == faulty.Passes {
				if o.code != 0 || o.report.Summary.Fail > 0 {
					t.Fatalf("exit %d, want 0 and no failure\n%s%s", o.code, o.stdout, o.stderr)
				}
				for _, r := range o.report.Results {
					if r.Area == "cluster" && r.ID != "CLUSTER-002" && r.Outcome != spec.Passed {
						t.Errorf("%s: %s %s", r.ID, r.Outcome, r.Message)
					}
				}
				return
			}
			if o.code != 1 || o.outcomeOf(e.CaughtBy) != spec.Failed {
				t.Fatalf("exit %d, %s %s; want 1 and fail\n%s%s", o.code, e.CaughtBy, o.outcomeOf(e.CaughtBy), o.stdout, o.stderr)
			}
			for _, want := range []string{"FAIL  MUST      " + e.CaughtBy, "evidence:", "-> replica 1 127.0.0.1:"} {
				if !strings.Contains(o.stdout, want) {
					t.Fatalf("the console does not show %q:\n%s", want, o.stdout)
				}
			}
			for _, l := range strings.Split(o.stdout, "\n") {
				if strings.HasPrefix(l, "FAIL") {
					t.Logf("%s", l)
				}
			}
		})
	}
}

// Without --replica, the discovery document's replicas make the cluster
// (the target's own URL among them is dropped).
func TestCheckReplicasFromDiscovery(t *testing.T) {
	t.Parallel()
	urls := startFaultyCluster(t, faulty.ClusterHonest, true)
	o := sessionspec(t, "check", urls[0], "--label-filter", "cluster")
	if o.code != 0 || o.report == nil || !slices.Equal(o.report.Replicas, urls) {
		t.Fatalf("exit %d, replicas %v; want 0 and %v\n%s%s", o.code, o.report.Replicas, urls, o.stdout, o.stderr)
	}
	for _, r := range o.report.Results {
		if r.ID != "CLUSTER-002" && r.Outcome != spec.Passed {
			t.Errorf("%s: %s %s", r.ID, r.Outcome, r.Message)
		}
	}
}

// Without replicas the CLUSTER cases are n/a and the run is not
// incomplete; a bad --replica is a harness error in one line.
func TestCheckReplicaFlag(t *testing.T) {
	t.Parallel()
	urls := startFaultyCluster(t, faulty.ClusterHonest, false)
	o := sessionspec(t, "check", urls[0], "--label-filter", "cluster")
	if o.code != 0 || o.report == nil || o.report.Summary.NotApplicable != len(o.report.Results) {
		t.Fatalf("exit %d; want 0 with every CLUSTER case n/a\n%s%s", o.code, o.stdout, o.stderr)
	}
	for _, bad := range []string{"ftp://127.0.0.1:1/", "/relative", "http://127.0.0.1:1/?q=1"} {
		o := sessionspec(t, "check", urls[0], "--replica", bad)
		if o.code != 2 || strings.Count(strings.TrimSpace(o.stderr), "\n") != 0 || !strings.Contains(o.stderr, "--replica") {
			t.Errorf("--replica %s: exit %d, stderr %q; want 2 and one line", bad, o.code, o.stderr)
		}
	}
}

// Three plain in-memory `serve` processes share nothing: as replicas of
// one site they fail every CLUSTER case.
func TestCheckReplicasOfUnsharedServes(t *testing.T) {
	t.Parallel()
	urls := []string{startServe(t, "--fake-clock") + "/", startServe(t, "--fake-clock") + "/", startServe(t, "--fake-clock") + "/"}
	alignClocks(t, urls)
	o := sessionspec(t, append([]string{"check", urls[0], "--label-filter", "cluster"}, replicaFlags(urls[1:])...)...)
	if o.code != 1 || o.report == nil {
		t.Fatalf("exit %d, want 1\n%s%s", o.code, o.stdout, o.stderr)
	}
	for _, r := range o.report.Results {
		if r.Outcome != spec.Failed {
			t.Errorf("%s: %s, want fail: %s", r.ID, r.Outcome, r.Message)
		}
	}
}

// Replicas that write to one log, which each replica's feed lists whole,
// are counted once per replica unless they say so: without the
// declaration an honest such cluster fails NOTIFY-001 and CLUSTER-005
// with 3 and the evidence names the way out; with --shared-feed (its
// discovery document silent) it passes.
func TestCheckSharedFeedFlag(t *testing.T) {
	t.Parallel()
	silent := func(h http.Handler) http.Handler { // a discovery document without "shared_feed"
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != contract.PathDiscovery {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			d, err := contract.ParseDiscovery(rec.Body.Bytes())
			if err != nil || !d.SharedFeed {
				t.Errorf("the shared-feed cluster's discovery document: %v, shared_feed %v", err, d.SharedFeed)
			}
			d.SharedFeed = false
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(d)
		})
	}
	urls := startFaultyClusterWith(t, faulty.ClusterSharedFeed, false, silent)
	args := append([]string{"check", urls[0], "--label-filter", "notify || CLUSTER-005 || CLUSTER-006"}, replicaFlags(urls[1:])...)
	o := sessionspec(t, args...)
	if o.code != 1 || o.outcomeOf("CLUSTER-005") != spec.Failed || o.outcomeOf("NOTIFY-001") != spec.Failed {
		t.Fatalf("undeclared: exit %d, CLUSTER-005 %s, NOTIFY-001 %s; want 1, fail, fail\n%s%s", o.code, o.outcomeOf("CLUSTER-005"), o.outcomeOf("NOTIFY-001"), o.stdout, o.stderr)
	}
	if !strings.Contains(o.stdout, "--shared-feed") {
		t.Errorf("the evidence does not name --shared-feed:\n%s", o.stdout)
	}
	o = sessionspec(t, append(args, "--shared-feed")...)
	if o.code != 0 || o.report.Summary.Pass != 5 {
		t.Fatalf("--shared-feed: exit %d, %d passed; want 0 and 5\n%s%s", o.code, o.report.Summary.Pass, o.stdout, o.stderr)
	}
}
