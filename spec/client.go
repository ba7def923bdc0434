package spec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Exchange is one HTTP request and its response, kept as evidence.
type Exchange struct {
	User     string
	Request  string // request line and the headers that matter
	Response string // status line, the headers that matter, the start of the body
	Err      error
}

// transcriptKeep is how many exchanges a transcript keeps at each end;
// those between are counted, not kept, so a case that makes thousands of
// requests holds a bounded transcript.
const transcriptKeep = 12

// Transcript records the exchanges of one case: the first and the last
// transcriptKeep of them, and how many were left out between.
type Transcript struct {
	mu      sync.Mutex
	head    []Exchange
	tail    []Exchange // a ring once full
	next    int        // where the ring writes next
	omitted int
}

func (tr *Transcript) add(e Exchange) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch {
	case len(tr.head) < transcriptKeep:
		tr.head = append(tr.head, e)
	case len(tr.tail) < transcriptKeep:
		tr.tail = append(tr.tail, e)
	default:
		tr.tail[tr.next] = e
		tr.next = (tr.next + 1) % transcriptKeep
		tr.omitted++
	}
}

// Note adds a line of context (e.g. "clock advanced 899s") to the
// evidence, in order with the exchanges.
func (tr *Transcript) Note(format string, args ...any) {
	tr.add(Exchange{Request: "# " + excerpt(fmt.Sprintf(format, args...), 2000)})
}

// Len reports how many exchanges and notes were recorded.
func (tr *Transcript) Len() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.head) + len(tr.tail) + tr.omitted
}

// String renders the transcript, most recent last.
func (tr *Transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var b strings.Builder
	render := func(e Exchange) {
		if strings.HasPrefix(e.Request, "# ") {
			fmt.Fprintf(&b, "%s\n\n", e.Request)
			return
		}
		fmt.Fprintf(&b, "[%s] >>>\n%s", e.User, e.Request)
		if e.Err != nil {
			fmt.Fprintf(&b, "[%s] <<< no response: %v\n\n", e.User, e.Err)
			return
		}
		fmt.Fprintf(&b, "[%s] <<<\n%s\n", e.User, e.Response)
	}
	for _, e := range tr.head {
		render(e)
	}
	if tr.omitted > 0 {
		fmt.Fprintf(&b, "... %d exchanges omitted ...\n\n", tr.omitted)
	}
	for i := range tr.tail {
		render(tr.tail[(tr.next+i)%len(tr.tail)])
	}
	return b.String()
}

// Response is what a user got back.
type Response struct {
	Status     int
	Header     http.Header
	Body       string
	SetCookies []*http.Cookie
	Raw        []string // the Set-Cookie lines as sent
}

// SessionCookie returns the Set-Cookie for the session cookie name, if
// the response sets it.
func (r *Response) SessionCookie(name string) (*http.Cookie, string, bool) {
	for i, c := range r.SetCookies {
		if c.Name == name && name != "" {
			return c, r.Raw[i], true
		}
	}
	return nil, "", false
}

var idPattern = regexp.MustCompile(`Your session id is: (\S+)`)

// SessionID returns the id a session page shows, if it shows one.
func (r *Response) SessionID() (string, bool) {
	m := idPattern.FindStringSubmatch(r.Body)
	if m == nil {
		return "", false
	}
	return strings.Clone(m[1]), true
}

var (
	intPattern = regexp.MustCompile(`-?\d+`)
	markup     = regexp.MustCompile(`<[^>]*>`)
)

// Number returns the first integer in the body's text, markup left out
// (Twisted's pages start with <meta charset='utf-8'>): the counter's value.
func (r *Response) Number() (int, bool) {
	m := intPattern.FindString(markup.ReplaceAllString(r.Body, " "))
	if m == "" {
		return 0, false
	}
	var n int
	_, err := fmt.Sscan(m, &n)
	return n, err == nil
}

// maxCookies bounds the Set-Cookie headers of one response the suite
// reads; more is a target error.
const maxCookies = 64

// User is one browser's worth of state: an RFC 6265 cookie jar
// (net/http/cookiejar: Path, Domain, Expires and Max-Age, Secure and
// deletion are honoured as a browser honours them) and a name for the
// evidence.
type User struct {
	Name   string
	target *Target
	client *http.Client
	tr     *Transcript
	jar    *jarRef
	// replica is the replica this view of the user sends to (On).
	replica int
}

// jarRef is a user's cookie jar, shared by the views of the user (On):
// clearing the cookies of one clears them for all.
type jarRef struct{ *cookiejar.Jar }

// On returns a view of u that sends its requests to replica i of a
// clustered target (0 is the target's own URL), with u's cookie jar and
// transcript: the suite as a load balancer sending this browser's next
// request to replica i. On a target that is not a cluster, only On(0)
// is meaningful.
func (u *User) On(i int) *User {
	v := *u
	v.replica = i
	return &v
}

// via returns u sending its requests through client (a burst's), with
// the same jar and transcript.
func (u *User) via(client *http.Client) *User {
	v := *u
	v.client = client
	return &v
}

// Replica is the replica u's requests go to.
func (u *User) Replica() int { return u.replica }

// NewUser returns a user with an empty cookie jar whose exchanges are
// recorded in tr.
func NewUser(t *Target, name string, tr *Transcript) *User {
	jar, _ := cookiejar.New(nil) // no error without options
	return &User{Name: name, target: t, client: t.client(), tr: tr, jar: &jarRef{jar}}
}

// Snapshot is the cookies a user's browser would send to the target's
// session page at one moment: what a replay sends back.
type Snapshot []*http.Cookie

// String renders the snapshot as a Cookie header.
func (s Snapshot) String() string {
	pairs := make([]string, len(s))
	for i, c := range s {
		pairs[i] = c.Name + "=" + c.Value
	}
	return strings.Join(pairs, "; ")
}

// Has reports whether the snapshot holds a cookie named name.
func (s Snapshot) Has(name string) bool {
	for _, c := range s {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (u *User) sessionURL() *url.URL {
	su, _ := url.Parse(u.target.Resolve(u.target.Paths.Session))
	return su
}

// Snapshot returns the cookies the user holds for the session page.
func (u *User) Snapshot() Snapshot {
	var s Snapshot
	for _, c := range u.jar.Cookies(u.sessionURL()) {
		s = append(s, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return s
}

// Restore replaces the user's cookies with a snapshot, as a browser
// whose cookie store was copied back.
func (u *User) Restore(s Snapshot) {
	u.ClearCookies()
	cookies := make([]*http.Cookie, len(s))
	for i, c := range s {
		cookies[i] = &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"}
	}
	u.jar.SetCookies(u.target.URL, cookies)
}

// CookieHeader is the Cookie header the user would send with a request
// for path now: requests sent at once by one client carry the same.
func (u *User) CookieHeader(path string) string {
	req, err := http.NewRequest("GET", u.target.Resolve(path), nil)
	if err != nil {
		return ""
	}
	for _, c := range u.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	return req.Header.Get("Cookie")
}

// Cookie returns the value the user would send for a cookie.
func (u *User) Cookie(name string) (string, bool) {
	for _, c := range u.jar.Cookies(u.sessionURL()) {
		if c.Name == name && name != "" {
			return c.Value, true
		}
	}
	return "", false
}

// SetCookie makes the user send name=value from now on, as a browser
// would after a Set-Cookie, or as an attacker might.
func (u *User) SetCookie(name, value string) {
	u.jar.SetCookies(u.target.URL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// ClearCookies flushes the user's cookies.
func (u *User) ClearCookies() {
	jar, _ := cookiejar.New(nil)
	u.jar.Jar = jar
}

// errBodyTooLarge is a body past maxBody.
var errBodyTooLarge = fmt.Errorf("the body is longer than %d KiB, the most sessionspec reads of a page", maxBody>>10)

// Do sends a request with the user's cookies, records the exchange and
// stores the cookies the response sets. rawCookie, when not empty,
// replaces the Cookie header entirely. A request to another origin than
// the target's (and those the user allowed) is refused.
func (u *User) Do(ctx context.Context, method, path, rawCookie string) (*Response, error) {
	req, err := http.NewRequestWithContext(onReplica(ctx, u.replica), method, u.target.Resolve(path), nil)
	if err != nil {
		return nil, err
	}
	if !u.target.sameOrigin(req.URL) {
		return nil, fmt.Errorf("%s is not on the target's origin %s: not contacted", req.URL, origin(u.target.URL))
	}
	if rawCookie != "" {
		req.Header.Set("Cookie", rawCookie)
	} else {
		for _, c := range u.jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
	}
	req.Header.Set("User-Agent", "sessionspec/"+Version+" ("+u.Name+")")
	ex := Exchange{User: u.evidenceName(req), Request: u.target.renderRouted(req)}
	resp, err := u.client.Do(req)
	if err != nil {
		ex.Err = unwrapURLError(err)
		u.tr.add(ex)
		return nil, ex.Err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	r := &Response{Status: resp.StatusCode, Header: resp.Header}
	if len(body) > maxBody {
		body = body[:maxBody]
		err = errBodyTooLarge
	}
	r.Body = string(body)
	ex.Response = renderResponse(resp, r.Body)
	if err != nil {
		if !errors.Is(err, errBodyTooLarge) {
			err = fmt.Errorf("reading the body: %v", err)
		}
		ex.Err = err
		u.tr.add(ex)
		return nil, err
	}
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) > maxCookies {
		ex.Err = fmt.Errorf("the answer sets %d cookies; sessionspec reads at most %d", len(lines), maxCookies)
		u.tr.add(ex)
		return nil, ex.Err
	}
	u.tr.add(ex)
	for _, line := range lines {
		if c, err := http.ParseSetCookie(line); err == nil {
			r.SetCookies = append(r.SetCookies, c)
			r.Raw = append(r.Raw, line)
		}
	}
	if cookies := resp.Cookies(); len(cookies) > 0 {
		u.jar.SetCookies(req.URL, cookies)
	}
	return r, nil
}

// evidenceName is how the evidence names u's exchange: on a clustered
// target, with the replica the request went to.
func (u *User) evidenceName(req *http.Request) string {
	t := u.target
	if len(t.Replicas) == 0 || origin(req.URL) != origin(t.URL) {
		return u.Name
	}
	return fmt.Sprintf("%s -> replica %d %s", u.Name, u.replica, t.ReplicaURL(u.replica).Host)
}

// renderRouted renders a request as the replica it goes to receives it:
// with that replica's Host.
func (t *Target) renderRouted(req *http.Request) string {
	s := renderRequest(req)
	if i := replicaOf(req.Context()); i > 0 && i <= len(t.Replicas) && origin(req.URL) == origin(t.URL) {
		s = strings.Replace(s, "\nHost: "+req.URL.Host+"\n", "\nHost: "+t.ReplicaURL(i).Host+"\n", 1)
	}
	return s
}

func renderRequest(req *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\n", req.Method, excerpt(req.URL.RequestURI(), 300))
	fmt.Fprintf(&b, "Host: %s\n", req.URL.Host)
	for _, v := range req.Header.Values("Cookie") {
		fmt.Fprintf(&b, "Cookie: %s\n", excerpt(v, 300))
	}
	return b.String()
}

// maxShownHeaders bounds the header lines of each kind an exchange keeps.
const maxShownHeaders = 8

func renderResponse(resp *http.Response, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
	// The headers that bear on sessions; the rest (Date, lengths) is noise.
	for _, k := range []string{"Content-Type", "Location", "Retry-After", "Set-Cookie"} {
		vs := resp.Header[k]
		for i, v := range vs {
			if i == maxShownHeaders {
				fmt.Fprintf(&b, "... %d more %s headers\n", len(vs)-i, k)
				break
			}
			fmt.Fprintf(&b, "%s: %s\n", k, excerpt(v, 300))
		}
	}
	if body != "" {
		fmt.Fprintf(&b, "\n%s\n", excerpt(body, 512))
	}
	return b.String()
}

func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes in all)", s[:n], len(s))
}

// sinceRound is time.Since rounded for messages.
func sinceRound(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
