package spec

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A burst is k requests that must reach the target at once, so that a
// store that loses a change when two requests overlap shows it on every
// run, not on some. Sent through a pool of connections, they would leave
// one by one as each connection is dialled, and a server that finishes
// each before the next arrives would seem to keep every change on one run
// and not on the next (measured: express-session's MemoryStore lost
// increments in 5 of 10 runs so, scs in 9 of 10). A burst dials a
// connection of its own for each request, writes each request but its
// last byte, and writes the last bytes only when every request is
// waiting for it: no server can start on one before all have arrived.
//
// Only requests that go through an *http.Transport over plain TCP can be
// held so; through any other transport (a target in memory, a user's own
// RoundTripper) or over TLS, a burst is the k requests sent at once, as
// the scheduler runs them.
//
//	b := p.T.burst(k)
//	defer b.close()
//	for range k { go u.via(b.client).Do(...) }
//	b.release(ctx) // once every request was started
type burst struct {
	client *http.Client
	held   bool // every transport holds its requests' last byte
	want   int

	arrived atomic.Int32
	all     chan struct{} // closed when want requests wait for their last byte
	gate    chan struct{} // closed to let the last bytes go
	once    sync.Once
	clones  []*http.Transport
}

// burstHold bounds how long a burst waits for its requests to arrive:
// one that never does (a dial refused, HTTP/2 sending all on one
// connection) lets the others go after it.
const burstHold = 5 * time.Second

// burst returns a burst of k requests to t.
func (t *Target) burst(k int) *burst {
	b := &burst{want: k, all: make(chan struct{}), gate: make(chan struct{}), held: true}
	plain := t.URL.Scheme == "http" // a TLS handshake's own writes must not be held
	for _, r := range t.Replicas {
		plain = plain && r.Scheme == "http"
	}
	hold := func(rt http.RoundTripper) http.RoundTripper {
		tr, ok := rt.(*http.Transport)
		if !ok || !plain || tr.DialTLSContext != nil || tr.DialTLS != nil {
			b.held = false
			return rt
		}
		c := tr.Clone()
		dial := c.DialContext
		if dial == nil {
			dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
		}
		c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &heldConn{Conn: conn, b: b}, nil
		}
		c.MaxConnsPerHost = 0
		c.DisableKeepAlives = true // one request per connection: each is held, none reused
		b.clones = append(b.clones, c)
		return c
	}
	base := hold(t.baseTransport())
	var rt http.RoundTripper = base
	if len(t.Replicas) > 0 {
		per := make([]http.RoundTripper, len(t.Replicas))
		for i := range per {
			per[i] = base
			if t.ReplicaTransports != nil {
				per[i] = hold(t.ReplicaTransports[i])
			}
		}
		rt = replicaRouter{t: t, base: base, replicas: per}
	}
	b.client = t.client()
	b.client.Transport = rt
	return b
}

// release lets the held requests go once all k wait for their last byte,
// or burstHold after it was called, or when ctx ends, whichever is first.
// It reports how many were waiting.
func (b *burst) release(ctx context.Context) int {
	if b.held {
		timer := time.NewTimer(burstHold)
		defer timer.Stop()
		select {
		case <-b.all:
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	n := int(b.arrived.Load())
	b.once.Do(func() { close(b.gate) })
	return n
}

// close lets any request still held go and closes the burst's
// connections.
func (b *burst) close() {
	b.once.Do(func() { close(b.gate) })
	for _, c := range b.clones {
		c.CloseIdleConnections()
	}
}

// heldConn writes its first write but the last byte at once, and the
// last byte when the burst's gate opens.
type heldConn struct {
	net.Conn
	b    *burst
	used bool
}

func (c *heldConn) Write(p []byte) (int, error) {
	if c.used || len(p) < 2 {
		return c.Conn.Write(p)
	}
	c.used = true
	n, err := c.Conn.Write(p[:len(p)-1])
	if err != nil {
		return n, err
	}
	if int(c.b.arrived.Add(1)) == c.b.want {
		close(c.b.all)
	}
	<-c.b.gate
	m, err := c.Conn.Write(p[len(p)-1:])
	return n + m, err
}
