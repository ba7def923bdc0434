// Command scs-seedsite serves the seed examples of Twisted Web's session
// howtos on alexedwards/scs v2 with its memstore: every session is scs's,
// loaded, saved, refreshed and destroyed by its LoadAndSave middleware. This
// program only maps the seed resources onto the SessionManager:
//
//	/          ShowSession: "Your session id is: " + the session's token
//	/expire    ExpireSession: SessionManager.Destroy
//	/logme     ExpirationLogger: marks the session once and has the ADAPTER watch it
//	/expired   the ids the adapter saw end, one per line
//	/counter   the session-store example: a counter kept in the session
//	/.well-known/sessionspec  the discovery document
//
// The timeout is set scs's way: SessionManager.IdleTimeout (Lifetime, the
// absolute limit, stays at its 24 h default). scs and memstore use
// time.Now() directly, so there is no clock to control and no /_clock.
//
// scs has no expiry notification: nothing in it runs code when a session
// ends. The notifications /expired lists are therefore ADAPTER CODE, not
// scs's behaviour: a goroutine here asks memstore.Find every --poll for each
// logged token and reports it once Find no longer finds it (timed out or
// destroyed). The discovery document's implementation name says so.
package main

import (
	"context"
	"encoding/json"
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

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

const (
	keyCreated = "sessionspec.created"
	keyLogMe   = "sessionspec.logme"
	keyCount   = "sessionspec.count"
)

// watcher is the adapter's stand-in for an expiry hook scs does not have.
type watcher struct {
	store *memstore.MemStore

	mu      sync.Mutex
	logged  map[string]bool // tokens being watched
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
			if _, found, err := w.store.Find(token); err == nil && !found {
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

// session is Twisted's request.getSession() in scs's terms. scs makes a
// session when something is put in it and gives it its token when it is
// committed ("Token returns the empty string if it is called before the
// session has been committed to the store"), so a new session is marked and
// committed here to learn its id; LoadAndSave then commits it again and
// sets the cookie, as it does for any modified session.
func session(sm *scs.SessionManager, ctx context.Context) (string, error) {
	if token := sm.Token(ctx); token != "" {
		return token, nil
	}
	sm.Put(ctx, keyCreated, true)
	token, _, err := sm.Commit(ctx)
	return token, err
}

func scsVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/alexedwards/scs/v2" {
				return m.Version
			}
		}
	}
	return "v2 (version unknown)"
}

// newSite maps the seed resources onto an scs SessionManager with a
// memstore. stop ends the memstore's cleanup and the adapter's polling.
func newSite(timeout, cleanup, pollEvery time.Duration) (site http.Handler, name string, stop func()) {
	store := memstore.NewWithCleanupInterval(cleanup)
	sm := scs.New()
	def, _ := sm.Store.(*memstore.MemStore) // scs.New's own store, replaced; its cleanup goroutine runs anyway
	sm.Store = store
	sm.IdleTimeout = timeout

	w := &watcher{store: store, logged: map[string]bool{}}
	done := make(chan struct{})
	go w.poll(pollEvery, done)

	text := func(rw http.ResponseWriter, body string) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(rw, body)
	}
	fail := func(rw http.ResponseWriter, err error) {
		log.Print(err)
		http.Error(rw, err.Error(), http.StatusInternalServerError)
	}

	seed := http.NewServeMux()
	seed.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		token, err := session(sm, r.Context())
		if err != nil {
			fail(rw, err)
			return
		}
		text(rw, "Your session id is: "+token)
	})
	seed.HandleFunc("GET /expire", func(rw http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			fail(rw, err)
			return
		}
		text(rw, "Your session has been expired.")
	})
	seed.HandleFunc("GET /logme", func(rw http.ResponseWriter, r *http.Request) {
		token, err := session(sm, r.Context())
		if err != nil {
			fail(rw, err)
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

	name = fmt.Sprintf("scs %s + memstore (IdleTimeout %s, cleanup every %s; expiry notifications: adapter polling every %s, scs has no hook)",
		scsVersion(), timeout, cleanup, pollEvery)
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
		store.StopCleanup()
		if def != nil {
			def.StopCleanup()
		}
	}
}

func main() {
	port := flag.Int("port", 0, "port to serve on 127.0.0.1 (0: a free one; the \"listening on\" line says which)")
	timeout := flag.Duration("timeout", 2*time.Second, "SessionManager.IdleTimeout")
	cleanup := flag.Duration("cleanup", time.Second, "memstore cleanup interval (memstore.NewWithCleanupInterval)")
	pollEvery := flag.Duration("poll", 100*time.Millisecond, "ADAPTER: how often logged sessions are looked up to report their end")
	flag.Parse()
	mux, name, stopSite := newSite(*timeout, *cleanup, *pollEvery)
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
	fmt.Printf("%s listening on http://%s/\n", name, ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
