//go:build wasip1

// Command plainserver is a minimal HTTP session server written the way an
// ordinary application is written: sessions in a map, an inactivity timer
// per session from time.AfterFunc, ids from crypto/rand, net/http for the
// rest. It has no clock hook of any kind and imports nothing from
// sessionspec, so it stands for "any wasip1 implementation": under
// `sessionspec host` its time.Now and timers run on the host's virtual
// clock, and its 900 s timeout is checked in well under a second.
//
//	GOOS=wasip1 GOARCH=wasm go build -o bin/plainserver.wasm ./targets/wasm/plainserver
//	sessionspec host bin/plainserver.wasm
//
// It serves the seed resources of the sessionspec target contract on the
// listening socket preopened at fd 3 (-fd): / (the session id), /expire,
// /logme, /expired, /counter and /.well-known/sessionspec. The timeout is
// -timeout, else $SESSIONSPEC_TIMEOUT, else 900 s.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

const cookieName = "TWISTED_SESSION"

type session struct {
	id     string
	last   time.Time // last access (with its monotonic reading)
	timer  *time.Timer
	visits int
	logged bool
}

type server struct {
	timeout time.Duration

	mu       sync.Mutex
	sessions map[string]*session
	expired  []string
}

func main() {
	timeout := 900 * time.Second
	if v := os.Getenv("SESSIONSPEC_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fatalf("SESSIONSPEC_TIMEOUT=%q is not a positive Go duration", v)
		}
		timeout = d
	}
	flag.DurationVar(&timeout, "timeout", timeout, "session inactivity `timeout`")
	fd := flag.Int("fd", 3, "the preopened listening socket")
	flag.Parse()
	if timeout <= 0 {
		fatalf("-timeout must be positive, got %s", timeout)
	}
	if err := syscall.SetNonblock(*fd, true); err != nil {
		fatalf("fd %d: set non-blocking: %v", *fd, err)
	}
	ln, err := net.FileListener(os.NewFile(uintptr(*fd), "listener"))
	if err != nil {
		fatalf("fd %d is not a listening socket: %v", *fd, err)
	}
	s := &server{timeout: timeout, sessions: map[string]*session{}}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(os.Stderr, "plainserver: serving on fd %d (timeout %s)\n", *fd, timeout)
	fatalf("%v", hs.Serve(ln))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/":
		fmt.Fprintf(w, "Your session id is: %s", s.session(w, r).id)
	case "/expire":
		sess := s.session(w, r)
		s.mu.Lock()
		if s.sessions[sess.id] == sess {
			s.endLocked(sess)
		}
		s.mu.Unlock()
		fmt.Fprint(w, "Your session has been expired.")
	case "/logme":
		sess := s.session(w, r)
		s.mu.Lock()
		sess.logged = true
		s.mu.Unlock()
		fmt.Fprintf(w, "Session %s will be logged when it expires.", sess.id)
	case "/counter":
		sess := s.session(w, r)
		s.mu.Lock()
		sess.visits++
		n := sess.visits
		s.mu.Unlock()
		fmt.Fprintf(w, "Visit #%d for you!", n)
	case "/expired":
		s.mu.Lock()
		list := strings.Join(s.expired, "\n")
		s.mu.Unlock()
		fmt.Fprintln(w, list)
	case "/.well-known/sessionspec":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"sessionspec":     1,
			"implementation":  "plainserver (time and net/http only, wasip1)",
			"cookie":          cookieName,
			"timeout_seconds": s.timeout.Seconds(),
			"paths": map[string]string{
				"session": "/", "expire": "/expire", "logme": "/logme",
				"expired": "/expired", "counter": "/counter",
			},
		})
	default:
		http.NotFound(w, r)
	}
}

// session returns the request's live session, touching it, or makes a new
// one and sets its cookie. A session found past its timeout (its timer
// may not have run yet) is ended on the spot.
func (s *server) session(w http.ResponseWriter, r *http.Request) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.sessions[sessionCookie(r)]; sess != nil {
		if time.Since(sess.last) < s.timeout {
			sess.last = time.Now()
			sess.timer.Reset(s.timeout)
			return sess
		}
		s.endLocked(sess)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	sess := &session{id: hex.EncodeToString(b[:]), last: time.Now()}
	sess.timer = time.AfterFunc(s.timeout, func() { s.timedOut(sess) })
	s.sessions[sess.id] = sess
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sess.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return sess
}

// timedOut runs when a session's timer fires. A touch may have moved the
// deadline after the timer fired but before this got the lock: then the
// timer is simply set again for the rest.
func (s *server) timedOut(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] != sess {
		return
	}
	if rest := s.timeout - time.Since(sess.last); rest > 0 {
		sess.timer.Reset(rest)
		return
	}
	s.endLocked(sess)
}

func (s *server) endLocked(sess *session) {
	delete(s.sessions, sess.id)
	sess.timer.Stop()
	if sess.logged {
		s.expired = append(s.expired, sess.id)
		fmt.Printf("Session %s has expired.\n", sess.id)
	}
}

func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "plainserver: "+format+"\n", args...)
	os.Exit(2)
}
