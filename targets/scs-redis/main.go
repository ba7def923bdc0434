// Command scs-redis-seedsite serves the seed examples of Twisted Web's
// session howtos on alexedwards/scs v2 with its redisstore (redigo), as one
// replica of a clustered site: start several on one Redis and every session
// is scs's, loaded, saved, refreshed and destroyed by its LoadAndSave
// middleware through redisstore, whichever replica a request reaches. This
// program only maps the seed resources onto the SessionManager, the way
// targets/scs does for the memstore:
//
//	/          ShowSession: "Your session id is: " + the session's token
//	/expire    ExpireSession: SessionManager.Destroy (redisstore: DEL)
//	/logme     ExpirationLogger: marks the session once and has THIS REPLICA watch it
//	/expired   the ids this replica saw end, one per line
//	/counter   the session-store example: GetInt, then Put of the next value,
//	           as scs's README does it (the whole session is written back
//	           when the response is sent: no atomic increment)
//	/.well-known/sessionspec  the discovery document
//
// The timeout is set scs's way: SessionManager.IdleTimeout (Lifetime, the
// absolute limit, stays at its 24 h default). redisstore writes each
// session as one value under scs:session:<token> with SET and PEXPIREAT at
// the earlier of the deadline and now + IdleTimeout, in one MULTI/EXEC, so
// it is Redis, on its own real clock, that ends a session. scs reads
// time.Now() itself: there is no clock to control and no /_clock.
//
// scs has no expiry notification, and redisstore none either (Redis drops
// the key). The notifications /expired lists are therefore ADAPTER CODE:
// the replica that served the first /logme of a session remembers its token
// in memory and asks redisstore.Find every --poll; once Find no longer finds
// it (Redis let it expire, or a replica destroyed it) this replica logs it,
// once. Exactly once across replicas only because one replica holds the
// registration (it is lost with that replica). The discovery document's
// implementation name says so.
//
// Usage: scs-redis-seedsite --redis redis://127.0.0.1:PORT/0 [--timeout 2s]
// [--port 0] [--poll 100ms]. The replica binds 127.0.0.1 (port 0 by
// default: the kernel picks a free one) and prints
// "listening on http://127.0.0.1:PORT/".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"
)

const (
	keyCreated = "sessionspec.created"
	keyLogMe   = "sessionspec.logme"
	keyCount   = "sessionspec.count"
)

// watcher is the adapter's stand-in for an expiry hook scs does not have.
type watcher struct {
	store scs.Store

	mu      sync.Mutex
	logged  map[string]bool // tokens logged through this replica
	expired []string        // tokens seen gone, in order
}

func (w *watcher) watch(token string) {
	w.mu.Lock()
	w.logged[token] = true
	w.mu.Unlock()
}

// poll looks every logged token up each period until done is closed.
func (w *watcher) poll(every time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		w.mu.Lock()
		for token := range w.logged {
			_, found, err := w.store.Find(token)
			if err != nil {
				log.Printf("poll: %v", err)
				break
			}
			if !found {
				delete(w.logged, token)
				w.expired = append(w.expired, token)
				fmt.Printf("Session %s has expired.\n", token)
			}
		}
		w.mu.Unlock()
	}
}

func (w *watcher) list() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, t := range w.expired {
		b.WriteString(t + "\n")
	}
	return b.String()
}

// session is Twisted's request.getSession() in scs's terms: scs gives a new
// session its token only when it is committed, so a new session is marked
// and committed here to learn its id (as in targets/scs).
func session(sm *scs.SessionManager, ctx context.Context) (string, error) {
	if token := sm.Token(ctx); token != "" {
		return token, nil
	}
	sm.Put(ctx, keyCreated, true)
	token, _, err := sm.Commit(ctx)
	return token, err
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(version unknown)"
}

// newPool is redigo's connection pool as redisstore's README sets it up,
// dialling the Redis URL.
func newPool(url string) *redis.Pool {
	return &redis.Pool{
		MaxIdle:     10,
		IdleTimeout: 4 * time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.DialURL(url, redis.DialConnectTimeout(2*time.Second))
		},
	}
}

// newSite maps the seed resources onto an scs SessionManager with a
// redisstore on pool. stop ends the adapter's polling.
func newSite(pool *redis.Pool, timeout, pollEvery time.Duration) (site http.Handler, name string, stop func()) {
	store := redisstore.New(pool)
	sm := scs.New()
	def, _ := sm.Store.(*memstore.MemStore) // scs.New's own store, replaced; its cleanup goroutine runs anyway
	sm.Store = store
	sm.IdleTimeout = timeout
	sm.ErrorFunc = func(rw http.ResponseWriter, r *http.Request, err error) {
		log.Printf("%s %s: %v", r.Method, r.URL, err)
		http.Error(rw, "session store unavailable", http.StatusServiceUnavailable)
	}

	w := &watcher{store: store, logged: map[string]bool{}}
	done := make(chan struct{})
	go w.poll(pollEvery, done)

	text := func(rw http.ResponseWriter, body string) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(rw, body)
	}
	fail := func(rw http.ResponseWriter, r *http.Request, err error) { sm.ErrorFunc(rw, r, err) }

	seed := http.NewServeMux()
	seed.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		token, err := session(sm, r.Context())
		if err != nil {
			fail(rw, r, err)
			return
		}
		text(rw, "Your session id is: "+token)
	})
	seed.HandleFunc("GET /expire", func(rw http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			fail(rw, r, err)
			return
		}
		text(rw, "Your session has been expired.")
	})
	seed.HandleFunc("GET /logme", func(rw http.ResponseWriter, r *http.Request) {
		token, err := session(sm, r.Context())
		if err != nil {
			fail(rw, r, err)
			return
		}
		if !sm.GetBool(r.Context(), keyLogMe) {
			sm.Put(r.Context(), keyLogMe, true)
			w.watch(token)
		}
		text(rw, "")
	})
	seed.HandleFunc("GET /counter", func(rw http.ResponseWriter, r *http.Request) {
		n := sm.GetInt(r.Context(), keyCount) + 1
		sm.Put(r.Context(), keyCount, n)
		text(rw, fmt.Sprintf("Visit #%d for you!", n))
	})

	name = fmt.Sprintf("scs %s + redisstore %s (redigo %s; IdleTimeout %s; expiry notifications: adapter polling every %s by the replica that logged the session, scs has no hook)",
		moduleVersion("github.com/alexedwards/scs/v2"), moduleVersion("github.com/alexedwards/scs/redisstore"),
		moduleVersion("github.com/gomodule/redigo"), timeout, pollEvery)
	discovery, _ := json.Marshal(map[string]any{
		"sessionspec": 1, "implementation": name, "cookie": sm.Cookie.Name,
		"timeout_seconds": timeout.Seconds(),
		"paths": map[string]string{"session": "/", "expire": "/expire", "logme": "/logme",
			"expired": "/expired", "counter": "/counter", "clock": ""},
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/sessionspec", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.Write(discovery)
	})
	mux.HandleFunc("GET /expired", func(rw http.ResponseWriter, r *http.Request) { text(rw, w.list()) })
	mux.Handle("/", sm.LoadAndSave(seed))

	return mux, name, func() {
		close(done)
		if def != nil {
			def.StopCleanup()
		}
	}
}

func main() {
	port := flag.Int("port", 0, "port to serve on 127.0.0.1 (0: the kernel picks one)")
	redisURL := flag.String("redis", "", "the Redis URL, redis://HOST:PORT/DB")
	timeout := flag.Duration("timeout", 2*time.Second, "SessionManager.IdleTimeout")
	pollEvery := flag.Duration("poll", 100*time.Millisecond, "ADAPTER: how often logged sessions are looked up to report their end")
	flag.Parse()
	if !strings.HasPrefix(*redisURL, "redis://") || *timeout <= 0 || *pollEvery <= 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: scs-redis-seedsite --redis redis://HOST:PORT/DB [--timeout 2s] [--port 0] [--poll 100ms]")
		os.Exit(2)
	}

	pool := newPool(*redisURL)
	defer pool.Close()
	conn := pool.Get()
	_, err := conn.Do("PING")
	conn.Close()
	if err != nil {
		log.Fatalf("redis %s: %v", *redisURL, err)
	}

	mux, name, stopSite := newSite(pool, *timeout, *pollEvery)
	defer stopSite()

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	fmt.Printf("%s, store %s\nlistening on http://%s/\n", name, *redisURL, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
