package faulty

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

func serveHostile(t *testing.T, h Hostility) (*httptest.Server, *fakeclock.Fake) {
	t.Helper()
	clock := fakeclock.NewFake(start)
	srv := httptest.NewServer(NewHostile(h, clock))
	t.Cleanup(srv.Close)
	return srv, clock
}

func TestHostilitiesAreListedOnce(t *testing.T) {
	seen := map[Hostility]bool{}
	for _, h := range Hostilities {
		if seen[h.Hostility] || h.Exit != 1 && h.Exit != 2 {
			t.Errorf("%s: listed twice, or exit %d", h.Hostility, h.Exit)
		}
		seen[h.Hostility] = true
	}
}

// Every answer, the discovery document's too, carries 10,000 cookies of
// about 290 bytes, and the session page still sets the session cookie.
func TestFatCookies(t *testing.T) {
	srv, _ := serveHostile(t, FatCookies)
	for _, path := range []string{contract.PathDiscovery, "/"} {
		resp, err := http.Get(srv.URL + path) // the default client allows 10 MB of headers
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		lines := resp.Header.Values("Set-Cookie")
		size := 0
		for _, l := range lines {
			size += len(l)
		}
		if len(lines) < FatCookieCount || size < FatCookieCount*FatCookieSize {
			t.Fatalf("GET %s: %d Set-Cookie headers, %d bytes", path, len(lines), size)
		}
		session := strings.Contains(strings.Join(lines, "\n"), contract.CookieName+"=")
		if session != (path == "/") {
			t.Fatalf("GET %s: session cookie set: %v", path, session)
		}
		t.Logf("GET %s: %d Set-Cookie headers, %d bytes", path, len(lines), size)
	}
	if len(fatCookies[0]) != FatCookieSize || fatCookies[0] == fatCookies[1] {
		t.Fatalf("fat cookie %q", fatCookies[0])
	}
}

// The session page is a good page, then 100 MiB of junk, all of which
// is sent and announced.
func TestHugePage(t *testing.T) {
	srv, _ := serveHostile(t, HugePage)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	first, _ := r.ReadString('\n')
	if !regexp.MustCompile(`^Your session id is: [0-9a-f]{64}\n$`).MatchString(first) {
		t.Fatalf("the page starts %q", first)
	}
	rest, err := io.Copy(io.Discard, r)
	if err != nil || rest != HugePageJunk || resp.ContentLength != int64(len(first))+HugePageJunk {
		t.Fatalf("%d bytes of junk (%v), Content-Length %d", rest, err, resp.ContentLength)
	}
}

// The feed never ends.
func TestEndlessFeed(t *testing.T) {
	srv, _ := serveHostile(t, EndlessFeed)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/expired", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	const enough = 1 << 20 // lines: 65 MiB, as long as MillionFeed and still going
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for lines < enough && sc.Scan() {
		if lines++; len(sc.Bytes()) != 64 {
			t.Fatalf("line %d is %q", lines, sc.Text())
		}
	}
	if lines != enough {
		t.Fatalf("the feed ended after %d lines: %v", lines, sc.Err())
	}
}

// logme has a new user log its session and returns the session's id.
func logme(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	resp, err := (&http.Client{}).Get(srv.URL + "/logme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return strings.TrimPrefix(strings.Split(resp.Header.Get("Set-Cookie"), ";")[0], contract.CookieName+"=")
}

// A million made-up ids, made as they are sent, then the real one, then
// the logged session that is still alive (the defect at the very end).
func TestMillionFeed(t *testing.T) {
	srv, clock := serveHostile(t, MillionFeed)
	expired := logme(t, srv)
	clock.Advance(reference.DefaultTimeout)
	live := logme(t, srv)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.Get(srv.URL + "/expired")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var lines int
	var tail []string
	for sc.Scan() {
		lines++
		if len(sc.Bytes()) != 64 {
			t.Fatalf("line %d is %q", lines, sc.Text())
		}
		if lines > MillionFeedIDs {
			tail = append(tail, sc.Text())
		}
	}
	runtime.ReadMemStats(&after)
	if want := MillionFeedIDs + 2; lines != want || resp.ContentLength != int64(65*want) {
		t.Fatalf("%d lines, Content-Length %d; want %d lines of 65 bytes", lines, resp.ContentLength, want)
	}
	if len(tail) != 2 || tail[0] != expired || tail[1] != live {
		t.Fatalf("the feed ends %q; want the expired %s, then the live %s", tail, expired, live)
	}
	// 65 MB went over the wire; the server made them as it went.
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 8<<20 {
		t.Fatalf("reading the feed allocated %d bytes in this process", alloc)
	}
	t.Logf("%d lines (%d bytes) read; %d bytes allocated in this process, server and client", lines, resp.ContentLength, alloc)
}

// Every answer, status line first, comes a byte at a time, and whole
// within the budget.
func TestSlowDrip(t *testing.T) {
	if dripBudget >= 10*time.Second || dripInterval != 200*time.Millisecond {
		t.Fatalf("the drip is %s a byte for %s; want 200ms, under 10s", dripInterval, dripBudget)
	}
	interval, budget := dripInterval, dripBudget
	dripInterval, dripBudget = 20*time.Millisecond, 400*time.Millisecond
	defer func() { dripInterval, dripBudget = interval, budget }()

	srv, _ := serveHostile(t, SlowDrip)
	for _, path := range []string{contract.PathDiscovery, "/"} {
		began := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		headers := time.Since(began)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		// The status line alone is 17 bytes: more than the budget allows.
		if headers < dripBudget-2*dripInterval || took > dripBudget+time.Second {
			t.Fatalf("GET %s: headers after %s, all after %s; the budget is %s", path, headers, took, dripBudget)
		}
		if path == "/" && !regexp.MustCompile(`^Your session id is: [0-9a-f]{64}$`).Match(body) {
			t.Fatalf("GET /: %q", body)
		}
		if path == contract.PathDiscovery {
			if _, err := contract.ParseDiscovery(body); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("GET %s: headers after %s, %d bytes after %s", path, headers.Round(time.Millisecond), len(body), took.Round(time.Millisecond))
	}
	// At the real pace, no more than the budget's worth of bytes is dripped.
	if n := int(budget / interval); n >= 50 {
		t.Fatalf("%d bytes dripped", n)
	}
}
