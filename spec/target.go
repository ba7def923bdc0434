package spec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout is Twisted's session timeout, assumed when the target
// does not say otherwise.
const DefaultTimeout = 900 * time.Second

// DiscoveryPath is where a target may describe itself.
const DiscoveryPath = "/.well-known/sessionspec"

// Paths are the target's resources, relative to its URL. An empty path
// means the target does not have that resource; the cases that need it
// are then not applicable.
type Paths struct {
	Session string `json:"session"` // "Your session id is: <uid>"
	Expire  string `json:"expire"`  // expires the current session
	LogMe   string `json:"logme"`   // registers an expiry notification, once per session
	Expired string `json:"expired"` // text/plain: uids whose notification fired, one per line
	Counter string `json:"counter"` // per-session counter: the first integer in the body
	Clock   string `json:"clock"`   // clock control: GET now, POST ?advance=DURATION
}

// PathNames are the names of the resources, as the discovery document and
// --paths spell them.
var PathNames = []string{"session", "expire", "logme", "expired", "counter", "clock"}

// field returns the path named name.
func (p *Paths) field(name string) (*string, bool) {
	f, ok := map[string]*string{"session": &p.Session, "expire": &p.Expire, "logme": &p.LogMe,
		"expired": &p.Expired, "counter": &p.Counter, "clock": &p.Clock}[name]
	return f, ok
}

// Set sets the path named name (one of PathNames); an empty path means
// the target does not serve that resource, except for the session page,
// which every target serves.
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

// ReferencePaths are the paths of the reference server, the defaults.
var ReferencePaths = Paths{
	Session: "/", Expire: "/expire", LogMe: "/logme",
	Expired: "/expired", Counter: "/counter",
}

// Target is an implementation under test and what the suite knows of it.
type Target struct {
	// URL is the base every path is resolved against.
	URL *url.URL
	// Name is how reports call the target.
	Name string
	// Cookie is the session cookie's name.
	Cookie string
	// Timeout is the target's session inactivity timeout.
	Timeout time.Duration
	// Paths locate the resources; Clock and Expired may be absolute URLs.
	Paths Paths
	// ExpiredLines, when set, is the expiry feed instead of Paths.Expired:
	// the lines the target has printed so far (e.g. its stdout, with
	// "Session <uid> has expired." lines).
	ExpiredLines func() []string
	// Transport carries the suite's requests; nil means a fresh
	// http.Transport. Tests substitute an in-memory one.
	Transport http.RoundTripper
	// MaxWait is the longest wall-clock wait a case may need; cases that
	// would need longer without a controlled clock are not applicable.
	MaxWait time.Duration
	// Tolerance is the slack allowed around a wall-clock timeout.
	Tolerance time.Duration
	// RequestTimeout bounds every request the suite makes.
	RequestTimeout time.Duration
	// Sessions is how many sessions the uniqueness checks create.
	Sessions int
	// Discovered reports whether the target served a discovery document.
	Discovered bool
	// IDFromCookie makes the session cookie's value stand for the id when
	// the session page shows none (e.g. the docs' ExpirationLogger, which
	// renders an empty page).
	IDFromCookie bool
}

// Controlled reports whether the target's time is driven by the suite.
func (t *Target) Controlled() bool { return t.Paths.Clock != "" }

// Resolve returns the absolute URL of a path or URL given for the target.
func (t *Target) Resolve(p string) string {
	ref, err := url.Parse(p)
	if err != nil {
		return t.URL.String() + p
	}
	return t.URL.ResolveReference(ref).String()
}

// Discovery is the document a target serves at DiscoveryPath. Every field
// is optional; what is missing keeps its default.
type Discovery struct {
	Version        int      `json:"sessionspec"`
	Implementation string   `json:"implementation"`
	Cookie         string   `json:"cookie"`
	TimeoutSeconds *float64 `json:"timeout_seconds"`
	Paths          *Paths   `json:"paths"`
	IDFromCookie   bool     `json:"id_from_cookie"`
}

// NewTarget returns the target at rawURL with every default: the
// reference's paths, Twisted's cookie name and 900 s timeout, and no
// controlled clock.
func NewTarget(rawURL string) (*Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("target URL %q: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("target URL %q: want http://host:port or https://host:port", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	cookie := "TWISTED_SESSION"
	if u.Scheme == "https" {
		cookie = "TWISTED_SECURE_SESSION" // Twisted's name over TLS
	}
	return &Target{
		URL: u, Name: u.Host, Cookie: cookie, Timeout: DefaultTimeout, Paths: ReferencePaths,
		MaxWait: 30 * time.Second, Tolerance: 250 * time.Millisecond, RequestTimeout: 10 * time.Second,
		Sessions: 2000,
	}, nil
}

// Discover reads the target's discovery document, if it serves one, and
// applies it. A target without one (404) keeps the defaults; an
// unreachable target or a document that is not what it should be is an
// error, so the suite never runs on wrong assumptions.
func (t *Target) Discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", t.Resolve(strings.TrimPrefix(DiscoveryPath, "/")), nil)
	if err != nil {
		return err
	}
	resp, err := t.client().Do(req)
	if err != nil {
		return fmt.Errorf("target %s is unreachable: %v", t.URL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10+1))
	if err != nil {
		return fmt.Errorf("reading %s: %v", req.URL, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s answered %s; want 200 with the discovery document, or 404", req.URL, resp.Status)
	case len(body) > 64<<10:
		return fmt.Errorf("%s: discovery document over 64 KiB", req.URL)
	}
	d, err := ParseDiscovery(body)
	if err != nil {
		return fmt.Errorf("%s: %v", req.URL, err)
	}
	t.apply(d)
	t.Discovered = true
	return nil
}

// ParseDiscovery checks and decodes a discovery document.
func ParseDiscovery(body []byte) (Discovery, error) {
	var d Discovery
	dec := json.NewDecoder(strings.NewReader(string(body)))
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
		if !(s > 0 && s <= 366*24*3600) {
			return d, fmt.Errorf("discovery document: timeout_seconds %v is not a positive number of seconds up to a year", s)
		}
	}
	if d.Cookie != "" && strings.ContainsAny(d.Cookie, " \t;=,\"") {
		return d, fmt.Errorf("discovery document: cookie %q is not a cookie name", d.Cookie)
	}
	if p := d.Paths; p != nil {
		if p.Session == "" {
			return d, errors.New("discovery document: paths.session is required when paths is given")
		}
		for _, name := range PathNames {
			f, _ := p.field(name)
			if _, err := url.Parse(*f); err != nil {
				return d, fmt.Errorf("discovery document: paths.%s %q: %v", name, *f, err)
			}
		}
	}
	return d, nil
}

func (t *Target) apply(d Discovery) {
	if d.Implementation != "" {
		t.Name = d.Implementation
	}
	if d.Cookie != "" {
		t.Cookie = d.Cookie
	}
	if d.TimeoutSeconds != nil {
		t.Timeout = time.Duration(*d.TimeoutSeconds * float64(time.Second))
	}
	if d.Paths != nil {
		t.Paths = *d.Paths
	}
	t.IDFromCookie = t.IDFromCookie || d.IDFromCookie
}

// client is an HTTP client for the target that never follows redirects
// (a redirect is an answer to check, and a loop must not hang the suite).
func (t *Target) client() *http.Client {
	return &http.Client{
		Transport: t.Transport,
		Timeout:   t.RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
