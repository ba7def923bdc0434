package reference

import (
	"math/rand/v2"
	"testing"
)

// TestFeedIndexAgainstModel logs uids from a small pool, so that they
// repeat, into feeds small enough to drop often, with hashes masked so
// that they collide (all of them, or many); after every line the index
// must count exactly the retained lines of every uid.
func TestFeedIndexAgainstModel(t *testing.T) {
	for _, mask := range []uint64{0, 0x3, ^uint64(0)} {
		for _, limit := range []int{1, 3, 10, 64, 200} {
			f := newExpiryFeed(limit)
			f.index.mask = mask
			rng := rand.New(rand.NewPCG(uint64(limit), mask))
			pool := make([][uidBytes]byte, 12)
			for i := range pool {
				pool[i][0], pool[i][31] = byte(i), byte(rng.Uint32())
			}
			var all [][uidBytes]byte
			for range 2000 {
				id := pool[rng.IntN(len(pool))]
				f.add(&id)
				all = append(all, id)
				dropped, next := f.state()
				if next != uint64(len(all)) || next-dropped > uint64(limit) || next-dropped == 0 {
					t.Fatalf("mask %#x limit %d: retains lines %d..%d", mask, limit, dropped, next)
				}
				want := map[[uidBytes]byte]int{}
				for _, x := range all[dropped:] {
					want[x]++
				}
				for i := range pool {
					if got := f.count(&pool[i]); got != want[pool[i]] {
						t.Fatalf("mask %#x limit %d after %d lines: count(uid %d) = %d, want %d", mask, limit, len(all), i, got, want[pool[i]])
					}
				}
				if n := len(f.index.byHash) + len(f.index.overflow); n != len(want) {
					t.Fatalf("mask %#x limit %d: index has %d entries for %d uids", mask, limit, n, len(want))
				}
			}
		}
	}
}
