// Package reference is a minimal, correct session server with Twisted
// Web's vocabulary and the behaviour its documentation describes: a Site
// keeps Sessions by uid, a session lives until it is explicitly expired
// or goes unused for its timeout, and functions registered with
// NotifyOnExpire run when it ends.
//
// Where Twisted 22.4's code and its documentation disagree, this package
// follows the documentation and says so where it matters.
package reference

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// DefaultTimeout is how long a session may go unused before it expires:
// Twisted's Session.sessionTimeout, "the default is 15 minutes".
const DefaultTimeout = contract.DefaultTimeout

// ErrSiteFull is returned by GetSession when the site already holds
// Config.MaxSessions live sessions and a new one would be needed.
var ErrSiteFull = errors.New("reference: too many live sessions")

// Config describes a Site. The zero value is Twisted's default: the real
// clock and a 900 s inactivity timeout.
type Config struct {
	// Clock drives timeouts; nil means fakeclock.Real().
	Clock fakeclock.Clock
	// SessionTimeout is how long a session may go without being accessed
	// before it expires; zero means DefaultTimeout. It plays the part of
	// the docs' ShortSession subclass installed as Site.sessionFactory.
	SessionTimeout time.Duration
	// MaxSessions caps the number of live sessions; zero means no cap.
	// When the cap is reached, existing sessions keep working and new ones
	// are refused with ErrSiteFull.
	MaxSessions int
	// Random is the source of session uids; nil means crypto/rand. Tests
	// substitute a predictable reader.
	Random io.Reader
	// OnCallbackPanic, when set, hears about an expiry callback that
	// panicked. The panic never stops the session's other callbacks.
	OnCallbackPanic func(uid string, recovered any)
}

// Site keeps the live sessions of one server by uid and makes new ones.
// Sessions are kept until they expire, through inactivity or because they
// are explicitly expired; each request after the first that names a live
// session gets the same Session back from the Site.
type Site struct {
	clock   fakeclock.Clock
	timeout time.Duration
	max     int
	random  io.Reader
	onPanic func(string, any)
	epoch   time.Time // the origin of the nanosecond offsets kept per session

	mu       sync.Mutex
	sessions uidIndex
	queue    expiryQueue     // live sessions ordered by a lower bound of their deadline
	timer    fakeclock.Timer // one timer for the whole site, due at the queue's head
	armedFor int64           // offset the timer is due at; valid while armed
	armed    bool
}

// NewSite returns an empty Site configured by cfg.
func NewSite(cfg Config) *Site {
	s := &Site{
		clock:    cfg.Clock,
		timeout:  cfg.SessionTimeout,
		max:      cfg.MaxSessions,
		random:   cfg.Random,
		onPanic:  cfg.OnCallbackPanic,
		sessions: newUIDIndex(),
	}
	if s.clock == nil {
		s.clock = fakeclock.Real()
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	s.epoch = s.clock.Now()
	return s
}

// SessionTimeout reports the inactivity timeout of the site's sessions.
func (s *Site) SessionTimeout() time.Duration { return s.timeout }

// Clock reports the clock the site runs on.
func (s *Site) Clock() fakeclock.Clock { return s.clock }

// Len reports how many sessions are live.
func (s *Site) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions.len()
}

// MakeSession creates a new session with a fresh uid, as Twisted's
// Site.makeSession does. It fails with ErrSiteFull when the site is at
// its cap, or when no unused uid could be drawn from the random source.
func (s *Site) MakeSession() (*Session, error) {
	return s.makeSession(false)
}

func (s *Site) makeSession(secure bool) (*Session, error) {
	sess := &Session{site: s, secure: secure, index: -1}
	for range 4 {
		// 256 bits from the random source, read straight into the
		// session: its uid is their 64 lowercase hex digits, the same
		// shape as Twisted's uids.
		if _, err := io.ReadFull(s.random, sess.id[:]); err != nil {
			return nil, fmt.Errorf("reference: reading session uid: %w", err)
		}
		s.mu.Lock()
		if s.max > 0 && s.sessions.len() >= s.max {
			s.mu.Unlock()
			return nil, ErrSiteFull
		}
		if !s.sessions.add(sess) {
			s.mu.Unlock()
			continue // astronomically unlikely with crypto/rand; a test source can force it
		}
		now := s.offset(s.clock.Now())
		sess.lastAccess = now
		s.queue.push(sess, now+int64(s.timeout))
		s.armLocked(now)
		s.mu.Unlock()
		return sess, nil
	}
	return nil, fmt.Errorf("reference: random source keeps returning uids already in use")
}

// Session returns the live session with the given uid and marks it
// accessed, like Twisted's Site.getSession followed by a touch. A session
// whose timeout has passed is expired on the spot, even if its timer has
// not run yet, so the answer is exact on a real clock too.
func (s *Site) Session(uid string) (*Session, bool) {
	id, ok := parseUID(uid)
	if !ok {
		return nil, false // not the shape of any uid this site issues
	}
	return s.lookup(&id, false)
}

func (s *Site) lookup(id *[uidBytes]byte, secure bool) (*Session, bool) {
	s.mu.Lock()
	sess := s.sessions.get(id)
	if sess == nil || sess.secure != secure {
		s.mu.Unlock()
		return nil, false
	}
	now := s.offset(s.clock.Now())
	if now-sess.lastAccess >= int64(s.timeout) {
		cbs := s.removeLocked(sess)
		s.mu.Unlock()
		s.runCallbacks(sess, cbs)
		return nil, false
	}
	sess.lastAccess = now
	s.mu.Unlock()
	return sess, true
}

// offset turns an instant of the site's clock into nanoseconds since the
// site was made. On the real clock this uses the monotonic reading.
func (s *Site) offset(t time.Time) int64 { return int64(t.Sub(s.epoch)) }

// removeLocked takes sess off the site and returns the callbacks to run.
// It reports nil callbacks for a session that was already gone.
func (s *Site) removeLocked(sess *Session) []func() {
	if sess.expired {
		return nil
	}
	sess.expired = true
	s.sessions.remove(sess)
	s.queue.remove(sess)
	if s.queue.len() == 0 && s.armed {
		s.timer.Stop()
		s.armed = false
	}
	e := sess.extra.Load()
	if e == nil {
		return nil // no callbacks and no stored objects: the common case
	}
	cbs := e.notify
	e.notify = nil
	e.compMu.Lock()
	e.components = nil
	e.compMu.Unlock()
	return cbs
}

// runCallbacks runs the expiry callbacks of one session in registration
// order. A callback that panics is reported and the rest still run.
func (s *Site) runCallbacks(sess *Session, cbs []func()) {
	for _, f := range cbs {
		func() {
			defer func() {
				if r := recover(); r != nil && s.onPanic != nil {
					s.onPanic(sess.UID(), r)
				}
			}()
			f()
		}()
	}
}

// armLocked makes sure the site's one timer is due no later than the
// head of the expiry queue.
func (s *Site) armLocked(now int64) {
	if s.queue.len() == 0 {
		return
	}
	due := s.queue.headKey()
	if s.armed && s.armedFor <= due {
		return
	}
	d := time.Duration(due - now)
	if s.timer == nil {
		s.timer = s.clock.AfterFunc(d, s.sweep)
	} else {
		s.timer.Reset(d)
	}
	s.armed, s.armedFor = true, due
}

// sweepBatch bounds the work the sweep does per hold of the site's lock,
// so that a storm of expiries does not stall every request meanwhile.
const sweepBatch = 256

// sweep runs when the site's timer falls due: every session whose last
// access is a full timeout ago expires; sessions accessed since they were
// queued go back into the queue at their new deadline. It works in
// batches, running each batch's callbacks with the lock released, as
// Twisted runs each session's expiry as a call of its own.
func (s *Site) sweep() {
	type ending struct {
		sess *Session
		cbs  []func()
	}
	var ended [sweepBatch]ending // only the sessions with callbacks to run
	finished := false
	defer func() {
		// Only a panicking OnCallbackPanic hook gets here unfinished:
		// the sessions still due are left to a sweep the timer runs anew.
		if !finished {
			s.mu.Lock()
			s.armLocked(s.offset(s.clock.Now()))
			s.mu.Unlock()
		}
	}()
	s.mu.Lock()
	s.armed = false
	for {
		now := s.offset(s.clock.Now())
		n, work := 0, 0
		for s.queue.len() > 0 && s.queue.headKey() <= now && work < sweepBatch {
			work++
			sess := s.queue.head()
			deadline := sess.lastAccess + int64(s.timeout)
			if deadline > now {
				s.queue.fixHead(deadline)
				continue
			}
			if cbs := s.removeLocked(sess); cbs != nil {
				ended[n] = ending{sess, cbs}
				n++
			}
		}
		done := work < sweepBatch
		if done {
			s.armLocked(now)
		}
		s.mu.Unlock()
		for i := range ended[:n] {
			s.runCallbacks(ended[i].sess, ended[i].cbs)
			ended[i] = ending{}
		}
		if done {
			finished = true
			return
		}
		s.mu.Lock()
	}
}

// untilNextExpiry reports how long until the earliest live session could
// expire: a fair Retry-After for a client refused by a full site.
func (s *Site) untilNextExpiry() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queue.len() == 0 {
		return 0
	}
	now := s.offset(s.clock.Now())
	return max(time.Duration(s.queue.headKey()-now), 0)
}
