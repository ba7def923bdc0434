// Package reference is a minimal, correct session server with Twisted
// Web's vocabulary and the behaviour its documentation describes: a Site
// keeps Sessions by uid, a session lives until it is explicitly expired
// or goes unused for its timeout, and functions registered with
// NotifyOnExpire run when it ends.
//
// Where Twisted 22.4's code and its documentation disagree, this package
// follows the documentation and says so where it matters.
//
// # The expired feed
//
// Server serves the seed resources (see Server), among them GET /expired,
// the feed of logged expiries (sessions that visited /logme and have
// since ended, by timeout, /expire or eviction):
//
//	GET /expired                  text/plain, one line per notification, oldest first:
//	                              the session's uid, 64 lowercase hex digits
//	GET /expired?id=UID&id=UID2   only the lines for those uids, in the order asked:
//	                              each once per notification (a doubled notification
//	                              shows twice), none for a uid never notified
//
// Both carry the header X-Sessionspec-Dropped: N, the number of the
// oldest lines dropped so far. The feed retains at most FeedLimit
// (4,194,304) lines, about 0.29 GB; past that the oldest are dropped, a
// block of at most 4,096 at a time. A whole feed whose start has been dropped
// begins with the line "# dropped N older lines"; a reader so slow that
// dropping overtakes it is told "# dropped N more lines while this answer
// was sent" where the lines are missing. (Clients ignore lines with
// spaces.) An id query answers from an index of the retained lines, in
// time proportional to the ids asked, however long the feed; an id whose
// lines have been dropped gets none. At most MaxExpiredIDs (200) ids per
// request, each a uid as issued, and no other parameter: anything else is
// 400 with a one-line reason.
//
// The whole feed is streamed as it stood when the request came, from the
// feed's own blocks (uids as 32 raw bytes), a few hundred lines per
// write: each reader costs one 33 KB buffer, however long the feed and
// however many read it at once, and each write has a fresh write
// deadline, so a long feed is not cut off while its reader keeps reading.
//
// For the README (the target contract's row, and the reference's):
//
//	| `GET /expired` | `text/plain`, the ids whose notification fired, one per line (bare ids or the docs' `Session <id> has expired.`); lines with spaces are comments. The reference also answers `GET /expired?id=<id>&id=<id>` (up to 200) with only those ids' lines, one per notification, and counts lines dropped past its 4,194,304-line bound in `X-Sessionspec-Dropped` |
//
// # Components
//
// A Session stores objects under keys, as Nevow's sessions store
// components under interfaces: GetComponent (the stored object, or a
// *NoComponentError naming the key), ComponentOr (or a default, not
// stored), SetComponent (replaces), UnsetComponent, Component (made by a
// function on first use) and RegisterAdapter (a constructor for a key
// type, registered on the Site: the first use on a session makes the
// object and stores it, later uses get the same one). A key is any
// comparable value; an application that gives its keys a type of its
// own never meets another's components. Everything stored on a session,
// and every expiry callback, is let go when the session ends.
//
// Server serves them at GET /components (contract.PathComponents,
// declared in the discovery document), for clients that only GET; every
// answer is text/plain, and uses the request's session as every seed
// resource does:
//
//	GET /components?app=A&key=K            get-or-fail: 200 and the value, or 404
//	                                       "unset: application A has no component K ..."
//	GET /components?app=A&key=K&default=D  get-or-default: 200 and the value, or D,
//	                                       which is not stored
//	GET /components?app=A&key=K&set=V      set: stores V, replacing what was there; 200 V
//	GET /components?app=A&key=adapter      A's adapter object, made on first use on the
//	                                       session and the same afterwards: 200 "instance
//	                                       <16 hex digits> made at <time on the site's clock>"
//	                                       (set replaces it too; default never applies)
//
// Applications' components never meet: A's key K and B's key K are two
// components. App and key names are 1 to 32 of A-Z a-z 0-9 . _ ~ -;
// values and defaults at most 128 bytes of printable UTF-8; no other
// parameter, none twice, not both default and set: anything else is 400
// with a one-line reason, and makes no session. A session keeps the
// components of at most 8 applications, at most 8 components each
// besides the adapter's object, and the process at most 64 MiB of them
// (names, values and 128 bytes per component), given back when a session
// ends; a request that would store more gets 507 and stores nothing.
//
// For the README (the target contract's row):
//
//	| `GET /components?app=A&key=K[&default=D\|&set=V]` | optional: session components per application (Nevow's `setComponent` and adaptation). Without `default` or `set`: the value, or `404` with a body beginning `unset`; `default=D`: the value, or D without storing it; `set=V`: stores V, replacing what was there, answers V; `key=adapter`: an object made on first use and kept for the session (any text naming the instance). A's key K and B's key K are two components. The reference bounds names (32 bytes), values (128), components per session (8 applications × 8 keys) and bytes in all (64 MiB): 400 or 507 past them |
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

// ErrSiteFull was returned by GetSession when the site held
// Config.MaxSessions live sessions and a new one was needed.
//
// Deprecated: a full site now makes room by evicting a session (see
// Config.MaxSessions); nothing returns this error any more.
var ErrSiteFull = errors.New("reference: too many live sessions")

// DefaultMaxSessions is the cap on live sessions of a Site whose
// Config.MaxSessions is zero. It bounds what a flood of new sessions can
// cost: a million sessions are 0.12 GB of live heap if plain, 0.2 GB if
// logged or counted (116, 196 and 204 bytes each, TestBytesPerSession).
// With the expired feed at its bound too (FeedLimit, 0.29 GB), a server
// at the defaults flooded with GET /logme for ever stays near 1 GB
// resident, garbage included: 1.03 GB after 7 million requests, 6
// million of them evicting a logged session into the feed.
const DefaultMaxSessions = 1_000_000

// The session timeouts a Site accepts: from a millisecond, the finest
// resolution a timeout is declared and checked with, to a year, the most
// a target may declare (the contract's bounds).
const (
	MinTimeout = contract.MinTimeout
	MaxTimeout = contract.MaxTimeout
)

// Config describes a Site. The zero value is Twisted's default: the real
// clock and a 900 s inactivity timeout.
type Config struct {
	// Clock drives timeouts; nil means fakeclock.Real().
	Clock fakeclock.Clock
	// SessionTimeout is how long a session may go without being accessed
	// before it expires; zero means DefaultTimeout. It plays the part of
	// the docs' ShortSession subclass installed as Site.sessionFactory.
	// Anything else outside MinTimeout..MaxTimeout is refused (Validate).
	SessionTimeout time.Duration
	// MaxSessions caps the number of live sessions; zero means
	// DefaultMaxSessions, a negative value no cap at all.
	//
	// A full site never refuses a new client: it makes room by ending
	// one session, chosen so that one client flooding the site with new
	// sessions cannot lock others out, nor push out sessions in use:
	//
	//  1. a session whose timeout has already passed (its timer has not
	//     run yet), if there is one;
	//  2. else the oldest session that was never visited again, that is,
	//     never found by its uid after the request that made it. A flood
	//     of new sessions (a client that sends no cookie back) is made of
	//     exactly these, so it pushes out its own sessions first, oldest
	//     first, while a newcomer's session lives on long enough for its
	//     second visit (the cap divided by the flood's rate: 25 s for
	//     the default cap against 40,000 new sessions per second);
	//  3. else, when every live session has been visited again, the
	//     least recently used one.
	//
	// An evicted session has ended like any other: it is removed, its
	// uid is never accepted again, and its expiry callbacks run once
	// (so the /expired feed lists it). Site.Evicted counts evictions.
	//
	// Eviction rather than refusal (503, as before) because refusal hands
	// the site to whoever fills it first, for a whole timeout; and no
	// per-client-address quota, because behind a proxy, or in a test
	// driving many clients from 127.0.0.1, every client has the same
	// address, and an IPv6 client has millions.
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
	max     int // 0: no cap
	random  io.Reader
	onPanic func(string, any)
	epoch   time.Time // the origin of the nanosecond offsets kept per session

	mu       sync.Mutex
	sessions uidIndex
	queue    expiryQueue     // live sessions ordered by a lower bound of their deadline
	timer    fakeclock.Timer // one timer for the whole site, due at the queue's head
	armedFor int64           // offset the timer is due at; valid while armed
	armed    bool
	fresh    freshQueue // with a cap: sessions not yet visited again, oldest first
	evicted  uint64

	adapters sync.Map // reflect.Type of a key -> adapter: see RegisterAdapter
}

// Validate reports, in one line, what is wrong with c, or nil.
func (c Config) Validate() error {
	if t := c.SessionTimeout; t != 0 && (t < MinTimeout || t > MaxTimeout) {
		return fmt.Errorf("session timeout %s is not between %s and %s", t, MinTimeout, MaxTimeout)
	}
	return nil
}

// NewSite returns an empty Site configured by cfg. It panics if cfg is
// not valid, as time.NewTicker does on a bad period; cfg.Validate tells
// why first.
func NewSite(cfg Config) *Site {
	if err := cfg.Validate(); err != nil {
		panic("reference.NewSite: " + err.Error())
	}
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
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	switch {
	case s.max == 0:
		s.max = DefaultMaxSessions
	case s.max < 0:
		s.max = 0
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

// MaxSessions reports the cap on live sessions; 0 means none.
func (s *Site) MaxSessions() int { return s.max }

// Len reports how many sessions are live.
func (s *Site) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions.len()
}

// Evicted reports how many sessions the site has ended to make room for
// new ones (see Config.MaxSessions).
func (s *Site) Evicted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}

// MakeSession creates a new session with a fresh uid, as Twisted's
// Site.makeSession does. On a full site it first ends another session
// (see Config.MaxSessions). It fails only when the random source fails,
// or keeps returning uids already in use.
func (s *Site) MakeSession() (*Session, error) {
	return s.makeSession(false)
}

func (s *Site) makeSession(secure bool) (*Session, error) {
	sess := &Session{site: s, secure: secure, index: -1}
	// A session ended to make room; its callbacks run once the lock is
	// released, whatever happens to the new one.
	var victim *Session
	var calls expiryCalls
	defer func() {
		if victim != nil {
			s.runCallbacks(victim, calls)
		}
	}()
	for range 4 {
		// 256 bits from the random source, read straight into the
		// session: its uid is their 64 lowercase hex digits, the same
		// shape as Twisted's uids.
		if _, err := io.ReadFull(s.random, sess.id[:]); err != nil {
			return nil, fmt.Errorf("reference: reading session uid: %w", err)
		}
		s.mu.Lock()
		now := s.offset(s.clock.Now())
		if s.max > 0 && s.sessions.len() >= s.max && victim == nil {
			var evicted bool
			victim, evicted = s.victimLocked(now)
			calls = s.removeLocked(victim)
			if evicted {
				s.evicted++
			}
		}
		if !s.sessions.add(sess) {
			s.mu.Unlock()
			continue // astronomically unlikely with crypto/rand; a test source can force it
		}
		sess.lastAccess = now
		s.queue.push(sess, now+int64(s.timeout))
		if s.max > 0 {
			s.fresh.push(sess, s.sessions.len())
		}
		s.armLocked(now)
		s.mu.Unlock()
		return sess, nil
	}
	return nil, fmt.Errorf("reference: random source keeps returning uids already in use")
}

// victimLocked chooses the session a full site ends to make room, in the
// order Config.MaxSessions gives, and reports whether ending it is an
// eviction (false: its timeout has passed anyway). The site must hold at
// least one session.
func (s *Site) victimLocked(now int64) (*Session, bool) {
	lru := s.lruLocked()
	if lru.lastAccess+int64(s.timeout) <= now {
		return lru, false
	}
	if v := s.fresh.pop(); v != nil {
		return v, true
	}
	return lru, true
}

// lruLocked returns the least recently used live session: the head of the
// expiry queue once its key is its real deadline. Each session whose key
// is moved up here (it was touched since it was queued) is one the sweep
// would have moved, so the work is bounded by the accesses.
func (s *Site) lruLocked() *Session {
	for {
		head := s.queue.head()
		deadline := head.lastAccess + int64(s.timeout)
		if s.queue.headKey() >= deadline {
			return head
		}
		s.queue.fixHead(deadline)
	}
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
		calls := s.removeLocked(sess)
		s.mu.Unlock()
		s.runCallbacks(sess, calls)
		return nil, false
	}
	sess.lastAccess = now
	sess.revisited = true
	s.mu.Unlock()
	return sess, true
}

// offset turns an instant of the site's clock into nanoseconds since the
// site was made. On the real clock this uses the monotonic reading.
func (s *Site) offset(t time.Time) int64 { return int64(t.Sub(s.epoch)) }

// removeLocked takes sess off the site and returns the callbacks to run.
// It reports no callbacks for a session that was already gone.
func (s *Site) removeLocked(sess *Session) expiryCalls {
	if sess.expired {
		return expiryCalls{}
	}
	sess.expired = true
	s.sessions.remove(sess)
	s.queue.remove(sess)
	if s.max > 0 {
		s.fresh.tidy(s.sessions.len())
	}
	if s.queue.len() == 0 && s.armed {
		s.timer.Stop()
		s.armed = false
	}
	// The session lets go of its record: its callbacks and stored objects
	// become unreachable through it, and what is stored on it afterwards
	// is not kept (see endedExtra).
	e := sess.extra.Swap(endedExtra)
	if e == nil || e == endedExtra {
		return expiryCalls{} // no callbacks and no stored objects: the common case
	}
	calls := expiryCalls{e.call0, e.calls}
	e.call0, e.calls = nil, nil
	e.dropComponents()
	return calls
}

// runCallbacks runs the expiry callbacks of one session in registration
// order. A callback that panics is reported and the rest still run.
func (s *Site) runCallbacks(sess *Session, calls expiryCalls) {
	if calls.none() {
		return
	}
	s.runCallback(sess, calls.first)
	for _, f := range calls.rest {
		s.runCallback(sess, f)
	}
}

func (s *Site) runCallback(sess *Session, f expiryCall) {
	defer func() {
		if r := recover(); r != nil && s.onPanic != nil {
			s.onPanic(sess.UID(), r)
		}
	}()
	f(sess)
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
		sess  *Session
		calls expiryCalls
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
			if calls := s.removeLocked(sess); !calls.none() {
				ended[n] = ending{sess, calls}
				n++
			}
		}
		done := work < sweepBatch
		if done {
			s.armLocked(now)
		}
		s.mu.Unlock()
		for i := range ended[:n] {
			s.runCallbacks(ended[i].sess, ended[i].calls)
			ended[i] = ending{}
		}
		if done {
			finished = true
			return
		}
		s.mu.Lock()
	}
}
