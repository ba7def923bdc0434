package spec

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// maxBody is how much of a response body the suite reads; a target that
// sends more is cut off there rather than exhausting the suite.
const maxBody = 1 << 20

// Exchange is one HTTP request and its response, kept as evidence.
type Exchange struct {
	User     string
	Request  string // request line and headers
	Response string // status line, headers and the start of the body
	Err      error
}

// Transcript records the exchanges of one case.
type Transcript struct {
	mu        sync.Mutex
	exchanges []Exchange
	notes     []string
}

func (tr *Transcript) add(e Exchange) {
	tr.mu.Lock()
	tr.exchanges = append(tr.exchanges, e)
	tr.mu.Unlock()
}

// Note adds a line of context (e.g. "clock advanced 899s") to the
// evidence, in order with the exchanges.
func (tr *Transcript) Note(format string, args ...any) {
	tr.add(Exchange{Request: "# " + fmt.Sprintf(format, args...)})
}

// Len reports how many exchanges were recorded.
func (tr *Transcript) Len() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.exchanges)
}

// String renders the transcript, most recent last. Long transcripts (the
// uniqueness checks make thousands of requests) keep their first and last
// exchanges.
func (tr *Transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	const keep = 12
	var b strings.Builder
	for i, e := range tr.exchanges {
		if len(tr.exchanges) > 2*keep && i == keep {
			fmt.Fprintf(&b, "... %d exchanges omitted ...\n\n", len(tr.exchanges)-2*keep)
		}
		if len(tr.exchanges) > 2*keep && i >= keep && i < len(tr.exchanges)-keep {
			continue
		}
		if strings.HasPrefix(e.Request, "# ") {
			fmt.Fprintf(&b, "%s\n\n", e.Request)
			continue
		}
		fmt.Fprintf(&b, "[%s] >>>\n%s", e.User, e.Request)
		if e.Err != nil {
			fmt.Fprintf(&b, "[%s] <<< no response: %v\n\n", e.User, e.Err)
			continue
		}
		fmt.Fprintf(&b, "[%s] <<<\n%s\n", e.User, e.Response)
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

// SessionCookie returns the Set-Cookie for the target's session cookie,
// if the response sets it.
func (r *Response) SessionCookie(name string) (*http.Cookie, string, bool) {
	for i, c := range r.SetCookies {
		if c.Name == name {
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
	return m[1], true
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

// User is one browser's worth of state: a cookie jar for the target and
// a name for the evidence.
type User struct {
	Name   string
	target *Target
	client *http.Client
	tr     *Transcript
	jar    map[string]*http.Cookie // by name; the target is one origin
}

// NewUser returns a user with an empty cookie jar whose exchanges are
// recorded in tr.
func NewUser(t *Target, name string, tr *Transcript) *User {
	return &User{Name: name, target: t, client: t.client(), tr: tr, jar: map[string]*http.Cookie{}}
}

// Cookie returns the value the user holds for a cookie.
func (u *User) Cookie(name string) (string, bool) {
	c, ok := u.jar[name]
	if !ok {
		return "", false
	}
	return c.Value, true
}

// SetCookie makes the user send name=value from now on, as a browser
// would after a Set-Cookie, or as an attacker might.
func (u *User) SetCookie(name, value string) {
	u.jar[name] = &http.Cookie{Name: name, Value: value, Path: "/"}
}

// ClearCookies flushes the user's cookies.
func (u *User) ClearCookies() { clear(u.jar) }

// Do sends a request with the user's cookies, records the exchange and
// stores the cookies the response sets. rawCookie, when not empty,
// replaces the Cookie header entirely.
func (u *User) Do(ctx context.Context, method, path, rawCookie string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.target.Resolve(path), nil)
	if err != nil {
		return nil, err
	}
	if rawCookie != "" {
		req.Header.Set("Cookie", rawCookie)
	} else if len(u.jar) > 0 {
		pairs := make([]string, 0, len(u.jar))
		for _, c := range u.jar {
			if strings.HasPrefix(req.URL.Path, c.Path) || c.Path == "" {
				pairs = append(pairs, c.Name+"="+c.Value)
			}
		}
		req.Header.Set("Cookie", strings.Join(pairs, "; "))
	}
	req.Header.Set("User-Agent", "sessionspec/1 ("+u.Name+")")
	ex := Exchange{User: u.Name, Request: renderRequest(req)}
	resp, err := u.client.Do(req)
	if err != nil {
		ex.Err = unwrapURLError(err)
		u.tr.add(ex)
		return nil, ex.Err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	ex.Response = renderResponse(resp, r.Body)
	if err != nil {
		ex.Err = fmt.Errorf("reading the body: %v", err)
		u.tr.add(ex)
		return nil, ex.Err
	}
	u.tr.add(ex)
	for _, line := range resp.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		r.SetCookies = append(r.SetCookies, c)
		r.Raw = append(r.Raw, line)
		if c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()) {
			delete(u.jar, c.Name)
		} else {
			u.jar[c.Name] = c
		}
	}
	return r, nil
}

func renderRequest(req *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\n", req.Method, req.URL.RequestURI())
	fmt.Fprintf(&b, "Host: %s\n", req.URL.Host)
	for _, k := range []string{"Cookie"} {
		for _, v := range req.Header.Values(k) {
			fmt.Fprintf(&b, "%s: %s\n", k, excerpt(v, 300))
		}
	}
	return b.String()
}

func renderResponse(resp *http.Response, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
	// The headers that bear on sessions; the rest (Date, lengths) is noise.
	for _, k := range []string{"Content-Type", "Location", "Retry-After", "Set-Cookie"} {
		for _, v := range resp.Header[k] {
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
