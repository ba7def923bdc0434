package spec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Bounds of the suite's WebSocket client, whatever the target sends.
const (
	// maxSocketMessage is the longest message the suite reads from a
	// socket; a longer one ends the socket (a target error for the case).
	maxSocketMessage = 64 << 10
	// socketBacklog is how many unread messages a socket holds before
	// the suite stops reading from it.
	socketBacklog = 64
)

// Socket is a WebSocket the suite holds open to the target as one user.
// A goroutine reads it from the start, so messages and its close are
// timed as they arrive, whatever the case is doing; Close ends it and
// that goroutine. A case closes every socket it opens (defer s.Close()).
type Socket struct {
	// Name is how the evidence calls the socket ("alice/ws").
	Name string

	p      *Probe
	conn   *websocket.Conn
	events chan string   // text messages, in order ("" never: a binary message is rendered)
	quit   chan struct{} // closed by Close
	done   chan struct{} // closed when the reader has ended
	once   sync.Once

	// Set by the reader before done is closed.
	endErr error
	endAt  time.Time
}

// SocketEnd is how a socket ended, as the suite saw it.
type SocketEnd struct {
	// Frame: the target sent a close frame, with Code and Reason.
	Frame  bool
	Code   int
	Reason string
	// Err is what ended it otherwise (the connection dropped, a
	// protocol error, a message over the suite's limit).
	Err error
	// At is when the suite saw the end.
	At time.Time
}

func (e SocketEnd) String() string {
	if e.Frame {
		return fmt.Sprintf("close frame %d %q", e.Code, e.Reason)
	}
	return fmt.Sprintf("no close frame: %v", e.Err)
}

// OpenSocket opens a WebSocket to the target's ws resource as u, with
// the cookies u's browser would send there and the Origin of a page of
// the target. It returns the socket, or nil and the target's answer to
// the upgrade when it refused it (any answer but 101). A target that
// answers 404 makes the case not applicable; one that does not answer,
// or answers 101 with a broken handshake, is a target error.
func (p *Probe) OpenSocket(u *User) (*Socket, *Response) {
	t := p.T
	raw := t.Resolve(t.Paths.WebSocket)
	req, err := http.NewRequestWithContext(p.ctx, "GET", raw, nil)
	if err != nil {
		p.Abort("ws path %q: %v", t.Paths.WebSocket, err)
	}
	if !t.sameOrigin(req.URL) {
		p.Abort("%s is not on the target's origin %s: not contacted", req.URL, origin(t.URL))
	}
	h := http.Header{}
	var pairs []string
	for _, c := range u.jar.Cookies(req.URL) {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	if len(pairs) > 0 {
		h.Set("Cookie", strings.Join(pairs, "; "))
	}
	h.Set("Origin", t.URL.Scheme+"://"+t.URL.Host)
	h.Set("User-Agent", "sessionspec/"+Version+" ("+u.Name+")")
	req.Header = h.Clone()
	req.Header.Set("Upgrade", "websocket")
	ex := Exchange{User: u.Name, Request: renderRequest(req) + "Upgrade: websocket\n"}

	conn, resp, err := websocket.Dial(p.ctx, raw, &websocket.DialOptions{HTTPClient: t.socketClient(), HTTPHeader: h})
	if resp == nil {
		ex.Err = err
		p.Tr.add(ex)
		if p.ctx.Err() != nil {
			panic(aborted{"interrupted"})
		}
		p.Abort("GET %s (WebSocket upgrade): %v", raw, err)
	}
	if cookies := resp.Cookies(); len(cookies) > 0 {
		u.jar.SetCookies(req.URL, cookies) // a browser keeps what the handshake sets
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body := ""
		if resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			body = string(b)
		}
		ex.Response = renderResponse(resp, body)
		p.Tr.add(ex)
		if resp.StatusCode == http.StatusNotFound {
			p.NotApplicable("GET %s (WebSocket upgrade) answered 404: the target has no ws resource (declare it absent with --paths ws= and the case is n/a without asking)", raw)
		}
		return nil, &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	}
	ex.Response = renderResponse(resp, "")
	if err != nil {
		ex.Err = err
		p.Tr.add(ex)
		p.Fail("GET %s answered 101 Switching Protocols, but not with a WebSocket handshake: %v", raw, err)
	}
	p.Tr.add(ex)
	conn.SetReadLimit(maxSocketMessage)
	s := &Socket{
		Name: u.Name + "/ws", p: p, conn: conn,
		events: make(chan string, socketBacklog), quit: make(chan struct{}), done: make(chan struct{}),
	}
	go s.read()
	return s, nil
}

// read moves the socket's messages into events until it ends.
func (s *Socket) read() {
	defer close(s.done)
	for {
		typ, b, err := s.conn.Read(context.Background())
		if err != nil {
			s.endErr, s.endAt = err, time.Now()
			return
		}
		msg := string(b)
		if typ != websocket.MessageText {
			msg = fmt.Sprintf("(binary message, %d bytes)", len(b))
		}
		select {
		case s.events <- msg:
		case <-s.quit:
			return
		}
	}
}

// Close closes the socket from the client's side, at once, and waits for
// its reader. Closing twice is harmless.
func (s *Socket) Close() {
	s.once.Do(func() {
		close(s.quit)
		s.conn.CloseNow()
		<-s.done
	})
}

// Send writes a text message.
func (s *Socket) Send(text string) error {
	s.p.Tr.Note("[%s] >>> %q", s.Name, text)
	ctx, cancel := context.WithTimeout(s.p.ctx, s.p.T.RequestTimeout)
	defer cancel()
	err := s.conn.Write(ctx, websocket.MessageText, []byte(text))
	if err != nil {
		s.p.Tr.Note("[%s] the write failed: %v", s.Name, err)
	}
	return err
}

// Next waits up to within for the next message. It reports false when
// the socket ended first (see End) or nothing came in time.
func (s *Socket) Next(within time.Duration) (string, bool) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case msg := <-s.events:
		s.p.Tr.Note("[%s] <<< %q", s.Name, excerpt(msg, 300))
		return msg, true
	case <-s.done:
		// Messages that came before the end are still to be read.
		select {
		case msg := <-s.events:
			s.p.Tr.Note("[%s] <<< %q", s.Name, excerpt(msg, 300))
			return msg, true
		default:
		}
		s.p.Tr.Note("[%s] ended: %s", s.Name, s.end())
		return "", false
	case <-timer.C:
		s.p.Tr.Note("[%s] nothing within %s", s.Name, within)
		return "", false
	case <-s.p.ctx.Done():
		panic(aborted{"interrupted"})
	}
}

// Ask sends a text message and waits up to within for the next message.
func (s *Socket) Ask(text string, within time.Duration) (string, bool) {
	if s.Send(text) != nil {
		return "", false
	}
	return s.Next(within)
}

// Ended reports whether the socket has ended, and how, without waiting.
func (s *Socket) Ended() (SocketEnd, bool) {
	select {
	case <-s.done:
		return s.end(), true
	default:
		return SocketEnd{}, false
	}
}

// WaitEnd waits up to within for the socket to end, reading past any
// messages meanwhile, and reports how it ended.
func (s *Socket) WaitEnd(within time.Duration) (SocketEnd, bool) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case msg := <-s.events:
			s.p.Tr.Note("[%s] <<< %q", s.Name, excerpt(msg, 300))
		case <-s.done:
			e := s.end()
			s.p.Tr.Note("[%s] ended: %s", s.Name, e)
			return e, true
		case <-timer.C:
			s.p.Tr.Note("[%s] still open %s later", s.Name, within)
			return SocketEnd{}, false
		case <-s.p.ctx.Done():
			panic(aborted{"interrupted"})
		}
	}
}

// end is how the socket ended; only once done is closed.
func (s *Socket) end() SocketEnd {
	e := SocketEnd{Err: s.endErr, At: s.endAt}
	var ce websocket.CloseError
	if errors.As(s.endErr, &ce) {
		e.Frame, e.Code, e.Reason = true, int(ce.Code), ce.Reason
	}
	return e
}

// socketClient is the HTTP client that carries WebSocket handshakes: the
// target's own, except that an in-memory target (HandlerTransport) gets
// each handshake on a connection of its own, net.Pipe, served by
// net/http, so that its handler can take the connection over as a real
// server's does.
func (t *Target) socketClient() *http.Client {
	c := t.client()
	if ht, ok := t.transport().(handlerTransport); ok {
		c.Transport = pipeTransport{ht.h}
	}
	return c
}

// pipeTransport serves each request on a net.Pipe of its own with
// net/http's server, so that a handler can hijack it.
type pipeTransport struct{ h http.Handler }

var discardLog = log.New(io.Discard, "", 0)

func (t pipeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	client, server := net.Pipe()
	srv := &http.Server{Handler: t.h, ErrorLog: discardLog, MaxHeaderBytes: maxHeaderBytes}
	go srv.Serve(&oneConnListener{conn: server}) // returns once it has the one connection
	stop := context.AfterFunc(req.Context(), func() { client.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		client.Close()
		return nil, err
	}
	werr := make(chan error, 1)
	go func() { werr <- req.Write(client) }()
	br := bufio.NewReader(client)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail(err)
	}
	if err := <-werr; err != nil {
		resp.Body.Close()
		return fail(err)
	}
	if !stop() {
		resp.Body.Close()
		return fail(req.Context().Err())
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = pipeConn{br, client}
	} else {
		resp.Body = closeBoth{resp.Body, client}
	}
	return resp, nil
}

// pipeConn is the client's side of an upgraded pipe: what the server
// sent after its answer is in the reader.
type pipeConn struct {
	r *bufio.Reader
	c net.Conn
}

func (p pipeConn) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipeConn) Write(b []byte) (int, error) { return p.c.Write(b) }
func (p pipeConn) Close() error                { return p.c.Close() }

// closeBoth closes a body and the pipe it came on.
type closeBoth struct {
	io.ReadCloser
	c net.Conn
}

func (b closeBoth) Close() error {
	b.ReadCloser.Close()
	return b.c.Close()
}

// oneConnListener accepts one connection, then reports itself closed.
type oneConnListener struct {
	mu   sync.Mutex
	conn net.Conn
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conn
	l.conn = nil
	if c == nil {
		return nil, net.ErrClosed
	}
	return c, nil
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
