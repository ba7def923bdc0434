//go:build !wasm

package reference_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// event is one request as a client saw it, bracketed by the virtual time
// and a global sequence number before and after.
type event struct {
	client           int
	path             string
	uid              string // the session the request was served with
	created          bool   // the response set a new cookie
	count            int    // /counter's value
	seqStart, seqEnd int64
	tStart, tEnd     time.Time
}

// notice is one expiry notification as the server logged it.
type notice struct {
	uid string
	at  time.Time
	seq int64
}

// noticeLog captures the server's "Session <uid> has expired." lines with
// the virtual time they were written at (callbacks run inside Advance, at
// the session's deadline).
type noticeLog struct {
	clock *fakeclock.Fake
	seq   *atomic.Int64
	mu    sync.Mutex
	all   []notice
}

var expiredLine = regexp.MustCompile(`^Session ([0-9a-f]{64}) has expired\.\n$`)

func (l *noticeLog) Write(p []byte) (int, error) {
	m := expiredLine.FindSubmatch(p)
	if m == nil {
		return 0, fmt.Errorf("unexpected log line %q", p)
	}
	l.mu.Lock()
	l.all = append(l.all, notice{string(m[1]), l.clock.Now(), l.seq.Add(1)})
	l.mu.Unlock()
	return len(p), nil
}

// TestModelCheckUnderLoad drives the real server over HTTP with many
// concurrent clients mixing every resource while the clock moves, then
// checks the whole history against a simple sequential model of the
// documented semantics. Bounded: a fixed number of requests, loopback only.
func TestModelCheckUnderLoad(t *testing.T) {
	const (
		clients  = 64
		requests = 60 // per client
		timeout  = time.Second
	)
	var seq atomic.Int64
	clock := fakeclock.NewFake(epoch)
	log := &noticeLog{clock: clock, seq: &seq}
	site := reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout})
	srv := httptest.NewServer(reference.NewServer(site, log))
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	// The clock moves a random 0-10 ms for every request that completes,
	// concurrently with the requests: with 64 clients a client's next
	// request comes about 320 ms of virtual time later, so sessions
	// mostly live (timeout 1 s) and sometimes time out between visits.
	completed := make(chan struct{}, clients)
	advanced := make(chan int)
	go func() {
		n := 0
		r := rand.New(rand.NewPCG(1, 2))
		for range completed {
			clock.Advance(time.Duration(r.IntN(11)) * time.Millisecond)
			n++
		}
		advanced <- n
	}()

	events := make([][]event, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			cookie := ""
			for range requests {
				path := []string{"/", "/", "/counter", "/counter", "/logme", "/logme", "/expire"}[r.IntN(7)]
				if r.IntN(20) == 0 {
					cookie = "" // the user flushes the cookie
				}
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				e := event{client: c, path: path, seqStart: seq.Add(1), tStart: clock.Now()}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				e.tEnd, e.seqEnd = clock.Now(), seq.Add(1)
				if resp.StatusCode != 200 {
					t.Errorf("%s: %d %s", path, resp.StatusCode, body)
					return
				}
				if sc := resp.Header.Get("Set-Cookie"); sc != "" {
					cookie, _, _ = strings.Cut(sc, ";")
					e.created = true
				}
				e.uid = strings.TrimPrefix(cookie, "TWISTED_SESSION=")
				if path == "/counter" {
					e.count, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(body), "Visit #"), " for you!"))
				}
				events[c] = append(events[c], e)
				completed <- struct{}{}
			}
		}()
	}
	wg.Wait()
	close(completed)
	steps := <-advanced
	clock.Advance(2 * timeout) // every session left ends, so every logged one must be reported

	// The model, replayed per session from the clients' histories.
	type history struct {
		created                int
		logged                 bool
		expireStart, expireEnd time.Time // the /expire that ended it, if one did
		expireSeqStart         int64
		lastStart, lastEnd     time.Time // the last request served with it
		lastSeqStart           int64
		counts                 []int
	}
	sessions := map[string]*history{}
	total := 0
	for _, evs := range events {
		for _, e := range evs {
			total++
			h := sessions[e.uid]
			if h == nil {
				h = &history{}
				sessions[e.uid] = h
			}
			if e.created {
				h.created++
			}
			if !h.expireStart.IsZero() {
				t.Errorf("session %s served %s after an /expire ended it", e.uid[:8], e.path)
			}
			h.lastStart, h.lastEnd, h.lastSeqStart = e.tStart, e.tEnd, e.seqStart
			switch e.path {
			case "/logme":
				h.logged = true
			case "/expire":
				h.expireStart, h.expireEnd, h.expireSeqStart = e.tStart, e.tEnd, e.seqStart
			case "/counter":
				h.counts = append(h.counts, e.count)
			}
		}
	}
	fired := map[string][]notice{}
	for _, n := range log.all {
		fired[n.uid] = append(fired[n.uid], n)
	}
	checked := 0
	for uid, h := range sessions {
		if h.created != 1 {
			t.Errorf("session %s was issued %d times", uid[:8], h.created)
		}
		for i, n := range h.counts {
			if n != i+1 {
				t.Errorf("session %s counted %v: the counter went backwards or jumped", uid[:8], h.counts)
				break
			}
		}
		ns := fired[uid]
		if !h.logged {
			if len(ns) != 0 {
				t.Errorf("session %s was never logged but notified %d times", uid[:8], len(ns))
			}
			continue
		}
		if len(ns) != 1 {
			t.Errorf("session %s was logged and notified %d times, want exactly once", uid[:8], len(ns))
			continue
		}
		checked++
		n := ns[0]
		if n.seq < h.lastSeqStart {
			t.Errorf("session %s was notified before a request that was served with it began", uid[:8])
		}
		if !h.expireStart.IsZero() { // ended by /expire: during that request
			if n.at.Before(h.expireStart) || n.at.After(h.expireEnd) {
				t.Errorf("session %s expired explicitly in [%s, %s] but was notified at %s", uid[:8],
					h.expireStart.Sub(epoch), h.expireEnd.Sub(epoch), n.at.Sub(epoch))
			}
			continue
		}
		// Ended by timeout: exactly timeout after its last access, which lies
		// somewhere in the last request's window.
		if n.at.Before(h.lastStart.Add(timeout)) || n.at.After(h.lastEnd.Add(timeout)) {
			t.Errorf("session %s last accessed in [%s, %s] timed out at %s, want timeout %s after", uid[:8],
				h.lastStart.Sub(epoch), h.lastEnd.Sub(epoch), n.at.Sub(epoch), timeout)
		}
	}
	if len(fired) > 0 && checked == 0 || total != clients*requests {
		t.Fatalf("the model checked nothing: %d requests, %d notifications", total, len(log.all))
	}
	if site.Len() != 0 {
		t.Errorf("%d sessions alive two timeouts after the last request", site.Len())
	}
	t.Logf("model check: %d requests from %d clients, %d clock advances, %d sessions, %d notifications checked (each exactly once, at the right instant)",
		total, clients, steps, len(sessions), checked)
}
