package faulty

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// browser is one user of a target over HTTP, with a real cookie jar.
type browser struct {
	t    *testing.T
	base *url.URL
	jar  *cookiejar.Jar
	hc   *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	t.Helper()
	base, _ := url.Parse(srv.URL)
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, jar: jar, hc: &http.Client{Jar: jar}}
}

// reply is what a browser got back.
type reply struct {
	status     int
	body       string
	setCookies []string
}

func (b *browser) do(method, path string) reply {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base.String()+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(body), resp.Header.Values("Set-Cookie")}
}

func (b *browser) get(path string) reply { b.t.Helper(); return b.do("GET", path) }

var pageID = regexp.MustCompile(`^Your session id is: ([0-9a-f]{64})$`)

// visit returns the id the session page shows; it fails the test if the
// page shows none.
func (b *browser) visit() string {
	b.t.Helper()
	r := b.get("/")
	m := pageID.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		b.t.Fatalf("GET /: %d %q, want a session page", r.status, r.body)
	}
	return m[1]
}

// count returns the counter's value.
func (b *browser) count() int {
	b.t.Helper()
	r := b.get("/counter")
	m := regexp.MustCompile(`\d+`).FindString(r.body)
	n, err := strconv.Atoi(m)
	if r.status != 200 || err != nil {
		b.t.Fatalf("GET /counter: %d %q", r.status, r.body)
	}
	return n
}

// snapshot is a copy of the whole cookie jar.
func (b *browser) snapshot() []*http.Cookie { return b.jar.Cookies(b.base) }

// replaying returns a new browser whose jar holds snap, as a browser
// restored from a backup (or an attacker with a copied jar) would.
func (b *browser) replaying(srv *httptest.Server, snap []*http.Cookie) *browser {
	o := newBrowser(b.t, srv)
	o.jar.SetCookies(o.base, snap)
	return o
}

func cookieNames(cs []*http.Cookie) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

func serveFault(t *testing.T, f Fault, timeout time.Duration) (*httptest.Server, *fakeclock.Fake) {
	t.Helper()
	clock := fakeclock.NewFake(start)
	srv := httptest.NewServer(New(f, clock, timeout))
	t.Cleanup(srv.Close)
	return srv, clock
}

// The full jar, replayed after /expire, brings the session back with its
// counter: the server keeps no record of what it ended.
func TestSignedCookieRevives(t *testing.T) {
	srv, clock := serveFault(t, SignedCookieRevives, reference.DefaultTimeout)
	alice := newBrowser(t, srv)
	id := alice.visit()
	alice.count()
	if n := alice.count(); n != 2 {
		t.Fatalf("counter %d, want 2", n)
	}
	snap := alice.snapshot()
	if names := strings.Join(cookieNames(snap), ","); !strings.Contains(names, "sess") || !strings.Contains(names, "sess.sig") {
		t.Fatalf("the jar holds %s, want sess and sess.sig", names)
	}
	if r := alice.get("/expire"); r.status != 200 || r.body != "Your session has been expired." {
		t.Fatalf("GET /expire: %d %q", r.status, r.body)
	}
	if left := alice.snapshot(); len(left) != 0 {
		t.Fatalf("/expire left %v in the jar", cookieNames(left))
	}
	if again := alice.visit(); again == id {
		t.Fatal("after /expire the top page still shows the old session: the fault would be caught by EXPIRE-001, not EXPIRE-002")
	}
	clock.Advance(time.Minute)
	replay := alice.replaying(srv, snap)
	if got := replay.visit(); got != id {
		t.Fatalf("the replayed jar got session %s, want the expired %s back (the defect)", got, id)
	}
	if n := replay.count(); n != 3 {
		t.Fatalf("the revived session's counter is %d, want 3: its stored objects came back too", n)
	}
	// Only a whole pair is accepted: the value cookie alone (today's
	// EXPIRE-002 replays just the session cookie) is not.
	var valueOnly []*http.Cookie
	for _, c := range snap {
		if c.Name == "sess" {
			valueOnly = append(valueOnly, c)
		}
	}
	if got := alice.replaying(srv, valueOnly).visit(); got == id {
		t.Fatal("the value cookie without its signature was accepted")
	}
	// A forged value is not accepted either.
	mallory := alice.replaying(srv, []*http.Cookie{{Name: "sess", Value: "eyJpZCI6IjAwMCJ9"}, {Name: "sess.sig", Value: "AAAA"}})
	if got := mallory.visit(); got == id || got == "000" {
		t.Fatal("a forged pair was accepted")
	}
	// The timeout holds: the pair is no good once it has been idle that long.
	clock.Advance(reference.DefaultTimeout)
	if got := alice.replaying(srv, snap).visit(); got == id {
		t.Fatal("the pair still works a timeout later")
	}
}

// An older jar of a live session rolls its counter back, with or
// without a revocation list; with one, an expired session stays dead.
func TestSignedCookieRollback(t *testing.T) {
	for _, f := range []Fault{SignedCookieRollback, SignedCookieRevives} {
		t.Run(string(f), func(t *testing.T) {
			srv, _ := serveFault(t, f, reference.DefaultTimeout)
			alice := newBrowser(t, srv)
			id := alice.visit()
			alice.count()
			snap := alice.snapshot() // counter 1
			for want := 2; want <= 4; want++ {
				if n := alice.count(); n != want {
					t.Fatalf("counter %d, want %d", n, want)
				}
			}
			old := alice.replaying(srv, snap)
			if got := old.visit(); got != id {
				t.Fatalf("the older jar got %s, want the same session %s", got, id)
			}
			if n := old.count(); n != 2 {
				t.Fatalf("the older jar counts %d, want 2 (rolled back from 4)", n)
			}
			if n := alice.count(); n != 5 {
				t.Fatalf("alice counts %d, want 5: the session forked", n)
			}
			alice.get("/expire")
			revived := alice.replaying(srv, snap).visit() == id
			if want := f == SignedCookieRevives; revived != want {
				t.Fatalf("after /expire the old jar revived the session: %v, want %v", revived, want)
			}
		})
	}
}

// A cookie naming a session /expire destroyed gets a new session with
// that id; an id the store never issued is not adopted.
func TestAdoptsDestroyedIDs(t *testing.T) {
	for _, tc := range []struct {
		f      Fault
		adopts bool
	}{{AdoptsDestroyedIDs, true}, {NoExpiryHook, false}} { // the same store without the defect
		t.Run(string(tc.f), func(t *testing.T) {
			srv, _ := serveFault(t, tc.f, reference.DefaultTimeout)
			alice := newBrowser(t, srv)
			id := alice.visit()
			alice.count()
			alice.count()
			snap := alice.snapshot()
			alice.get("/expire")
			if alice.visit() == id {
				t.Fatal("after /expire the top page shows the old session")
			}
			replay := alice.replaying(srv, snap)
			if got := replay.visit(); (got == id) != tc.adopts {
				t.Fatalf("the replayed cookie got %s; the expired id was %s; adopting it: want %v", got, id, tc.adopts)
			}
			if n := replay.count(); n != 1 {
				t.Fatalf("the replayed session counts %d, want 1: a new session, whatever its id", n)
			}
			forged := strings.Repeat("ab", 32)
			mallory := alice.replaying(srv, []*http.Cookie{{Name: contract.CookieName, Value: forged}})
			if mallory.visit() == forged {
				t.Fatal("an id the store never issued was adopted")
			}
		})
	}
}

// storeAt returns a store on a fake clock that starts at phase past a
// whole second.
func storeAt(phase time.Duration, cfg storeConfig) (*memStore, *fakeclock.Fake) {
	clock := fakeclock.NewFake(start.Add(phase))
	cfg.cookie, cfg.clock, cfg.hooks, cfg.discovery = contract.CookieName, clock, true, true
	return newMemStore(cfg), clock
}

// visitRec visits h's session page with cookie (none if empty) and
// returns the id shown and the session cookie set, if any.
func visitRec(t *testing.T, h http.Handler, path, cookie string) (id, set string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", contract.CookieName+"="+cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if m := pageID.FindStringSubmatch(w.Body.String()); m != nil {
		id = m[1]
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == contract.CookieName && c.MaxAge >= 0 {
			set = c.Value
		}
	}
	return id, set
}

// aliveAfter makes a session on a fresh store whose clock starts at
// phase, idles idle, and reports whether the session is still there.
func aliveAfter(t *testing.T, cfg storeConfig, phase, idle time.Duration) bool {
	t.Helper()
	s, clock := storeAt(phase, cfg)
	id, _ := visitRec(t, s, "/", "")
	clock.Advance(idle)
	again, _ := visitRec(t, s, "/", id)
	return again == id
}

// A whole-second store keeps a 3 s session for 4 s less the phase of its
// last access within its second: alive at timeout+0.5 s when made at
// .1 s, and gone at the latest a second after its timeout. The same store
// stamping exact times is exact.
func TestWholeSecondTimestamps(t *testing.T) {
	const timeout = 3 * time.Second
	whole := storeConfig{timeout: timeout, wholeSeconds: true}
	if !aliveAfter(t, whole, 100*time.Millisecond, timeout+500*time.Millisecond) {
		t.Fatal("made at .1 s, the session is gone at timeout+0.5 s; want it alive (the defect)")
	}
	for _, ms := range []int{0, 1, 100, 500, 900, 999} {
		phase := time.Duration(ms) * time.Millisecond
		gone := timeout + time.Second - phase // the next whole second after timeout+1 s
		if ms == 0 {
			gone = timeout + time.Second
		}
		if !aliveAfter(t, whole, phase, gone-time.Nanosecond) || aliveAfter(t, whole, phase, gone) {
			t.Errorf("phase %s: want alive at %s and gone at %s", phase, gone-time.Nanosecond, gone)
		}
		if gone <= timeout || gone > timeout+time.Second {
			t.Errorf("phase %s: lifetime %s is not in (timeout, timeout+1s]: the MUST cases would catch it", phase, gone)
		}
		exact := storeConfig{timeout: timeout}
		if !aliveAfter(t, exact, phase, timeout-time.Nanosecond) || aliveAfter(t, exact, phase, timeout) {
			t.Errorf("phase %s: the exact store does not expire at its timeout", phase)
		}
	}

	// The expiry notification fires when the session goes, not before.
	s, clock := storeAt(100*time.Millisecond, whole)
	id, _ := visitRec(t, s, "/", "")
	visitRec(t, s, "/logme", id)
	clock.Advance(timeout + 900*time.Millisecond - time.Nanosecond)
	if feed := feedOf(t, s); feed != "" {
		t.Fatalf("feed %q before the session went", feed)
	}
	clock.Advance(time.Nanosecond)
	if feed := feedOf(t, s); feed != id+"\n" {
		t.Fatalf("feed %q when the session went, want its id", feed)
	}

	// As served: on the wall clock, advertising its short timeout and no clock.
	d := discoveryOf(t, New(WholeSecondTimestamps, fakeclock.NewFake(start), timeout))
	if d.Timeout(0) != timeout || d.Paths.Clock != "" {
		t.Fatalf("discovery: timeout %s, clock %q; want %s and none", d.Timeout(0), d.Paths.Clock, timeout)
	}
}

func feedOf(t *testing.T, h http.Handler) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/expired", nil))
	if w.Code != 200 {
		t.Fatalf("GET /expired: %d", w.Code)
	}
	return w.Body.String()
}

// discoveryOf reads h's discovery document; it fails the test if h
// serves none or a bad one.
func discoveryOf(t *testing.T, h http.Handler) contract.Discovery {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", contract.PathDiscovery, nil))
	d, err := contract.ParseDiscovery(w.Body.Bytes())
	if w.Code != 200 || err != nil {
		t.Fatalf("discovery: %d %v", w.Code, err)
	}
	return d
}

func statusOf(h http.Handler, method, path string) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w.Code
}

// No expiry hook: /logme and /expired are 404 (listed in the discovery
// document, or no document at all); everything else works.
func TestNoExpiryHook(t *testing.T) {
	for _, f := range []Fault{NoExpiryHook, NoExpiryHookNoDiscovery} {
		t.Run(string(f), func(t *testing.T) {
			srv, clock := serveFault(t, f, reference.DefaultTimeout)
			h := srv.Config.Handler
			if f == NoExpiryHook {
				d := discoveryOf(t, h)
				if d.Paths.LogMe != contract.PathLogMe || d.Paths.Expired != contract.PathExpired || d.Paths.Clock != contract.PathClock {
					t.Fatalf("discovery paths %+v: want logme and expired listed, and the clock", *d.Paths)
				}
			} else if code := statusOf(h, "GET", contract.PathDiscovery); code != 404 {
				t.Fatalf("discovery: %d, want 404", code)
			}
			alice := newBrowser(t, srv)
			id := alice.visit()
			for _, p := range []string{"/logme", "/expired"} {
				if r := alice.get(p); r.status != 404 {
					t.Fatalf("GET %s: %d, want 404", p, r.status)
				}
			}
			if alice.visit() != id || alice.count() != 1 || alice.count() != 2 {
				t.Fatal("the session or its counter does not persist")
			}
			if r := alice.do("POST", "/_clock?advance="+contract.FormatAdvance(reference.DefaultTimeout)); r.status != 200 {
				t.Fatalf("POST /_clock: %d %q", r.status, r.body)
			}
			if clock.Now() != start.Add(reference.DefaultTimeout) || alice.visit() == id {
				t.Fatal("the session outlived its timeout")
			}
		})
	}
}

// The cookie is "sid", there is no discovery document, and the rest is
// the contract, expiry notifications included.
func TestCustomCookieNoDiscovery(t *testing.T) {
	srv, clock := serveFault(t, CustomCookieNoDiscovery, reference.DefaultTimeout)
	h := srv.Config.Handler
	if code := statusOf(h, "GET", contract.PathDiscovery); code != 404 {
		t.Fatalf("discovery: %d, want 404", code)
	}
	alice := newBrowser(t, srv)
	r := alice.get("/")
	m := pageID.FindStringSubmatch(r.body)
	if m == nil || len(r.setCookies) != 1 || !strings.HasPrefix(r.setCookies[0], "sid="+m[1]+";") {
		t.Fatalf("first visit: %q, Set-Cookie %q; want one cookie sid=<the id shown>", r.body, r.setCookies)
	}
	id := m[1]
	if r := alice.get("/"); r.body != "Your session id is: "+id || len(r.setCookies) != 0 {
		t.Fatalf("reload: %q, Set-Cookie %q", r.body, r.setCookies)
	}
	alice.get("/logme")
	clock.Advance(reference.DefaultTimeout - time.Nanosecond)
	if alice.visit() != id {
		t.Fatal("the session is gone before its timeout")
	}
	clock.Advance(reference.DefaultTimeout)
	if r := alice.get("/expired"); r.body != id+"\n" {
		t.Fatalf("feed %q, want the id", r.body)
	}
	if alice.visit() == id {
		t.Fatal("the session outlived its timeout")
	}
}

// A malformed or never-issued cookie leaves the client with no session
// and no cookie; a stale one (issued, since timed out) gets a new one.
func TestDropsSessionOnHostileCookie(t *testing.T) {
	for _, tc := range []struct {
		f     Fault
		drops bool
	}{{DropsSessionOnHostileCookie, true}, {CustomCookieNoDiscovery, false}} {
		t.Run(string(tc.f), func(t *testing.T) {
			clock := fakeclock.NewFake(start)
			h := New(tc.f, clock, reference.DefaultTimeout)
			name := contract.CookieName
			if tc.f == CustomCookieNoDiscovery {
				name = "sid"
			}
			for _, v := range []string{strings.Repeat("ab", 32), "zzz", `""`, "../../etc/passwd", strings.Repeat("a", 8<<10)} {
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("Cookie", name+"="+v)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				left := w.Code == 200 && !strings.Contains(w.Body.String(), "Your session id is: ") && len(w.Result().Cookies()) == 0
				if left != tc.drops {
					t.Errorf("Cookie %s=%.20s: %d %q, Set-Cookie %q; left without a session: %v, want %v",
						name, v, w.Code, w.Body.String(), w.Header().Values("Set-Cookie"), left, tc.drops)
				}
			}
			// The rest of the contract holds: a session without a cookie,
			// kept, and a new one for a stale id.
			req := httptest.NewRequest("GET", "/", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			cs := w.Result().Cookies()
			if len(cs) != 1 || !strings.Contains(w.Body.String(), cs[0].Value) {
				t.Fatalf("no cookie: %q, %q", w.Body.String(), w.Header().Values("Set-Cookie"))
			}
			stale := cs[0].Value
			clock.Advance(reference.DefaultTimeout)
			req = httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Cookie", name+"="+stale)
			w = httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if m := pageID.FindStringSubmatch(w.Body.String()); m == nil || m[1] == stale || len(w.Result().Cookies()) != 1 {
				t.Fatalf("stale cookie: %q, %q; want a new session", w.Body.String(), w.Header().Values("Set-Cookie"))
			}
		})
	}
}

// The store under NeverExpiresWall keeps a session however long it
// idles; as served, it advertises the default timeout and no clock.
func TestNeverExpiresWall(t *testing.T) {
	cfg := storeConfig{timeout: reference.DefaultTimeout, neverExpires: true}
	if !aliveAfter(t, cfg, 0, 100*reference.DefaultTimeout) {
		t.Fatal("the session expired")
	}
	h := New(NeverExpiresWall, fakeclock.NewFake(start), reference.DefaultTimeout)
	d := discoveryOf(t, h)
	if d.Timeout(0) != contract.DefaultTimeout || d.Paths.Clock != "" {
		t.Fatalf("discovery: timeout %s, clock %q; want 900s and none", d.Timeout(0), d.Paths.Clock)
	}
	if code := statusOf(h, "POST", "/_clock?advance=1s"); code != 404 {
		t.Fatalf("POST /_clock: %d, want 404 (a wall-clock target)", code)
	}
	// Explicit expiry still works: the defect is the timeout alone.
	id, _ := visitRec(t, h, "/", "")
	visitRec(t, h, "/logme", id)
	visitRec(t, h, "/expire", id)
	if feed := feedOf(t, h); feed != id+"\n" {
		t.Fatalf("feed %q after /expire, want the id", feed)
	}
}

// Every entry is well formed, and its target serves the session page
// and, if it has one, a discovery document that matches the entry.
func TestEntries(t *testing.T) {
	seen := map[Fault]bool{}
	for _, list := range []struct {
		name    string
		entries []Entry
	}{{"Faults", Faults}, {"Honest", Honest}} {
		for _, e := range list.entries {
			t.Run(string(e.Fault), func(t *testing.T) {
				if seen[e.Fault] {
					t.Fatal("listed twice")
				}
				seen[e.Fault] = true
				if f, err := Parse(string(e.Fault)); err != nil || f != e.Fault {
					t.Fatalf("Parse: %q, %v", f, err)
				}
				switch {
				case !regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`).MatchString(string(e.Fault)):
					t.Fatal("the name is not kebab-case")
				case (e.Verdict == Caught) != (e.CaughtBy != ""):
					t.Fatalf("verdict %q with CaughtBy %q", e.Verdict, e.CaughtBy)
				case e.CaughtBy != "" && !regexp.MustCompile(`^[A-Z]+-\d{3}$`).MatchString(e.CaughtBy):
					t.Fatalf("CaughtBy %q is not a case ID", e.CaughtBy)
				case (list.name == "Honest") != (e.Verdict == Passes):
					t.Fatalf("verdict %q in %s", e.Verdict, list.name)
				case e.Wall && e.Timeout == 0:
					t.Fatal("a wall-clock target needs its timeout in the entry")
				}
				timeout := e.TimeoutOr(reference.DefaultTimeout)
				h := New(e.Fault, fakeclock.NewFake(start), timeout)
				if id, _ := visitRec(t, h, "/", ""); id == "" {
					t.Fatal("GET / shows no session id")
				}
				if statusOf(h, "GET", contract.PathDiscovery) == 404 {
					if len(e.Flags) == 0 || e.Timeout != contract.DefaultTimeout {
						t.Fatal("no discovery document, yet no flags to check it with or a timeout other than the default")
					}
					return
				}
				d := discoveryOf(t, h)
				if d.Timeout(0) != timeout || (d.Paths.Clock == "") != e.Wall {
					t.Fatalf("discovery: timeout %s, clock %q; the entry says %s, wall %v", d.Timeout(0), d.Paths.Clock, timeout, e.Wall)
				}
			})
		}
	}
	if _, err := Parse("nope"); err == nil || !strings.Contains(err.Error(), string(SignedCookieRevives)) {
		t.Fatalf("Parse(nope): %v", err)
	}
	if !Matches([]string{"NOTIFY-"}, "NOTIFY-003") || Matches([]string{"NOTIFY-"}, "TIMEOUT-001") || !Matches([]string{"PERSIST-005"}, "PERSIST-005") {
		t.Fatal("Matches")
	}
}
