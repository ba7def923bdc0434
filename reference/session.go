package reference

import (
	"sync"
	"time"
)

// Session is one user's session: an opaque uid, a last-access time that
// the inactivity timeout counts from, the functions to run when it ends,
// and the objects stored on it for its lifetime.
type Session struct {
	site   *Site
	uid    string
	secure bool // issued over TLS: only found again over TLS

	// Guarded by site.mu.
	lastAccess int64 // nanoseconds since site.epoch
	queueKey   int64 // deadline the expiry queue holds for it (<= the real one)
	index      int   // position in the expiry queue, -1 when not queued
	expired    bool
	notify     []func()

	compMu     sync.Mutex
	components map[any]any
}

// UID returns the session's identifier, the value of its cookie.
func (s *Session) UID() string { return s.uid }

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
	site.runCallbacks(s.uid, cbs)
}

// NotifyOnExpire registers f to run once when the session ends, by
// explicit Expire or by timeout. Each registration runs once; there is no
// de-duplication. On a session that has already ended, f runs at once, so
// a registration is never silently lost.
func (s *Session) NotifyOnExpire(f func()) {
	site := s.site
	site.mu.Lock()
	if s.expired {
		site.mu.Unlock()
		site.runCallbacks(s.uid, []func(){f})
		return
	}
	s.notify = append(s.notify, f)
	site.mu.Unlock()
}

// Component returns the object stored on the session under key, first
// storing create() there if there is none: the counterpart of adapting a
// session to an interface with a registered adapter (ICounter(session)).
// The object lives exactly as long as the session.
func (s *Session) Component(key any, create func() any) any {
	s.compMu.Lock()
	defer s.compMu.Unlock()
	if v, ok := s.components[key]; ok {
		return v
	}
	v := create()
	if s.components == nil {
		s.components = make(map[any]any)
	}
	s.components[key] = v
	return v
}

// SetComponent stores v on the session under key, replacing what was
// there, as Twisted's setComponent does.
func (s *Session) SetComponent(key, v any) {
	s.compMu.Lock()
	defer s.compMu.Unlock()
	if s.components == nil {
		s.components = make(map[any]any)
	}
	s.components[key] = v
}
