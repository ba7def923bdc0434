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

	extra atomic.Pointer[sessionExtra] // nil until a callback or an object is stored
}

// sessionExtra is the part of a Session that most sessions never need.
type sessionExtra struct {
	notify []func() // guarded by site.mu

	compMu     sync.Mutex
	components map[any]any
}

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
	cbs := site.removeLocked(s)
	site.mu.Unlock()
	site.runCallbacks(s, cbs)
}

// NotifyOnExpire registers f to run once when the session ends, by
// explicit Expire or by timeout. Each registration runs once; there is no
// de-duplication. On a session that has already ended, f runs at once, so
// a registration is never silently lost.
func (s *Session) NotifyOnExpire(f func()) {
	site := s.site
	e := s.ext()
	site.mu.Lock()
	if s.expired {
		site.mu.Unlock()
		site.runCallbacks(s, []func(){f})
		return
	}
	e.notify = append(e.notify, f)
	site.mu.Unlock()
}

// Component returns the object stored on the session under key, first
// storing create() there if there is none: the counterpart of adapting a
// session to an interface with a registered adapter (ICounter(session)).
// The object lives exactly as long as the session.
func (s *Session) Component(key any, create func() any) any {
	e := s.ext()
	e.compMu.Lock()
	defer e.compMu.Unlock()
	if v, ok := e.components[key]; ok {
		return v
	}
	v := create()
	if e.components == nil {
		e.components = make(map[any]any)
	}
	e.components[key] = v
	return v
}

// SetComponent stores v on the session under key, replacing what was
// there, as Twisted's setComponent does.
func (s *Session) SetComponent(key, v any) {
	e := s.ext()
	e.compMu.Lock()
	defer e.compMu.Unlock()
	if e.components == nil {
		e.components = make(map[any]any)
	}
	e.components[key] = v
}
