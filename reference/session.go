package reference

import (
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

// Session is one user's session: an opaque uid, a last-access time that
// the inactivity timeout counts from, the functions to run when it ends,
// and the objects stored on it for its lifetime.
//
// A site may hold millions of sessions, so a Session is kept to 64 bytes:
// the uid as its 32 raw bytes (UID spells them in hex), no timer of its
// own (the Site's expiry queue holds its deadline), and the rarely used
// parts, callbacks and stored objects, in a separate record made on first
// use.
type Session struct {
	site *Site
	id   [uidBytes]byte

	// Guarded by site.mu.
	lastAccess int64 // nanoseconds since site.epoch
	index      int32 // position in the site's expiry queue, -1 when not queued
	secure     bool  // issued over TLS: only found again over TLS
	expired    bool
	revisited  bool // found again by its uid after the request that made it

	extra atomic.Pointer[sessionExtra] // nil until a callback or an object is stored
}

// sessionExtra is the part of a Session that most sessions never need.
// It is one 80-byte allocation that holds the common cases inline: one
// stored object (the counter, the logged marker) and one expiry call
// (the logger's), with a map and a slice only for more. A session that
// is logged, or counted, costs this record and nothing else beyond a
// plain session (the counter's own 8 bytes aside): no map, no closure.
type sessionExtra struct {
	// Guarded by site.mu.
	call0 expiryCall   // the first registration
	calls []expiryCall // the later ones, in order

	compMu sync.Mutex
	key0   any         // the first stored object's key; nil when none; endedMark{} once the session has ended
	val0   any         // and the object
	more   map[any]any // the others
}

// expiryCall is a function to run when a session ends. The package's own
// resources register a function shared by all sessions, which is given
// the session; NotifyOnExpire wraps the caller's func() in one.
type expiryCall func(*Session)

// expiryCalls are the calls a session's end has to run, taken off the
// session under the site's lock and run without it.
type expiryCalls struct {
	first expiryCall
	rest  []expiryCall
}

func (c expiryCalls) none() bool { return c.first == nil }

// ext returns the session's extra record, making it on first use.
func (s *Session) ext() *sessionExtra {
	if e := s.extra.Load(); e != nil {
		return e
	}
	e := new(sessionExtra)
	if s.extra.CompareAndSwap(nil, e) {
		return e
	}
	return s.extra.Load()
}

// UID returns the session's identifier, the value of its cookie.
func (s *Session) UID() string { return hex.EncodeToString(s.id[:]) }

// Secure reports whether the session was issued over TLS.
func (s *Session) Secure() bool { return s.secure }

// LastAccess reports when the session was last created, looked up or
// touched: its inactivity timeout counts from this instant.
func (s *Session) LastAccess() time.Time {
	s.site.mu.Lock()
	defer s.site.mu.Unlock()
	return s.site.epoch.Add(time.Duration(s.lastAccess))
}

// Expired reports whether the session has ended.
func (s *Session) Expired() bool {
	s.site.mu.Lock()
	defer s.site.mu.Unlock()
	return s.expired
}

// Touch marks the session accessed now, so it lives a full timeout from
// this instant. Touching an expired session does nothing: it stays ended.
func (s *Session) Touch() {
	site := s.site
	site.mu.Lock()
	if !s.expired {
		s.lastAccess = site.offset(site.clock.Now())
	}
	site.mu.Unlock()
}

// Expire ends the session now: it is removed from its Site, so its uid is
// never accepted again, its stored objects are dropped, and its expiry
// callbacks run once each, in registration order. Expiring an ended
// session does nothing (Twisted 22.4 raises KeyError instead).
func (s *Session) Expire() {
	site := s.site
	site.mu.Lock()
	calls := site.removeLocked(s)
	site.mu.Unlock()
	site.runCallbacks(s, calls)
}

// NotifyOnExpire registers f to run once when the session ends, by
// explicit Expire, by timeout, or by eviction from a full site (see
// Config.MaxSessions). Each registration runs once; there is no
// de-duplication. On a session that has already ended, f runs at once, so
// a registration is never silently lost.
func (s *Session) NotifyOnExpire(f func()) {
	s.notifyOnExpire(func(*Session) { f() })
}

// notifyOnExpire registers f, which is given the session when it ends.
// A function value shared by many sessions costs each of them nothing but
// its slot.
func (s *Session) notifyOnExpire(f expiryCall) {
	site := s.site
	e := s.ext()
	site.mu.Lock()
	if s.expired {
		site.mu.Unlock()
		site.runCallbacks(s, expiryCalls{first: f})
		return
	}
	if e.call0 == nil {
		e.call0 = f
	} else {
		e.calls = append(e.calls, f)
	}
	site.mu.Unlock()
}

// The stored objects (components) are in components.go.
