package faulty

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// The stores here are written apart from package reference, as other
// people's session stores are, with the defects of real ones as
// switches. Each serves the target contract: GET / "Your session id is:
// <id>", /expire, /logme, /expired, /counter, the discovery document
// (unless told not to) and /_clock when it runs on a *fakeclock.Fake.

// newStoreTarget returns the store-based target f, or nil if f is not
// one. clock is nil for a target on the wall clock.
func newStoreTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	cfg := storeConfig{
		name: "faulty store (" + string(f) + ")", cookie: contract.CookieName, timeout: timeout,
		clock: fakeclock.Real(), discovery: true, hooks: true,
	}
	if clock != nil {
		cfg.clock, cfg.fake = clock, clock
	}
	switch f {
	case SignedCookieRevives, SignedCookieRollback:
		return newSignedStore(cfg, f == SignedCookieRollback)
	case AdoptsDestroyedIDs:
		cfg.adoptsDestroyed = true
	case WholeSecondTimestamps:
		cfg.wholeSeconds = true
	case WholeSecondsBehindMaxAge:
		cfg.wholeSeconds, cfg.cookieMaxAge = true, true
	case DropsSessionOnHostileCookie:
		cfg.dropsHostile = true
	case NeverExpiresWall:
		cfg.neverExpires = true
	case ExpiresOnlyInCookie:
		cfg.neverExpires, cfg.cookieMaxAge, cfg.hooks = true, true, false
	case ObjectsNotRefreshed:
		cfg.objectsByWrite = true
	case NoExpiryHook:
		cfg.hooks = false
	case NoExpiryHookNoDiscovery:
		cfg.hooks, cfg.discovery = false, false
	case CustomCookieNoDiscovery:
		cfg.cookie, cfg.discovery = "sid", false
	default:
		return nil
	}
	return newMemStore(cfg)
}

// storeConfig describes a store and its defects.
type storeConfig struct {
	name    string // the discovery document's implementation
	cookie  string // the session cookie's name
	timeout time.Duration
	clock   fakeclock.Clock
	fake    *fakeclock.Fake // when set, served at /_clock and named in the discovery document

	discovery bool // serves the discovery document (else 404)
	hooks     bool // serves /logme and /expired (else 404; the discovery document lists them all the same)

	wholeSeconds    bool // last access stamped in whole seconds; gone once now_s - stamp > timeout_s
	neverExpires    bool // ignores its timeout
	cookieMaxAge    bool // the session cookie, re-sent on every answer, has Max-Age = the timeout
	adoptsDestroyed bool // a cookie naming a session /expire destroyed gets a new session with that id
	dropsHostile    bool // a malformed or never-issued id gets no session at all
	objectsByWrite  bool // the counter is dropped its timeout after its last increment, visits or not
}

// discoveryDoc is the document a store serves.
func (c storeConfig) discoveryDoc() contract.Discovery {
	secs := c.timeout.Seconds()
	paths := contract.DefaultPaths
	if c.fake != nil {
		paths.Clock = contract.PathClock
	}
	return contract.Discovery{Version: 1, Implementation: c.name, Cookie: c.cookie, TimeoutSeconds: &secs, Paths: &paths}
}

// clockControl serves the clock resource for fake.
func clockControl(fake *fakeclock.Fake) http.Handler {
	return contract.ClockControl{Now: fake.Now, Advance: func(_ context.Context, d time.Duration) error {
		fake.Advance(d)
		return nil
	}}
}

// newID returns 64 random hex digits.
func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wellFormedID reports whether v is 64 lowercase hex digits.
func wellFormedID(v string) bool {
	if len(v) != 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// cookieValues returns the values the request's Cookie headers give for
// name, in order, surrounding DQUOTEs removed. Pairs split on ';', blanks
// trimmed, names compared exactly.
func cookieValues(r *http.Request, name string) []string {
	var vals []string
	for _, line := range r.Header.Values("Cookie") {
		for pair := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && k == name {
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				vals = append(vals, v)
			}
		}
	}
	return vals
}

// setCookie adds a session-style cookie to w: Path=/, HttpOnly,
// SameSite=Lax, and Max-Age=0 when clearing it.
func setCookie(w http.ResponseWriter, name, value string, clear bool) {
	line := name + "=" + value + "; Path=/; HttpOnly; SameSite=Lax"
	if clear {
		line += "; Max-Age=0"
	}
	w.Header().Add("Set-Cookie", line)
}

// answer writes a text answer.
func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// route does what every store does before its own resources: the clock,
// the discovery document, 404 for unknown paths and 405 for methods
// other than GET and HEAD. It reports whether it answered.
func route(w http.ResponseWriter, r *http.Request, fake *fakeclock.Fake, doc *contract.Discovery, served ...string) bool {
	switch r.URL.Path {
	case contract.PathClock:
		if fake == nil {
			http.NotFound(w, r)
		} else {
			clockControl(fake).ServeHTTP(w, r)
		}
		return true
	case contract.PathDiscovery:
		if doc == nil {
			http.NotFound(w, r)
		} else {
			writeJSON(w, doc)
		}
		return true
	}
	found := false
	for _, p := range served {
		found = found || p == r.URL.Path
	}
	switch {
	case !found:
		http.NotFound(w, r)
		return true
	case contract.RefuseUnlessRead(w, r):
		return true
	}
	return false
}

// memStore is a server-side store: sessions in a map, one timer each.
type memStore struct {
	cfg  storeConfig
	secs int64 // wholeSeconds: the timeout in whole seconds, rounded up

	mu        sync.Mutex
	sessions  map[string]*memSession
	destroyed map[string]bool // adoptsDestroyed: ids ended through /expire
	issued    map[string]bool // dropsHostile: every id ever issued
	feed      []string        // ids whose logged expiry has happened
}

type memSession struct {
	id      string
	last    time.Time // last access
	written time.Time // objectsByWrite: the counter's last increment
	stamp   int64     // wholeSeconds: last access in whole Unix seconds
	counter int
	logged  bool
	timer   fakeclock.Timer
}

func newMemStore(cfg storeConfig) *memStore {
	return &memStore{
		cfg: cfg, secs: int64((cfg.timeout + time.Second - 1) / time.Second),
		sessions: map[string]*memSession{}, destroyed: map[string]bool{}, issued: map[string]bool{},
	}
}

// expiredAt reports whether sess has timed out at now.
func (s *memStore) expiredAt(sess *memSession, now time.Time) bool {
	switch {
	case s.cfg.neverExpires:
		return false
	case s.cfg.wholeSeconds:
		return now.Unix()-sess.stamp > s.secs
	}
	return !now.Before(sess.last.Add(s.cfg.timeout))
}

// due is the first instant at which expiredAt(sess) holds.
func (s *memStore) due(sess *memSession) time.Time {
	if s.cfg.wholeSeconds {
		return time.Unix(sess.stamp+s.secs+1, 0)
	}
	return sess.last.Add(s.cfg.timeout)
}

// touch records an access at now and re-arms the session's timer.
func (s *memStore) touch(sess *memSession, now time.Time) {
	sess.last, sess.stamp = now, now.Unix()
	if s.cfg.neverExpires {
		return
	}
	d := s.due(sess).Sub(now)
	if sess.timer == nil {
		sess.timer = s.cfg.clock.AfterFunc(d, func() { s.fire(sess) })
	} else {
		sess.timer.Reset(d)
	}
}

// fire is a session's timer: it ends the session if it is due, and
// re-arms the timer if it is not (a real timer may fire a hair early by
// the wall clock's reckoning).
func (s *memStore) fire(sess *memSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] != sess {
		return
	}
	now := s.cfg.clock.Now()
	if s.expiredAt(sess, now) {
		s.end(sess)
		return
	}
	sess.timer.Reset(max(s.due(sess).Sub(now), time.Millisecond))
}

// end removes sess and logs its expiry if it was logged. Called with
// s.mu held.
func (s *memStore) end(sess *memSession) {
	delete(s.sessions, sess.id)
	if sess.timer != nil {
		sess.timer.Stop()
	}
	if sess.logged && s.cfg.hooks {
		s.feed = append(s.feed, sess.id)
	}
}

// create makes a session with id and sets its cookie. Called with s.mu
// held.
func (s *memStore) create(w http.ResponseWriter, id string, now time.Time) *memSession {
	sess := &memSession{id: id}
	s.sessions[id] = sess
	s.issued[id] = true
	s.touch(sess, now)
	s.setCookie(w, id)
	return sess
}

// setCookie sets the session cookie naming id, with a Max-Age of the
// timeout when the store times sessions out by their cookie.
func (s *memStore) setCookie(w http.ResponseWriter, id string) {
	if !s.cfg.cookieMaxAge {
		setCookie(w, s.cfg.cookie, id, false)
		return
	}
	w.Header().Add("Set-Cookie", s.cfg.cookie+"="+id+"; Path=/; HttpOnly; SameSite=Lax; Max-Age="+strconv.FormatInt(s.secs, 10))
}

// session returns the request's session, made if need be; nil when the
// store leaves the client without one (dropsHostile). Called with s.mu
// held.
func (s *memStore) session(w http.ResponseWriter, r *http.Request) *memSession {
	now := s.cfg.clock.Now()
	hostile := false
	for _, v := range cookieValues(r, s.cfg.cookie) {
		sess, ok := s.sessions[v]
		if ok && s.expiredAt(sess, now) { // found before its timer ran: it is gone all the same
			s.end(sess)
			ok = false
		}
		switch {
		case ok:
			if s.cfg.objectsByWrite && !now.Before(sess.written.Add(s.cfg.timeout)) {
				sess.counter = 0 // the defect: the objects timed out on their own
			}
			s.touch(sess, now)
			if s.cfg.cookieMaxAge {
				s.setCookie(w, sess.id)
			}
			return sess
		case s.cfg.adoptsDestroyed && s.destroyed[v]:
			return s.create(w, v, now) // the defect: the destroyed id lives again
		case !wellFormedID(v) || !s.issued[v]:
			hostile = true
		}
	}
	if hostile && s.cfg.dropsHostile {
		return nil // the defect: no session, no cookie
	}
	return s.create(w, newID(), now)
}

// noSession is the page of a request left without a session.
const noSession = "No session."

func (s *memStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var doc *contract.Discovery
	if s.cfg.discovery {
		d := s.cfg.discoveryDoc()
		doc = &d
	}
	served := []string{contract.PathSession, contract.PathExpire, contract.PathCounter}
	if s.cfg.hooks {
		served = append(served, contract.PathLogMe, contract.PathExpired)
	}
	if route(w, r, s.cfg.fake, doc, served...) {
		return
	}
	s.mu.Lock()
	var body string
	if r.URL.Path == contract.PathExpired {
		var b strings.Builder
		for _, id := range s.feed {
			b.WriteString(id + "\n")
		}
		body = b.String()
	} else if sess := s.session(w, r); sess == nil {
		body = noSession
	} else {
		switch r.URL.Path {
		case contract.PathSession:
			body = "Your session id is: " + sess.id
		case contract.PathExpire:
			s.end(sess)
			s.destroyed[sess.id] = true
			setCookie(w, s.cfg.cookie, "", true)
			body = "Your session has been expired."
		case contract.PathLogMe:
			sess.logged = true
			body = "Session " + sess.id + " will be logged when it expires."
		case contract.PathCounter:
			sess.counter++
			sess.written = s.cfg.clock.Now()
			body = "Visit #" + strconv.Itoa(sess.counter) + " for you!"
		}
	}
	s.mu.Unlock()
	answer(w, http.StatusOK, body)
}

// signedStore keeps each session on its client, in two cookies: the
// state, base64 of its JSON, and the state's HMAC, as express
// cookie-session ("sess" and "sess.sig") and Rails' cookie store do. The
// server holds nothing per session but, with revoke, the ids /expire
// ended. It has no expiry hook: /logme and /expired are not served.
type signedStore struct {
	cfg    storeConfig
	key    []byte
	revoke bool

	mu      sync.Mutex
	revoked map[string]bool
}

// signedState is what the value cookie carries.
type signedState struct {
	ID      string `json:"id"`
	Counter int    `json:"counter"`
	Last    int64  `json:"iat"` // last access, Unix nanoseconds
}

// The signed store's cookies.
const (
	signedCookie = "sess"
	signedSig    = "sess.sig"
)

func newSignedStore(cfg storeConfig, revoke bool) *signedStore {
	cfg.cookie, cfg.hooks = signedCookie, false
	key := make([]byte, 32)
	rand.Read(key)
	return &signedStore{cfg: cfg, key: key, revoke: revoke, revoked: map[string]bool{}}
}

func (s *signedStore) sign(value string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signedCookie + "=" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// state returns the session the request's cookies carry, if they carry
// a validly signed one that has not timed out (and, with revoke, was not
// ended by /expire).
func (s *signedStore) state(r *http.Request, now time.Time) (signedState, bool) {
	for _, v := range cookieValues(r, signedCookie) {
		for _, sig := range cookieValues(r, signedSig) {
			if !hmac.Equal([]byte(sig), []byte(s.sign(v))) {
				continue
			}
			raw, err := base64.RawURLEncoding.DecodeString(v)
			var st signedState
			if err != nil || json.Unmarshal(raw, &st) != nil {
				continue
			}
			if now.Sub(time.Unix(0, st.Last)) >= s.cfg.timeout {
				continue
			}
			s.mu.Lock()
			dead := s.revoke && s.revoked[st.ID]
			s.mu.Unlock()
			if !dead {
				return st, true
			}
		}
	}
	return signedState{}, false
}

func (s *signedStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc := s.cfg.discoveryDoc()
	doc.Paths.LogMe, doc.Paths.Expired = "", ""
	if route(w, r, s.cfg.fake, &doc, contract.PathSession, contract.PathExpire, contract.PathCounter) {
		return
	}
	now := s.cfg.clock.Now()
	st, ok := s.state(r, now)
	if !ok {
		st = signedState{ID: newID()}
	}
	st.Last = now.UnixNano()
	var body string
	switch r.URL.Path {
	case contract.PathSession:
		body = "Your session id is: " + st.ID
	case contract.PathCounter:
		st.Counter++
		body = "Visit #" + strconv.Itoa(st.Counter) + " for you!"
	case contract.PathExpire:
		if s.revoke {
			s.mu.Lock()
			s.revoked[st.ID] = true
			s.mu.Unlock()
		}
		// The defect (without revoke): clearing the cookies is all
		// there is to it; the old pair stays valid for its timeout.
		setCookie(w, signedCookie, "", true)
		setCookie(w, signedSig, "", true)
		answer(w, http.StatusOK, "Your session has been expired.")
		return
	}
	raw, _ := json.Marshal(st)
	value := base64.RawURLEncoding.EncodeToString(raw)
	setCookie(w, signedCookie, value, false) // every answer: the state changed
	setCookie(w, signedSig, s.sign(value), false)
	answer(w, http.StatusOK, body)
}
