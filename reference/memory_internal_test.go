//go:build !wasm && !race

package reference

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestBytesPerFeedLine measures what a retained line of the expired feed
// costs, its block and its index entry, at a million distinct uids:
//
//	go test -run TestBytesPerFeedLine -v ./reference/
func TestBytesPerFeedLine(t *testing.T) {
	const n = 1_000_000
	rng := rand.NewChaCha8([32]byte{2})
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	f := newExpiryFeed(FeedLimit)
	var id [uidBytes]byte
	for range n {
		rng.Read(id[:])
		f.add(&id)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	per := float64(int64(ms.HeapAlloc)-int64(before)) / n
	runtime.KeepAlive(f)
	t.Logf("live heap per feed line at %d lines: %.1f B (32 B of uid, the rest index)", n, per)
	if per > 80 {
		t.Fatalf("%.1f B per feed line, want at most 80", per)
	}
}
