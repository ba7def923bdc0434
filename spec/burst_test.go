//go:build !js && !wasip1

package spec

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// writeLog records, in order, every write of the connections it dials.
type writeLog struct {
	mu     sync.Mutex
	writes []int // sizes of the writes, in the order they were made
}

type loggedConn struct {
	net.Conn
	log *writeLog
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, len(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

// A held burst writes every request but its last byte before it writes
// any last byte: the log of writes is k long writes, then k one-byte
// writes, on every run; and every request is answered.
func TestBurstHoldsEveryRequestsLastByte(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	target, err := NewTarget(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	log := &writeLog{}
	target.Transport = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &loggedConn{Conn: c, log: log}, nil
	}}
	const k = 20
	for run := range 5 {
		log.writes = nil
		b := target.burst(k)
		if !b.held {
			t.Fatal("a burst over plain TCP through an *http.Transport is not held")
		}
		var wg sync.WaitGroup
		answered := make([]bool, k)
		for i := range k {
			wg.Go(func() {
				resp, err := b.client.Get(srv.URL + "/counter")
				if err == nil {
					answered[i] = resp.StatusCode == 200
					resp.Body.Close()
				}
			})
		}
		if n := b.release(context.Background()); n != k {
			t.Errorf("run %d: %d requests waiting at release, want %d", run, n, k)
		}
		wg.Wait()
		b.close()
		log.mu.Lock()
		for i, size := range log.writes {
			if (i < k) != (size > 1) {
				t.Fatalf("run %d: write %d is %d bytes; want %d requests but their last byte, then %d last bytes: %v", run, i, size, k, k, log.writes)
			}
		}
		if len(log.writes) != 2*k {
			t.Fatalf("run %d: %d writes, want %d: %v", run, len(log.writes), 2*k, log.writes)
		}
		log.mu.Unlock()
		for i, ok := range answered {
			if !ok {
				t.Errorf("run %d: request %d was not answered 200", run, i)
			}
		}
	}
}

// Through a transport it cannot hold (a target in memory), a burst sends
// its requests as they come and release does not wait.
func TestBurstInMemoryIsNotHeld(t *testing.T) {
	target, err := HandlerTarget(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/sessionspec" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	b := target.burst(3)
	defer b.close()
	if b.held {
		t.Fatal("an in-memory transport reported as held")
	}
	resp, err := b.client.Get(target.Resolve("/x"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if n := b.release(context.Background()); n != 0 {
		t.Errorf("release reports %d held requests", n)
	}
}
