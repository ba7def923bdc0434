package reference_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

func TestConfigValidate(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, time.Nanosecond, time.Millisecond - 1, reference.MaxTimeout + 1, 100 * reference.MaxTimeout} {
		err := reference.Config{SessionTimeout: d}.Validate()
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("SessionTimeout %s: Validate = %v, want a one-line error", d, err)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), err.Error()) {
					t.Errorf("SessionTimeout %s: NewSite recovered %v, want a panic with %q", d, r, err)
				}
			}()
			reference.NewSite(reference.Config{SessionTimeout: d})
		}()
	}
	for _, d := range []time.Duration{0, time.Millisecond, time.Second, reference.DefaultTimeout, reference.MaxTimeout} {
		if err := (reference.Config{SessionTimeout: d}).Validate(); err != nil {
			t.Errorf("SessionTimeout %s: %v", d, err)
		}
	}
}

func TestDefaultMaxSessions(t *testing.T) {
	if got := reference.NewSite(reference.Config{}).MaxSessions(); got != reference.DefaultMaxSessions {
		t.Fatalf("default cap %d, want %d", got, reference.DefaultMaxSessions)
	}
	if got := reference.NewSite(reference.Config{MaxSessions: -1}).MaxSessions(); got != 0 {
		t.Fatalf("MaxSessions -1: cap %d, want none", got)
	}
	if got := reference.NewSite(reference.Config{MaxSessions: 7}).MaxSessions(); got != 7 {
		t.Fatalf("MaxSessions 7: cap %d", got)
	}
}

// A full site makes room by ending the oldest session never visited
// again; an evicted session has ended: gone for good, its callbacks run
// once.
func TestFullSiteEvictsOldestNeverRevisited(t *testing.T) {
	site, clock := newSite(t, reference.Config{MaxSessions: 3})
	var ended []string
	mk := func() *reference.Session {
		s := mustMake(t, site)
		s.NotifyOnExpire(func() { ended = append(ended, s.UID()) })
		clock.Advance(time.Millisecond)
		return s
	}
	a, b, c := mk(), mk(), mk()
	if _, ok := site.Session(a.UID()); !ok { // a has come back: worth keeping
		t.Fatal("a lost")
	}
	d := mk() // evicts b, the oldest never revisited
	if !b.Expired() || a.Expired() || c.Expired() || site.Len() != 3 {
		t.Fatalf("after d: a=%v b=%v c=%v live=%d; want only b ended", a.Expired(), b.Expired(), c.Expired(), site.Len())
	}
	if _, ok := site.Session(b.UID()); ok {
		t.Fatal("an evicted uid was found again")
	}
	e := mk() // evicts c
	if !c.Expired() || d.Expired() || e.Expired() {
		t.Fatal("the second eviction did not take c")
	}
	if want := []string{b.UID(), c.UID()}; !slices.Equal(ended, want) {
		t.Fatalf("callbacks ran for %v, want %v", ended, want)
	}
	if site.Evicted() != 2 {
		t.Fatalf("Evicted = %d, want 2", site.Evicted())
	}
	clock.Advance(10 * timeout)
	if n := len(ended); n != 5 || site.Len() != 0 {
		t.Fatalf("after the timeout: %d callbacks, %d live; want 5 and 0", n, site.Len())
	}
}

// When every session has been visited again, the least recently used
// goes; a session whose timeout has passed (its timer not yet run) goes
// before anything is evicted.
func TestFullSiteEvictsLeastRecentlyUsedThenOverdue(t *testing.T) {
	site, clock := newSite(t, reference.Config{MaxSessions: 3})
	var s [3]*reference.Session
	for i := range s {
		s[i] = mustMake(t, site)
		clock.Advance(time.Millisecond)
	}
	for _, i := range []int{2, 0, 1} { // 2 is now the least recently used
		site.Session(s[i].UID())
		clock.Advance(time.Millisecond)
	}
	mustMake(t, site)
	if !s[2].Expired() || s[0].Expired() || s[1].Expired() || site.Evicted() != 1 {
		t.Fatalf("ended %v %v %v (evicted %d); want only the least recently used", s[0].Expired(), s[1].Expired(), s[2].Expired(), site.Evicted())
	}

	stuck := &stuckClock{now: epoch}
	site = reference.NewSite(reference.Config{Clock: stuck, SessionTimeout: timeout, MaxSessions: 2})
	old := mustMake(t, site)
	stuck.now = stuck.now.Add(timeout) // old is due; its timer never runs
	young := mustMake(t, site)
	site.Session(young.UID())
	mustMake(t, site)
	if !old.Expired() || young.Expired() || site.Evicted() != 0 {
		t.Fatalf("old ended %v, young ended %v, evicted %d: want the overdue one expired, nothing evicted", old.Expired(), young.Expired(), site.Evicted())
	}
}

// One client flooding a full site with new sessions (no cookie sent back)
// locks nobody out: users who came back keep their sessions, and a
// newcomer during the flood gets a session that lives for its next visit.
func TestFloodLocksNobodyOut(t *testing.T) {
	const limit = 1000
	clock := fakeclock.NewFake(epoch)
	srv := reference.NewServer(reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout, MaxSessions: limit}), nil)
	users := make([]*browser, 10)
	for i := range users {
		users[i] = &browser{t: t, h: srv}
		users[i].get("/counter")
		users[i].get("/counter")
	}
	flood := func(n int) {
		for range n {
			if a := (&browser{t: t, h: srv}).get("/logme"); a.status != 200 {
				t.Fatalf("flood request: %d", a.status)
			}
		}
	}
	flood(5 * limit)
	newcomer := &browser{t: t, h: srv}
	newcomer.get("/counter")
	flood(limit / 2)
	if a := newcomer.get("/counter"); a.body != "Visit #2 for you!" {
		t.Fatalf("newcomer's second visit during the flood: %q, want its session kept", a.body)
	}
	for i, u := range users {
		if a := u.get("/counter"); a.body != "Visit #3 for you!" {
			t.Fatalf("user %d after the flood: %q, want its session kept", i, a.body)
		}
	}
	if n := srv.Site().Len(); n != limit {
		t.Fatalf("%d live sessions, want the cap %d", n, limit)
	}
	// Each evicted /logme session was notified, like any that ends.
	made := len(users) + 5*limit + 1 + limit/2
	if got, ev := len(srv.Expired()), int(srv.Site().Evicted()); got != ev || ev != made-limit {
		t.Fatalf("feed has %d lines, %d evictions; want one line per eviction, %d", got, ev, made-limit)
	}
}

// The eviction queue never holds many more entries than live sessions,
// whatever the churn: sessions expired explicitly and revisited ones are
// swept out of it.
func TestEvictionQueueStaysBounded(t *testing.T) {
	site, clock := newSite(t, reference.Config{MaxSessions: 100_000})
	keep := mustMake(t, site) // never revisited, never expired: it blocks the head
	_ = keep
	for i := range 50_000 {
		s := mustMake(t, site)
		if i%2 == 0 {
			s.Expire()
		} else {
			site.Session(s.UID())
		}
		if i%1000 == 0 {
			clock.Advance(time.Millisecond)
		}
	}
	live := site.Len()
	if n := reference.FreshLen(site); n > 2*live+1024+1 {
		t.Fatalf("eviction queue holds %d entries for %d live sessions", n, live)
	}
}
