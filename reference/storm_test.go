package reference_test

import (
	"testing"

	"github.com/sessionspec/sessionspec/reference"
)

// TestStormInBatches: more sessions than one sweep batch expire at the
// same instant, some refreshed on the way and one looked up by another
// session's callback; each notification runs exactly once, the refreshed
// ones survive, and the site ends empty.
func TestStormInBatches(t *testing.T) {
	site, clock := newSite(t, reference.Config{})
	const n = 1000
	sessions := make([]*reference.Session, n)
	fired := make([]int, n)
	for i := range sessions {
		sessions[i] = mustMake(t, site)
	}
	for i, s := range sessions {
		s.NotifyOnExpire(func() {
			fired[i]++
			// A lookup from a callback, of a session that may or may not
			// have been swept yet, never brings it back.
			if _, ok := site.Session(sessions[(i+1)%n].UID()); ok && (i+1)%n%10 != 0 {
				t.Errorf("session %d found alive from session %d's callback", (i+1)%n, i)
			}
		})
	}
	clock.Advance(timeout / 2)
	for i := 0; i < n; i += 10 {
		sessions[i].Touch()
	}
	clock.Advance(timeout / 2)
	for i, k := range fired {
		if want := min(1, i%10); k != want {
			t.Fatalf("session %d: %d notifications after the timeout, want %d", i, k, want)
		}
	}
	if got := site.Len(); got != n/10 {
		t.Fatalf("%d sessions live, want the %d refreshed ones", got, n/10)
	}
	clock.Advance(timeout)
	for i, k := range fired {
		if k != 1 {
			t.Fatalf("session %d: %d notifications in all, want 1", i, k)
		}
	}
	if site.Len() != 0 {
		t.Fatalf("%d sessions left", site.Len())
	}
}

// TestStormSurvivesAPanickingHook: when the OnCallbackPanic hook itself
// panics in the middle of a storm, the panic reaches the caller, and the
// sessions still due are swept by the next advance; no notification runs
// twice.
func TestStormSurvivesAPanickingHook(t *testing.T) {
	hookPanicked := false
	site, clock := newSite(t, reference.Config{OnCallbackPanic: func(string, any) {
		if !hookPanicked {
			hookPanicked = true
			panic("the hook itself")
		}
	}})
	const n = 1000
	fired := make([]int, n)
	first := true
	for i := range n {
		s := mustMake(t, site)
		s.NotifyOnExpire(func() {
			fired[i]++
			if first { // the first to run, in the first batch
				first = false
				panic("a callback")
			}
		})
	}
	func() {
		defer func() {
			if r := recover(); r != "the hook itself" {
				t.Fatalf("recovered %v, want the hook's panic", r)
			}
		}()
		clock.Advance(timeout)
	}()
	if site.Len() == 0 {
		t.Fatal("the whole storm was swept before the panic; the test needs a panic in an early batch")
	}
	clock.Advance(0)
	if site.Len() != 0 {
		t.Fatalf("%d sessions left after the storm and one more advance", site.Len())
	}
	ran := 0
	for i, k := range fired {
		if k > 1 {
			t.Fatalf("session %d notified %d times", i, k)
		}
		ran += k
	}
	// Only the rest of the batch the hook panicked in can be lost.
	if ran < n-256 {
		t.Fatalf("%d of %d notifications ran", ran, n)
	}
}
