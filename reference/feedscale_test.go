//go:build !wasm

package reference_test

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/reference"
)

// countingWriter is a ResponseWriter that checks the shape of feed lines
// and counts them; its first write waits at a barrier, so that every
// reader is in the middle of its answer at once.
type countingWriter struct {
	h       http.Header
	barrier *sync.WaitGroup
	started bool
	lines   int
	bad     int
	last    [65]byte
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		w.barrier.Done()
		w.barrier.Wait()
	}
	if len(p)%65 != 0 {
		w.bad++
	}
	w.lines += bytes.Count(p, []byte{'\n'})
	if len(p) >= 65 {
		copy(w.last[:], p[len(p)-65:])
	}
	return len(p), nil
}

// A million logged expiries, on the fake clock; then many readers stream
// the whole feed at once, and the heap hardly grows: the feed is not
// copied per reader. Then GET /expired?id= finds the newest ids.
func TestExpiredFeedAtAMillion(t *testing.T) {
	n, readers := 1_000_000, 32
	if raceEnabled || testing.Short() {
		n, readers = 100_000, 8
	}
	site, clock := newSite(t, reference.Config{Random: rand.NewChaCha8([32]byte{1})})
	srv := reference.NewServer(site, nil)
	t0 := time.Now()
	for range n {
		reference.LogMe(srv, mustMake(t, site))
	}
	t1 := time.Now()
	clock.Advance(timeout)
	t.Logf("%d logged sessions made in %s, expired in one Advance in %s", n, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	if site.Len() != 0 || srv.FeedDropped() != 0 {
		t.Fatalf("%d sessions live, %d lines dropped", site.Len(), srv.FeedDropped())
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var barrier, wg sync.WaitGroup
	barrier.Add(readers)
	ws := make([]*countingWriter, readers)
	start := time.Now()
	for i := range ws {
		ws[i] = &countingWriter{h: http.Header{}, barrier: &barrier}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.ServeHTTP(ws[i], httptestRequest("/expired"))
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	growth := int64(peak.Load()) - int64(base)
	t.Logf("%d readers streamed %d lines each in %s; heap %.1f MB before, peak growth %.2f MB",
		readers, n, elapsed.Round(time.Millisecond), float64(base)/1e6, float64(growth)/1e6)
	feed := srv.Expired()
	for i, w := range ws {
		if w.lines != n || w.bad != 0 || string(w.last[:64]) != feed[n-1] {
			t.Fatalf("reader %d: %d lines (%d odd writes), last %q; want %d, ending with %s", i, w.lines, w.bad, w.last[:64], n, feed[n-1])
		}
	}
	// Each reader costs one 33 KB buffer; a copy of the feed would be
	// 65 MB per reader. Generous: 16 MB in all.
	if growth > 16<<20 {
		t.Fatalf("heap grew by %.1f MB while %d readers streamed the feed", float64(growth)/1e6, readers)
	}

	// The newest ids, logged after the million, are found at once.
	var fresh []string
	for range 3 {
		b, uid := logged(t, srv)
		b.get("/expire")
		fresh = append(fresh, uid)
	}
	never := strings.Repeat("0", 64)
	q := "/expired?id=" + fresh[2] + "&id=" + never + "&id=" + fresh[0] + "&id=" + feed[0] + "&id=" + fresh[1]
	t0 = time.Now()
	a := (&browser{t: t, h: srv}).get(q)
	took := time.Since(t0)
	if want := fresh[2] + "\n" + fresh[0] + "\n" + feed[0] + "\n" + fresh[1] + "\n"; a.status != 200 || a.body != want {
		t.Fatalf("GET %s… = %d %q, want %q", q[:30], a.status, a.body, want)
	}
	t.Logf("GET /expired?id= (5 ids) after %d lines: %s", n+3, took)
}
