package faulty

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// The defects of the WebSocket resource (the ws cases), and an honest
// variant. Each is the reference for every other resource, with a socket
// server of its own at /ws written apart from the reference's, as another
// implementation would be: same protocol ("attached <id>", "ping" gets
// "pong <id>", close 4001 when the session ends, GET /ws?id=<id> the
// detached feed), with one defect.
const (
	// SocketSurvivesExpire leaves the sockets of a session that /expire
	// ended open, still answering for it; a timeout closes them.
	SocketSurvivesExpire Fault = "ws-survives-expire"
	// SocketSurvivesTimeout leaves the sockets of a session that timed
	// out open, still answering for it; /expire closes them.
	SocketSurvivesTimeout Fault = "ws-survives-timeout"
	// DetachedTwice closes the sockets when their session ends, but
	// writes each socket's detached line twice: when the session ends,
	// and again when the socket's handler returns.
	DetachedTwice Fault = "ws-detached-twice"
	// SocketTrafficRefreshes counts every message on a socket as a visit
	// to its session, so a busy socket keeps the session from timing out.
	SocketTrafficRefreshes Fault = "ws-traffic-refreshes"
	// SocketNewSession is honest: a socket opened without a live
	// session's cookie gets a new session (its cookie set on the 101
	// answer) instead of a refusal, which the contract allows.
	SocketNewSession Fault = "ws-new-session"
)

// websocketFaults are the defects of the websocket cases' resource, each
// with the case that must catch it.
var websocketFaults = []Entry{
	// WS-006 fails too (no socket is detached by /expire).
	{Fault: SocketSurvivesExpire, CaughtBy: "WS-004"},
	// WS-007 and WS-008 fail too.
	{Fault: SocketSurvivesTimeout, CaughtBy: "WS-005"},
	// WS-007 fails too.
	{Fault: DetachedTwice, CaughtBy: "WS-006"},
	// A SHOULD case: the run exits 0.
	{Fault: SocketTrafficRefreshes, CaughtBy: "WS-008"},
}

// WebSocketHonest are the honest variants of the socket server: a check
// of each must pass every case.
var WebSocketHonest = []Entry{
	{Fault: SocketNewSession, Verdict: Passes},
}

// newWebSocketTarget builds the target of one of websocketFaults (or
// WebSocketHonest), or returns nil for any other fault.
func newWebSocketTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	switch f {
	case SocketSurvivesExpire, SocketSurvivesTimeout, DetachedTwice, SocketTrafficRefreshes, SocketNewSession:
	default:
		return nil
	}
	cfg := reference.Config{SessionTimeout: timeout}
	if clock != nil {
		cfg.Clock = clock
	}
	site := reference.NewSite(cfg)
	return &socketTarget{
		fault: f, site: site, srv: reference.NewServer(site, nil),
		explicit: map[string]bool{}, sockets: map[string][]*faultySocket{}, detached: map[string]int{},
	}
}

// socketTarget is the reference with a socket server of its own.
type socketTarget struct {
	fault Fault
	site  *reference.Site
	srv   *reference.Server

	mu       sync.Mutex
	explicit map[string]bool            // uids /expire was asked to end
	sockets  map[string][]*faultySocket // by uid, from the first socket until the session ends
	detached map[string]int             // detached lines by uid
}

type faultySocket struct {
	ctx      context.Context
	cancel   context.CancelFunc
	detached bool
}

func (t *socketTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case contract.PathDiscovery:
		d := t.srv.Discovery()
		d.Implementation = "faulty reference (" + string(t.fault) + ")"
		d.Paths.WebSocket = contract.PathWebSocket
		writeJSON(w, d)
	case contract.PathExpire:
		if sess := t.live(r); sess != nil {
			t.mu.Lock()
			t.explicit[sess.UID()] = true
			t.mu.Unlock()
		}
		t.srv.ServeHTTP(w, r)
	case contract.PathWebSocket:
		t.serveSocket(w, r)
	default:
		t.srv.ServeHTTP(w, r)
	}
}

// live is the live session the request's cookie names, or nil.
func (t *socketTarget) live(r *http.Request) *reference.Session {
	for _, c := range r.CookiesNamed(contract.CookieName) {
		if sess, ok := t.site.Session(c.Value); ok {
			return sess
		}
	}
	return nil
}

func (t *socketTarget) serveSocket(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		t.serveDetached(w, r)
		return
	}
	sess := t.live(r)
	if sess == nil && t.fault == SocketNewSession {
		var err error
		if sess, err = t.site.GetSession(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if sess == nil {
		http.Error(w, "no live session", http.StatusForbidden)
		return
	}
	uid := sess.UID()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s := &faultySocket{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if s.ctx.Err() != nil {
			c.Close(4001, "session expired")
		}
		c.CloseNow()
		s.cancel()
	}()
	t.mu.Lock()
	first := t.sockets[uid] == nil
	t.sockets[uid] = append(t.sockets[uid], s)
	t.mu.Unlock()
	if first {
		sess.NotifyOnExpire(func() { t.ended(uid) })
	}
	defer t.detach(uid, s, t.fault == DetachedTwice)
	write := func(text string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.Write(ctx, websocket.MessageText, []byte(text)) == nil
	}
	if !write("attached " + uid) {
		return
	}
	stop := context.AfterFunc(s.ctx, func() { c.Close(4001, "session expired") })
	defer stop()
	for {
		_, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if t.fault == SocketTrafficRefreshes {
			t.site.Session(uid) // a lookup is a visit
		}
		answer := "unknown message: send ping"
		if string(msg) == "ping" {
			answer = "pong " + uid
		}
		if !write(answer) {
			return
		}
	}
}

// ended runs when the session uid ends: its sockets are detached and
// closed, unless the fault keeps them.
func (t *socketTarget) ended(uid string) {
	t.mu.Lock()
	explicit := t.explicit[uid]
	delete(t.explicit, uid)
	sockets := t.sockets[uid]
	delete(t.sockets, uid)
	t.mu.Unlock()
	if explicit && t.fault == SocketSurvivesExpire || !explicit && t.fault == SocketSurvivesTimeout {
		return
	}
	for _, s := range sockets {
		t.detach(uid, s, false)
		s.cancel()
	}
}

// detach writes s's detached line, once, or again when again is set.
func (t *socketTarget) detach(uid string, s *faultySocket, again bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !s.detached || again {
		s.detached = true
		t.detached[uid]++
	}
}

// serveDetached answers GET /ws?id=UID... with the detached lines of
// those ids.
func (t *socketTarget) serveDetached(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["id"]) == 0 {
		http.Error(w, "GET /ws?id=<uid> lists detached sockets", http.StatusBadRequest)
		return
	}
	var b strings.Builder
	t.mu.Lock()
	for _, uid := range q["id"] {
		for range t.detached[uid] {
			fmt.Fprintln(&b, uid)
		}
	}
	t.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(b.String()))
}
