package faulty

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// Hostility names a way a target can misbehave at the HTTP level, short
// of being a session implementation at all. The suite must finish within
// its time bound against each and say what went wrong, never panic or
// hang.
type Hostility string

const (
	Hangs            Hostility = "hangs"             // the session page never answers
	ResetsConns      Hostility = "resets"            // the session page drops the connection
	Garbage          Hostility = "garbage"           // the session page answers binary noise
	ServerErrors     Hostility = "server-errors"     // every session resource answers 500
	RedirectLoop     Hostility = "redirect-loop"     // the session page redirects to itself
	HugeBody         Hostility = "huge-body"         // the session page streams a body without end
	LyingTimeout     Hostility = "lying-timeout"     // the discovery document claims 5 s; sessions last 900 s
	LyingClock       Hostility = "lying-clock"       // the discovery document names a clock that is not one
	GarbageDiscovery Hostility = "garbage-discovery" // the discovery document is not JSON
)

// Hostilities lists them with the exit code the suite must give: 1 where
// the target answers but wrongly, 2 where it does not answer or its
// description cannot be trusted.
var Hostilities = []struct {
	Hostility Hostility
	Exit      int
}{
	{Hangs, 2}, {ResetsConns, 2}, {Garbage, 1}, {ServerErrors, 1}, {RedirectLoop, 1},
	{HugeBody, 1}, {LyingTimeout, 1}, {LyingClock, 2}, {GarbageDiscovery, 2},
}

// NewHostile returns the reference on clock, made hostile by h.
func NewHostile(h Hostility, clock *fakeclock.Fake) http.Handler {
	timeout := reference.DefaultTimeout
	honest := reference.NewServer(reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout}), nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session := r.URL.Path == contract.PathSession
		switch {
		case h == Hangs && session:
			<-r.Context().Done()
			return
		case h == ResetsConns && session:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case h == Garbage && session:
			w.Write([]byte{0x00, 0xff, 0xfe, 0x1b, '[', '2', 'J', 0x07, 0x80})
			return
		case h == ServerErrors && r.URL.Path != contract.PathDiscovery && r.URL.Path != contract.PathClock:
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		case h == RedirectLoop && session:
			http.Redirect(w, r, "/", http.StatusFound)
			return
		case h == HugeBody && session:
			chunk := []byte(strings.Repeat("x", 64<<10))
			deadline := time.Now().Add(time.Minute) // bounded even if a client never stops reading
			for time.Now().Before(deadline) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		case h == LyingTimeout && r.URL.Path == contract.PathDiscovery:
			d := honest.Discovery()
			five := 5.0
			d.TimeoutSeconds = &five
			writeJSON(w, d)
			return
		case h == LyingClock && r.URL.Path == contract.PathDiscovery:
			d := honest.Discovery()
			d.Paths.Clock = "/not-a-clock"
			writeJSON(w, d)
			return
		case h == LyingClock && r.URL.Path == "/not-a-clock":
			fmt.Fprintln(w, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano))
			return
		case h == GarbageDiscovery && r.URL.Path == contract.PathDiscovery:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"sessionspec": 1, "timeout_seconds": "soon", `)
			return
		}
		honest.ServeHTTP(w, r)
	})
}
