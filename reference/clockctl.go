package reference

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// maxAdvance bounds one clock-control step, so that a request cannot push
// the fake clock past what time.Time can hold.
const maxAdvance = 100 * 365 * 24 * time.Hour

// ClockControl serves the clock-control resource of the target contract
// for any clock the server drives:
//
//	GET  /_clock                  the current virtual time, RFC 3339 with nanoseconds
//	POST /_clock?advance=DURATION advance (Go duration syntax, e.g. 5s, 1m30s,
//	                              1ns; not negative) and answer the new time
//
// POST answers only after Advance has returned, which must be after every
// callback that fell due has run, so the caller can observe the
// consequences at once. Anything else is 400 with a one-line reason (or
// 405 for another method); an Advance that fails is 503 with its error.
type ClockControl struct {
	Now     func() time.Time
	Advance func(ctx context.Context, d time.Duration) error
}

func (c ClockControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.RawQuery != "" {
			http.Error(w, "GET /_clock takes no parameters", http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		d, err := parseAdvance(r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := c.Advance(r.Context(), d); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, c.Now().UTC().Format(time.RFC3339Nano)+"\n")
}

// parseAdvance reads the query of a POST /_clock: exactly one parameter,
// advance, holding a non-negative Go duration of at most maxAdvance.
func parseAdvance(rawQuery string) (time.Duration, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, fmt.Errorf("malformed query: %v", err)
	}
	vals, ok := q["advance"]
	if !ok || len(q) != 1 {
		return 0, fmt.Errorf("POST /_clock takes exactly one parameter, advance=DURATION")
	}
	if len(vals) != 1 {
		return 0, fmt.Errorf("advance given %d times; give it once", len(vals))
	}
	d, err := time.ParseDuration(vals[0])
	if err != nil {
		return 0, fmt.Errorf("advance=%q is not a duration (use Go syntax such as 5s, 1m30s, 250ms)", vals[0])
	}
	if d < 0 {
		return 0, fmt.Errorf("advance=%s is negative; the clock only moves forward", vals[0])
	}
	if d > maxAdvance {
		return 0, fmt.Errorf("advance=%s is more than the limit of %s", vals[0], maxAdvance)
	}
	return d, nil
}
