package wasmhost

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/sessionspec/sessionspec/contract"
)

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
	mux.Handle(contract.PathClock, h.clockControl())
	mux.Handle("/", proxy)
	h.handler = mux
}

// Handler serves the guest through the host: /_clock is the host's own
// clock control (GET the time; POST ?advance=DURATION, answered after
// everything that fell due has run), the guest's discovery document gets
// "clock" added to its paths, and every other request is proxied to the
// guest unchanged.
func (h *Host) Handler() http.Handler { return h.handler }

// clockControl is the clock-control resource of the target contract on
// the host's clock. An advance that cannot complete (the guest has
// exited, or did not become idle within the settle timeout) is 503.
func (h *Host) clockControl() http.Handler {
	return contract.ClockControl{Now: h.clock.Now, Advance: func(ctx context.Context, d time.Duration) error {
		_, err := h.Advance(ctx, d)
		// The guest may have closed idle connections on its own virtual
		// timeouts during the advance: never reuse one.
		h.transport.CloseIdleConnections()
		return err
	}}
}

// addClockToDiscovery adds the host's clock to the guest's discovery
// document. The guest cannot advertise it: it does not know its time is
// virtual.
func addClockToDiscovery(resp *http.Response) error {
	if resp.Request == nil || resp.Request.URL.Path != contract.PathDiscovery || resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Encoding") != "" || resp.Request.Method != http.MethodGet {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if doc, ok := AddClock(body, contract.PathClock); ok {
		body = doc
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
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
		for _, name := range contract.PathNames {
			if v := contract.DefaultPaths.Get(name); v != "" {
				paths[name], _ = json.Marshal(v)
			}
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
