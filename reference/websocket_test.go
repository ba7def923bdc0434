//go:build !js && !wasip1

package reference_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// wsEnv is the reference on a fake clock over TCP, and a client for it.
type wsEnv struct {
	t      *testing.T
	srv    *reference.Server
	clock  *fakeclock.Fake
	ts     *httptest.Server
	client *http.Client
}

func newWSEnv(t *testing.T, timeout time.Duration) *wsEnv {
	srv, clock := newServer(t, timeout)
	ts := httptest.NewServer(srv)
	e := &wsEnv{t: t, srv: srv, clock: clock, ts: ts, client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		ts.Close()
	})
	return e
}

// get answers GET path with the cookie ("NAME=VALUE" or "").
func (e *wsEnv) get(path, cookie string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// session makes a session and returns its cookie and uid.
func (e *wsEnv) session() (cookie, uid string) {
	e.t.Helper()
	resp, body := e.get("/", "")
	cookie, _, _ = strings.Cut(resp.Header.Get("Set-Cookie"), ";")
	uid = strings.TrimPrefix(body, "Your session id is: ")
	if cookie == "" || len(uid) != 64 {
		e.t.Fatalf("GET / = %q, %q", cookie, body)
	}
	return cookie, uid
}

func (e *wsEnv) dial(cookie string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, e.ts.URL+contract.PathWebSocket, &websocket.DialOptions{HTTPClient: e.client, HTTPHeader: h})
}

// attach opens a socket with the cookie and checks its first message.
func (e *wsEnv) attach(cookie, uid string) *websocket.Conn {
	e.t.Helper()
	c, resp, err := e.dial(cookie)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial: %v (status %d)", err, status)
	}
	e.t.Cleanup(func() { c.CloseNow() })
	if msg := read(e.t, c); msg != "attached "+uid {
		e.t.Fatalf("first message %q, want attached %s", msg, uid)
	}
	return c
}

// detached reads the detached feed for uid.
func (e *wsEnv) detached(uid string) int {
	e.t.Helper()
	resp, body := e.get(contract.PathWebSocket+"?id="+uid, "")
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET /ws?id= = %d %q", resp.StatusCode, body)
	}
	return strings.Count(body, uid+"\n")
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("a %v message", typ)
	}
	return string(b)
}

func ask(t *testing.T, c *websocket.Conn, text string) string {
	t.Helper()
	if err := c.Write(context.Background(), websocket.MessageText, []byte(text)); err != nil {
		t.Fatalf("write: %v", err)
	}
	return read(t, c)
}

// closed waits for the socket's end and returns its close frame.
func closed(t *testing.T, c *websocket.Conn) websocket.CloseError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err == nil {
			t.Logf("message before the close: %q", b)
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("the socket ended without a close frame: %v", err)
		}
		return ce
	}
}

func TestWebSocketProtocol(t *testing.T) {
	e := newWSEnv(t, time.Minute)
	cookie, uid := e.session()
	c := e.attach(cookie, uid)
	for range 3 {
		if got := ask(t, c, "ping"); got != "pong "+uid {
			t.Fatalf("ping = %q", got)
		}
	}
	if got := ask(t, c, "hello"); got != "unknown message: send ping" {
		t.Fatalf("hello = %q", got)
	}
	c.Write(context.Background(), websocket.MessageBinary, []byte("ping"))
	if ce := closed(t, c); ce.Code != websocket.StatusUnsupportedData {
		t.Fatalf("a binary message: %v, want 1003", ce)
	}
	big := e.attach(cookie, uid)
	big.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("x", reference.MaxSocketMessage+1)))
	if ce := closed(t, big); ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("an oversized message: %v, want 1009", ce)
	}
	// Neither socket changed the session, and the client's closing
	// detached each once.
	if _, body := e.get("/", cookie); body != "Your session id is: "+uid {
		t.Fatalf("the page after the sockets: %q", body)
	}
	waitFor(t, "both sockets detached", func() bool { return e.detached(uid) == 2 })
}

func TestWebSocketRefusals(t *testing.T) {
	e := newWSEnv(t, time.Minute)
	site := e.srv.Site()
	cookie, uid := e.session()
	e.get(contract.PathExpire, cookie)
	before := site.Len()
	for name, c := range map[string]string{
		"no cookie":       "",
		"unknown uid":     contract.CookieName + "=" + strings.Repeat("ab", 32),
		"malformed":       contract.CookieName + "=../../etc",
		"expired session": cookie,
	} {
		_, resp, err := e.dial(c)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: a socket was not refused with 403 and no cookie: %v %+v", name, err, resp)
		}
	}
	if site.Len() != before {
		t.Errorf("refused sockets made sessions: %d live, %d before", site.Len(), before)
	}
	for path, want := range map[string]int{
		contract.PathWebSocket:                    http.StatusUpgradeRequired,
		contract.PathWebSocket + "?id=nope":       http.StatusBadRequest,
		contract.PathWebSocket + "?uid=" + uid:    http.StatusBadRequest,
		contract.PathWebSocket + "?id=" + uid:     http.StatusOK,
		contract.PathWebSocket + "?id=" + uid[:8]: http.StatusBadRequest,
	} {
		if resp, body := e.get(path, ""); resp.StatusCode != want {
			t.Errorf("GET %s = %d %q, want %d", path, resp.StatusCode, body, want)
		}
	}
	// A page of another origin cannot open a socket with the cookie.
	live, liveUID := e.session()
	_ = liveUID
	h := http.Header{"Cookie": {live}, "Origin": {"http://evil.example"}}
	if _, resp, err := websocket.Dial(context.Background(), e.ts.URL+contract.PathWebSocket, &websocket.DialOptions{HTTPClient: e.client, HTTPHeader: h}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin socket was not refused: %v", err)
	}
}

func TestWebSocketClosedWhenSessionEnds(t *testing.T) {
	const timeout = time.Minute
	t.Run("expire", func(t *testing.T) {
		e := newWSEnv(t, timeout)
		cookie, uid := e.session()
		c1, c2 := e.attach(cookie, uid), e.attach(cookie, uid)
		if n := e.detached(uid); n != 0 {
			t.Fatalf("%d detached while the session lives", n)
		}
		e.get(contract.PathExpire, cookie)
		// The lines are written before the answer to /expire.
		if n := e.detached(uid); n != 2 {
			t.Fatalf("%d detached after /expire, want 2", n)
		}
		for _, c := range []*websocket.Conn{c1, c2} {
			if ce := closed(t, c); ce.Code != reference.CloseSessionEnded || ce.Reason != "session expired" {
				t.Fatalf("close %v, want 4001 session expired", ce)
			}
		}
		time.Sleep(50 * time.Millisecond)
		if n := e.detached(uid); n != 2 {
			t.Fatalf("%d detached after the sockets closed, want 2: once each", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := newWSEnv(t, timeout)
		cookie, uid := e.session()
		c := e.attach(cookie, uid)
		e.clock.Advance(timeout - time.Nanosecond)
		if got := ask(t, c, "ping"); got != "pong "+uid {
			t.Fatalf("ping a nanosecond before the timeout = %q", got)
		}
		e.clock.Advance(time.Nanosecond)
		if n := e.detached(uid); n != 1 {
			t.Fatalf("%d detached after the timeout, want 1", n)
		}
		if ce := closed(t, c); ce.Code != reference.CloseSessionEnded {
			t.Fatalf("close %v, want 4001", ce)
		}
	})
}

// Socket messages do not refresh the session; opening a socket does.
func TestWebSocketTrafficDoesNotRefresh(t *testing.T) {
	const timeout = time.Minute
	e := newWSEnv(t, timeout)
	cookie, uid := e.session()
	e.clock.Advance(timeout / 2)
	c := e.attach(cookie, uid) // a request with the cookie: the session is accessed now
	opened := e.clock.Now()
	for range 9 {
		e.clock.Advance(timeout / 10)
		if got := ask(t, c, "ping"); got != "pong "+uid {
			t.Fatalf("ping at %s = %q", e.clock.Now().Sub(opened), got)
		}
	}
	e.clock.Advance(timeout/10 - time.Nanosecond)
	if _, ok := e.srv.Site().Session(uid); !ok {
		t.Fatal("the session ended before a timeout had passed since the socket opened")
	}
	// That lookup was an access too; the socket's pings are not.
	for range 10 {
		e.clock.Advance(timeout / 10)
		c.Write(context.Background(), websocket.MessageText, []byte("ping"))
	}
	if ce := closed(t, c); ce.Code != reference.CloseSessionEnded {
		t.Fatalf("close %v, want 4001", ce)
	}
}

func TestWebSocketCaps(t *testing.T) {
	e := newWSEnv(t, time.Minute)
	reference.SetSocketLimits(e.srv, 2, 3)
	a, aUID := e.session()
	b, bUID := e.session()
	a1 := e.attach(a, aUID)
	e.attach(a, aUID)
	if _, resp, err := e.dial(a); err == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third socket of one session: %v, want 429", err)
	}
	e.attach(b, bUID)
	_, resp, err := e.dial(b)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a fourth socket in all: %v, want 503 with Retry-After", err)
	}
	a1.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the closed socket's room given back", func() bool { n, _ := reference.SocketCounts(e.srv); return n == 2 })
	e.attach(b, bUID)
}

// Sockets of sessions that end in every way, and of clients that leave,
// end with their goroutines; the registry forgets them.
func TestWebSocketNoGoroutineLeak(t *testing.T) {
	const timeout = time.Minute
	e := newWSEnv(t, timeout)
	base := runtime.NumGoroutine()
	var conns []*websocket.Conn
	var cookies []string
	for range 6 {
		cookie, uid := e.session()
		cookies = append(cookies, cookie)
		for range 3 {
			c := e.attach(cookie, uid)
			ask(t, c, "ping")
			conns = append(conns, c)
		}
	}
	if n, sessions := reference.SocketCounts(e.srv); n != 18 || sessions != 6 {
		t.Fatalf("%d sockets of %d sessions, want 18 of 6", n, sessions)
	}
	// Two sessions expired from a page, two left to time out (the other
	// two are visited meanwhile), the last two's clients leave: one
	// closing properly, one dropping the connection.
	e.get(contract.PathExpire, cookies[0])
	e.get(contract.PathExpire, cookies[1])
	e.clock.Advance(timeout / 2)
	for _, c := range cookies[4:] {
		e.get("/", c)
	}
	e.clock.Advance(timeout / 2)
	for _, c := range conns[:12] {
		closed(t, c)
	}
	for _, c := range conns[12:15] {
		c.Close(websocket.StatusNormalClosure, "bye")
	}
	for _, c := range conns[15:] {
		c.CloseNow()
	}
	e.client.CloseIdleConnections()
	waitFor(t, "every socket gone from the registry", func() bool { n, _ := reference.SocketCounts(e.srv); return n == 0 })
	waitFor(t, fmt.Sprintf("the goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
	// The sessions still live keep their (empty) entries until they end.
	e.clock.Advance(timeout)
	if n, sessions := reference.SocketCounts(e.srv); n != 0 || sessions != 0 {
		t.Fatalf("%d sockets of %d sessions after every session ended", n, sessions)
	}
}

// Sockets opened while their sessions are being expired, under -race:
// each socket is attached and later closed with 4001, or refused; each
// attached one is detached exactly once; nothing is left behind.
func TestWebSocketOpenRacesExpire(t *testing.T) {
	e := newWSEnv(t, time.Minute)
	base := runtime.NumGoroutine()
	const sessions, perSession = 8, 4
	var wg sync.WaitGroup
	for range sessions {
		cookie, uid := e.session()
		var mu sync.Mutex
		attached := 0
		var inner sync.WaitGroup
		for range perSession {
			inner.Add(1)
			go func() {
				defer inner.Done()
				c, _, err := e.dial(cookie)
				if err != nil {
					return // refused: the session had ended
				}
				defer c.CloseNow()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, b, err := c.Read(ctx)
				if err == nil {
					if string(b) != "attached "+uid {
						t.Errorf("first message %q", b)
					}
					mu.Lock()
					attached++
					mu.Unlock()
				}
				for err == nil {
					_, _, err = c.Read(ctx)
				}
				if websocket.CloseStatus(err) != reference.CloseSessionEnded {
					t.Errorf("socket of %s ended with %v, want 4001", uid[:8], err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.get(contract.PathExpire, cookie)
			inner.Wait()
			if n := e.detached(uid); n != attached {
				t.Errorf("session %s: %d sockets attached, %d detached", uid[:8], attached, n)
			}
		}()
	}
	wg.Wait()
	e.client.CloseIdleConnections()
	waitFor(t, "every socket gone from the registry", func() bool { n, s := reference.SocketCounts(e.srv); return n == 0 && s == 0 })
	waitFor(t, fmt.Sprintf("the goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("not within 10 s: %s\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
