package spec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/contract"
)

// DefaultTimeout is Twisted's session timeout, assumed when the target
// does not say otherwise.
const DefaultTimeout = contract.DefaultTimeout

// Paths are the target's resources, relative to its URL (see package
// contract). An empty path means the target does not serve it.
type Paths = contract.Paths

// Overshoot is how long past its timeout a session may still be found
// by the MUST cases: one second, so that a store that counts time in
// whole seconds (signed-cookie timestamps, TTLs in seconds, file mtimes)
// gets the same verdict on every run. TIMEOUT-005 (SHOULD) checks the
// timeout without it.
const Overshoot = time.Second

// Bounds on what the suite keeps and asks for, whatever the target sends.
const (
	// MaxSessions bounds Target.Sessions.
	MaxSessions = 100_000
	// maxBody is the most of a response body the suite reads; a longer
	// body is a target error, never silently cut into a verdict.
	maxBody = 1 << 20
	// maxHeaderBytes bounds a response's header block.
	maxHeaderBytes = 256 << 10
	// maxFeed bounds the bytes of one read of the expired feed: 1M lines of
	// either format, with room to spare.
	maxFeed = 128 << 20
)

// Target is an implementation under test and what the suite knows of it.
// A Target is read, never changed, by a run: one Target can serve several
// runs at once.
type Target struct {
	// URL is the base every path is resolved against: a target mounted
	// under a prefix (http://host/app/) has its paths and its discovery
	// document under that prefix.
	URL *url.URL
	// Name is how reports call the target.
	Name string
	// Cookie is the session cookie's name; empty means "take it from the
	// first response of the session page" (CookieSource says which).
	Cookie string
	// CookieSource says where Cookie came from: "discovery", "flag",
	// "detected" or "" (unknown yet).
	CookieSource string
	// Timeout is the target's session inactivity timeout.
	Timeout time.Duration
	// Paths locate the resources. Clock and Expired may be absolute URLs
	// when the user gives them; a discovery document cannot.
	Paths Paths
	// ExpiredLines, when set, is the expiry feed instead of Paths.Expired:
	// the lines the target has printed so far (e.g. its stdout, with
	// "Session <uid> has expired." lines).
	ExpiredLines func() []string
	// Transport carries the suite's requests; nil means a fresh
	// http.Transport with the suite's bounds. Tests substitute an
	// in-memory one (HandlerTransport).
	Transport http.RoundTripper
	// MaxWait is the longest wall-clock wait a case may need; cases that
	// would need longer without a controlled clock are not applicable.
	MaxWait time.Duration
	// Tolerance is the slack allowed around a wall-clock timeout.
	Tolerance time.Duration
	// RequestTimeout bounds every request the suite makes.
	RequestTimeout time.Duration
	// Sessions is how many sessions the uniqueness check creates (at most
	// MaxSessions).
	Sessions int
	// Discovered reports whether the target served a discovery document.
	Discovered bool
	// IDFromCookie makes the session cookie's value stand for the id when
	// the session page shows none (e.g. the docs' ExpirationLogger, which
	// renders an empty page).
	IDFromCookie bool
	// Allowed are the origins besides the target's that the user named
	// (a clock or feed given by flag); nothing else is ever contacted.
	Allowed []string
	// Replicas are the base URLs of the target's other replicas, when it
	// is a cluster of replicas of one site (issue 15; see AddReplica).
	// Replica 0 is the target's own URL, replica i its Replicas[i-1]. The
	// suite is their load balancer: its users and their cookie jars see
	// the one origin of URL, and a request a case sends to replica i
	// (User.On) is carried to replica i's host and port. Only the CLUSTER
	// cases send requests to any replica but 0.
	Replicas []*url.URL
	// SharedFeed says the replicas' expired feeds are one log of the
	// whole cluster's notifications (discovery's "shared_feed"): the
	// suite counts the fullest feed (Probe.Notifications). Without it
	// each replica's feed lists what that replica fired, and the suite
	// adds them up.
	SharedFeed bool
	// ReplicaTransports, when set, carries the requests for each of
	// Replicas (one each, in order) instead of Transport: replicas served
	// in memory (ClusterTarget).
	ReplicaTransports []http.RoundTripper

	// own is the transport used when Transport is nil: NewTarget and Run
	// make one per target, so two targets checked in one process share
	// no connections.
	own *http.Transport
}

// MaxReplicas bounds the replicas of a target.
const MaxReplicas = contract.MaxReplicas

// AddReplica adds a replica by its base URL (absolute http or https, see
// contract.ParseReplica). The target's own URL and a replica already
// given are dropped, so a list that repeats the target is fine.
func (t *Target) AddReplica(raw string) error {
	u, err := contract.ParseReplica(raw)
	if err != nil {
		return err
	}
	if sameBase(u, t.URL) {
		return nil
	}
	for _, r := range t.Replicas {
		if sameBase(u, r) {
			return nil
		}
	}
	if len(t.Replicas)+1 >= MaxReplicas {
		return fmt.Errorf("replica %s: at most %d replicas, the target's own URL included", u, MaxReplicas)
	}
	t.Replicas = append(t.Replicas, u)
	return nil
}

// sameBase reports whether two base URLs are one.
func sameBase(a, b *url.URL) bool {
	return origin(a) == origin(b) && strings.TrimSuffix(a.Path, "/") == strings.TrimSuffix(b.Path, "/")
}

// ReplicaCount is how many replicas the target has: 1 for a target that
// is not a cluster.
func (t *Target) ReplicaCount() int { return 1 + len(t.Replicas) }

// ReplicaURL is the base URL of replica i (0 is the target's URL).
func (t *Target) ReplicaURL(i int) *url.URL {
	if i <= 0 || i > len(t.Replicas) {
		return t.URL
	}
	return t.Replicas[i-1]
}

// ReplicaNames are the replicas' base URLs, the target's first: what a
// report records.
func (t *Target) ReplicaNames() []string {
	if len(t.Replicas) == 0 {
		return nil
	}
	out := []string{t.URL.String()}
	for _, r := range t.Replicas {
		out = append(out, r.String())
	}
	return out
}

// Controlled reports whether the target's time is driven by the suite.
func (t *Target) Controlled() bool { return t.Paths.Clock != "" }

// Resolve returns the absolute URL of a path or URL given for the target.
// A path with a leading slash is under the base URL's path too, so a
// target mounted at http://host/app/ has its session page "/" at
// http://host/app/.
func (t *Target) Resolve(p string) string {
	ref, err := url.Parse(p)
	if err != nil {
		return t.URL.String() + p
	}
	if ref.Scheme == "" && ref.Host == "" && strings.HasPrefix(ref.Path, "/") {
		ref.Path = strings.TrimPrefix(ref.Path, "/")
		if ref.RawPath != "" {
			ref.RawPath = strings.TrimPrefix(ref.RawPath, "/")
		}
	}
	return t.URL.ResolveReference(ref).String()
}

// origin is scheme://host:port of u.
func origin(u *url.URL) string {
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	return strings.ToLower(u.Scheme + "://" + host)
}

// sameOrigin reports whether u is the target's origin or one the user
// allowed.
func (t *Target) sameOrigin(u *url.URL) bool {
	o := origin(u)
	if o == origin(t.URL) {
		return true
	}
	for _, a := range t.Allowed {
		if au, err := url.Parse(a); err == nil && origin(au) == o {
			return true
		}
	}
	return false
}

// NewTarget returns the target at rawURL with every default: the
// contract's paths, a cookie name to be taken from the first response,
// the 900 s timeout, and no controlled clock.
func NewTarget(rawURL string) (*Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("target URL %q: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("target URL %q: want http://host:port[/prefix/] or https://…", rawURL)
	}
	if u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("target URL %q: want no user, query or fragment", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	u.RawPath = ""
	return &Target{
		URL: u, Name: u.Host, Timeout: DefaultTimeout, Paths: contract.DefaultPaths,
		MaxWait: 30 * time.Second, Tolerance: 250 * time.Millisecond, RequestTimeout: 10 * time.Second,
		Sessions: 2000, own: NewTransport(),
	}, nil
}

// Check reports a target whose settings cannot make a sound run.
func (t *Target) Check() error {
	switch {
	case t.URL == nil:
		return errors.New("target has no URL")
	case t.Timeout < contract.MinTimeout || t.Timeout > contract.MaxTimeout:
		return fmt.Errorf("timeout %s is not between %s and %s", t.Timeout, contract.MinTimeout, contract.MaxTimeout)
	case t.Sessions < 2 || t.Sessions > MaxSessions:
		return fmt.Errorf("sessions %d is not between 2 and %d", t.Sessions, MaxSessions)
	case t.RequestTimeout <= 0 || t.MaxWait < 0 || t.Tolerance < 0:
		return errors.New("request timeout must be positive; max wait and tolerance must not be negative")
	case t.Cookie != "" && !contract.ValidCookieName(t.Cookie):
		return fmt.Errorf("cookie %q is not a cookie name", t.Cookie)
	case len(t.Replicas)+1 > MaxReplicas:
		return fmt.Errorf("%d replicas, at most %d with the target's own URL", len(t.Replicas)+1, MaxReplicas)
	case t.ReplicaTransports != nil && len(t.ReplicaTransports) != len(t.Replicas):
		return fmt.Errorf("%d replica transports for %d replicas", len(t.ReplicaTransports), len(t.Replicas))
	}
	for _, r := range t.Replicas {
		if r == nil || r.Scheme != "http" && r.Scheme != "https" || r.Host == "" {
			return fmt.Errorf("replica %v is not an absolute http(s) URL", r)
		}
	}
	for _, name := range contract.PathNames {
		p := t.Paths.Get(name)
		if p == "" {
			continue
		}
		u, err := url.Parse(t.Resolve(p))
		if err != nil {
			return fmt.Errorf("paths.%s %q: %v", name, p, err)
		}
		if !t.sameOrigin(u) {
			return fmt.Errorf("paths.%s %q is not on the target's origin %s; only a flag can name another origin", name, p, origin(t.URL))
		}
	}
	return nil
}

// Discover reads the target's discovery document, if it serves one, and
// applies it. A target without one (404) keeps the defaults; an
// unreachable target or a document that is not what it should be is an
// error, so the suite never runs on wrong assumptions.
func (t *Target) Discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", t.Resolve(contract.PathDiscovery), nil)
	if err != nil {
		return err
	}
	resp, err := t.client().Do(req)
	if err != nil {
		return fmt.Errorf("target %s is unreachable: %v", t.URL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, contract.MaxDiscovery+1))
	if err != nil {
		return fmt.Errorf("reading %s: %v", req.URL, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s answered %s; want 200 with the discovery document, or 404", req.URL, resp.Status)
	}
	d, err := contract.ParseDiscoveryAt(body, t.URL)
	if err != nil {
		return fmt.Errorf("%s: %v", req.URL, err)
	}
	if d.Implementation != "" {
		t.Name = d.Implementation
	}
	if d.Cookie != "" {
		t.Cookie, t.CookieSource = d.Cookie, "discovery"
	}
	t.Timeout = d.Timeout(t.Timeout)
	if d.Paths != nil {
		t.Paths = *d.Paths
	}
	t.IDFromCookie = t.IDFromCookie || d.IDFromCookie
	t.SharedFeed = t.SharedFeed || d.SharedFeed
	if len(t.Replicas) == 0 {
		for _, r := range d.Replicas {
			if err := t.AddReplica(r); err != nil {
				return fmt.Errorf("%s: %v", req.URL, err)
			}
		}
	}
	t.Discovered = true
	return nil
}

// transport is the suite's HTTP transport for a target: bounded headers,
// no proxies from the environment, no compression surprises.
func (t *Target) transport() http.RoundTripper {
	if len(t.Replicas) > 0 {
		return replicaRouter{t: t}
	}
	return t.baseTransport()
}

func (t *Target) baseTransport() http.RoundTripper {
	if t.Transport != nil {
		return t.Transport
	}
	if t.own != nil {
		return t.own
	}
	// A Target literal used outside Run: a transport for this request
	// alone, which keeps no connection open after it.
	tr := NewTransport()
	tr.DisableKeepAlives = true
	return tr
}

// closeIdle closes the idle connections of the transports the target's
// requests go through.
func (t *Target) closeIdle() {
	type idleCloser interface{ CloseIdleConnections() }
	for _, rt := range append([]http.RoundTripper{t.baseTransport()}, t.ReplicaTransports...) {
		if c, ok := rt.(idleCloser); ok {
			c.CloseIdleConnections()
		}
	}
}

// replicaKey is the context key of the replica a request is for.
type replicaKey struct{}

// onReplica returns ctx for a request to replica i.
func onReplica(ctx context.Context, i int) context.Context {
	if i <= 0 {
		return ctx
	}
	return context.WithValue(ctx, replicaKey{}, i)
}

// replicaOf is the replica a request is for (0 unless User.On said).
func replicaOf(ctx context.Context) int {
	i, _ := ctx.Value(replicaKey{}).(int)
	return i
}

// replicaRouter is the suite's load balancer: a request for replica i on
// the target's origin is sent to replica i's scheme, host and port (its
// path moved from under the target's base path to under the replica's);
// the cookie jar and the evidence see the request as sent to the target.
// Its requests go through the target's transports, or base and
// replicas[i-1] when they are set (a burst's).
type replicaRouter struct {
	t        *Target
	base     http.RoundTripper
	replicas []http.RoundTripper
}

func (rr replicaRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	t := rr.t
	i := replicaOf(req.Context())
	if i <= 0 || i > len(t.Replicas) || origin(req.URL) != origin(t.URL) {
		if rr.base != nil {
			return rr.base.RoundTrip(req)
		}
		return t.baseTransport().RoundTrip(req)
	}
	out := req.Clone(req.Context())
	base := *t.ReplicaURL(i)
	rest, ok := strings.CutPrefix(req.URL.Path, t.URL.Path)
	if !ok {
		rest = strings.TrimPrefix(req.URL.Path, "/")
	}
	base.Path, base.RawPath, base.RawQuery = base.Path+rest, "", req.URL.RawQuery
	out.URL = &base
	out.Host = ""
	rt := t.baseTransport()
	switch {
	case rr.replicas != nil:
		rt = rr.replicas[i-1]
	case t.ReplicaTransports != nil:
		rt = t.ReplicaTransports[i-1]
	}
	resp, err := rt.RoundTrip(out)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

// NewTransport is the transport a target gets when it names none; one
// that needs another setting (a TLS configuration) starts from it:
//
//	tr := spec.NewTransport()
//	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
//	target.Transport = tr
//
// Each request goes out in one write (a 64 KiB write buffer holds the
// largest the suite sends, ROBUST-003's 8 KiB cookie): a server that
// answers a request it finds too big and closes at once (fasthttp's 431)
// would otherwise break the pipe under the request's later writes, and
// net/http would drop the answer that had arrived (fiber: 3 of 18 runs of
// ROBUST-003 before, 1,000 of 1,000 answers read after).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // the target is reached directly, never through $HTTP_PROXY
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      false,
		WriteBufferSize:        requestBufferBytes,
	}
}

// requestBufferBytes is the transport's write buffer: room for any request
// the suite sends, so that it is written whole at once.
const requestBufferBytes = 64 << 10

// client is an HTTP client for the target that never follows redirects
// (a redirect is an answer to check, a loop must not hang the suite, and
// a cookie must never follow one to another origin).
func (t *Target) client() *http.Client {
	return &http.Client{
		Transport: t.transport(),
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
