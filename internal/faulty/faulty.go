// Package faulty builds deliberately broken session servers: the
// reference with one defect each. The suite proves itself by failing every
// one of them, naming the case that caught the defect.
package faulty

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// Fault names one defect.
type Fault string

// The defects, each with the case expected to catch it.
const (
	NoRefresh          Fault = "no-refresh"            // a visit does not restart the timeout (Twisted 22.4's behaviour)
	NeverExpires       Fault = "never-expires"         // advertises its timeout but never times out
	ExpiresEarly       Fault = "expires-early"         // times out a second before the timeout it advertises
	ExpireDoesNothing  Fault = "expire-does-nothing"   // the expire resource answers but leaves the session alive
	ReusesUIDs         Fault = "reuses-uids"           // gives an expired session's uid to the next new session
	NotifiesTwice      Fault = "notifies-twice"        // every expiry notification is reported twice
	NoTimeoutNotice    Fault = "no-timeout-notice"     // notifications fire on explicit expiry only
	AdoptsClientIDs    Fault = "adopts-client-ids"     // an unknown id a client sends becomes its session id
	SharedCounter      Fault = "shared-counter"        // one counter for every session
	StuckClock         Fault = "stuck-clock"           // the clock resource reports advancing but time stands still
	NewIDEveryResponse Fault = "new-id-every-response" // every request gets a new session
	SequentialIDs      Fault = "sequential-ids"        // uids are a counter: 64 hex digits, hardly any of them varying
)

// Faults lists every defect with the case that must catch it.
var Faults = []struct {
	Fault    Fault
	CaughtBy string
}{
	{NoRefresh, "TIMEOUT-003"},
	{NeverExpires, "TIMEOUT-002"},
	{ExpiresEarly, "TIMEOUT-001"},
	{ExpireDoesNothing, "EXPIRE-001"},
	{ReusesUIDs, "EXPIRE-002"},
	{NotifiesTwice, "NOTIFY-001"},
	{NoTimeoutNotice, "NOTIFY-001"},
	{AdoptsClientIDs, "ROBUST-001"},
	{SharedCounter, "COUNTER-002"},
	{StuckClock, "TIMEOUT-002"},
	{NewIDEveryResponse, "PERSIST-002"},
	{SequentialIDs, "SECURE-002"},
}

// Parse returns the fault with the given name.
func Parse(name string) (Fault, error) {
	var names []string
	for _, f := range Faults {
		if string(f.Fault) == name {
			return f.Fault, nil
		}
		names = append(names, string(f.Fault))
	}
	return "", fmt.Errorf("no fault %q; the faults are %s", name, strings.Join(names, ", "))
}

// New returns the reference on clock with sessions that time out after
// timeout, broken by f.
func New(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	cfg := reference.Config{Clock: clock, SessionTimeout: timeout}
	b := &broken{fault: f, clock: clock, timeout: timeout}
	switch f {
	case NeverExpires:
		cfg.SessionTimeout = 1000 * timeout
	case ExpiresEarly:
		cfg.SessionTimeout = timeout - time.Second
	case ReusesUIDs:
		cfg.Random = b
	case SequentialIDs:
		cfg.Random = &counter{}
	}
	b.site = reference.NewSite(cfg)
	b.srv = reference.NewServer(b.site, nil)
	return b
}

// counter is a uid source that counts: 32 bytes, big-endian.
type counter struct {
	mu sync.Mutex
	n  uint64
}

func (c *counter) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	clear(p)
	for i, v := len(p)-1, c.n; i >= 0 && v > 0; i, v = i-1, v>>8 {
		p[i] = byte(v)
	}
	return len(p), nil
}

type broken struct {
	fault   Fault
	clock   *fakeclock.Fake
	timeout time.Duration
	site    *reference.Site
	srv     *reference.Server

	mu       sync.Mutex
	recycled []string        // ReusesUIDs: expired uids, to hand out again
	explicit map[string]bool // NoTimeoutNotice: uids expired through /expire
	counter  atomic.Int64    // SharedCounter
	skew     time.Duration   // StuckClock: how far the reported time has run ahead
}

// Read is the uid source of ReusesUIDs: an expired uid if there is one.
func (b *broken) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.recycled); n > 0 && len(p) == 32 {
		raw, _ := hex.DecodeString(b.recycled[n-1])
		b.recycled = b.recycled[:n-1]
		return copy(p, raw), nil
	}
	return rand.Read(p)
}

func (b *broken) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == contract.PathDiscovery:
		d := b.srv.Discovery()
		d.Implementation = "faulty reference (" + string(b.fault) + ")"
		secs := b.timeout.Seconds()
		d.TimeoutSeconds = &secs
		writeJSON(w, d)
		return
	case b.fault == NewIDEveryResponse:
		r.Header.Del("Cookie")
	case b.fault == ExpireDoesNothing && r.URL.Path == contract.PathExpire:
		if _, err := b.site.GetSession(w, r); err == nil {
			fmt.Fprint(w, "Your session has been expired.")
		}
		return
	case b.fault == SharedCounter && r.URL.Path == contract.PathCounter:
		b.site.GetSession(w, r)
		fmt.Fprintf(w, "Visit #%d for you!", b.counter.Add(1))
		return
	case b.fault == AdoptsClientIDs && r.URL.Path == contract.PathSession:
		if c, err := r.Cookie(contract.CookieName); err == nil && c.Value != "" {
			if _, live := b.site.Session(c.Value); !live {
				fmt.Fprintf(w, "Your session id is: %s", c.Value)
				return
			}
		}
	case b.fault == StuckClock && r.URL.Path == contract.PathClock:
		b.stuckClock(w, r)
		return
	case b.fault == NoTimeoutNotice && r.URL.Path == contract.PathExpire:
		if c, err := r.Cookie(contract.CookieName); err == nil {
			b.mu.Lock()
			if b.explicit == nil {
				b.explicit = map[string]bool{}
			}
			b.explicit[c.Value] = true
			b.mu.Unlock()
		}
	case (b.fault == NotifiesTwice || b.fault == NoTimeoutNotice) && r.URL.Path == contract.PathExpired:
		b.serveFeed(w)
		return
	}
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, r)
	b.created(rec.Header().Values("Set-Cookie"))
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// created reacts to a new session, for the faults that need to.
func (b *broken) created(setCookies []string) {
	for _, sc := range setCookies {
		uid, ok := strings.CutPrefix(sc, contract.CookieName+"=")
		if !ok {
			continue
		}
		uid, _, _ = strings.Cut(uid, ";")
		sess, ok := b.site.Session(uid)
		if !ok {
			continue
		}
		switch b.fault {
		case NoRefresh: // dies a timeout after it was made, however often it is visited
			b.clock.AfterFunc(b.timeout, sess.Expire)
		case ReusesUIDs:
			sess.NotifyOnExpire(func() {
				b.mu.Lock()
				b.recycled = append(b.recycled, uid)
				b.mu.Unlock()
			})
		}
	}
}

func (b *broken) serveFeed(w http.ResponseWriter) {
	var out bytes.Buffer
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, uid := range b.srv.Expired() {
		switch {
		case b.fault == NotifiesTwice:
			fmt.Fprintf(&out, "%s\n%s\n", uid, uid)
		case b.explicit[uid]:
			fmt.Fprintf(&out, "%s\n", uid)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(out.Bytes())
}

// stuckClock answers the clock protocol as if time moved, without moving
// the target's clock.
func (b *broken) stuckClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		d, err := time.ParseDuration(r.URL.Query().Get("advance"))
		if err != nil || d < 0 {
			http.Error(w, "bad advance", http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.skew += d
		b.mu.Unlock()
	}
	b.mu.Lock()
	now := b.clock.Now().Add(b.skew)
	b.mu.Unlock()
	fmt.Fprintln(w, now.UTC().Format(time.RFC3339Nano))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
