// Package contract is the sessionspec target contract, written once: the
// resources a target serves and their default paths, the discovery
// document and its strict parser, the session cookie's names, the default
// timeout, and the clock-control protocol (a handler for servers, a
// client for the suite).
//
// The suite (package spec), the reference server and the WebAssembly
// host all use it; it imports nothing of theirs.
//
//	d, err := contract.ParseDiscovery(body) // unknown fields are errors
//	paths := contract.DefaultPaths          // "/", "/expire", ...
//	http.Handle(contract.PathClock, contract.ClockControl{Now: clk.Now, Advance: adv})
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout is Twisted's session timeout ("The default is 15
// minutes"), assumed when a target does not say otherwise.
const DefaultTimeout = 900 * time.Second

// The session cookie's names, Twisted's: over plain HTTP and over TLS.
const (
	CookieName       = "TWISTED_SESSION"
	SecureCookieName = "TWISTED_SECURE_SESSION"
)

// The default paths of the resources, and the discovery document's.
const (
	PathSession    = "/"
	PathExpire     = "/expire"
	PathLogMe      = "/logme"
	PathExpired    = "/expired"
	PathCounter    = "/counter"
	PathClock      = "/_clock"
	PathDiscovery  = "/.well-known/sessionspec"
	PathComponents = "/components"
	PathWebSocket  = "/ws"
)

// Paths are a target's resources, relative to its base URL. An empty
// path means the target does not serve that resource; the cases that need
// it are then not applicable.
type Paths struct {
	Session string `json:"session"`           // "Your session id is: <uid>"
	Expire  string `json:"expire,omitempty"`  // expires the current session
	LogMe   string `json:"logme,omitempty"`   // registers an expiry notification, once per session
	Expired string `json:"expired,omitempty"` // text/plain: uids whose notification fired, one per line
	Counter string `json:"counter,omitempty"` // per-session counter: the first integer in the body
	Clock   string `json:"clock,omitempty"`   // clock control: GET now, POST ?advance=DURATION
	// Components is the session-components resource (optional, issue 14):
	// see the reference's documentation of PathComponents.
	Components string `json:"components,omitempty"`
	// WebSocket is a WebSocket endpoint attached to the session (optional).
	WebSocket string `json:"ws,omitempty"`
}

// PathNames are the names of the resources, as the discovery document
// and --paths spell them.
var PathNames = []string{"session", "expire", "logme", "expired", "counter", "clock", "components", "ws"}

// DefaultPaths are the paths a target without a discovery document is
// assumed to serve (no clock: its time is the wall clock).
var DefaultPaths = Paths{Session: PathSession, Expire: PathExpire, LogMe: PathLogMe, Expired: PathExpired, Counter: PathCounter}

func (p *Paths) field(name string) (*string, bool) {
	f, ok := map[string]*string{"session": &p.Session, "expire": &p.Expire, "logme": &p.LogMe,
		"expired": &p.Expired, "counter": &p.Counter, "clock": &p.Clock, "components": &p.Components, "ws": &p.WebSocket}[name]
	return f, ok
}

// Get returns the path named name (one of PathNames).
func (p Paths) Get(name string) string {
	f, ok := p.field(name)
	if !ok {
		return ""
	}
	return *f
}

// Set sets the path named name; an empty path means the target does not
// serve that resource, except for the session page, which every target
// serves. A path is relative to the target's base URL; Set also takes an
// absolute URL, which only a user may give (a discovery document cannot:
// see CheckPath).
func (p *Paths) Set(name, path string) error {
	f, ok := p.field(name)
	switch {
	case !ok:
		return fmt.Errorf("%q is not one of %s", name, strings.Join(PathNames, ", "))
	case name == "session" && path == "":
		return errors.New("the session path cannot be empty")
	}
	if _, err := url.Parse(path); err != nil {
		return fmt.Errorf("%s path %q: %v", name, path, err)
	}
	*f = path
	return nil
}

// CheckPath reports whether path can name a resource of a target: a path
// (absolute or relative to the base URL) and query, with no scheme, host
// or fragment, so that it cannot lead anywhere but the target's origin.
func CheckPath(path string) error {
	if path == "" {
		return nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return err
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(path, "//") {
		return errors.New("must be a path on the target, not a URL of its own")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	return nil
}

// Discovery is the document a target may serve at PathDiscovery. Every
// field but the version is optional; what is missing keeps its default.
type Discovery struct {
	Version        int      `json:"sessionspec"`
	Implementation string   `json:"implementation,omitempty"`
	Cookie         string   `json:"cookie,omitempty"`
	TimeoutSeconds *float64 `json:"timeout_seconds,omitempty"`
	Paths          *Paths   `json:"paths,omitempty"`
	IDFromCookie   bool     `json:"id_from_cookie,omitempty"`
	// Replicas are the base URLs of the other replicas of a clustered
	// target (issue 15): absolute http(s) URLs on the same host name as
	// the target's own URL (the port may differ), at most MaxReplicas.
	// The list may include the target's own URL. ParseDiscovery checks
	// their form; ParseDiscoveryAt checks their host against the target's.
	Replicas []string `json:"replicas,omitempty"`
	// SharedFeed says that every replica's expired feed lists the
	// notifications of the whole cluster (one log the replicas share),
	// not only those the replica fired itself: the suite then reads one
	// replica's feed instead of adding all of theirs up, which would
	// count each notification once per replica.
	SharedFeed bool `json:"shared_feed,omitempty"`
}

// MaxReplicas bounds the replicas a discovery document may list.
const MaxReplicas = 16

// MaxDiscovery bounds the discovery document a client reads.
const MaxDiscovery = 64 << 10

// MaxTimeout bounds the timeout a target can declare: a year.
const MaxTimeout = 366 * 24 * time.Hour

// MinTimeout is the shortest timeout a target can declare.
const MinTimeout = time.Millisecond

// ParseDiscovery checks and decodes a discovery document. Unknown fields
// are errors, so a typo cannot pass silently.
func ParseDiscovery(body []byte) (Discovery, error) {
	var d Discovery
	if len(body) > MaxDiscovery {
		return d, fmt.Errorf("discovery document is over %d KiB", MaxDiscovery>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("discovery document is not valid: %v", err)
	}
	if dec.More() {
		return d, errors.New("discovery document has data after the JSON object")
	}
	if d.Version != 1 {
		return d, fmt.Errorf("discovery document: \"sessionspec\" is %d, want 1", d.Version)
	}
	if d.TimeoutSeconds != nil {
		s := *d.TimeoutSeconds
		if math.IsNaN(s) || s*float64(time.Second) < float64(MinTimeout) || s*float64(time.Second) > float64(MaxTimeout) {
			return d, fmt.Errorf("discovery document: timeout_seconds %v is not between %s and %s", s, MinTimeout, MaxTimeout)
		}
	}
	if d.Cookie != "" && !ValidCookieName(d.Cookie) {
		return d, fmt.Errorf("discovery document: cookie %q is not a cookie name", d.Cookie)
	}
	if p := d.Paths; p != nil {
		if p.Session == "" {
			return d, errors.New("discovery document: paths.session is required when paths is given")
		}
		for _, name := range PathNames {
			if err := CheckPath(p.Get(name)); err != nil {
				return d, fmt.Errorf("discovery document: paths.%s %q: %v", name, p.Get(name), err)
			}
		}
	}
	if len(d.Replicas) > MaxReplicas {
		return d, fmt.Errorf("discovery document: %d replicas, at most %d", len(d.Replicas), MaxReplicas)
	}
	for _, r := range d.Replicas {
		if _, err := ParseReplica(r); err != nil {
			return d, fmt.Errorf("discovery document: replicas: %v", err)
		}
	}
	return d, nil
}

// ParseDiscoveryAt is ParseDiscovery for the document served by the
// target at base: each of its replicas must also be on base's host name.
func ParseDiscoveryAt(body []byte, base *url.URL) (Discovery, error) {
	d, err := ParseDiscovery(body)
	if err != nil {
		return d, err
	}
	for _, r := range d.Replicas {
		u, _ := ParseReplica(r) // checked by ParseDiscovery
		if !strings.EqualFold(u.Hostname(), base.Hostname()) {
			return d, fmt.Errorf("discovery document: replica %q is not on the target's host %s; only --replica can name another host", r, base.Hostname())
		}
	}
	return d, nil
}

// ParseReplica checks a replica's base URL: absolute http or https, with
// a host, and no user, query or fragment. Its path is made to end in "/".
func ParseReplica(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("replica %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("replica %q: want an absolute http:// or https:// URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("replica %q: want no user, query or fragment", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	u.RawPath = ""
	return u, nil
}

// Timeout returns the document's timeout, or def when it gives none.
func (d Discovery) Timeout(def time.Duration) time.Duration {
	if d.TimeoutSeconds == nil {
		return def
	}
	return time.Duration(*d.TimeoutSeconds * float64(time.Second))
}

// ValidCookieName reports whether name is an RFC 6265 cookie name (an
// RFC 7230 token).
func ValidCookieName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// RefuseUnlessRead answers 405, with Allow: GET, HEAD, a request of any
// other method, and reports whether it did: every resource of the
// contract but the clock is only read.
//
//	if contract.RefuseUnlessRead(w, r) {
//		return
//	}
func RefuseUnlessRead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return true
}
