package faulty

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// Clustered targets (issue 15): N replicas of one site, each an
// http.Handler on a fake clock of its own, sharing one store in memory
// (standing in for Redis), each with its own expired feed. The honest
// cluster does what the contract asks of replicas; each fault plants one
// of the defects that hurt clustered session stores. A cluster is checked
// as spec.ClusterTarget(NewCluster(...)...) in memory, or served on
// ports of its own and checked with `sessionspec check URL --replica ...`.
const (
	// ClusterHonest is a correct cluster: every change to a session is
	// made in the shared store under its lock, each expiry (timeout found
	// by any replica's sweep or lookup, or /expire) removes the session
	// and records its notification in one step, on the feed of the
	// replica that ended it.
	ClusterHonest Fault = "cluster"
	// ClusterLocalCache: each replica keeps a cache of the sessions it has
	// served (id and deadline as it last saw them) and trusts it before
	// the shared store; it drops an entry when it ends the session itself,
	// but nothing tells it when another replica does, so after /expire on
	// one replica the others still serve the session (and write it back).
	ClusterLocalCache Fault = "cluster-local-cache"
	// ClusterPerReplicaNotify: every replica records every expiry in its
	// own feed (each runs the notification for the sessions it knows), so
	// a notification fires once per replica.
	ClusterPerReplicaNotify Fault = "cluster-per-replica-notify"
	// ClusterRMWCounter: the counter is read from the store, the lock
	// let go (a round trip to a shared store: here a few yields, no
	// sleep), and the read value plus one written back, so concurrent
	// increments overwrite each other.
	ClusterRMWCounter Fault = "cluster-rmw-counter"
	// ClusterLocalTouch: a visit refreshes the deadline in the store only
	// on the replica that made the session (its home, as with sticky
	// sessions); the other replicas refresh a local copy that is never
	// written back, so a session visited only elsewhere times out.
	ClusterLocalTouch Fault = "cluster-local-touch"
	// ClusterStaleSweep: every visit refreshes the deadline in the store,
	// but each replica's sweep ends a session by the deadline it set
	// itself at its own last visit, so the replica that made a session
	// ends it a timeout after it last saw it, however recently the others
	// refreshed it.
	ClusterStaleSweep Fault = "cluster-stale-sweep"
	// ClusterSharedFeed is a correct cluster whose replicas write their
	// notifications to one log, which every replica's feed lists whole
	// (its discovery document says "shared_feed"): a suite adding the
	// replicas' feeds up would count each notification once per replica.
	ClusterSharedFeed Fault = "cluster-shared-feed"
	// ClusterSharedFeedPerReplicaNotify: the replicas share one log, and
	// every replica writes every expiry to it, so the log lists each
	// notification once per replica.
	ClusterSharedFeedPerReplicaNotify Fault = "cluster-shared-feed-per-replica-notify"
)

// ClusterReplicas is how many replicas the suite's tests run a cluster
// with.
const ClusterReplicas = 3

// ClusterFaults lists the clustered defects with the case that catches
// each; every other case may fail too. Checked in memory by spec's
// TestClusterFaultsAreCaught and as three loopback servers by the
// command's TestCheckReplicasCatchClusterFaults.
var ClusterFaults = []Entry{
	// Passes every single-replica case: replica 0 ends its own sessions.
	{Fault: ClusterLocalCache, CaughtBy: "CLUSTER-003"},
	// NOTIFY-* pass: replica 0's feed alone lists each expiry once.
	// CLUSTER-006 fails as well (on /expire).
	{Fault: ClusterPerReplicaNotify, CaughtBy: "CLUSTER-005"},
	// Every sequential counter case passes; only concurrency loses.
	{Fault: ClusterRMWCounter, CaughtBy: "CLUSTER-007"},
	// TIMEOUT-003 passes: on replica 0 alone, the home replica, every
	// visit refreshes.
	{Fault: ClusterLocalTouch, CaughtBy: "CLUSTER-004"},
	// TIMEOUT-* pass: replica 0's own deadlines are never stale.
	{Fault: ClusterStaleSweep, CaughtBy: "CLUSTER-004"},
	// NOTIFY-* fail too: the one log lists each expiry three times.
	{Fault: ClusterSharedFeedPerReplicaNotify, CaughtBy: "CLUSTER-005"},
}

// ClusterHonestEntries are the correct clusters: every case passes but
// those of the optional resources they do not serve (components, ws).
var ClusterHonestEntries = []Entry{
	{Fault: ClusterHonest, Verdict: Passes},
	{Fault: ClusterSharedFeed, Verdict: Passes},
}

// IsCluster reports whether f is a clustered target of this file.
func IsCluster(f Fault) bool {
	switch f {
	case ClusterHonest, ClusterLocalCache, ClusterPerReplicaNotify, ClusterRMWCounter, ClusterLocalTouch, ClusterStaleSweep,
		ClusterSharedFeed, ClusterSharedFeedPerReplicaNotify:
		return true
	}
	return false
}

// sharedStore is the store every replica of a cluster shares.
type sharedStore struct {
	fault   Fault
	timeout time.Duration

	mu       sync.Mutex
	sessions map[string]*sharedSession
	replicas []*Replica
	log      []string // ClusterSharedFeed*: the one notification log
}

// sharedFeed reports whether the replicas write to one log.
func (s *sharedStore) sharedFeed() bool {
	return s.fault == ClusterSharedFeed || s.fault == ClusterSharedFeedPerReplicaNotify
}

type sharedSession struct {
	id       string
	home     int       // the replica that made it
	deadline time.Time // absolute, on the replicas' (common) time
	counter  int
	logged   bool
}

// Replica is one replica of a clustered target.
type Replica struct {
	index int
	store *sharedStore
	clock *fakeclock.Fake
	// Advertise, when set before the replica serves, is the "replicas"
	// list of its discovery document.
	Advertise []string

	// Guarded by store.mu.
	feed   []string                   // the notifications this replica fired
	cache  map[string]time.Time       // ClusterLocalCache and ClusterStaleSweep: id -> deadline as last set or seen here
	timers map[string]fakeclock.Timer // this replica's sweep timer of each session it has seen
}

// NewCluster returns the replicas of the clustered target f, one per
// clock (each replica's own fake clock, all at the same time), sharing
// one store, with sessions that time out after timeout.
func NewCluster(f Fault, clocks []*fakeclock.Fake, timeout time.Duration) []*Replica {
	s := &sharedStore{fault: f, timeout: timeout, sessions: map[string]*sharedSession{}}
	for i, c := range clocks {
		s.replicas = append(s.replicas, &Replica{index: i, store: s, clock: c, cache: map[string]time.Time{}, timers: map[string]fakeclock.Timer{}})
	}
	return s.replicas
}

// NewClusterHandlers is NewCluster with n replicas on fresh fake clocks
// at start, as handlers.
func NewClusterHandlers(f Fault, n int, start time.Time, timeout time.Duration) []http.Handler {
	clocks := make([]*fakeclock.Fake, n)
	for i := range clocks {
		clocks[i] = fakeclock.NewFake(start)
	}
	var hs []http.Handler
	for _, r := range NewCluster(f, clocks, timeout) {
		hs = append(hs, r)
	}
	return hs
}

// arm makes sure this replica's sweep timer for sess fires at its
// deadline. Called with store.mu held.
func (r *Replica) arm(sess *sharedSession, now time.Time) {
	d := max(sess.deadline.Sub(now), time.Millisecond)
	if t, ok := r.timers[sess.id]; ok {
		t.Reset(d)
		return
	}
	id := sess.id
	r.timers[id] = r.clock.AfterFunc(d, func() { r.sweep(id) })
}

// sweep is this replica's timer for a session: it ends the session if it
// is due by this replica's clock, else re-arms.
func (r *Replica) sweep(id string) {
	s := r.store
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		delete(r.timers, id)
		return
	}
	now := r.clock.Now()
	deadline := sess.deadline
	if mine, ok := r.cache[id]; ok && r.store.fault == ClusterStaleSweep {
		deadline = mine // the defect: this replica's own, maybe stale, deadline
	}
	if !now.Before(deadline) {
		r.end(sess)
		return
	}
	r.arm(sess, now)
}

// end removes sess from the store and records its notification, in one
// step under the store's lock. Called with store.mu held.
func (r *Replica) end(sess *sharedSession) {
	s := r.store
	if s.sessions[sess.id] != sess {
		return
	}
	delete(s.sessions, sess.id)
	delete(r.cache, sess.id) // what this replica ends, it forgets; the others are not told
	if t, ok := r.timers[sess.id]; ok {
		t.Stop()
		delete(r.timers, sess.id)
	}
	if !sess.logged {
		return
	}
	switch s.fault {
	case ClusterPerReplicaNotify: // the defect: every replica runs it
		for _, o := range s.replicas {
			o.feed = append(o.feed, sess.id)
		}
	case ClusterSharedFeed:
		s.log = append(s.log, sess.id)
	case ClusterSharedFeedPerReplicaNotify: // the defect: every replica logs it
		for range s.replicas {
			s.log = append(s.log, sess.id)
		}
	default:
		r.feed = append(r.feed, sess.id)
	}
}

// touch records an access at now. Called with store.mu held.
func (r *Replica) touch(sess *sharedSession, now time.Time) {
	if r.store.fault != ClusterLocalTouch || sess.home == r.index {
		sess.deadline = now.Add(r.store.timeout)
	} // ClusterLocalTouch elsewhere: the refresh stays in a local copy, never written back
	if r.store.fault == ClusterLocalCache || r.store.fault == ClusterStaleSweep {
		r.cache[sess.id] = sess.deadline
	}
	r.arm(sess, now)
}

// session returns the request's session, made if need be. Called with
// store.mu held.
func (r *Replica) session(w http.ResponseWriter, req *http.Request, now time.Time) *sharedSession {
	s := r.store
	for _, v := range cookieValues(req, contract.CookieName) {
		if s.fault == ClusterLocalCache {
			if dl, ok := r.cache[v]; ok && now.Before(dl) {
				sess, ok := s.sessions[v]
				if !ok { // the defect: the cache is trusted, and written back
					sess = &sharedSession{id: v, home: r.index, deadline: dl}
					s.sessions[v] = sess
				}
				r.touch(sess, now)
				return sess
			}
		}
		sess, ok := s.sessions[v]
		if ok && !now.Before(sess.deadline) { // found before a sweep: gone all the same
			r.end(sess)
			ok = false
		}
		if ok {
			r.touch(sess, now)
			return sess
		}
	}
	sess := &sharedSession{id: newID(), home: r.index}
	s.sessions[sess.id] = sess
	r.touch(sess, now)
	setCookie(w, contract.CookieName, sess.id, false)
	return sess
}

func (r *Replica) discovery() contract.Discovery {
	cfg := storeConfig{name: "faulty cluster (" + string(r.store.fault) + ") replica " + strconv.Itoa(r.index),
		cookie: contract.CookieName, timeout: r.store.timeout, fake: r.clock}
	d := cfg.discoveryDoc()
	d.Replicas = r.Advertise
	d.SharedFeed = r.store.sharedFeed()
	return d
}

func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	doc := r.discovery()
	if route(w, req, r.clock, &doc, contract.PathSession, contract.PathExpire, contract.PathCounter, contract.PathLogMe, contract.PathExpired) {
		return
	}
	s := r.store
	now := r.clock.Now()
	s.mu.Lock()
	var body string
	switch req.URL.Path {
	case contract.PathExpired:
		var b strings.Builder
		feed := r.feed
		if s.sharedFeed() {
			feed = s.log
		}
		for _, id := range feed {
			b.WriteString(id + "\n")
		}
		body = b.String()
	case contract.PathSession:
		body = "Your session id is: " + r.session(w, req, now).id
	case contract.PathExpire:
		r.end(r.session(w, req, now))
		setCookie(w, contract.CookieName, "", true)
		body = "Your session has been expired."
	case contract.PathLogMe:
		sess := r.session(w, req, now)
		sess.logged = true
		body = "Session " + sess.id + " will be logged when it expires."
	case contract.PathCounter:
		sess := r.session(w, req, now)
		n := sess.counter + 1
		if s.fault == ClusterRMWCounter { // the defect: read, let go, write back
			s.mu.Unlock()
			for range 4 {
				runtime.Gosched()
			}
			s.mu.Lock()
		}
		sess.counter = n
		body = "Visit #" + strconv.Itoa(n) + " for you!"
	}
	s.mu.Unlock()
	answer(w, http.StatusOK, body)
}

// NewSignedCluster returns replicas of the signed-cookie store of
// SignedCookieRevives, one per clock, sharing its secret: a site whose
// whole session state is in the cookie is a cluster by nature. It keeps
// one session and its counter on every replica and refreshes on any, but
// cannot make /expire final (the old cookie replayed elsewhere is still
// valid) nor count concurrent increments (each carries the same state).
func NewSignedCluster(clocks []*fakeclock.Fake, timeout time.Duration) []http.Handler {
	var hs []http.Handler
	var key []byte
	for _, c := range clocks {
		s := newSignedStore(storeConfig{name: "faulty signed-cookie cluster", cookie: contract.CookieName, timeout: timeout,
			clock: c, fake: c, discovery: true}, false)
		if key == nil {
			key = s.key
		}
		s.key = key
		hs = append(hs, s)
	}
	return hs
}
