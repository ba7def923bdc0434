package reference_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionspec/sessionspec/reference"
)

// logged makes a session through /logme and returns its browser and uid.
func logged(t *testing.T, srv *reference.Server) (*browser, string) {
	t.Helper()
	b := &browser{t: t, h: srv}
	b.get("/logme")
	return b, b.id()
}

func TestExpiredFeedProtocol(t *testing.T) {
	a1, b1 := bytes.Repeat([]byte{0xa1}, 32), bytes.Repeat([]byte{0xb1}, 32)
	x := bytes.Repeat([]byte{0x77}, 32)
	site, _ := newSite(t, reference.Config{Random: &seqReader{blocks: [][]byte{a1, b1, x, x, bytes.Repeat([]byte{0xc1}, 32)}}})
	srv := reference.NewServer(site, nil)
	a, ua := logged(t, srv)
	b, ub := logged(t, srv)
	// x is issued twice, each time logged and expired: a doubled line.
	xa, ux := logged(t, srv)
	xa.get("/expire")
	xb, ux2 := logged(t, srv)
	xb.get("/expire")
	if ux != ux2 {
		t.Fatal("the test source did not reissue the uid")
	}
	_, uc := logged(t, srv) // logged, still alive
	b.get("/expire")
	a.get("/expire")
	never := strings.Repeat("0", 64)

	feed := a.get("/expired")
	if want := ux + "\n" + ux + "\n" + ub + "\n" + ua + "\n"; feed.status != 200 || feed.body != want {
		t.Fatalf("GET /expired = %d %q, want %q", feed.status, feed.body, want)
	}
	if feed.header.Get("Content-Type") != "text/plain; charset=utf-8" || feed.header.Get(reference.DroppedHeader) != "0" {
		t.Fatalf("headers %v", feed.header)
	}
	for q, want := range map[string]string{
		"?id=" + ub + "&id=" + ua + "&id=" + uc + "&id=" + ub: ub + "\n" + ua + "\n",
		"?id=" + ux:    ux + "\n" + ux + "\n",
		"?id=" + never: "",
		"?id=" + uc:    "",
	} {
		if got := a.get("/expired" + q); got.status != 200 || got.body != want || got.header.Get(reference.DroppedHeader) != "0" {
			t.Errorf("GET /expired%.30s… = %d %q, want %q", q, got.status, got.body, want)
		}
	}
	if got := srv.ExpiredCount(ux); got != 2 {
		t.Errorf("ExpiredCount(doubled) = %d", got)
	}
	if h := a.do("HEAD", "/expired"); h.status != 200 || h.body != "" || h.header.Get(reference.DroppedHeader) != "0" {
		t.Errorf("HEAD /expired = %d %q %v", h.status, h.body, h.header)
	}

	many := strings.Repeat("id="+ua+"&", reference.MaxExpiredIDs) + "id=" + ub
	for _, q := range []string{
		"?" + many,
		"?id=" + strings.ToUpper(ua),
		"?id=" + ua[:63],
		"?id=",
		"?id",
		"?ids=" + ua,
		"?id=" + ua + "&x=1",
		"?id=%zz",
		"?_=123",
	} {
		got := a.get("/expired" + q)
		if got.status != 400 || strings.Count(strings.TrimSpace(got.body), "\n") != 0 || strings.TrimSpace(got.body) == "" || len(got.body) > 200 {
			t.Errorf("GET /expired%.40s… = %d %q, want 400 with a one-line reason", q, got.status, got.body)
		}
	}
	// The bound itself is fine.
	if got := a.get("/expired?" + strings.TrimSuffix(strings.Repeat("id="+ua+"&", reference.MaxExpiredIDs), "&")); got.status != 200 || got.body != ua+"\n" {
		t.Errorf("%d ids: %d %q", reference.MaxExpiredIDs, got.status, got.body)
	}
}

// Past its bound the feed drops its oldest lines, says how many, and its
// index still answers exactly for the lines it keeps.
func TestExpiredFeedBound(t *testing.T) {
	const limit, n = 1000, 10_000
	site, clock := newSite(t, reference.Config{})
	srv := reference.NewServer(site, nil)
	reference.SetFeedLimit(srv, limit)
	uids := make([]string, n)
	for i := range uids {
		s := mustMake(t, site)
		reference.LogMe(srv, s)
		uids[i] = s.UID()
		if i%3 == 0 {
			s.Expire() // some by hand, the rest in order of their deadlines
		}
	}
	clock.Advance(timeout)
	order := srv.Expired()
	dropped := srv.FeedDropped()
	if kept := len(order); kept > limit || kept < limit*3/4 || uint64(kept)+dropped != n {
		t.Fatalf("kept %d lines, dropped %d, of %d; want at most %d, at least %d, none lost", kept, dropped, n, limit, limit*3/4)
	}
	b := &browser{t: t, h: srv}
	feed := b.get("/expired")
	if got := feed.header.Get(reference.DroppedHeader); got != strconv.FormatUint(dropped, 10) {
		t.Fatalf("%s = %q, want %d", reference.DroppedHeader, got, dropped)
	}
	lines := strings.Split(strings.TrimSuffix(feed.body, "\n"), "\n")
	if want := "# dropped " + strconv.FormatUint(dropped, 10) + " older lines"; lines[0] != want {
		t.Fatalf("first line %q, want %q", lines[0], want)
	}
	if strings.Join(lines[1:], "\n") != strings.Join(order, "\n") {
		t.Fatal("the streamed feed differs from the retained lines")
	}
	// The newest lines are found; the dropped ones are not.
	newest, oldest := order[len(order)-1], uids[0]
	if got := b.get("/expired?id=" + oldest + "&id=" + newest); got.body != newest+"\n" {
		t.Fatalf("?id=oldest&id=newest = %q, want only the newest", got.body)
	}
	for _, u := range order {
		if srv.ExpiredCount(u) != 1 {
			t.Fatalf("ExpiredCount(%s) = %d for a retained line", u, srv.ExpiredCount(u))
		}
	}
}

// A reader so slow that the dropping overtakes it is told what it missed,
// where it missed it.
func TestExpiredFeedOvertakenReader(t *testing.T) {
	const limit = 1000
	site, _ := newSite(t, reference.Config{})
	srv := reference.NewServer(site, nil)
	reference.SetFeedLimit(srv, limit)
	logN := func(n int) {
		for range n {
			s := mustMake(t, site)
			reference.LogMe(srv, s)
			s.Expire()
		}
	}
	logN(limit)
	w := &gatedWriter{gate: make(chan struct{}), first: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeHTTP(w, httptestRequest("/expired"))
	}()
	<-w.first // the reader has written its first block and waits
	logN(5 * limit)
	close(w.gate)
	<-done
	body := w.buf.String()
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	var got, missed int
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "# dropped "); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(rest, " more lines while this answer was sent"))
			if err != nil {
				t.Fatalf("comment %q", l)
			}
			missed += n
			continue
		}
		got++
	}
	if missed == 0 || got+missed != limit {
		t.Fatalf("answer of %d lines with %d reported missing; want the %d lines of the snapshot accounted for, some missed", got, missed, limit)
	}
}
