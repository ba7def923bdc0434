package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/internal/oneline"
)

// MaxAdvance bounds one clock-control step.
const MaxAdvance = 100 * 365 * 24 * time.Hour

// ClockLimit is the latest time a controlled clock may reach: an advance
// past it is refused (400) rather than leaving the clock stopped. It is
// where Unix nanoseconds end in an int64 (April 2262), less a margin, so
// that a clock counting int64 nanoseconds (from 1970, or from a start
// time in this century) never wraps or saturates.
var ClockLimit = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)

// ClockControl serves the clock-control resource for any clock a server
// drives:
//
//	GET  /_clock                  the current virtual time, RFC 3339 with nanoseconds
//	POST /_clock?advance=DURATION advance (Go duration syntax: 5s, 1m30s, 1ns;
//	                              positive) and answer the new time
//
// POST answers only after Advance has returned, which must be after every
// callback that fell due has run, so the caller can observe the
// consequences at once. The resource is for the machine's own tests: a
// request whose Host or Origin is not loopback is 403, so that no web page
// (nor DNS rebinding) can move a developer's clock. Anything else that is
// wrong is 400 with a one-line reason (405 for another method); an
// Advance that fails is 503 with its error.
//
//	mux.Handle(contract.PathClock, contract.ClockControl{Now: fake.Now,
//		Advance: func(_ context.Context, d time.Duration) error { fake.Advance(d); return nil }})
type ClockControl struct {
	Now     func() time.Time
	Advance func(ctx context.Context, d time.Duration) error
}

func (c ClockControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := notLoopback(r); why != "" {
		http.Error(w, "clock control is for loopback clients only: "+why, http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.RawQuery != "" {
			http.Error(w, "GET /_clock takes no parameters", http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		d, err := ParseAdvance(r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if now := c.Now(); now.Add(d).After(ClockLimit) || now.Add(d).Before(now) {
			http.Error(w, fmt.Sprintf("advance=%s would take the clock from %s past %s", d, now.UTC().Format(time.RFC3339), ClockLimit.Format(time.RFC3339)), http.StatusBadRequest)
			return
		}
		if err := c.Advance(r.Context(), d); err != nil {
			http.Error(w, oneline.Clip(err.Error(), 300), http.StatusServiceUnavailable)
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, FormatClockTime(c.Now()))
}

// notLoopback says why r does not come from this machine's own tests, or
// "" if it does: its Host must name a loopback address or localhost, and
// an Origin, if any, too.
func notLoopback(r *http.Request) string {
	if !loopbackHost(r.Host) {
		return "Host " + oneline.Quote(r.Host, 100)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || !loopbackHost(u.Host) {
			return "Origin " + oneline.Quote(o, 100)
		}
	}
	return ""
}

// loopbackHost reports whether hostport names this machine: localhost,
// *.localhost, or a loopback IP. An empty host (HTTP/1.0, in-memory
// tests) counts as local.
func loopbackHost(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseAdvance reads the query of a POST /_clock: exactly one parameter,
// advance, holding a positive Go duration of at most MaxAdvance.
func ParseAdvance(rawQuery string) (time.Duration, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, fmt.Errorf("malformed query: %v", oneline.Clip(err.Error(), 100))
	}
	vals, ok := q["advance"]
	if !ok || len(q) != 1 {
		return 0, errors.New("POST /_clock takes exactly one parameter, advance=DURATION")
	}
	if len(vals) != 1 {
		return 0, fmt.Errorf("advance given %d times; give it once", len(vals))
	}
	d, err := time.ParseDuration(vals[0])
	switch {
	case err != nil:
		return 0, fmt.Errorf("advance=%s is not a duration (use Go syntax such as 5s, 1m30s, 250ms)", oneline.Quote(vals[0], 40))
	case d < 0:
		return 0, fmt.Errorf("advance=%s is negative; the clock only moves forward", vals[0])
	case d > MaxAdvance:
		return 0, fmt.Errorf("advance=%s is more than the limit of %s", vals[0], MaxAdvance)
	}
	return d, nil
}

// FormatAdvance writes d as the advance parameter, in Go syntax that a
// clock resource in another language can also read simply: whole
// seconds, milliseconds, microseconds or nanoseconds.
func FormatAdvance(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d%time.Microsecond == 0:
		return fmt.Sprintf("%dus", d/time.Microsecond)
	}
	return fmt.Sprintf("%dns", d)
}

// FormatClockTime is the body of a clock-control answer.
func FormatClockTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) + "\n" }

// ParseClockTime reads the body of a clock-control answer.
func ParseClockTime(body string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(body))
	if err != nil {
		return time.Time{}, fmt.Errorf("the body is not an RFC 3339 time: %s", oneline.Quote(strings.TrimSpace(body), 80))
	}
	return t, nil
}
