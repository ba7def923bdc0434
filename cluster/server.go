package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/oneline"
	"github.com/sessionspec/sessionspec/reference"
)

// FakeEpoch is where every replica's fake clock starts (then it adopts
// the cluster's high-water virtual time, if later): the same fixed
// instant for all, so that replicas started apart agree.
var FakeEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Defaults of Config.
const (
	DefaultFeedLimit  = 1 << 20 // lines of each replica's feed kept in Redis
	DefaultSweepBatch = 256     // sessions one sweep script ends at most
	MaxSweepEvery     = time.Second
	MinSweepEvery     = 5 * time.Millisecond
	// RequestBound bounds the Redis work of one request.
	RequestBound = 10 * time.Second
)

// Config describes one replica.
type Config struct {
	// Redis is the store every replica of the site shares (NewClient
	// makes one from a URL). Required.
	Redis *redis.Client
	// Prefix begins every key of the site, so that several sites can
	// share one Redis database; "" means DefaultPrefix.
	Prefix string
	// Replica names this replica: its fired notifications are kept in
	// Redis under this name, so a replica restarted under the same name
	// serves them again. 1 to 64 of A-Z a-z 0-9 . _ : - [ ]. Required.
	Replica string
	// Timeout is the session timeout; zero means reference.DefaultTimeout.
	// Every replica of a site must have the same.
	Timeout time.Duration
	// Clock is the replica's clock: nil for the wall clock, or a
	// *fakeclock.Fake, which New moves to the cluster's high-water
	// virtual time and which is served at contract.PathClock.
	Clock fakeclock.Clock
	// MaxSessions caps the site's live sessions as
	// reference.Config.MaxSessions does: zero means
	// reference.DefaultMaxSessions, negative no cap.
	MaxSessions int
	// FeedLimit bounds this replica's feed in Redis, in lines; zero
	// means DefaultFeedLimit. Past it the oldest lines are dropped and
	// counted.
	FeedLimit int
	// SweepBatch bounds the sessions one sweep script ends; zero means
	// DefaultSweepBatch.
	SweepBatch int
	// SweepEvery is the wall-clock sweeper's period; zero means a
	// twentieth of the timeout, within MinSweepEvery..MaxSweepEvery. On
	// a fake clock the sweep runs after each advance instead.
	SweepEvery time.Duration
	// Replicas are the other replicas' base URLs, announced in the
	// discovery document.
	Replicas []string
	// Log receives "Session <uid> has expired." for each notification
	// this replica fires, and a line for each failure to reach Redis
	// (at most one a second). Nil discards them.
	Log io.Writer
}

// Server is one replica: an http.Handler serving the reference's
// resources over the site's sessions in Redis.
type Server struct {
	cfg     Config
	st      *store
	clock   fakeclock.Clock
	fake    *fakeclock.Fake
	timeout time.Duration
	max     int
	batch   int

	advMu sync.Mutex // one advance (and its sweep) at a time

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int

	stop     chan struct{}
	stopOnce sync.Once // Close may be called more than once, at once
	done     chan struct{}
}

// New joins the site in Redis as one more replica and starts its
// sweeper. It fails if Redis cannot be reached, or runs the site's live
// sessions with another clock kind, timeout or cap. Close stops it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Redis == nil {
		return nil, errors.New("cluster: Config.Redis is required")
	}
	if !validName.MatchString(cfg.Replica) {
		return nil, fmt.Errorf("cluster: replica name %q: 1 to 64 of A-Z a-z 0-9 . _ : - [ ]", cfg.Replica)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !validPrefix.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("cluster: key prefix %q: at most 64 of A-Z a-z 0-9 . _ : { } -", cfg.Prefix)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = reference.DefaultTimeout
	}
	if err := (reference.Config{SessionTimeout: cfg.Timeout}).Validate(); err != nil {
		return nil, fmt.Errorf("cluster: %v", err)
	}
	if cfg.FeedLimit == 0 {
		cfg.FeedLimit = DefaultFeedLimit
	}
	if cfg.FeedLimit < 1 {
		return nil, fmt.Errorf("cluster: feed limit %d", cfg.FeedLimit)
	}
	if cfg.SweepBatch == 0 {
		cfg.SweepBatch = DefaultSweepBatch
	}
	if cfg.SweepBatch < 1 || cfg.SweepBatch > 1<<16 {
		return nil, fmt.Errorf("cluster: sweep batch %d is not between 1 and 65536", cfg.SweepBatch)
	}
	for _, r := range cfg.Replicas {
		if _, err := contract.ParseReplica(r); err != nil {
			return nil, fmt.Errorf("cluster: replica %q: %v", r, err)
		}
	}
	if len(cfg.Replicas) > contract.MaxReplicas {
		return nil, fmt.Errorf("cluster: %d replicas announced, at most %d", len(cfg.Replicas), contract.MaxReplicas)
	}
	s := &Server{
		cfg:     cfg,
		st:      &store{rdb: cfg.Redis, prefix: cfg.Prefix, replica: cfg.Replica, limit: strconv.Itoa(cfg.FeedLimit)},
		clock:   cfg.Clock,
		timeout: cfg.Timeout,
		batch:   cfg.SweepBatch,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = fakeclock.Real()
	}
	s.fake, _ = s.clock.(*fakeclock.Fake)
	switch {
	case cfg.MaxSessions == 0:
		s.max = reference.DefaultMaxSessions
	case cfg.MaxSessions > 0:
		s.max = cfg.MaxSessions
	}
	ctx, cancel := context.WithTimeout(ctx, RequestBound)
	defer cancel()
	if err := s.st.join(ctx, s.clock.Now(), s.fake != nil, s.timeout, s.max); err != nil {
		return nil, fmt.Errorf("cluster: joining the site in Redis: %v", err)
	}
	if s.fake != nil {
		hw, err := s.st.highWater(ctx, s.fake.Now())
		if err != nil {
			return nil, fmt.Errorf("cluster: reading the cluster's clock: %v", err)
		}
		if hw.After(s.fake.Now()) {
			s.fake.AdvanceTo(hw)
		}
		if _, err := s.Sweep(ctx); err != nil {
			return nil, fmt.Errorf("cluster: first sweep: %v", err)
		}
		close(s.done)
		return s, nil
	}
	go s.sweeper()
	return s, nil
}

// Close stops the wall-clock sweeper. It does not close Config.Redis.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Replica returns the replica's name.
func (s *Server) Replica() string { return s.cfg.Replica }

// Clock returns the replica's clock.
func (s *Server) Clock() fakeclock.Clock { return s.clock }

// sweepEvery is the wall-clock sweeper's period.
func (s *Server) sweepEvery() time.Duration {
	if s.cfg.SweepEvery > 0 {
		return s.cfg.SweepEvery
	}
	return min(max(s.timeout/20, MinSweepEvery), MaxSweepEvery)
}

func (s *Server) sweeper() {
	defer close(s.done)
	t := time.NewTicker(s.sweepEvery())
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), RequestBound)
		if _, err := s.Sweep(ctx); err != nil {
			s.complain("sweep", err)
		}
		cancel()
	}
}

// Sweep ends every session whose deadline has passed on the replica's
// clock, a bounded batch per script, and reports how many it ended.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	return s.st.sweep(ctx, s.clock.Now(), s.batch, s.logFired)
}

// advance moves the fake clock, records the cluster's high-water time and
// sweeps, all before the clock resource answers.
func (s *Server) advance(ctx context.Context, d time.Duration) error {
	s.advMu.Lock()
	defer s.advMu.Unlock()
	s.fake.Advance(d)
	ctx, cancel := context.WithTimeout(ctx, RequestBound)
	defer cancel()
	if _, err := s.st.highWater(ctx, s.fake.Now()); err != nil {
		s.complain("clock", err)
		return fmt.Errorf("session store unavailable: %v", err)
	}
	if _, err := s.Sweep(ctx); err != nil {
		s.complain("sweep", err)
		return fmt.Errorf("session store unavailable: %v", err)
	}
	return nil
}

// The seed's log line for one expiry.
const expiredPrefix, expiredSuffix = "Session ", " has expired.\n"

func (s *Server) logFired(fired []string) {
	if s.cfg.Log == nil {
		return
	}
	for _, uid := range fired {
		io.WriteString(s.cfg.Log, expiredPrefix+uid+expiredSuffix)
	}
}

// complain logs a failure to reach Redis, at most once a second (saying
// how many it kept quiet about).
func (s *Server) complain(what string, err error) {
	if s.cfg.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	now := time.Now()
	if now.Sub(s.lastLog) < time.Second {
		s.suppressed++
		return
	}
	more := ""
	if s.suppressed > 0 {
		more = fmt.Sprintf(" (and %d more failures in the last second)", s.suppressed)
	}
	s.lastLog, s.suppressed = now, 0
	fmt.Fprintf(s.cfg.Log, "sessionspec cluster: replica %s: %s: redis unreachable: %s%s\n", s.cfg.Replica, what, oneline.Clip(err.Error(), 300), more)
}

// unavailable answers 503 for a failure to reach Redis.
func (s *Server) unavailable(w http.ResponseWriter, what string, err error) {
	s.complain(what, err)
	setTextHeaders(w)
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, "session store unavailable: %s\n", oneline.Clip(err.Error(), 300))
}

func setTextHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
}

func writeText(w http.ResponseWriter, body string) {
	setTextHeaders(w)
	io.WriteString(w, body)
}

// ServeHTTP routes a request to its resource, as reference.Server does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == contract.PathClock && s.fake != nil {
		contract.ClockControl{Now: s.fake.Now, Advance: s.advance}.ServeHTTP(w, r)
		return
	}
	var serve func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case contract.PathSession:
		serve = s.serveShow
	case contract.PathExpire:
		serve = s.serveExpire
	case contract.PathLogMe:
		serve = s.serveLogMe
	case contract.PathCounter:
		serve = s.serveCounter
	case contract.PathExpired:
		serve = s.serveExpired
	case contract.PathComponents:
		serve = s.serveComponents
	case contract.PathDiscovery:
		serve = s.serveDiscovery
	default:
		http.NotFound(w, r)
		return
	}
	if contract.RefuseUnlessRead(w, r) {
		return
	}
	serve(w, r)
}

// session finds the request's live session (refreshing it) or makes one,
// and applies op to it in the same script. It answers 503 itself when
// Redis fails, and reports ok false then.
func (s *Server) session(w http.ResponseWriter, r *http.Request, op string, args ...string) (uid string, res result, ok bool) {
	ctx, cancel := context.WithTimeout(r.Context(), RequestBound)
	defer cancel()
	secure := "0"
	if r.TLS != nil {
		secure = "1"
	}
	now := s.clock.Now()
	dms, dns := stamp(now.Add(s.timeout))
	opArgs := make([]any, 0, 5)
	opArgs = append(opArgs, op)
	for _, a := range args {
		opArgs = append(opArgs, a)
	}
	for _, cand := range reference.CandidateUIDs(r) {
		res, err := s.st.run(ctx, visitScript, now, append([]any{cand, secure, dms, dns}, opArgs...)...)
		if err != nil {
			s.unavailable(w, "lookup", err)
			return "", res, false
		}
		s.logFired(res.fired)
		if res.status != "miss" {
			return cand, res, true
		}
	}
	for range 4 {
		var id [32]byte
		if _, err := rand.Read(id[:]); err != nil {
			http.Error(w, "reading session uid: "+err.Error(), http.StatusInternalServerError)
			return "", res, false
		}
		uid = hex.EncodeToString(id[:])
		res, err := s.st.run(ctx, createScript, now, append([]any{uid, secure, dms, dns, s.max}, opArgs...)...)
		if err != nil {
			s.unavailable(w, "create", err)
			return "", res, false
		}
		s.logFired(res.fired)
		if res.status == "taken" {
			continue
		}
		name := reference.SessionCookieName(r)
		w.Header().Add("Set-Cookie", reference.SessionCookie(name, uid, r.TLS != nil))
		return uid, res, true
	}
	http.Error(w, "the random source keeps returning uids already in use", http.StatusInternalServerError)
	return "", res, false
}

func (s *Server) serveShow(w http.ResponseWriter, r *http.Request) {
	if uid, _, ok := s.session(w, r, "show"); ok {
		writeText(w, "Your session id is: "+uid)
	}
}

func (s *Server) serveExpire(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.session(w, r, "expire"); ok {
		writeText(w, "Your session has been expired.")
	}
}

func (s *Server) serveLogMe(w http.ResponseWriter, r *http.Request) {
	if uid, _, ok := s.session(w, r, "logme"); ok {
		writeText(w, "Session "+uid+" will be logged when it expires.")
	}
}

func (s *Server) serveCounter(w http.ResponseWriter, r *http.Request) {
	if _, res, ok := s.session(w, r, "counter"); ok {
		writeText(w, "Visit #"+res.value+" for you!")
	}
}

// adapterValue is an application's adapter object as the reference
// spells it: a random instance and when, on the replica's clock, it was
// made.
func (s *Server) adapterValue() string {
	var id [8]byte
	rand.Read(id[:])
	return "instance " + hex.EncodeToString(id[:]) + " made at " + s.clock.Now().UTC().Format(time.RFC3339Nano)
}

func (s *Server) serveComponents(w http.ResponseWriter, r *http.Request) {
	q, bad := reference.ParseComponentQuery(r.URL.RawQuery)
	if bad != "" {
		setTextHeaders(w)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintln(w, bad)
		return
	}
	mode, val := "get", ""
	switch {
	case q.HasSet:
		mode, val = "set", q.Set
	case q.Adapter:
		mode, val = "adapter", s.adapterValue()
	case q.HasDefault:
		mode, val = "default", q.Default
	}
	_, res, ok := s.session(w, r, "comp", mode, q.App, q.Key, val)
	if !ok {
		return
	}
	switch res.status {
	case "ok":
		writeText(w, res.value)
	case "unset":
		setTextHeaders(w)
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "unset: application %s has no component %s on this session\n", q.App, q.Key)
	case "full":
		setTextHeaders(w)
		w.WriteHeader(http.StatusInsufficientStorage)
		switch res.value {
		case "apps":
			fmt.Fprintf(w, "the session holds components of %d applications, the most it keeps\n", reference.MaxComponentApps)
		case "keys":
			fmt.Fprintf(w, "application %s holds %d components on this session, the most it keeps\n", q.App, reference.MaxComponentKeys)
		default:
			fmt.Fprintln(w, "the components resource holds as many bytes as it keeps, over every session; try again when sessions have ended")
		}
	default:
		http.Error(w, "unexpected answer from the store: "+res.status, http.StatusInternalServerError)
	}
}

// feedChunk is how many lines of the feed one read from Redis brings.
const feedChunk = 4096

// serveExpired answers GET /expired from this replica's feed in Redis:
// the whole feed as it stood when the request came, streamed, or the
// lines of the ids asked for; the same protocol as reference.Server.
func (s *Server) serveExpired(w http.ResponseWriter, r *http.Request) {
	ids, err := reference.ParseExpiredIDs(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), RequestBound)
	defer cancel()
	first, err := s.st.feed(ctx, 0, 0)
	if err != nil {
		s.unavailable(w, "feed", err)
		return
	}
	var counts []any
	if len(ids) > 0 { // "?&" parses to no ids: HMGET with no field is a Redis error
		counts, err = s.cfg.Redis.HMGet(ctx, FiredKey(s.cfg.Prefix, s.cfg.Replica), ids...).Result()
		if err != nil {
			s.unavailable(w, "feed", err)
			return
		}
	}
	setTextHeaders(w)
	w.Header().Set(reference.DroppedHeader, strconv.FormatInt(first.dropped, 10))
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	var buf strings.Builder
	flush := func() error {
		rc.SetWriteDeadline(time.Now().Add(reference.WriteTimeout))
		_, err := io.WriteString(w, buf.String())
		buf.Reset()
		return err
	}
	if ids != nil {
		for i, id := range ids {
			n, _ := strconv.Atoi(asString(counts[i]))
			for range n {
				buf.WriteString(id + "\n")
			}
		}
		flush()
		return
	}
	if first.dropped > 0 {
		fmt.Fprintf(&buf, "# dropped %d older lines\n", first.dropped)
	}
	end := first.next
	for seq := first.dropped; seq < end; {
		// A fresh bound for each read: a long feed takes as long as its
		// reader takes.
		rctx, rcancel := context.WithTimeout(r.Context(), RequestBound)
		page, err := s.st.feed(rctx, seq, int(min(feedChunk, end-seq)))
		rcancel()
		if err != nil {
			s.complain("feed", err)
			fmt.Fprintf(&buf, "# session store unavailable: %s\n", oneline.Clip(err.Error(), 300))
			break
		}
		if page.from > seq {
			fmt.Fprintf(&buf, "# dropped %d more lines while this answer was sent\n", min(page.from, end)-seq)
		}
		if page.from >= end || len(page.lines) == 0 {
			break
		}
		lines := page.lines[:min(int64(len(page.lines)), end-page.from)]
		for _, l := range lines {
			buf.WriteString(l + "\n")
		}
		seq = page.from + int64(len(lines))
		if flush() != nil {
			return
		}
	}
	flush()
}

// Discovery describes this replica, as seen over plain HTTP.
func (s *Server) Discovery() contract.Discovery {
	timeout := s.timeout.Seconds()
	paths := contract.DefaultPaths
	paths.Components = contract.PathComponents
	if s.fake != nil {
		paths.Clock = contract.PathClock
	}
	return contract.Discovery{
		Version:        1,
		Implementation: "sessionspec reference on Redis (replica " + s.cfg.Replica + ")",
		Cookie:         contract.CookieName,
		TimeoutSeconds: &timeout,
		Paths:          &paths,
		Replicas:       s.cfg.Replicas,
	}
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	d := s.Discovery()
	d.Cookie = reference.SessionCookieName(r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(d)
}
