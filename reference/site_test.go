package reference_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const timeout = 5 * time.Second

func newSite(t *testing.T, cfg reference.Config) (*reference.Site, *fakeclock.Fake) {
	t.Helper()
	clock := fakeclock.NewFake(epoch)
	cfg.Clock = clock
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = timeout
	}
	return reference.NewSite(cfg), clock
}

func mustMake(t *testing.T, site *reference.Site) *reference.Session {
	t.Helper()
	s, err := site.MakeSession()
	if err != nil {
		t.Fatalf("MakeSession: %v", err)
	}
	return s
}

func TestDefaultTimeoutIsFifteenMinutes(t *testing.T) {
	site := reference.NewSite(reference.Config{Clock: fakeclock.NewFake(epoch)})
	if got := site.SessionTimeout(); got != 900*time.Second {
		t.Fatalf("default timeout = %s, want 15m0s", got)
	}
}

// The inactivity boundary is exact: alive at timeout-1ns after the last
// access, gone at timeout.
func TestExpiresExactlyAtTimeout(t *testing.T) {
	site, clock := newSite(t, reference.Config{})
	s := mustMake(t, site)
	clock.Advance(timeout - time.Nanosecond)
	if s.Expired() || site.Len() != 1 {
		t.Fatalf("at timeout-1ns: expired=%v live=%d, want alive", s.Expired(), site.Len())
	}
	clock.Advance(time.Nanosecond)
	if !s.Expired() || site.Len() != 0 {
		t.Fatalf("at timeout: expired=%v live=%d, want gone", s.Expired(), site.Len())
	}
	if _, ok := site.Session(s.UID()); ok {
		t.Fatal("an expired uid was found again")
	}
}

// A touch at timeout-1ns extends the session to 2*timeout-1ns.
func TestTouchExtendsFromLastAccess(t *testing.T) {
	site, clock := newSite(t, reference.Config{})
	s := mustMake(t, site)
	clock.Advance(timeout - time.Nanosecond)
	s.Touch()
	if want := epoch.Add(timeout - time.Nanosecond); !s.LastAccess().Equal(want) {
		t.Fatalf("LastAccess = %s, want %s", s.LastAccess(), want)
	}
	clock.Advance(timeout - time.Nanosecond) // now 2*timeout-2ns
	if s.Expired() {
		t.Fatal("expired at 2*timeout-2ns, want alive until 2*timeout-1ns")
	}
	clock.Advance(time.Nanosecond) // now 2*timeout-1ns
	if !s.Expired() {
		t.Fatal("alive at 2*timeout-1ns, want expired")
	}
}

// Looking a session up is an access: it refreshes the timer, as the docs'
// "keep visiting it to keep your session active" requires.
func TestLookupRefreshes(t *testing.T) {
	site, clock := newSite(t, reference.Config{})
	s := mustMake(t, site)
	for range 10 {
		clock.Advance(timeout - time.Second)
		if _, ok := site.Session(s.UID()); !ok {
			t.Fatalf("session lost at %s though visited every %s", clock.Now().Sub(epoch), timeout-time.Second)
		}
	}
	clock.Advance(timeout)
	if !s.Expired() {
		t.Fatal("still alive a full timeout after the last visit")
	}
}

// stuckClock is a clock whose timers never fire: it shows that a lookup
// alone enforces the timeout, as it must on a real clock whose timer runs
// late.
type stuckClock struct{ now time.Time }

func (c *stuckClock) Now() time.Time { return c.now }
func (c *stuckClock) AfterFunc(time.Duration, func()) fakeclock.Timer {
	return stuckTimer{}
}

type stuckTimer struct{}

func (stuckTimer) Stop() bool               { return true }
func (stuckTimer) Reset(time.Duration) bool { return true }

func TestLookupEnforcesTimeoutWithoutTimer(t *testing.T) {
	clock := &stuckClock{now: epoch}
	var fired []string
	site := reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout})
	s := mustMake(t, site)
	s.NotifyOnExpire(func() { fired = append(fired, s.UID()) })
	clock.now = clock.now.Add(timeout - time.Nanosecond)
	if _, ok := site.Session(s.UID()); !ok {
		t.Fatal("lookup at timeout-1ns failed")
	}
	clock.now = clock.now.Add(timeout)
	if _, ok := site.Session(s.UID()); ok {
		t.Fatal("lookup a full timeout after the last access found the session")
	}
	if !slices.Equal(fired, []string{s.UID()}) {
		t.Fatalf("notifications = %v, want exactly one for %s", fired, s.UID())
	}
}

// Callbacks run once per registration, in registration order, whichever
// way the session ends; a second Expire changes nothing.
func TestNotifyOnExpireOncePerRegistrationInOrder(t *testing.T) {
	for _, path := range []string{"explicit", "timeout"} {
		t.Run(path, func(t *testing.T) {
			site, clock := newSite(t, reference.Config{})
			s := mustMake(t, site)
			other := mustMake(t, site)
			var got []string
			for _, name := range []string{"a", "b", "a"} {
				s.NotifyOnExpire(func() {
					if !s.Expired() {
						t.Errorf("callback %s ran before the session was removed", name)
					}
					got = append(got, name)
				})
			}
			other.NotifyOnExpire(func() { got = append(got, "other") })
			clock.Advance(timeout / 2)
			other.Touch()
			if path == "explicit" {
				s.Expire()
				s.Expire()
			} else {
				clock.Advance(timeout/2 - time.Nanosecond)
				if len(got) != 0 {
					t.Fatalf("callbacks ran before the timeout: %v", got)
				}
				clock.Advance(time.Nanosecond)
			}
			if want := []string{"a", "b", "a"}; !slices.Equal(got, want) {
				t.Fatalf("callbacks = %v, want %v", got, want)
			}
			clock.Advance(10 * timeout)
			if want := []string{"a", "b", "a", "other"}; !slices.Equal(got, want) {
				t.Fatalf("callbacks = %v, want %v", got, want)
			}
			if clock.Len() != 0 {
				t.Fatalf("%d timers still pending with no live session", clock.Len())
			}
		})
	}
}

func TestPanickingCallbackDoesNotStopOthers(t *testing.T) {
	var panics []any
	site, clock := newSite(t, reference.Config{OnCallbackPanic: func(uid string, r any) { panics = append(panics, r) }})
	s := mustMake(t, site)
	var ran []int
	s.NotifyOnExpire(func() { ran = append(ran, 1) })
	s.NotifyOnExpire(func() { panic("boom") })
	s.NotifyOnExpire(func() { ran = append(ran, 3) })
	clock.Advance(timeout)
	if !slices.Equal(ran, []int{1, 3}) || len(panics) != 1 || panics[0] != "boom" {
		t.Fatalf("ran=%v panics=%v, want [1 3] and one panic", ran, panics)
	}
	if clock.Len() != 0 {
		t.Fatalf("%d timers left armed after the only session expired", clock.Len())
	}
	clock.Advance(timeout)
	if !slices.Equal(ran, []int{1, 3}) {
		t.Fatalf("callbacks ran again: %v", ran)
	}
}

func TestNotifyOnExpiredSessionRunsAtOnce(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	s := mustMake(t, site)
	s.Expire()
	ran := false
	s.NotifyOnExpire(func() { ran = true })
	if !ran {
		t.Fatal("a registration on an ended session was lost")
	}
}

// constReader returns the same 32 bytes forever, then whatever follows.
type seqReader struct{ blocks [][]byte }

func (r *seqReader) Read(p []byte) (int, error) {
	if len(r.blocks) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.blocks[0])
	r.blocks = r.blocks[1:]
	return n, nil
}

func TestUIDShapeAndCollision(t *testing.T) {
	a, b := bytes.Repeat([]byte{0xab}, 32), bytes.Repeat([]byte{0x01}, 32)
	site, _ := newSite(t, reference.Config{Random: &seqReader{blocks: [][]byte{a, a, b, a, a, a, a}}})
	s1, s2 := mustMake(t, site), mustMake(t, site)
	if s1.UID() != strings.Repeat("ab", 32) || s2.UID() != strings.Repeat("01", 32) {
		t.Fatalf("uids %s, %s: a colliding draw was not redrawn", s1.UID(), s2.UID())
	}
	if _, err := site.MakeSession(); err == nil {
		t.Fatal("a source that only repeats a live uid still produced a session")
	}
	real := reference.NewSite(reference.Config{Clock: fakeclock.NewFake(epoch)})
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for range 1000 {
		u := mustMake(t, real).UID()
		if !hex64.MatchString(u) || seen[u] {
			t.Fatalf("uid %q malformed or repeated", u)
		}
		seen[u] = true
	}
}

func TestComponentsLiveWithTheSession(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	s := mustMake(t, site)
	type key struct{}
	n := 0
	mk := func() any { n++; return n }
	if s.Component(key{}, mk) != 1 || s.Component(key{}, mk) != 1 {
		t.Fatal("Component did not keep the first object")
	}
	s.SetComponent(key{}, 42)
	if s.Component(key{}, mk) != 42 {
		t.Fatal("SetComponent did not replace the object")
	}
	s.Expire()
	s2 := mustMake(t, site)
	if s2.Component(key{}, mk) != 2 {
		t.Fatal("a new session saw another session's object")
	}
}

// Many clients at once, with the clock moving: every session that expires
// is notified exactly once, and none is notified while still in use.
func TestConcurrentAccessAndAdvance(t *testing.T) {
	site, clock := newSite(t, reference.Config{})
	var mu sync.Mutex
	notified := map[string]int{}
	var wg sync.WaitGroup
	const clients, visits = 16, 200
	uids := make([]string, clients)
	for i := range clients {
		s := mustMake(t, site)
		uids[i] = s.UID()
		s.NotifyOnExpire(func() { mu.Lock(); notified[s.UID()]++; mu.Unlock() })
	}
	stop := make(chan struct{})
	var adv sync.WaitGroup
	adv.Add(1)
	go func() {
		defer adv.Done()
		for {
			select {
			case <-stop:
				return
			default:
				clock.Advance(time.Millisecond)
				runtime.Gosched() // wasm has no preemption: let the clients run
			}
		}
	}()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range visits {
				site.Session(uids[i])
			}
		}()
	}
	wg.Wait()
	close(stop)
	adv.Wait()
	clock.Advance(timeout)
	for _, u := range uids {
		if notified[u] != 1 {
			t.Fatalf("session %s notified %d times, want 1", u, notified[u])
		}
	}
}

// TLS sessions use their own cookie and are never found over plain HTTP.
func TestSecureSessions(t *testing.T) {
	site, _ := newSite(t, reference.Config{})
	req := httptest.NewRequest("GET", "https://localhost/", nil)
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	s, err := site.GetSession(w, req)
	if err != nil {
		t.Fatal(err)
	}
	want := "TWISTED_SECURE_SESSION=" + s.UID() + "; Path=/; HttpOnly; SameSite=Lax; Secure"
	if got := w.Header().Get("Set-Cookie"); got != want {
		t.Fatalf("Set-Cookie = %q, want %q", got, want)
	}
	plain := httptest.NewRequest("GET", "http://localhost/", nil)
	plain.Header.Set("Cookie", "TWISTED_SESSION="+s.UID())
	w = httptest.NewRecorder()
	s2, _ := site.GetSession(w, plain)
	if s2.UID() == s.UID() {
		t.Fatal("a secure session was adopted over plain HTTP")
	}
	if _, ok := site.Session(s.UID()); ok {
		t.Fatal("Site.Session (plain) found a secure session")
	}
	_ = http.StatusOK
}
