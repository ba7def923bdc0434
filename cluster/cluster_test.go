package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionspec/sessionspec/cluster"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/redistest"
)

// site is a cluster of replicas on one Redis, each served by httptest.
type site struct {
	t        *testing.T
	redis    *redistest.Server
	rdb      *redis.Client
	prefix   string
	replicas []*cluster.Server
	urls     []string
	servers  []*httptest.Server
	log      *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newSite starts Redis and n replicas with timeout; fake: on fake clocks.
func newSite(t *testing.T, n int, timeout time.Duration, fake bool, tweak ...func(*cluster.Config)) *site {
	t.Helper()
	s := &site{t: t, redis: redistest.New(t), prefix: "test:", log: &syncBuffer{}}
	rdb, err := cluster.NewClient(s.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	s.rdb = rdb
	for i := range n {
		s.add(t, fmt.Sprintf("r%d", i), timeout, fake, tweak...)
	}
	return s
}

func (s *site) add(t *testing.T, name string, timeout time.Duration, fake bool, tweak ...func(*cluster.Config)) *cluster.Server {
	t.Helper()
	cfg := cluster.Config{Redis: s.rdb, Prefix: s.prefix, Replica: name, Timeout: timeout, Log: s.log}
	if fake {
		cfg.Clock = fakeclock.NewFake(cluster.FakeEpoch)
	}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := cluster.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	s.replicas = append(s.replicas, srv)
	s.urls = append(s.urls, hs.URL)
	s.servers = append(s.servers, hs)
	return srv
}

// advance moves every replica's clock by d, as the suite does.
func (s *site) advance(d time.Duration) {
	s.t.Helper()
	var wg sync.WaitGroup
	for _, u := range s.urls {
		wg.Go(func() {
			resp, err := http.Post(u+contract.PathClock+"?advance="+contract.FormatAdvance(d), "", nil)
			if err != nil {
				s.t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				s.t.Errorf("advance: %s %s", resp.Status, body)
			}
		})
	}
	wg.Wait()
}

// user is a browser: one cookie jar, for every replica (cookies are per
// host, and the replicas share 127.0.0.1).
type user struct {
	t      *testing.T
	client *http.Client
}

func newUser(t *testing.T) *user {
	jar, _ := cookiejar.New(nil)
	return &user{t: t, client: &http.Client{Jar: jar}}
}

func (u *user) get(url string) (int, string) {
	u.t.Helper()
	resp, err := u.client.Get(url)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var idRE = regexp.MustCompile(`Your session id is: ([0-9a-f]{64})$`)

func (u *user) id(base string) string {
	u.t.Helper()
	code, body := u.get(base + "/")
	m := idRE.FindStringSubmatch(body)
	if code != 200 || m == nil {
		u.t.Fatalf("GET %s/: %d %q", base, code, body)
	}
	return m[1]
}

// cookie is the session id the user's jar holds for base.
func (u *user) cookie(base string) string {
	u.t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		u.t.Fatal(err)
	}
	for _, c := range u.client.Jar.Cookies(b) {
		if c.Name == contract.CookieName {
			return c.Value
		}
	}
	u.t.Fatalf("no %s cookie for %s", contract.CookieName, base)
	return ""
}

// fired counts uid's lines in every replica's feed, read over HTTP.
func (s *site) fired(uid string) int {
	s.t.Helper()
	n := 0
	for _, u := range s.urls {
		resp, err := http.Get(u + "/expired?id=" + uid)
		if err != nil {
			s.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		n += strings.Count(string(b), uid)
	}
	return n
}

func TestSessionIsTheSameOnEveryReplica(t *testing.T) {
	t.Parallel()
	s := newSite(t, 3, 5*time.Second, true)
	u := newUser(t)
	id := u.id(s.urls[0])
	for _, r := range s.urls {
		if got := u.id(r); got != id {
			t.Fatalf("replica %s: session %s, want %s", r, got, id)
		}
	}
	// A component set on one replica is there on the very next request
	// to another.
	if code, body := u.get(s.urls[1] + "/components?app=a&key=k&set=v1"); code != 200 || body != "v1" {
		t.Fatalf("set: %d %q", code, body)
	}
	if code, body := u.get(s.urls[2] + "/components?app=a&key=k"); code != 200 || body != "v1" {
		t.Fatalf("get on another replica: %d %q", code, body)
	}
	// The adapter object is one instance for the whole site.
	_, a1 := u.get(s.urls[0] + "/components?app=a&key=adapter")
	_, a2 := u.get(s.urls[2] + "/components?app=a&key=adapter")
	if a1 != a2 || !strings.HasPrefix(a1, "instance ") {
		t.Fatalf("adapter objects %q and %q", a1, a2)
	}
	if code, body := u.get(s.urls[0] + "/components?app=b&key=k"); code != 404 || !strings.HasPrefix(body, "unset") {
		t.Fatalf("unset component: %d %q", code, body)
	}
}

func TestExpireIsFinalEverywhere(t *testing.T) {
	t.Parallel()
	s := newSite(t, 3, 5*time.Second, true)
	u := newUser(t)
	id := u.id(s.urls[0])
	u.get(s.urls[0] + "/logme")
	if code, body := u.get(s.urls[1] + "/expire"); code != 200 || body != "Your session has been expired." {
		t.Fatalf("expire: %d %q", code, body)
	}
	// The old cookie, replayed on each replica, finds no session.
	for _, r := range s.urls {
		old := newUser(t)
		req, _ := http.NewRequest("GET", r+"/", nil)
		req.AddCookie(&http.Cookie{Name: contract.CookieName, Value: id})
		resp, err := old.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), id) {
			t.Fatalf("replica %s still serves %s after /expire on another", r, id)
		}
	}
	if n := s.fired(id); n != 1 {
		t.Fatalf("notification fired %d times across the feeds, want 1", n)
	}
}

// Visits alternating between replicas keep a session alive across more
// than two timeouts; then it ends, exactly at its timeout, once.
func TestAlternatingVisitsKeepItAlive(t *testing.T) {
	t.Parallel()
	const timeout = 5 * time.Second
	s := newSite(t, 3, timeout, true)
	u := newUser(t)
	id := u.id(s.urls[0])
	u.get(s.urls[0] + "/logme")
	for i := range 6 { // 6 × 4 s = 24 s, almost five timeouts
		s.advance(4 * time.Second)
		if got := u.id(s.urls[(i+1)%3]); got != id {
			t.Fatalf("visit %d on replica %d: new session %s", i, (i+1)%3, got)
		}
	}
	s.advance(timeout - time.Nanosecond)
	if n := s.fired(id); n != 0 {
		t.Fatalf("fired %d times a nanosecond before its timeout", n)
	}
	s.advance(time.Nanosecond)
	if n := s.fired(id); n != 1 {
		t.Fatalf("fired %d times at its timeout, want 1", n)
	}
	if got := u.id(s.urls[2]); got == id {
		t.Fatal("the session outlived its timeout")
	}
}

// Many logged sessions, spread over the replicas, time out at once: each
// notification is in exactly one feed, whichever replica swept it.
func TestEachNotificationOnceOnTimeout(t *testing.T) {
	t.Parallel()
	s := newSite(t, 3, 5*time.Second, true, func(c *cluster.Config) { c.SweepBatch = 7 })
	var ids []string
	for i := range 150 {
		u := newUser(t)
		ids = append(ids, u.id(s.urls[i%3]))
		u.get(s.urls[(i+1)%3] + "/logme")
		u.get(s.urls[(i+2)%3] + "/logme") // once per session, whichever replica
	}
	s.advance(5 * time.Second)
	feeds, err := cluster.Feeds(context.Background(), s.rdb, s.prefix)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, lines := range feeds {
		for _, l := range lines {
			count[l]++
		}
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("session %s: %d notifications across the feeds, want 1", id, count[id])
		}
	}
	if len(count) != len(ids) {
		t.Errorf("%d sessions notified, want %d", len(count), len(ids))
	}
	if n := strings.Count(s.log.String(), " has expired."); n != len(ids) {
		t.Errorf("%d log lines, want %d", n, len(ids))
	}
}

func TestConcurrentIncrementsAllCounted(t *testing.T) {
	t.Parallel()
	s := newSite(t, 3, 5*time.Second, true)
	u := newUser(t)
	u.get(s.urls[0] + "/counter")
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			resp, err := u.client.Get(s.urls[i%3] + "/counter")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if _, body := u.get(s.urls[1] + "/counter"); body != "Visit #202 for you!" {
		t.Fatalf("after 1 + 200 concurrent visits: %q, want visit #202", body)
	}
}

// Wall clock: the sweepers of three replicas end a session once, within
// their period of its timeout.
func TestWallClockSweep(t *testing.T) {
	t.Parallel()
	s := newSite(t, 3, 200*time.Millisecond, false)
	u := newUser(t)
	u.id(s.urls[0])
	u.get(s.urls[1] + "/logme")
	// The session that registered: on a loaded machine the first may
	// have timed out before /logme, which then began another.
	id := u.cookie(s.urls[1])
	deadline := time.Now().Add(5 * time.Second)
	for s.fired(id) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no notification 5 s after a 200 ms timeout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // two more sweeps of each replica
	if n := s.fired(id); n != 1 {
		t.Fatalf("fired %d times, want 1", n)
	}
}

// Redis away: 503 with a reason and a log line; back with its data:
// every session as it was.
func TestRedisAwayAnd503(t *testing.T) {
	t.Parallel()
	s := newSite(t, 2, 5*time.Second, true)
	u := newUser(t)
	id := u.id(s.urls[0])
	u.get(s.urls[0] + "/counter")
	ctx := context.Background()
	if err := s.redis.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := u.get(s.urls[1] + "/counter")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "session store unavailable: ") || strings.Count(body, "\n") != 1 {
		t.Fatalf("with Redis away: %d %q", code, body)
	}
	resp, err := http.Post(s.urls[0]+contract.PathClock+"?advance=1s", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("advance with Redis away: %s", resp.Status)
	}
	if !strings.Contains(s.log.String(), "redis unreachable") {
		t.Fatalf("no log line says why: %q", s.log.String())
	}
	if err := s.redis.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The replicas' clocks: one moved 1 s on its own; bring the other
	// along, as the suite would have.
	resp, err = http.Post(s.urls[1]+contract.PathClock+"?advance=1s", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := u.id(s.urls[1]); got != id {
		t.Fatalf("after Redis came back: session %s, want %s", got, id)
	}
	if _, body := u.get(s.urls[0] + "/counter"); body != "Visit #2 for you!" {
		t.Fatalf("counter after Redis came back: %q", body)
	}
}

// A full site ends a session to make room, in the reference's order,
// and its notification fires once.
func TestEvictionAtTheCap(t *testing.T) {
	t.Parallel()
	s := newSite(t, 2, 5*time.Second, true, func(c *cluster.Config) { c.MaxSessions = 3 })
	kept := newUser(t)
	keptID := kept.id(s.urls[0])
	kept.id(s.urls[1]) // visited again: not the first to go
	// A flood of clients that never come back: each one request, which
	// makes its session and registers its notification.
	flood := make([]string, 0, 4)
	for i := range 4 {
		_, body := newUser(t).get(s.urls[i%2] + "/logme")
		id, _, _ := strings.Cut(strings.TrimPrefix(body, "Session "), " ")
		flood = append(flood, id)
	}
	if got := kept.id(s.urls[1]); got != keptID {
		t.Fatal("a session visited again was evicted before the flood's own")
	}
	n := 0
	for _, id := range flood[:2] {
		n += s.fired(id)
	}
	if n != 2 {
		t.Fatalf("the two oldest flood sessions fired %d notifications, want 2", n)
	}
	if live, _ := s.rdb.ZCard(context.Background(), cluster.DeadlinesKey(s.prefix)).Result(); live != 3 {
		t.Fatalf("%d live sessions, cap 3", live)
	}
}

// A replica started later adopts the cluster's virtual time.
func TestLateReplicaAdoptsTheClusterClock(t *testing.T) {
	t.Parallel()
	s := newSite(t, 1, 5*time.Second, true)
	s.advance(90 * time.Second)
	late := s.add(t, "late", 5*time.Second, true)
	if got, want := late.Clock().Now(), cluster.FakeEpoch.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("late replica at %s, want %s", got, want)
	}
}

// Replicas of one prefix must agree on the clock and the timeout.
func TestMismatchedReplicaRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t, 1, 5*time.Second, true)
	newUser(t).id(s.urls[0])
	_, err := cluster.New(context.Background(), cluster.Config{Redis: s.rdb, Prefix: s.prefix, Replica: "x", Timeout: 7 * time.Second, Clock: fakeclock.NewFake(cluster.FakeEpoch)})
	if err == nil || !strings.Contains(err.Error(), "timeout 5s") {
		t.Fatalf("a replica with another timeout joined: %v", err)
	}
}

func TestComponentBounds(t *testing.T) {
	t.Parallel()
	s := newSite(t, 2, 5*time.Second, true)
	u := newUser(t)
	if code, _ := u.get(s.urls[0] + "/components?app=a&key=k&set=v&default=d"); code != 400 {
		t.Fatalf("default and set: %d", code)
	}
	for i := range 8 {
		if code, body := u.get(s.urls[i%2] + "/components?app=a&key=k" + strconv.Itoa(i) + "&set=v"); code != 200 {
			t.Fatalf("component %d: %d %q", i, code, body)
		}
	}
	if code, _ := u.get(s.urls[0] + "/components?app=a&key=k9&set=v"); code != 507 {
		t.Fatalf("ninth component: %d, want 507", code)
	}
	if code, _ := u.get(s.urls[1] + "/components?app=a&key=k0&set=w"); code != 200 {
		t.Fatalf("replacing a component at the bound: %d", code)
	}
	for i := 1; i < 8; i++ {
		u.get(s.urls[0] + "/components?app=b" + strconv.Itoa(i) + "&key=k&set=v")
	}
	if code, _ := u.get(s.urls[1] + "/components?app=c9&key=k&set=v"); code != 507 {
		t.Fatalf("ninth application: %d, want 507", code)
	}
	if code, body := u.get(s.urls[1] + "/components?app=zz&key=k&default=d"); code != 200 || body != "d" {
		t.Fatalf("default: %d %q", code, body)
	}
}

func TestExpiredFeedWhole(t *testing.T) {
	t.Parallel()
	s := newSite(t, 1, 5*time.Second, true, func(c *cluster.Config) { c.FeedLimit = 3 })
	var ids []string
	for range 5 {
		u := newUser(t)
		ids = append(ids, u.id(s.urls[0]))
		u.get(s.urls[0] + "/logme")
		u.get(s.urls[0] + "/expire")
	}
	resp, err := http.Get(s.urls[0] + "/expired")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "# dropped 2 older lines\n" + strings.Join(ids[2:], "\n") + "\n"
	if string(b) != want || resp.Header.Get("X-Sessionspec-Dropped") != "2" {
		t.Fatalf("feed %q (dropped %q), want %q", b, resp.Header.Get("X-Sessionspec-Dropped"), want)
	}
	if n := s.fired(ids[0]); n != 0 {
		t.Fatalf("a dropped line still counted: %d", n)
	}
	// A query of no ids ("?&") asks for no lines, as the reference answers
	// it: 200 and an empty body, not a Redis error.
	resp, err = http.Get(s.urls[0] + "/expired?&")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(b) != 0 {
		t.Fatalf("GET /expired?&: %s %q, want 200 and no lines", resp.Status, b)
	}
	if n := s.fired(ids[4]); n != 1 {
		t.Fatalf("kept line counted %d", n)
	}
}

func TestDiscoveryNamesReplicas(t *testing.T) {
	t.Parallel()
	others := []string{"http://127.0.0.1:1/", "http://127.0.0.1:2/"}
	s := newSite(t, 1, 5*time.Second, true, func(c *cluster.Config) { c.Replicas = others })
	resp, err := http.Get(s.urls[0] + contract.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d, err := contract.ParseDiscovery(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Replicas, others) || d.Paths.Clock != contract.PathClock || d.Paths.Components == "" {
		t.Fatalf("discovery %s", b)
	}
}

// Deadlines are exact to the nanosecond, whatever the millisecond: a
// session visited at an instant between two milliseconds is there, for
// the sweep and for a lookup, a nanosecond before its timeout (in the
// same millisecond) and gone at it.
func TestExactToTheNanosecond(t *testing.T) {
	t.Parallel()
	const timeout = 5 * time.Second
	s := newSite(t, 2, timeout, true)
	s.advance(1500 * time.Nanosecond)
	swept, looked := newUser(t), newUser(t)
	sweptID, lookedID := swept.id(s.urls[0]), looked.id(s.urls[1])
	swept.get(s.urls[1] + "/logme")
	s.advance(timeout - time.Nanosecond)
	if swept.id(s.urls[1]) != sweptID || looked.id(s.urls[0]) != lookedID { // visits at epoch+5.000001499 s
		t.Fatal("gone a nanosecond before the timeout")
	}
	s.advance(timeout - time.Nanosecond) // the deadline's millisecond, a nanosecond short
	if n := s.fired(sweptID); n != 0 {
		t.Fatalf("swept a nanosecond before its timeout (%d)", n)
	}
	if looked.id(s.urls[0]) != lookedID {
		t.Fatal("a lookup a nanosecond before the timeout found no session")
	}
	s.advance(time.Nanosecond)
	if n := s.fired(sweptID); n != 1 {
		t.Fatalf("fired %d times at its timeout, want 1", n)
	}
	s.advance(timeout - 2*time.Nanosecond) // the looked-up one was last visited a nanosecond before
	if looked.id(s.urls[1]) != lookedID {
		t.Fatal("a lookup a nanosecond before the timeout found no session")
	}
	s.advance(timeout)
	if looked.id(s.urls[1]) == lookedID {
		t.Fatal("a lookup at the timeout found the session")
	}
}

// The same session expired on every replica at once, and swept by all of
// them at once: one notification.
func TestConcurrentEndingsFireOnce(t *testing.T) {
	t.Parallel()
	s := newSite(t, 3, 5*time.Second, true)
	var ids []string
	var wg sync.WaitGroup
	for i := range 30 {
		u := newUser(t)
		id := u.id(s.urls[i%3])
		u.get(s.urls[i%3] + "/logme")
		ids = append(ids, id)
		for _, r := range s.urls {
			wg.Go(func() {
				path := "/"
				if i%2 == 0 {
					path = "/expire"
				}
				resp, err := u.client.Get(r + path)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
	}
	wg.Wait()
	s.advance(5 * time.Second) // the odd ones time out, swept by all three at once
	for _, id := range ids {
		if n := s.fired(id); n != 1 {
			t.Errorf("session %s: %d notifications, want 1", id, n)
		}
	}
}
