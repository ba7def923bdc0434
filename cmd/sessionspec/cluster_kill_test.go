package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/cluster"
	"github.com/sessionspec/sessionspec/internal/redistest"
)

// TestClusterSIGKILLMidSweep: three `serve --store --fake-clock`
// replicas; thousands of logged sessions, made on all three, fall due at
// once; one replica is killed with SIGKILL while its sweep of them runs
// (it had fired some and not all, and its advance never answered). The
// survivors serve every live session, sweep the rest, and in the end
// every notification is in the union of the replicas' feeds in Redis,
// the dead one's included, exactly once. Restarted under its name, the
// killed replica adopts the cluster's time and serves its own feed again.
func TestClusterSIGKILLMidSweep(t *testing.T) {
	t.Parallel()
	const (
		timeout    = 10 * time.Second
		storm      = 4000 // sessions that fall due at once
		live       = 150  // sessions that must outlive the kill
		sweepBatch = 4    // sessions per sweep script: a long storm, to be killed in
	)
	srv := redistest.New(t)
	args := []string{"--fake-clock", "--timeout", "10s", "--sweep-batch", strconv.Itoa(sweepBatch)}
	rs := startReplicas(t, srv.URL, 3, args...)
	rdb, err := cluster.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()

	// t=0: the storm's sessions, each made and logged by one request, on
	// every replica.
	stormIDs := make([]string, storm)
	parallel(t, storm, func(i int) { stormIDs[i] = loggedSession(t, rs[i%3].url) })
	// t=6s: the sessions that stay alive (due at 16 s).
	advanceAll(t, rs, 6*time.Second)
	liveIDs := make([]string, live)
	parallel(t, live, func(i int) { liveIDs[i] = loggedSession(t, rs[i%3].url) })

	// r0 alone moves to 11 s: its sweep ends the storm, 4 sessions a
	// script. Stop it (SIGSTOP) as soon as its feed shows the sweep has
	// begun, check it is mid-sweep, and SIGKILL it.
	victim, survivors := rs[0], rs[1:]
	answered := make(chan error, 1)
	go func() { answered <- advanceOne(victim, 5*time.Second) }()
	feedKey := cluster.FeedKey(cluster.DefaultPrefix, victim.name)
	for {
		n, err := rdb.LLen(ctx, feedKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			stopProcess(t, victim)
			break
		}
		select {
		case err := <-answered:
			t.Fatalf("r0's advance answered (%v) before its feed showed the sweep", err)
		default:
		}
	}
	firedByVictim, _ := rdb.LLen(ctx, feedKey).Result()
	stormDue := "(" + strconv.FormatInt(cluster.FakeEpoch.Add(timeout).UnixMilli()+1, 10) // deadlines up to t=10s
	due, _ := rdb.ZCount(ctx, cluster.DeadlinesKey(cluster.DefaultPrefix), "-inf", stormDue).Result()
	select {
	case err := <-answered:
		t.Fatalf("not mid-sweep: r0's advance had answered (%v); it fired %d", err, firedByVictim)
	default:
	}
	if due == 0 || firedByVictim >= storm {
		t.Fatalf("not mid-sweep: r0 fired %d, %d still due", firedByVictim, due)
	}
	victim.cmd.Process.Kill()
	<-victim.done
	<-answered
	t.Logf("r0 killed mid-sweep: it had fired %d notifications, %d sessions were still due", firedByVictim, due)

	// The survivors, still at 6 s, serve every live session.
	parallel(t, live, func(i int) {
		if got := sessionID(t, survivors[i%2].url, liveIDs[i]); got != liveIDs[i] {
			t.Errorf("live session %s lost after the kill (got %s)", liveIDs[i], got)
		}
	})
	// At 11 s the survivors sweep the rest of the storm; the live
	// sessions, visited again, last until 21 s.
	advanceAll(t, survivors, 5*time.Second)
	if n, _ := rdb.ZCount(ctx, cluster.DeadlinesKey(cluster.DefaultPrefix), "-inf", stormDue).Result(); n != 0 {
		t.Fatalf("%d storm sessions still live after the survivors' sweep", n)
	}
	parallel(t, live, func(i int) {
		if got := sessionID(t, survivors[(i+1)%2].url, liveIDs[i]); got != liveIDs[i] {
			t.Errorf("live session %s lost at 11 s (got %s)", liveIDs[i], got)
		}
	})
	for _, id := range stormIDs[:10] {
		if got := sessionID(t, survivors[0].url, id); got == id {
			t.Fatalf("storm session %s still served after its timeout", id)
		}
	}
	advanceAll(t, survivors, timeout)

	count, feeds := notificationCounts(t, rdb, cluster.DefaultPrefix)
	bad := 0
	for _, id := range append(append([]string{}, stormIDs...), liveIDs...) {
		if count[id] != 1 {
			bad++
			if bad <= 5 {
				t.Errorf("session %s: %d notifications in the union of the feeds, want 1", id, count[id])
			}
		}
	}
	if bad > 0 || len(count) != storm+live {
		t.Fatalf("%d sessions not notified exactly once; %d notified in all, want %d", bad, len(count), storm+live)
	}
	// A script r0 had sent before it stopped may have run after the count:
	// at most one batch more.
	if n := int64(len(feeds[victim.name])); n < firedByVictim || n > firedByVictim+sweepBatch {
		t.Fatalf("the killed replica's feed has %d lines, %d when it was stopped (batch %d)", n, firedByVictim, sweepBatch)
	}
	if n, _ := rdb.ZCard(ctx, cluster.DeadlinesKey(cluster.DefaultPrefix)).Result(); n != 0 {
		t.Fatalf("%d sessions live at 21 s", n)
	}
	t.Logf("feeds: r0 %d, r1 %d, r2 %d lines", len(feeds["r0"]), len(feeds["r1"]), len(feeds["r2"]))

	// Restarted under its name, r0 is at the cluster's time and serves the
	// notifications it fired before it died.
	again := startReplica(t, srv.URL, victim.name, args...)
	code, body := clusterGet(t, http.DefaultClient, again.url, "/_clock", "")
	if code != 200 || !strings.HasPrefix(body, "2025-01-01T00:00:21") {
		t.Fatalf("restarted r0's clock: %d %q, want 21 s past the epoch", code, body)
	}
	_, whole := clusterGet(t, http.DefaultClient, again.url, "/expired", "")
	if got := strings.Count(whole, "\n"); got != len(feeds[victim.name]) {
		t.Fatalf("restarted r0 serves %d lines of its feed, want %d", got, len(feeds[victim.name]))
	}
}

// parallel runs f(0..n-1) on 16 goroutines.
func parallel(t *testing.T, n int, f func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int, n) // never blocks, even if a worker ends with t.Fatal
	for range 16 {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
