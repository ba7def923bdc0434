//go:build !wasm

package reference_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// benchServer serves the reference on loopback, on the real clock.
func benchServer(b *testing.B) (*httptest.Server, *http.Client) {
	srv := httptest.NewServer(reference.NewServer(reference.NewSite(reference.Config{}), nil))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return srv, client
}

func get(b *testing.B, client *http.Client, url, cookie string) string {
	req, _ := http.NewRequest("GET", url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	c, _, _ := strings.Cut(resp.Header.Get("Set-Cookie"), ";")
	return c
}

// BenchmarkServeGetWithCookie is GET / with a valid cookie through the
// real HTTP server on loopback: lookup and refresh of a live session.
func BenchmarkServeGetWithCookie(b *testing.B) {
	srv, client := benchServer(b)
	b.RunParallel(func(pb *testing.PB) {
		cookie := get(b, client, srv.URL, "")
		for pb.Next() {
			if c := get(b, client, srv.URL, cookie); c != "" {
				b.Fatal("a valid cookie got a new session")
			}
		}
	})
}

// BenchmarkServeGetNewSession is GET / without a cookie: a session made
// per request, uid from crypto/rand included.
func BenchmarkServeGetNewSession(b *testing.B) {
	srv, client := benchServer(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			get(b, client, srv.URL, "")
		}
	})
}

// BenchmarkHandlerGetWithCookie is the same lookup without the network:
// the cost of the session work itself.
func BenchmarkHandlerGetWithCookie(b *testing.B) {
	srv := reference.NewServer(reference.NewSite(reference.Config{Clock: fakeclock.NewFake(epoch)}), nil)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	cookie, _, _ := strings.Cut(w.Header().Get("Set-Cookie"), ";")
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", cookie)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
