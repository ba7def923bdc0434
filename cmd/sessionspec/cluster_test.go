package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionspec/sessionspec/cluster"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/internal/redistest"
	"github.com/sessionspec/sessionspec/spec"
)

// replica is one `sessionspec serve --store` process.
type replica struct {
	name string
	url  string // without the final slash
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

var listeningRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)/`)

// startReplica runs `sessionspec serve --store store --replica-name name
// ARGS --addr 127.0.0.1:0` until the test ends (or it is killed) and
// returns once it has printed its URL.
func startReplica(t *testing.T, store, name string, args ...string) *replica {
	t.Helper()
	cmd := exec.Command(bin, append(append([]string{"serve", "--store", store, "--replica-name", name}, args...), "--addr", "127.0.0.1:0")...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &syncWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		<-r.done
		t.Fatalf("serve --store printed nothing; stderr: %s", stderr.String())
	}
	m := listeningRE.FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q names no URL", lines.Text())
	}
	go io.Copy(io.Discard, out)
	r.url = m[1]
	return r
}

// startReplicas starts n replicas named r0, r1, ... of one site.
func startReplicas(t *testing.T, store string, n int, args ...string) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = startReplica(t, store, fmt.Sprintf("r%d", i), args...)
	}
	return rs
}

// clusterGet sends GET base+path with the session cookie uid (none if
// "") and returns the status and body.
func clusterGet(t *testing.T, client *http.Client, base, path, uid string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if uid != "" {
		req.AddCookie(&http.Cookie{Name: contract.CookieName, Value: uid})
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// advanceAll posts the same advance to every replica at once, as the
// suite's cluster mode does.
func advanceAll(t *testing.T, rs []*replica, d time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			if err := advanceOne(r, d); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func advanceOne(r *replica, d time.Duration) error {
	resp, err := http.Post(r.url+contract.PathClock+"?advance="+contract.FormatAdvance(d), "", nil)
	if err != nil {
		return fmt.Errorf("advance %s: %v", r.name, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("advance %s: %s %s", r.name, resp.Status, b)
	}
	return nil
}

var showRE = regexp.MustCompile(`^Your session id is: ([0-9a-f]{64})$`)

func sessionID(t *testing.T, base, uid string) string {
	t.Helper()
	code, body := clusterGet(t, http.DefaultClient, base, "/", uid)
	m := showRE.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("GET %s/: %d %q", base, code, body)
	}
	return m[1]
}

// loggedSession makes a session on base with one GET /logme and returns
// its uid.
func loggedSession(t *testing.T, base string) string {
	t.Helper()
	code, body := clusterGet(t, http.DefaultClient, base, "/logme", "")
	uid, _, _ := strings.Cut(strings.TrimPrefix(body, "Session "), " ")
	if code != 200 || len(uid) != 64 {
		t.Fatalf("GET %s/logme: %d %q", base, code, body)
	}
	return uid
}

// notificationCounts counts each uid's lines in the union of every
// replica's feed, read from Redis.
func notificationCounts(t *testing.T, rdb *redis.Client, prefix string) (map[string]int, map[string][]string) {
	t.Helper()
	feeds, err := cluster.Feeds(context.Background(), rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, lines := range feeds {
		for _, l := range lines {
			count[l]++
		}
	}
	return count, feeds
}

// Three serve processes on one Redis are one site: a session made on one
// is the same on the others, /expire on one is final everywhere, its
// notification fires once, and increments spread over them all count.
func TestClusterServeProcesses(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rs := startReplicas(t, srv.URL, 3, "--fake-clock", "--timeout", "5s")
	rdb, err := cluster.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	uid := loggedSession(t, rs[0].url)
	for _, r := range rs {
		if got := sessionID(t, r.url, uid); got != uid {
			t.Fatalf("replica %s: session %s, want %s", r.name, got, uid)
		}
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", rs[i%3].url+"/counter", nil)
			req.AddCookie(&http.Cookie{Name: contract.CookieName, Value: uid})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if _, body := clusterGet(t, http.DefaultClient, rs[1].url, "/counter", uid); body != "Visit #201 for you!" {
		t.Fatalf("after 200 concurrent increments over 3 replicas: %q", body)
	}
	if code, _ := clusterGet(t, http.DefaultClient, rs[2].url, "/expire", uid); code != 200 {
		t.Fatalf("expire: %d", code)
	}
	for _, r := range rs {
		if got := sessionID(t, r.url, uid); got == uid {
			t.Fatalf("replica %s still serves %s after /expire on r2", r.name, uid)
		}
	}
	// On timeout: sessions made on every replica, swept by whichever.
	timed := []string{loggedSession(t, rs[0].url), loggedSession(t, rs[1].url), loggedSession(t, rs[2].url)}
	advanceAll(t, rs, 5*time.Second)
	count, _ := notificationCounts(t, rdb, cluster.DefaultPrefix)
	for _, id := range append(timed, uid) {
		if count[id] != 1 {
			t.Errorf("session %s: %d notifications across the feeds, want 1", id, count[id])
		}
	}
	// The discovery document names the clock and the replica.
	_, body := clusterGet(t, http.DefaultClient, rs[0].url, contract.PathDiscovery, "")
	d, err := contract.ParseDiscovery([]byte(body))
	if err != nil || d.Paths.Clock == "" || !strings.Contains(d.Implementation, "replica r0") {
		t.Fatalf("discovery %v: %s", err, body)
	}
}

// Redis away: the replicas answer 503 with a reason; back (with its
// data), they carry on with every session as it was.
func TestClusterServeRedisAway(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rs := startReplicas(t, srv.URL, 2, "--timeout", "60s")
	uid := sessionID(t, rs[0].url, "")
	clusterGet(t, http.DefaultClient, rs[1].url, "/counter", uid)
	ctx := context.Background()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := clusterGet(t, http.DefaultClient, rs[1].url, "/counter", uid)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "session store unavailable") {
		t.Fatalf("with Redis away: %d %q", code, body)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if _, body := clusterGet(t, http.DefaultClient, rs[0].url, "/counter", uid); body != "Visit #2 for you!" {
		t.Fatalf("after Redis came back: %q", body)
	}
}

// serve --store refuses what does not go with it, and a Redis it cannot
// reach, with exit 2.
func TestClusterServeFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--replica-name", "a"},
		{"serve", "--store", "nosuch://x"},
		{"serve", "--store", "redis://127.0.0.1:1/0", "--fault", "no-expiry", "--fake-clock"},
		{"serve", "--store", "redis://127.0.0.1:1/0", "--replica", "ftp://x/"},
		{"serve", "--store", "redis://127.0.0.1:1/0"}, // nothing listens on port 1
	} {
		cmd := exec.Command(bin, append(args, "--addr", "127.0.0.1:0")...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != exitHarness || !strings.Contains(string(out), "sessionspec serve") && !strings.Contains(string(out), "invalid value") {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// stopProcess holds a replica where it is: SIGSTOP, then a wait (at most
// 5 s) until every thread of it has stopped, so that it sends nothing
// more.
func stopProcess(t *testing.T, r *replica) {
	t.Helper()
	pid := r.cmd.Process.Pid
	r.cmd.Process.Signal(syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for !allStopped(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("replica %s (pid %d) did not stop within 5 s of SIGSTOP", r.name, pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is stopped (state T).
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// pid (comm) STATE ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// The suite in cluster mode against three `serve --store` replicas on one
// Redis: on their fake clocks (the 900 s default, so every MUST case
// applies) it exits 0 with every CLUSTER case passing. The replicas serve
// no WebSocket (package cluster does not attach sockets), so those cases
// are allowed to be n/a.
func TestCheckClusterOnRedisFakeClock(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rs := startReplicas(t, srv.URL, 3, "--fake-clock")
	o := sessionspec(t, "check", rs[0].url+"/", "--replica", rs[1].url+"/", "--replica", rs[2].url+"/")
	clusterRunPassed(t, o)
}

// On the wall clock with a 2 s timeout: every MUST case passes but the
// default timeout's, which cannot be checked there.
func TestCheckClusterOnRedisWallClock(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rs := startReplicas(t, srv.URL, 3, "--timeout", "2s")
	o := sessionspec(t, "check", rs[0].url+"/", "--replica", rs[1].url+"/", "--replica", rs[2].url+"/", "--allow-na", "TIMEOUT-004")
	clusterRunPassed(t, o)
}

// clusterRunPassed: exit 0, every case passed but the WebSocket cases
// (n/a), those allowed n/a, and on the wall clock a SHOULD case that found
// the answers too slow to judge; and CLUSTER cases among them.
func clusterRunPassed(t *testing.T, o outcome) {
	t.Helper()
	if o.code != 0 || o.report == nil {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
	}
	n := 0
	for _, r := range o.report.Results {
		if strings.HasPrefix(r.ID, "CLUSTER-") {
			n++
		}
		// On a loaded machine a wall-clock case may find the answers too
		// slow to judge: n/a, which says nothing about the target.
		slow := r.Outcome == spec.NotApplicable && r.Level != spec.Must && o.report.Clock == "wall" && strings.Contains(r.Message, "slowly")
		if slow {
			t.Logf("%s: n/a on a loaded machine: %s", r.ID, r.Message)
		}
		if r.Outcome != spec.Passed && !slow && !(r.Outcome == spec.NotApplicable && (r.AllowedNA || r.Area == "websocket")) {
			t.Errorf("%s: %s %s", r.ID, r.Outcome, r.Message)
		}
	}
	if n == 0 {
		t.Fatal("no CLUSTER case ran")
	}
}

// A primary that announces its replicas (serve --replica URL) is checked
// as a cluster from its URL alone: the discovery document names them.
func TestCheckClusterFromDiscovery(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	b := startReplica(t, srv.URL, "b", "--fake-clock")
	c := startReplica(t, srv.URL, "c", "--fake-clock")
	a := startReplica(t, srv.URL, "a", "--fake-clock", "--replica", b.url+"/", "--replica", c.url+"/")
	o := sessionspec(t, "check", a.url+"/")
	clusterRunPassed(t, o)
	if len(o.report.Replicas) != 3 {
		t.Fatalf("the report names replicas %q, want a, b and c", o.report.Replicas)
	}
}
