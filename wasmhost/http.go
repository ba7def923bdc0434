package wasmhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"
)

// The host's own resources in front of the guest.
const (
	// PathClock is the clock-control resource the host serves and adds
	// to the guest's discovery document.
	PathClock = "/_clock"
	// PathDiscovery is where the sessionspec target contract puts the
	// discovery document.
	PathDiscovery = "/.well-known/sessionspec"
)

// maxAdvance bounds one advance, as the reference server's clock does.
const maxAdvance = 100 * 365 * 24 * time.Hour

func tempDir() string { return os.TempDir() }

// setupProxy makes the reverse proxy to the guest.
func (h *Host) setupProxy() {
	h.transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		// Pass Accept-Encoding through as the client sent it, and the
		// body back as the guest sent it.
		DisableCompression: true,
	}
	guest := &url.URL{Scheme: "http", Host: h.guestAddr}
	errLog := h.cfg.Stderr
	if errLog == nil {
		errLog = io.Discard
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(guest)
			pr.Out.Host = pr.In.Host
		},
		Transport:      h.transport,
		ModifyResponse: addClockToDiscovery,
		ErrorLog:       log.New(errLog, "sessionspec host: proxy: ", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "sessionspec host: the guest did not answer: "+err.Error(), http.StatusBadGateway)
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PathClock, h.serveClock)
	mux.Handle("/", proxy)
	h.handler = mux
}

// Handler serves the guest through the host: /_clock is the host's own
// clock control (GET the time; POST ?advance=DURATION, answered after
// everything that fell due has run), the guest's discovery document gets
// "clock" added to its paths, and every other request is proxied to the
// guest unchanged.
func (h *Host) Handler() http.Handler { return h.handler }

// serveClock is the clock-control resource of the target contract:
//
//	GET  /_clock                  the virtual time, RFC 3339 with nanoseconds
//	POST /_clock?advance=DURATION advance (Go duration syntax, not negative)
//	                              and answer the new time
//
// Anything else is 400 with a one-line reason, or 405 for another method.
// An advance that cannot complete (the guest has exited, or did not become
// idle within the settle timeout) is 503.
func (h *Host) serveClock(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PathClock {
		http.NotFound(w, r)
		return
	}
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
		_, err = h.Advance(r.Context(), d)
		// The guest may have closed idle connections on its own virtual
		// timeouts during the advance: never reuse one.
		h.transport.CloseIdleConnections()
		if err != nil {
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
	io.WriteString(w, h.clock.Now().UTC().Format(time.RFC3339Nano)+"\n")
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

// addClockToDiscovery adds the host's clock to the guest's discovery
// document. The guest cannot advertise it: it does not know its time is
// virtual.
func addClockToDiscovery(resp *http.Response) error {
	if resp.Request == nil || resp.Request.URL.Path != PathDiscovery || resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Encoding") != "" || resp.Request.Method != http.MethodGet {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if doc, ok := AddClock(body, PathClock); ok {
		body = doc
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// defaultPaths are the target contract's default resources: what a
// discovery document without "paths" stands for.
var defaultPaths = map[string]string{
	"session": "/", "expire": "/expire", "logme": "/logme", "expired": "/expired", "counter": "/counter",
}

// AddClock returns the discovery document doc with paths.clock set to
// clock, every other field kept as it was. A document without "paths"
// gets the defaults it stood for, plus the clock. It reports false, and
// doc is to be served unchanged, if doc is not a JSON object whose
// "paths", if any, is an object.
func AddClock(doc []byte, clock string) ([]byte, bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		return doc, false
	}
	paths := map[string]json.RawMessage{}
	if raw, ok := top["paths"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &paths); err != nil || paths == nil {
			return doc, false
		}
	} else {
		for k, v := range defaultPaths {
			paths[k], _ = json.Marshal(v)
		}
	}
	paths["clock"], _ = json.Marshal(clock)
	top["paths"], _ = json.Marshal(paths)
	out, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return doc, false
	}
	return append(out, '\n'), true
}
