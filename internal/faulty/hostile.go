package faulty

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// Hostility names a way a target can misbehave at the HTTP level, short
// of being a session implementation at all. The suite must finish within
// its time bound against each and say what went wrong, never panic or
// hang.
type Hostility string

const (
	Hangs            Hostility = "hangs"             // the session page never answers
	ResetsConns      Hostility = "resets"            // the session page drops the connection
	Garbage          Hostility = "garbage"           // the session page answers binary noise
	ServerErrors     Hostility = "server-errors"     // every session resource answers 500
	RedirectLoop     Hostility = "redirect-loop"     // the session page redirects to itself
	HugeBody         Hostility = "huge-body"         // the session page streams a body without end
	LyingTimeout     Hostility = "lying-timeout"     // the discovery document claims 5 s; sessions last 900 s
	LyingClock       Hostility = "lying-clock"       // the discovery document names a clock that is not one
	GarbageDiscovery Hostility = "garbage-discovery" // the discovery document is not JSON

	FatCookies  Hostility = "fat-cookies"  // every answer carries 10,000 Set-Cookie headers of about 290 bytes (2.9 MB)
	HugePage    Hostility = "huge-page"    // the session page is valid, then 100 MiB of junk (Content-Length says so)
	EndlessFeed Hostility = "endless-feed" // the expired feed streams id lines without end
	SlowDrip    Hostility = "slow-drip"    // every answer comes one byte per 200 ms, the rest at once before 10 s
	MillionFeed Hostility = "million-feed" // the expired feed: 1,000,000 made-up ids made on the fly, then the real ones, then live logged ones
)

// HostileEntry is a hostility with the verdict the suite must give.
type HostileEntry struct {
	Hostility Hostility
	// Exit is the exit code the suite must give.
	Exit int
	// CaughtBy, when set, is a case that must fail: the one only a
	// suite that coped with the hostility can reach.
	CaughtBy string
}

// Hostilities lists them with the exit code the suite must give: 1 where
// the target answers but wrongly, 2 where it does not answer or its
// description cannot be trusted. Each verdict must come quickly (the
// suite's test allows 30 s with --request-timeout 2s), with the suite's
// memory bounded whatever the target sends.
var Hostilities = []HostileEntry{
	{Hostility: Hangs, Exit: 2},
	{Hostility: ResetsConns, Exit: 2},
	{Hostility: Garbage, Exit: 1},
	{Hostility: ServerErrors, Exit: 1},
	{Hostility: RedirectLoop, Exit: 1},
	// A body past the suite's bound (1 MiB) is a target error, never a
	// page cut short into a verdict.
	{Hostility: HugeBody, Exit: 2},
	{Hostility: LyingTimeout, Exit: 1},
	{Hostility: LyingClock, Exit: 2},
	{Hostility: GarbageDiscovery, Exit: 2},

	// A header block past the suite's bound (256 KiB) is no answer: the
	// first request, for the discovery document, fails.
	{Hostility: FatCookies, Exit: 2},
	// The same as HugeBody, though the body starts with a good page.
	{Hostility: HugePage, Exit: 2},
	// The suite reads the feed up to its bound (512 MiB) and the ids it
	// waits for are not in what it read: NOTIFY-001 and NOTIFY-002 fail.
	{Hostility: EndlessFeed, Exit: 1},
	// The discovery document is not complete within --request-timeout.
	{Hostility: SlowDrip, Exit: 2},
	// Only a suite that reads all 65 MB sees the live session listed
	// after the real ids; one that stopped early would fail NOTIFY-002
	// (its id missing) and pass NOTIFY-003 instead.
	{Hostility: MillionFeed, Exit: 1, CaughtBy: "NOTIFY-003"},
}

// NewHostile returns the reference on clock, made hostile by h.
func NewHostile(h Hostility, clock *fakeclock.Fake) http.Handler {
	timeout := reference.DefaultTimeout
	honest := reference.NewServer(reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout}), nil)
	var logged loggedIDs // MillionFeed
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session := r.URL.Path == contract.PathSession
		switch {
		case h == Hangs && session:
			<-r.Context().Done()
			return
		case h == ResetsConns && session:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case h == Garbage && session:
			w.Write([]byte{0x00, 0xff, 0xfe, 0x1b, '[', '2', 'J', 0x07, 0x80})
			return
		case h == ServerErrors && r.URL.Path != contract.PathDiscovery && r.URL.Path != contract.PathClock:
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		case h == RedirectLoop && session:
			http.Redirect(w, r, "/", http.StatusFound)
			return
		case h == HugeBody && session:
			chunk := []byte(strings.Repeat("x", 64<<10))
			deadline := time.Now().Add(time.Minute) // bounded even if a client never stops reading
			for time.Now().Before(deadline) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		case h == LyingTimeout && r.URL.Path == contract.PathDiscovery:
			d := honest.Discovery()
			five := 5.0
			d.TimeoutSeconds = &five
			writeJSON(w, d)
			return
		case h == LyingClock && r.URL.Path == contract.PathDiscovery:
			d := honest.Discovery()
			d.Paths.Clock = "/not-a-clock"
			writeJSON(w, d)
			return
		case h == LyingClock && r.URL.Path == "/not-a-clock":
			fmt.Fprintln(w, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano))
			return
		case h == GarbageDiscovery && r.URL.Path == contract.PathDiscovery:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"sessionspec": 1, "timeout_seconds": "soon", `)
			return
		case h == FatCookies:
			// Full capacity, so that the session cookie's append copies
			// rather than writing into the shared array.
			w.Header()["Set-Cookie"] = fatCookies[:len(fatCookies):len(fatCookies)]
		case h == HugePage && session:
			hugePage(w, r, honest)
			return
		case h == EndlessFeed && r.URL.Path == contract.PathExpired:
			endlessFeed(w, r)
			return
		case h == SlowDrip:
			slowDrip(w, r, honest)
			return
		case h == MillionFeed && r.URL.Path == contract.PathLogMe:
			rec := httptest.NewRecorder()
			honest.ServeHTTP(rec, r)
			logged.add(rec.Body.String())
			copyAnswer(w, rec)
			return
		case h == MillionFeed && r.URL.Path == contract.PathExpired:
			expired := honest.Expired()
			millionFeed(w, expired, logged.live(expired))
			return
		}
		honest.ServeHTTP(w, r)
	})
}

// The sizes of the hostile answers.
const (
	FatCookieCount = 10_000    // Set-Cookie headers on every answer of FatCookies
	FatCookieSize  = 290       // bytes in each
	HugePageJunk   = 100 << 20 // bytes after the page of HugePage
	MillionFeedIDs = 1_000_000 // made-up ids before the real ones in MillionFeed
)

// The pace of SlowDrip: a byte every dripInterval until dripBudget has
// gone, then the rest at once, so that an answer takes under 10 s.
// Variables only so that this package's tests can run them faster.
var (
	dripInterval = 200 * time.Millisecond
	dripBudget   = 9 * time.Second
)

// fatCookies are FatCookieCount distinct cookies of FatCookieSize bytes,
// made once and shared by every answer.
var fatCookies = func() []string {
	cs := make([]string, FatCookieCount)
	for i := range cs {
		head := fmt.Sprintf("fat%05d=", i)
		const tail = "; Path=/"
		cs[i] = head + strings.Repeat("f", FatCookieSize-len(head)-len(tail)) + tail
	}
	return cs
}()

// hugePage answers the session page as honest would, followed by a line
// break and HugePageJunk bytes of junk, with a Content-Length that says
// so. The junk is made as it is sent.
func hugePage(w http.ResponseWriter, r *http.Request, honest http.Handler) {
	rec := httptest.NewRecorder()
	honest.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	page := append(rec.Body.Bytes(), '\n')
	w.Header().Set("Content-Length", strconv.Itoa(len(page)+HugePageJunk))
	w.WriteHeader(rec.Code)
	if _, err := w.Write(page); err != nil || r.Method == http.MethodHead {
		return
	}
	chunk := bytes.Repeat([]byte("junk after the page\n"), 3277)[:64<<10]
	for left := HugePageJunk; left > 0; left -= len(chunk) {
		if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
			return
		}
	}
}

// endlessFeed streams plausible feed lines, made-up ids, until the
// client goes away (or, so that nothing is left running, an hour).
func endlessFeed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var chunk []byte
	rng := rand.New(rand.NewPCG(1, 2))
	for len(chunk) < 64<<10 {
		chunk = appendFakeID(chunk, rng)
	}
	deadline := time.Now().Add(time.Hour)
	for time.Now().Before(deadline) && r.Context().Err() == nil {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// appendFakeID appends a line of 64 random hex digits.
func appendFakeID(b []byte, rng *rand.Rand) []byte {
	var raw [32]byte
	for i := 0; i < len(raw); i += 8 {
		binary.LittleEndian.PutUint64(raw[i:], rng.Uint64())
	}
	b = hex.AppendEncode(b, raw[:])
	return append(b, '\n')
}

// loggedIDs are the uids /logme has answered for.
type loggedIDs struct {
	mu  sync.Mutex
	ids []string
}

var loggedPage = regexp.MustCompile(`^Session ([0-9a-f]{64}) will be logged`)

func (l *loggedIDs) add(page string) {
	if m := loggedPage.FindStringSubmatch(page); m != nil {
		l.mu.Lock()
		if !slices.Contains(l.ids, m[1]) {
			l.ids = append(l.ids, m[1])
		}
		l.mu.Unlock()
	}
}

// live returns the logged uids whose expiry has not been logged: the
// sessions still alive.
func (l *loggedIDs) live(expired []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var live []string
	for _, id := range l.ids {
		if !slices.Contains(expired, id) {
			live = append(live, id)
		}
	}
	return live
}

// copyAnswer writes a recorded answer to w.
func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// millionFeed answers the feed: MillionFeedIDs made-up ids, made as they
// are sent, then the real ones, then (the defect, visible only at the
// end) the logged sessions that are still alive. It holds nothing but a
// buffer.
func millionFeed(w http.ResponseWriter, real, live []string) {
	tail := slices.Concat(real, live)
	size := 65 * MillionFeedIDs
	for _, id := range tail {
		size += len(id) + 1
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	bw := bufio.NewWriterSize(w, 64<<10)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	line := make([]byte, 0, 65)
	for range MillionFeedIDs {
		line = appendFakeID(line[:0], rng)
		if _, err := bw.Write(line); err != nil {
			return
		}
	}
	for _, id := range tail {
		bw.WriteString(id + "\n")
	}
	bw.Flush()
}

// slowDrip sends honest's answer, status line and headers included, a
// byte every dripInterval, and what is left once dripBudget has gone all
// at once; then it closes the connection.
func slowDrip(w http.ResponseWriter, r *http.Request, honest http.Handler) {
	rec := httptest.NewRecorder()
	honest.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if r.Method == http.MethodHead {
		body = nil
	}
	hj, ok := w.(http.Hijacker)
	if !ok { // no connection to drip on (HTTP/2): drip the body alone
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		drip(w, body, func() { http.NewResponseController(w).Flush() })
		return
	}
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	rec.Header().Set("Content-Length", strconv.Itoa(len(rec.Body.Bytes())))
	rec.Header().Set("Connection", "close")
	rec.Header().Write(&raw)
	raw.WriteString("\r\n")
	raw.Write(body)
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(dripBudget + 5*time.Second))
	drip(conn, raw.Bytes(), func() {})
}

// drip writes b to w a byte every dripInterval, flushing each, and the
// rest at once when dripBudget has gone.
func drip(w io.Writer, b []byte, flush func()) {
	end := time.Now().Add(dripBudget)
	for len(b) > 0 && time.Now().Add(dripInterval).Before(end) {
		if _, err := w.Write(b[:1]); err != nil {
			return
		}
		flush()
		b = b[1:]
		time.Sleep(dripInterval)
	}
	w.Write(b)
	flush()
}
