package reference

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// Server serves the seed examples over one Site:
//
//	GET /          "Your session id is: <uid>"        (ShowSession)
//	GET /expire    expires the session                (ExpireSession)
//	GET /logme     logs the session's expiry, once    (ExpirationLogger)
//	GET /expired   the uids whose expiry was logged, one per line (see the package doc)
//	GET /counter   a per-session visit counter        (the session-store example)
//	GET /.well-known/sessionspec  the discovery document
//	GET|POST /_clock  clock control, only on a *fakeclock.Fake
//
// Any other path is 404 and creates no session.
type Server struct {
	site *Site
	fake *fakeclock.Fake
	log  io.Writer

	feed   *expiryFeed
	logged expiryCall // srv.logExpired, made once for every session
}

// NewServer serves the seed resources over site. Each logged expiry is
// written to log as the seed example prints it, "Session <uid> has
// expired.", one line per Write, from the goroutine that ends the
// session; log may be nil. A Write that blocks holds up that goroutine,
// so a log that may be slow (a terminal, a pipe) belongs behind a
// LineLog.
func NewServer(site *Site, log io.Writer) *Server {
	srv := &Server{site: site, log: log, feed: newExpiryFeed(FeedLimit)}
	srv.fake, _ = site.Clock().(*fakeclock.Fake)
	srv.logged = srv.logExpired
	return srv
}

// Site returns the site whose sessions the server hands out.
func (srv *Server) Site() *Site { return srv.site }

// Expired returns the uids of the feed's retained lines, in order: one
// per logged expiry, less any dropped past FeedLimit. It copies the whole
// feed; GET /expired streams it instead.
func (srv *Server) Expired() []string {
	f := srv.feed
	dropped, end := f.state()
	out := make([]string, 0, end-dropped)
	for seq := dropped; seq < end; {
		from, span := f.span(seq, feedBlockMax)
		span = span[:min(uint64(len(span)), end-min(from, end))]
		if len(span) == 0 {
			break
		}
		for i := range span {
			out = append(out, hex.EncodeToString(span[i][:]))
		}
		seq = from + uint64(len(span))
	}
	return out
}

// ExpiredCount reports how many retained lines of the feed are for uid:
// how many times its logged expiry has happened, unless its lines have
// been dropped past FeedLimit.
func (srv *Server) ExpiredCount(uid string) int {
	id, ok := parseUID(uid)
	if !ok {
		return 0
	}
	return srv.feed.count(&id)
}

// FeedDropped reports how many of the oldest lines of the feed have been
// dropped past FeedLimit.
func (srv *Server) FeedDropped() uint64 {
	dropped, _ := srv.feed.state()
	return dropped
}

// counterKey and loggedKey name the objects the resources store on a
// session.
type (
	counterKey struct{}
	loggedKey  struct{}
)

// ServeHTTP routes a request to its resource.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == contract.PathClock && srv.fake != nil {
		contract.ClockControl{Now: srv.fake.Now, Advance: func(_ context.Context, d time.Duration) error {
			srv.fake.Advance(d)
			return nil
		}}.ServeHTTP(w, r)
		return
	}
	var serve func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case contract.PathSession:
		serve = srv.serveShow
	case contract.PathExpire:
		serve = srv.serveExpire
	case contract.PathLogMe:
		serve = srv.serveLogMe
	case contract.PathCounter:
		serve = srv.serveCounter
	case contract.PathExpired:
		serve = srv.serveExpired
	case contract.PathComponents:
		serve = srv.serveComponents
	case contract.PathWebSocket:
		serve = srv.serveWebSocket
	case contract.PathDiscovery:
		serve = srv.serveDiscovery
	default:
		http.NotFound(w, r)
		return
	}
	if contract.RefuseUnlessRead(w, r) {
		return
	}
	serve(w, r)
}

// session gets the request's session, answering 500 itself if none can
// be made (the random source failed).
func (srv *Server) session(w http.ResponseWriter, r *http.Request) (*Session, bool) {
	sess, err := srv.site.GetSession(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil, false
	}
	return sess, true
}

// The header values every text answer carries. Assigned as they are,
// they cost no allocation per request; net/http and Header's own methods
// replace or copy a value slice, never write into it, and each has room
// for exactly its one value, so an Add elsewhere copies rather than
// appending into the shared array.
var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noStore   = []string{"no-store"}
)

func setTextHeaders(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noStore
}

func writeText(w http.ResponseWriter, body string) {
	setTextHeaders(w)
	io.WriteString(w, body)
}

// showPrefix is the ShowSession page before the uid.
const showPrefix = "Your session id is: "

// showPages recycles the buffers the ShowSession page is spelled in, so
// that GET / with a cookie allocates nothing of its own.
var showPages = sync.Pool{New: func() any { return new([len(showPrefix) + 2*uidBytes]byte) }}

func (srv *Server) serveShow(w http.ResponseWriter, r *http.Request) {
	sess, ok := srv.session(w, r)
	if !ok {
		return
	}
	setTextHeaders(w)
	page := showPages.Get().(*[len(showPrefix) + 2*uidBytes]byte)
	copy(page[:], showPrefix)
	hex.Encode(page[len(showPrefix):], sess.id[:])
	w.Write(page[:]) // a Writer does not keep the slice, so the buffer can go back
	showPages.Put(page)
}

func (srv *Server) serveExpire(w http.ResponseWriter, r *http.Request) {
	if sess, ok := srv.session(w, r); ok {
		sess.Expire()
		writeText(w, "Your session has been expired.")
	}
}

// serveLogMe registers one expiry notification per session, as the docs'
// ExpirationLogger does with its set of uids; here the marker is stored
// on the session itself, so it goes away with it. Marker and callback are
// values shared by every session: a logged session costs its extra record
// and nothing more.
func (srv *Server) serveLogMe(w http.ResponseWriter, r *http.Request) {
	sess, ok := srv.session(w, r)
	if !ok {
		return
	}
	if _, first := sess.component(loggedKey{}, loggedMark); first {
		sess.notifyOnExpire(srv.logged)
	}
	writeText(w, "Session "+sess.UID()+" will be logged when it expires.")
}

func loggedMark() any { return true }

// The seed's log line for one expiry.
const expiredPrefix, expiredSuffix = "Session ", " has expired.\n"

func (srv *Server) logExpired(sess *Session) {
	srv.feed.add(&sess.id)
	if srv.log != nil {
		var line [len(expiredPrefix) + 2*uidBytes + len(expiredSuffix)]byte
		copy(line[:], expiredPrefix)
		hex.Encode(line[len(expiredPrefix):], sess.id[:])
		copy(line[len(expiredPrefix)+2*uidBytes:], expiredSuffix)
		srv.log.Write(line[:])
	}
}

func (srv *Server) serveCounter(w http.ResponseWriter, r *http.Request) {
	sess, ok := srv.session(w, r)
	if !ok {
		return
	}
	n := sess.Component(counterKey{}, func() any { return new(atomic.Int64) }).(*atomic.Int64).Add(1)
	writeText(w, "Visit #"+strconv.FormatInt(n, 10)+" for you!")
}

// Discovery describes this server, as seen over plain HTTP.
func (srv *Server) Discovery() contract.Discovery {
	timeout := srv.site.SessionTimeout().Seconds()
	paths := contract.DefaultPaths
	d := contract.Discovery{
		Version:        1,
		Implementation: "sessionspec reference",
		Cookie:         contract.CookieName,
		TimeoutSeconds: &timeout,
		Paths:          &paths,
	}
	if srv.fake != nil {
		d.Paths.Clock = contract.PathClock
	}
	d.Paths.Components = srv.componentsPath()
	d.Paths.WebSocket = srv.webSocketPath()
	return d
}

func (srv *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	d := srv.Discovery()
	d.Cookie = cookieName(r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(d)
}
