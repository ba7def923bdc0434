// Package sessions is a small session server written with net/http, time
// and crypto/rand only: no session library and no clock hook. It exists
// to be checked by sessionspec from `go test` (sessions_test.go), the way
// your own implementation would be.
package sessions

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server serves the sessionspec target contract: / shows the session id,
// /expire ends the session, /counter counts visits, /logme asks for a
// line in /expired when the session ends.
type Server struct {
	Timeout time.Duration
	// Forgetful makes a visit not refresh the session: the classic bug.
	Forgetful bool

	mu       sync.Mutex
	sessions map[string]*session
	expired  []string
}

type session struct {
	timer   *time.Timer
	count   int
	logging bool
}

// New returns a server whose sessions end after timeout without a visit.
func New(timeout time.Duration) *Server {
	return &Server{Timeout: timeout, sessions: map[string]*session{}}
}

// Close stops every session's timer.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.timer.Stop()
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/expired" {
		s.mu.Lock()
		feed := strings.Join(s.expired, "\n")
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, feed)
		return
	}
	if r.URL.Path != "/" && r.URL.Path != "/expire" && r.URL.Path != "/counter" && r.URL.Path != "/logme" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ss := s.session(w, r)
	switch r.URL.Path {
	case "/":
		fmt.Fprintf(w, "Your session id is: %s", id)
	case "/expire":
		s.end(id)
		fmt.Fprint(w, "Your session has been expired.")
	case "/counter":
		ss.count++
		fmt.Fprintf(w, "Visit #%d for you!", ss.count)
	case "/logme":
		ss.logging = true
		fmt.Fprint(w, "Your session expiry will be logged.")
	}
}

// session finds the request's session, refreshing it, or makes one.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (string, *session) {
	if c, err := r.Cookie("SID"); err == nil {
		if ss, ok := s.sessions[c.Value]; ok {
			if !s.Forgetful {
				ss.timer.Reset(s.Timeout)
			}
			return c.Value, ss
		}
	}
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	ss := &session{}
	ss.timer = time.AfterFunc(s.Timeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.end(id)
	})
	s.sessions[id] = ss
	http.SetCookie(w, &http.Cookie{Name: "SID", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return id, ss
}

// end ends a session, once.
func (s *Server) end(id string) {
	ss, ok := s.sessions[id]
	if !ok {
		return
	}
	ss.timer.Stop()
	delete(s.sessions, id)
	if ss.logging {
		s.expired = append(s.expired, id)
	}
}
