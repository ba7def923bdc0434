//go:build !wasm && !race

package reference_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// sink is a ResponseWriter that keeps nothing but its header map.
type sink struct {
	h    http.Header
	code int
}

func (w *sink) Header() http.Header         { return w.h }
func (w *sink) Write(p []byte) (int, error) { return len(p), nil }
func (w *sink) WriteHeader(code int)        { w.code = code }

// heapPerSession makes n sessions by GET path without a cookie, through
// the handler, and reports the live heap growth per session after a
// full collection.
func heapPerSession(t *testing.T, path string, n int) float64 {
	t.Helper()
	clock := fakeclock.NewFake(epoch)
	srv := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	req, err := http.NewRequest("GET", "http://127.0.0.1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &sink{h: http.Header{}}
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for range n {
		clear(w.h)
		w.code = 0
		srv.ServeHTTP(w, req)
		if w.code != 0 && w.code != 200 || !strings.HasPrefix(w.h.Get("Set-Cookie"), "TWISTED_SESSION=") {
			t.Fatalf("GET %s: status %d, Set-Cookie %q", path, w.code, w.h.Get("Set-Cookie"))
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if got := srv.Site().Len(); got != n {
		t.Fatalf("%d live sessions, want %d", got, n)
	}
	runtime.KeepAlive(srv)
	return float64(int64(ms.HeapAlloc)-int64(before)) / float64(n)
}

// TestBytesPerSession measures the live heap a session costs, made over
// the handler through GET / (plain), /logme (logged) and /counter
// (counted), at 100k sessions:
//
//	go test -run TestBytesPerSession -v ./reference/
//
// A logged or counted session must cost at most twice a plain one, and a
// plain one at most 160 B (it was 106 B plain, 594 B logged and 498 B
// counted before the callbacks and stored objects were made compact).
func TestBytesPerSession(t *testing.T) {
	const n = 100_000
	plain := heapPerSession(t, "/", n)
	logged := heapPerSession(t, "/logme", n)
	counted := heapPerSession(t, "/counter", n)
	t.Logf("live heap per session at %d sessions: plain %.0f B, logged %.0f B (%.2fx), counted %.0f B (%.2fx)",
		n, plain, logged, logged/plain, counted, counted/plain)
	if plain > 160 || logged > 2*plain || counted > 2*plain {
		t.Fatalf("plain %.0f B (want at most 160), logged %.0f B and counted %.0f B (want at most twice plain)", plain, logged, counted)
	}
}
