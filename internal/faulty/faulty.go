// Package faulty builds deliberately broken session servers, and a few
// deliberately unusual but correct ones. The suite proves itself by
// failing every broken one, naming the case that caught the defect, and
// by passing every honest one.
//
// Most faults are the reference with one defect each; the others are
// small stores of their own (stores.go): a signed-cookie store that keeps
// its state on the client, and a server-side store with switches for
// the defects of real stores. Each is described by one Entry literal in
// Faults or Honest, with the verdict a check of it must give.
package faulty

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// Fault names one target of this package: a defect, or for the entries
// of Honest an unusual but correct server.
type Fault string

// The defects of the reference, each with the case expected to catch it.
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
	CounterCopy        Fault = "counter-copy"          // the counter is read, let go, and its read value plus one written back
	StuckClock         Fault = "stuck-clock"           // the clock resource reports advancing but time stands still
	NewIDEveryResponse Fault = "new-id-every-response" // every request gets a new session
	SequentialIDs      Fault = "sequential-ids"        // uids are a counter: 64 hex digits, hardly any of them varying
)

// The defects of the stores in stores.go.
const (
	// SignedCookieRevives keeps the whole session on the client, as
	// express cookie-session and Rails' cookie store do: a value cookie
	// "sess" (base64 of the id, the counter and the last access) and a
	// signature cookie "sess.sig" (its HMAC). /expire clears both, but
	// the server keeps no revocation list, so the old pair replayed
	// brings the session back, counter and all; an older pair replayed
	// rolls the counter back.
	SignedCookieRevives Fault = "signed-cookie-revives"
	// SignedCookieRollback is the same store with a revocation list of
	// the ids /expire ended, so an expired session stays dead; but the
	// counter still lives in the cookie, so replaying an older pair of a
	// live session rolls the counter back (a fork of the session).
	SignedCookieRollback Fault = "signed-cookie-rollback"
	// AdoptsDestroyedIDs is a server-side store that, given a cookie
	// naming a session it destroyed through /expire, makes a new session
	// with that same id (a "regenerate on unknown id" bug). /expire
	// clears the cookie, so only a replayed cookie shows it; ids it never
	// issued are not adopted.
	AdoptsDestroyedIDs Fault = "adopts-destroyed-ids"
	// WholeSecondTimestamps stamps the last access in whole seconds
	// (time.Now().Unix()) and expires a session once
	// now_seconds - stamp > timeout_seconds, so a 3 s session lives
	// between 3 and 4 s, depending on the phase of its last access
	// within its second. On the wall clock, with a short timeout.
	WholeSecondTimestamps Fault = "whole-second-timestamps"
	// WholeSecondsBehindMaxAge is WholeSecondTimestamps whose cookie,
	// re-sent on every answer, has Max-Age = the timeout (gorilla/sessions'
	// stores): a client that honours Max-Age drops the cookie exactly at
	// the timeout, so only a client that replays it sees the server keep
	// the session up to a second longer.
	WholeSecondsBehindMaxAge Fault = "whole-seconds-behind-max-age"
	// DropsSessionOnHostileCookie answers a request whose session cookie
	// is malformed or names an id it never issued with 200, no session
	// ("No session.") and no cookie, so the client is left without a
	// session for as long as it keeps the cookie. A stale id (issued,
	// since ended) gets a new session, as it should.
	DropsSessionOnHostileCookie Fault = "drops-session-on-hostile-cookie"
	// NeverExpiresWall never expires a session, on the wall clock, with
	// the default 900 s timeout in its discovery document and no clock:
	// a check with default flags cannot run the MUST timing cases, so it
	// must not pass (Verdict Incomplete).
	NeverExpiresWall Fault = "never-expires-wall"
	// ExpiresOnlyInCookie never ends a session at the server: its timeout
	// is only the session cookie's Max-Age, re-sent on every answer, as
	// Rack 2.2's Session::Pool does with expire_after. A browser drops
	// the cookie in time, so TIMEOUT-001..003 pass on the wall clock; the
	// cookie replayed after the timeout still finds the session. It has
	// no expiry hook (/logme and /expired are 404), like the Pool.
	ExpiresOnlyInCookie Fault = "expires-only-in-cookie"
	// ObjectsNotRefreshed refreshes a session on every visit but its
	// objects only when they are stored: the counter is dropped its
	// timeout after its last increment, though the session, id and all,
	// lives on while it is visited (a store that touches a session's
	// record and lets its data expire by the data's own TTL).
	ObjectsNotRefreshed Fault = "objects-not-refreshed"
)

// The honest targets: unusual, correct, and to be checked as such.
const (
	// NoExpiryHook has no expiry notifications: /logme and /expired are
	// 404, though its discovery document lists them.
	NoExpiryHook Fault = "no-expiry-hook"
	// NoExpiryHookNoDiscovery is NoExpiryHook without a discovery
	// document (404); its clock is at /_clock, given by flag.
	NoExpiryHookNoDiscovery Fault = "no-expiry-hook-no-discovery"
	// CustomCookieNoDiscovery names its session cookie "sid" and serves
	// no discovery document (404): the suite must take the cookie's name
	// from the first response. Its clock is at /_clock, given by flag.
	CustomCookieNoDiscovery Fault = "custom-cookie-no-discovery"
)

// Verdict is what a check of a target, with the entry's Flags, must
// conclude as a whole.
type Verdict string

const (
	// Caught: the case CaughtBy fails. The run exits 1 if any MUST case
	// failed (always, when CaughtBy is a MUST case), else 0.
	Caught Verdict = ""
	// Passes: no MUST case fails and the run exits 0; exactly the cases
	// in NotApplicable are n/a, and only the cases in Deviations (SHOULD
	// or ADVISORY) may fail.
	Passes Verdict = "pass"
	// Incomplete: the MUST cases cannot all run with the flags given and
	// nothing fails, so the run must not exit 0 (a pass would certify
	// what was never checked) nor 1: it exits 3, the suite's
	// "incomplete" (spec.ExitIncomplete).
	Incomplete Verdict = "incomplete"
)

// Entry describes one target and how a check of it must end. Adding a
// target is one Entry literal in Faults or Honest (and a case in New).
type Entry struct {
	Fault Fault
	// CaughtBy is the case that must fail; empty unless Verdict is Caught.
	CaughtBy string
	// Verdict is what the run must conclude; the zero value is Caught.
	Verdict Verdict
	// Wall: the target runs on the wall clock and serves no clock
	// resource; New ignores the clock it is given (which may be nil).
	Wall bool
	// Timeout is the session timeout to serve the target with (it is what
	// its discovery document says); zero means the caller's choice,
	// reference.DefaultTimeout in the suite's tests. See TimeoutOr.
	Timeout time.Duration
	// Flags are what `sessionspec check URL` needs besides the URL for
	// the Verdict: the clock of a target that serves no discovery
	// document, and --allow-na for the MUST cases in NotApplicable (a
	// MUST case that is n/a otherwise makes the run incomplete, exit 3).
	Flags []string
	// NotApplicable are the cases that must be n/a, by ID ("TIMEOUT-004")
	// or by prefix ending in "-" ("NOTIFY-"), and no other case may be.
	// See Matches.
	NotApplicable []string
	// Deviations are the SHOULD and ADVISORY cases an honest target
	// fails by design; it must not fail any other.
	Deviations []string
}

// Faults lists every defect with the case that must catch it: the
// reference's and the stores' (this file and stores.go), then those of the
// optional resources, each list in the file of its own.
var Faults = slices.Concat(coreFaults, componentFaults, websocketFaults, urlFaults)

var coreFaults = []Entry{
	{Fault: NoRefresh, CaughtBy: "TIMEOUT-003"},
	{Fault: NeverExpires, CaughtBy: "TIMEOUT-002"},
	{Fault: ExpiresEarly, CaughtBy: "TIMEOUT-001"},
	{Fault: ExpireDoesNothing, CaughtBy: "EXPIRE-001"},
	{Fault: ReusesUIDs, CaughtBy: "EXPIRE-002"},
	{Fault: NotifiesTwice, CaughtBy: "NOTIFY-001"},
	{Fault: NoTimeoutNotice, CaughtBy: "NOTIFY-001"},
	{Fault: AdoptsClientIDs, CaughtBy: "ROBUST-001"},
	{Fault: SharedCounter, CaughtBy: "COUNTER-002"},
	// Every sequential counter case passes: only concurrency loses.
	{Fault: CounterCopy, CaughtBy: "COUNTER-004"},
	{Fault: StuckClock, CaughtBy: "TIMEOUT-002"},
	{Fault: NewIDEveryResponse, CaughtBy: "PERSIST-002"},
	{Fault: SequentialIDs, CaughtBy: "SECURE-002"},

	// The full cookie jar replayed after /expire revives the session
	// (the counter with it). EXPIRE-005 fails too (an older jar rolls
	// the counter back), NOTIFY-* are n/a (no server-side state, no
	// expiry hook), and PERSIST-005/006 fail (SHOULD: the cookie is
	// "sess", re-sent on every answer).
	{Fault: SignedCookieRevives, CaughtBy: "EXPIRE-002", NotApplicable: []string{"NOTIFY-"}},
	// Passes EXPIRE-002 (it keeps a revocation list); the rest as above.
	{Fault: SignedCookieRollback, CaughtBy: "EXPIRE-005", NotApplicable: []string{"NOTIFY-"}},
	{Fault: AdoptsDestroyedIDs, CaughtBy: "EXPIRE-002"},
	// Passes TIMEOUT-001..003, COUNTER-003 and NOTIFY-* (each allows a
	// second of overshoot) on every run; fails only the precise SHOULD.
	{Fault: WholeSecondTimestamps, CaughtBy: "TIMEOUT-005", Wall: true, Timeout: 3 * time.Second,
		Flags: []string{"--allow-na", "TIMEOUT-004"}, NotApplicable: []string{"TIMEOUT-004"}},
	{Fault: WholeSecondsBehindMaxAge, CaughtBy: "TIMEOUT-005", Wall: true, Timeout: 3 * time.Second,
		Flags: []string{"--allow-na", "TIMEOUT-004"}, NotApplicable: []string{"TIMEOUT-004"}},
	// Passes every other MUST case that runs: only TIMEOUT-006 replays a
	// cookie past its Max-Age. NOTIFY-* are n/a (no hook), allowed.
	{Fault: ExpiresOnlyInCookie, CaughtBy: "TIMEOUT-006", Wall: true, Timeout: 3 * time.Second,
		Flags: []string{"--allow-na", "TIMEOUT-004 || notify"}, NotApplicable: []string{"TIMEOUT-004", "NOTIFY-"}},
	// Only TIMEOUT-003 visits a session for longer than its timeout
	// without storing anything in it.
	{Fault: ObjectsNotRefreshed, CaughtBy: "TIMEOUT-003"},
	// ROBUST-001 fails too (SHOULD): its forged id gets no session.
	{Fault: DropsSessionOnHostileCookie, CaughtBy: "ROBUST-004"},
	// Checked with default flags, the MUST cases that idle for its 900 s
	// (TIMEOUT-001..004, NOTIFY-001, NOTIFY-003, COUNTER-003) need more
	// wall-clock time than --max-wait and cannot run; every case that
	// runs passes. A pass here would certify a server that never expires.
	{Fault: NeverExpiresWall, Verdict: Incomplete, Wall: true, Timeout: contract.DefaultTimeout,
		NotApplicable: []string{"TIMEOUT-", "NOTIFY-001", "NOTIFY-003", "COUNTER-003"}},
}

// Honest lists the targets that are unusual but correct: a check of each
// must pass every MUST case, with only the listed cases n/a.
var Honest = slices.Concat(coreHonest, WebSocketHonest)

var coreHonest = []Entry{
	{Fault: NoExpiryHook, Verdict: Passes,
		Flags: []string{"--allow-na", "notify"}, NotApplicable: []string{"NOTIFY-"}},
	{Fault: NoExpiryHookNoDiscovery, Verdict: Passes, Timeout: contract.DefaultTimeout,
		Flags: []string{"--clock", contract.PathClock, "--allow-na", "notify"}, NotApplicable: []string{"NOTIFY-"}},
	{Fault: CustomCookieNoDiscovery, Verdict: Passes, Timeout: contract.DefaultTimeout,
		Flags: []string{"--clock", contract.PathClock}, Deviations: []string{"PERSIST-005"}},
}

// TimeoutOr returns the timeout to serve e with: its own, or def.
func (e Entry) TimeoutOr(def time.Duration) time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return def
}

// Matches reports whether the case id is one of patterns: an ID, or a
// prefix ending in "-" ("NOTIFY-" matches NOTIFY-001).
func Matches(patterns []string, id string) bool {
	for _, p := range patterns {
		if p == id || strings.HasSuffix(p, "-") && strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// Lookup returns the entry, in Faults or Honest, with the given name.
func Lookup(name string) (Entry, error) {
	var names []string
	for _, list := range [][]Entry{Faults, Honest} {
		for _, e := range list {
			if string(e.Fault) == name {
				return e, nil
			}
			names = append(names, string(e.Fault))
		}
	}
	return Entry{}, fmt.Errorf("no fault %q; the faults are %s", name, strings.Join(names, ", "))
}

// Parse returns the fault, or honest target, with the given name.
func Parse(name string) (Fault, error) {
	e, err := Lookup(name)
	return e.Fault, err
}

// New returns the target f with sessions that time out after timeout:
// for the faults of the reference, the reference on clock broken by f.
//
// A target whose Entry is Wall runs on the wall clock and ignores clock;
// for any other, a nil clock means a new fake clock at the current
// second, served at /_clock.
func New(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	if e, err := Lookup(string(f)); err == nil && e.Wall {
		clock = nil
	} else if clock == nil {
		clock = fakeclock.NewFake(time.Now().UTC().Truncate(time.Second))
	}
	for _, build := range []func(Fault, *fakeclock.Fake, time.Duration) http.Handler{newStoreTarget, newComponentTarget, newWebSocketTarget, newURLTarget} {
		if h := build(f, clock, timeout); h != nil {
			return h
		}
	}
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
	copies   map[string]int  // CounterCopy: each session's count, by uid
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
	case b.fault == CounterCopy && r.URL.Path == contract.PathCounter:
		b.copyCount(w, r)
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
	if r.URL.Path == contract.PathWebSocket {
		b.srv.ServeHTTP(w, r) // a recorder cannot hand the connection over
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

// copyCount is CounterCopy's counter: a session's count is loaded as a
// copy, the lock let go (a round trip to a store: a few yields, no
// sleep), and the copy plus one stored back, as a store that loads and
// saves a serialized session per request does.
func (b *broken) copyCount(w http.ResponseWriter, r *http.Request) {
	sess, err := b.site.GetSession(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	uid := sess.UID()
	b.mu.Lock()
	if b.copies == nil {
		b.copies = map[string]int{}
	}
	n, known := b.copies[uid]
	if !known {
		sess.NotifyOnExpire(func() { // gone with its session
			b.mu.Lock()
			delete(b.copies, uid)
			b.mu.Unlock()
		})
	}
	b.mu.Unlock()
	for range 4 {
		runtime.Gosched()
	}
	b.mu.Lock()
	if !sess.Expired() {
		b.copies[uid] = n + 1
	}
	b.mu.Unlock()
	fmt.Fprintf(w, "Visit #%d for you!", n+1)
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
