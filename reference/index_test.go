package reference

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// TestUIDIndexCollisions forces every uid onto a handful of hashes, so
// the overflow map carries most sessions, and checks the index against a
// plain map through adds, lookups and removals in random order.
func TestUIDIndexCollisions(t *testing.T) {
	for _, mask := range []uint64{0, 3, ^uint64(0)} {
		x := newUIDIndex()
		x.mask = mask
		want := map[[uidBytes]byte]*Session{}
		var live []*Session
		rng := mrand.New(mrand.NewPCG(1, 0))
		for step := range 5000 {
			if len(live) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(live))
				s := live[i]
				x.remove(s)
				delete(want, s.id)
				live[i] = live[len(live)-1]
				live = live[:len(live)-1]
			} else {
				s := &Session{}
				rand.Read(s.id[:])
				if !x.add(s) {
					t.Fatalf("mask %x step %d: a fresh uid was refused", mask, step)
				}
				if x.add(&Session{id: s.id}) {
					t.Fatalf("mask %x step %d: a second session with a live uid was accepted", mask, step)
				}
				want[s.id] = s
				live = append(live, s)
			}
			if x.len() != len(want) {
				t.Fatalf("mask %x step %d: len %d, want %d", mask, step, x.len(), len(want))
			}
			if step%100 == 0 {
				for id, s := range want {
					if got := x.get(&id); got != s {
						t.Fatalf("mask %x step %d: get found %p, want %p", mask, step, got, s)
					}
				}
				var unknown [uidBytes]byte
				rand.Read(unknown[:])
				if x.get(&unknown) != nil {
					t.Fatalf("mask %x: an unknown uid was found", mask)
				}
			}
		}
	}
}

// TestSiteWithCollidingHashes runs a site whose uids all share one hash:
// lookups, expiry and the sweep still find exactly the right sessions.
func TestSiteWithCollidingHashes(t *testing.T) {
	clock := fakeclock.NewFake(time.Unix(0, 0))
	site := NewSite(Config{Clock: clock, SessionTimeout: time.Minute})
	site.sessions.mask = 0
	var all []*Session
	for range 50 {
		s, err := site.MakeSession()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	expired := 0
	for i, s := range all {
		s.NotifyOnExpire(func() { expired++ })
		if i%5 == 0 {
			s.Expire()
		}
	}
	for i, s := range all {
		got, ok := site.Session(s.UID())
		if live := i%5 != 0; ok != live || live && got != s {
			t.Fatalf("session %d: found %v (%p), want live=%v (%p)", i, ok, got, live, s)
		}
	}
	clock.Advance(time.Minute)
	if site.Len() != 0 || expired != len(all) {
		t.Fatalf("after the timeout: %d live, %d notifications; want 0 and %d", site.Len(), expired, len(all))
	}
}
