//go:build !js

// # WebSockets attached to the session
//
// Glyph's post lays out a second protocol beside the web pages: a
// "client object" stuck to the web session, whose perspective's
// 'attached' method is called when it connects and the symmetric
// "detached" one "When you log out / your broker goes stale / your IRC
// connection drops / your web session times out". Server serves it as a
// WebSocket at GET /ws (contract.PathWebSocket, declared in the
// discovery document as "ws"), with github.com/coder/websocket:
//
//	GET /ws + Upgrade: websocket   with a live session's cookie: 101, and the socket is
//	                               attached to that session. Without a cookie, or with an
//	                               unknown, malformed or ended session's: 403 before any
//	                               upgrade; a socket never makes a session, and is never
//	                               attached to an ended one.
//	server -> client, first        text "attached <uid>", the session's uid
//	client -> server "ping"        text "pong <uid>", while the session lives
//	client -> server other text    text "unknown message: send ping"; binary: close 1003
//	session ends                   every socket attached to it is detached and closed with a
//	                               close frame, status 4001 (CloseSessionEnded), reason
//	                               "session expired". The detaching and the start of the
//	                               closing happen in the session's expiry callback: on
//	                               /expire before its answer is written, on a timeout when
//	                               the site's timer runs (with a fake clock, within the
//	                               POST /_clock advance that ends it); the frame itself is
//	                               written by a goroutine of the socket's, milliseconds later
//	GET /ws?id=UID[&id=UID2...]    (no Upgrade) the detached feed: text/plain, one line per
//	                               socket of that session detached so far, the uid, as in
//	                               GET /expired; at most 200 ids; X-Sessionspec-Dropped
//	                               counts lines dropped past DetachedLimit
//	GET /ws                        (no Upgrade, no query) 426 Upgrade Required
//
// A socket is detached exactly once, however it ends: when its session
// ends (the detached line is written before the close frame is sent, so a
// client that has seen the frame finds the line), or when the client
// closes it or the connection fails, whichever comes first. The feed
// answers only for the ids asked: a socket the client closed may belong
// to a live session, whose uid must not be listed for anyone to read.
//
// Socket traffic does not refresh the session. Opening a socket is a
// request that carries the cookie, and counts as a visit like any other;
// messages on the socket do not. The post makes the socket the
// dependent: the client object is "stuck to your Session", and "your web
// session times out" is one of the ways it is detached. Were a message a
// visit, a page left open with a chatty socket (a push channel, a
// heartbeat) would keep its session from ever timing out, and the timeout
// would never detach anything; the session's life stays what Session
// Endings says, "the number of seconds a session may go without being
// accessed", accessed meaning a request for a page ("Keep visiting it to
// keep your session active").
//
// Bounds: a client message is at most MaxSocketMessage bytes (a longer
// one closes the socket with 1009); a session has at most
// MaxSocketsPerSession sockets (the next gets 429) and the server at most
// MaxSockets (503 with Retry-After); a write that the client does not
// take within SocketWriteTimeout closes the socket. A socket is one
// goroutine (its handler's) while it lives, and one more for the few
// milliseconds of its closing handshake (at most 5 s when the client does
// not answer the close frame); none outlives the socket. A peer that
// vanishes without closing is found by the connection's TCP keep-alive,
// and at the latest when its session ends, which socket traffic cannot
// postpone. The detached feed retains DetachedLimit lines.
//
// For the README (the target contract's row):
//
//	| `GET /ws` (WebSocket) | optional: a WebSocket attached to the session its cookie names. First message `attached <id>`; `ping` gets `pong <id>` while the session lives; when the session ends (`/expire`, timeout) the server closes the socket with a close frame (the reference: 4001 `session expired`) within a second; no cookie, or an unknown or ended session's: refused before the upgrade (the reference: 403), or attached to a new session, never the old one. Messages do not refresh the session (opening the socket does). `GET /ws?id=<id>` without an upgrade: the detached feed, one line per socket of that session detached so far (the id), as `/expired` |
package reference

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/coder/websocket"
	"github.com/sessionspec/sessionspec/contract"
)

// The WebSocket resource's bounds and its close status.
const (
	// MaxSocketsPerSession is how many sockets one session may have
	// attached at once.
	MaxSocketsPerSession = 8
	// MaxSockets is how many sockets a Server holds at once.
	MaxSockets = 4096
	// MaxSocketMessage bounds a message from the client, in bytes.
	MaxSocketMessage = 512
	// SocketWriteTimeout bounds each write to a socket.
	SocketWriteTimeout = 10 * time.Second
	// DetachedLimit is how many lines the detached feed retains (about
	// 70 bytes each).
	DetachedLimit = 1 << 18
	// CloseSessionEnded is the close status of a socket whose session
	// ended, with the reason "session expired".
	CloseSessionEnded = websocket.StatusCode(4001)
)

const closeReasonEnded = "session expired"

// webSocketPath is the WebSocket resource's path in the discovery
// document.
func (srv *Server) webSocketPath() string { return contract.PathWebSocket }

// socketRegistry is a Server's sockets: how many there are, which
// session each is attached to, and the detached feed.
type socketRegistry struct {
	mu            sync.Mutex
	maxPerSession int
	maxTotal      int
	total         int
	// sessions holds every live session that has had a socket, until it
	// ends: its one expiry callback is registered when its entry is made,
	// so a client opening and closing sockets does not pile callbacks up.
	sessions map[*Session]*sessionSockets
	detached *expiryFeed
}

// sessionSockets are the sockets of one session.
type sessionSockets struct {
	ended   bool
	sockets []*socket
}

// socket is one socket's state in the registry (guarded by its mu).
type socket struct {
	sess     *Session
	set      *sessionSockets
	ctx      context.Context // done when the session ends
	cancel   context.CancelFunc
	attached bool // upgraded and told so
	detached bool // its detached line is written
}

// registries holds each Server's socket registry for as long as the
// Server lives (Server has no field for it: its routing and the rest are
// in resources.go).
var registries sync.Map // weak.Pointer[Server] -> *socketRegistry

func (srv *Server) sockets() *socketRegistry {
	k := weak.Make(srv)
	if r, ok := registries.Load(k); ok {
		return r.(*socketRegistry)
	}
	r, loaded := registries.LoadOrStore(k, &socketRegistry{
		maxPerSession: MaxSocketsPerSession, maxTotal: MaxSockets,
		sessions: make(map[*Session]*sessionSockets), detached: newExpiryFeed(DetachedLimit),
	})
	if !loaded {
		runtime.AddCleanup(srv, func(k weak.Pointer[Server]) { registries.Delete(k) }, k)
	}
	return r.(*socketRegistry)
}

// reserve makes room for a socket of sess, or says why there is none.
func (r *socketRegistry) reserve(sess *Session) (*socket, int, string) {
	r.mu.Lock()
	if r.total >= r.maxTotal {
		r.mu.Unlock()
		return nil, http.StatusServiceUnavailable, "too many sockets: " + strconv.Itoa(r.maxTotal) + " are open"
	}
	set := r.sessions[sess]
	first := set == nil
	if first {
		set = &sessionSockets{}
		r.sessions[sess] = set
	}
	if len(set.sockets) >= r.maxPerSession {
		r.mu.Unlock()
		return nil, http.StatusTooManyRequests, "this session has " + strconv.Itoa(r.maxPerSession) + " sockets open already"
	}
	s := &socket{sess: sess, set: set}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	set.sockets = append(set.sockets, s)
	r.total++
	r.mu.Unlock()
	if first {
		// On a session that has ended meanwhile this runs at once.
		sess.NotifyOnExpire(func() { r.sessionEnded(sess) })
	}
	return s, 0, ""
}

// attach marks s attached, unless its session has ended.
func (r *socketRegistry) attach(s *socket) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.set.ended {
		return false
	}
	s.attached = true
	return true
}

// sessionEnded detaches every socket of sess and tells each to close.
func (r *socketRegistry) sessionEnded(sess *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.sessions[sess]
	if set == nil {
		return
	}
	delete(r.sessions, sess)
	set.ended = true
	for _, s := range set.sockets {
		r.detachLocked(s)
		s.cancel()
	}
}

// detachLocked writes s's detached line, once, if it was ever attached.
func (r *socketRegistry) detachLocked(s *socket) {
	if s.attached && !s.detached {
		s.detached = true
		r.detached.add(&s.sess.id)
	}
}

// release ends s: detached if it was not already, and its room given
// back.
func (r *socketRegistry) release(s *socket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detachLocked(s)
	s.cancel()
	if i := slices.Index(s.set.sockets, s); i >= 0 {
		s.set.sockets = slices.Delete(s.set.sockets, i, i+1)
		r.total--
	}
}

// liveSession returns the live session the request's cookie names,
// marked accessed, without making one.
func (srv *Server) liveSession(r *http.Request) *Session {
	for _, v := range cookieValues(r.Header, cookieName(r)) {
		if id, ok := parseUID(v); ok {
			if sess, ok := srv.site.lookup(&id, r.TLS != nil); ok {
				return sess
			}
		}
	}
	return nil
}

// serveWebSocket serves GET /ws: the socket attached to the session, or
// without an upgrade the detached feed (see the package documentation).
func (srv *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		srv.serveDetached(w, r)
		return
	}
	sess := srv.liveSession(r)
	if sess == nil {
		http.Error(w, "no live session: a socket is attached only to the live session its cookie names; visit "+contract.PathSession+" first", http.StatusForbidden)
		return
	}
	reg := srv.sockets()
	s, code, msg := reg.reserve(sess)
	if s == nil {
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, msg, code)
		return
	}
	defer reg.release(s)
	if s.ctx.Err() != nil {
		http.Error(w, "no live session: the session ended", http.StatusForbidden)
		return
	}
	// Same origin only (Accept's default): a page of another site cannot
	// open a socket with this site's cookie.
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer func() {
		// A socket that ends with its session ends with the close frame,
		// whether the goroutine below or this one sends it.
		if s.ctx.Err() != nil {
			c.Close(CloseSessionEnded, closeReasonEnded)
		}
		c.CloseNow()
	}()
	c.SetReadLimit(MaxSocketMessage)
	if !reg.attach(s) {
		c.Close(CloseSessionEnded, closeReasonEnded)
		return
	}
	uid := sess.UID()
	if !writeSocket(c, "attached "+uid) {
		return
	}
	// The session's end closes the socket from a goroutine of its own,
	// made only then: the expiry callback must not wait for a client.
	// Set only now, so that the client hears "attached" before any close
	// frame (a session that ended meanwhile starts it at once).
	stop := context.AfterFunc(s.ctx, func() { c.Close(CloseSessionEnded, closeReasonEnded) })
	defer stop()
	for {
		typ, msg, err := c.Read(context.Background())
		if err != nil || s.ctx.Err() != nil {
			return
		}
		var answer string
		switch {
		case typ != websocket.MessageText:
			c.Close(websocket.StatusUnsupportedData, "text messages only")
			return
		case string(msg) == "ping":
			answer = "pong " + uid
		default:
			answer = "unknown message: send ping"
		}
		if !writeSocket(c, answer) {
			return
		}
	}
}

// writeSocket writes one text message within SocketWriteTimeout (past it
// the library closes the connection).
func writeSocket(c *websocket.Conn, text string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), SocketWriteTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, []byte(text)) == nil
}

// serveDetached answers GET /ws without an upgrade: the detached feed
// for the ids asked, or 426 when none is asked.
func (srv *Server) serveDetached(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery == "" {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		http.Error(w, "GET "+contract.PathWebSocket+" upgrades to a WebSocket attached to your session; GET "+contract.PathWebSocket+"?id=<uid> lists the sockets of that session detached so far", http.StatusUpgradeRequired)
		return
	}
	ids, msg := parseDetachedQuery(r.URL.RawQuery)
	if msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	feed := srv.sockets().detached
	dropped, _ := feed.state()
	setTextHeaders(w)
	w.Header().Set(DroppedHeader, strconv.FormatUint(dropped, 10))
	var b strings.Builder
	for _, id := range ids {
		uid := hex.EncodeToString(id[:])
		for range feed.count(&id) {
			b.WriteString(uid)
			b.WriteByte('\n')
		}
	}
	w.Write([]byte(b.String()))
}

// parseDetachedQuery reads id=UID parameters, at most MaxExpiredIDs of
// them and nothing else, or says in one line what is wrong.
func parseDetachedQuery(raw string) ([][uidBytes]byte, string) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "malformed query: " + short(err.Error())
	}
	for k := range q {
		if k != "id" {
			return nil, "unknown parameter " + strconv.Quote(short(k)) + ": GET " + contract.PathWebSocket + " without an upgrade takes only id=<uid>, up to " + strconv.Itoa(MaxExpiredIDs) + " times"
		}
	}
	vals := q["id"]
	if len(vals) > MaxExpiredIDs {
		return nil, strconv.Itoa(len(vals)) + " ids asked; at most " + strconv.Itoa(MaxExpiredIDs) + " per request"
	}
	ids := make([][uidBytes]byte, 0, len(vals))
	for _, v := range vals {
		id, ok := parseUID(v)
		if !ok {
			return nil, "id=" + strconv.Quote(short(v)) + " is not a session uid (64 lowercase hex digits)"
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, ""
}
