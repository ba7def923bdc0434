package spec

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"

	. "github.com/onsi/gomega"
)

var (
	// urlAttribute finds the URLs a page gives a browser to follow, load
	// or submit to.
	urlAttribute = regexp.MustCompile(`(?i)\b(?:href|src|action|formaction)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	// refreshURL is the URL of a Refresh header or meta refresh.
	refreshURL = regexp.MustCompile(`(?i)\burl\s*=\s*['"]?([^'">\s]+)`)
	// metaRefresh finds a <meta http-equiv=refresh content=...>.
	metaRefresh = regexp.MustCompile(`(?i)<meta[^>]+http-equiv\s*=\s*['"]?refresh[^>]*>`)
	// sessionPathParameter is a path parameter naming a session:
	// ;jsessionid= (the Servlet API's URL rewriting), ;phpsessid=.
	sessionPathParameter = regexp.MustCompile(`(?i);[a-z0-9_.-]*(?:sess|sid)[a-z0-9_.-]*=`)
	// sessionQueryNames are query parameters that carry session ids by
	// convention (PHP's session.use_trans_sid, Servlet containers, guard).
	sessionQueryNames = map[string]bool{"jsessionid": true, "phpsessid": true, "sid": true, "sessionid": true,
		"session_id": true, "session": true, "sess": true, "__session_key__": true}
)

// urlsOf returns the URLs an answer hands a browser: its Location,
// Content-Location and Refresh headers, and the href, src, action and
// formaction attributes and meta refreshes of its body.
func urlsOf(r *Response) []string {
	var urls []string
	for _, h := range []string{"Location", "Content-Location"} {
		urls = append(urls, r.Header.Values(h)...)
	}
	for _, v := range r.Header.Values("Refresh") {
		if m := refreshURL.FindStringSubmatch(v); m != nil {
			urls = append(urls, m[1])
		}
	}
	for _, m := range urlAttribute.FindAllStringSubmatch(r.Body, 256) {
		urls = append(urls, html.UnescapeString(m[1]+m[2]+m[3]))
	}
	for _, meta := range metaRefresh.FindAllString(r.Body, 16) {
		if m := refreshURL.FindStringSubmatch(meta); m != nil {
			urls = append(urls, html.UnescapeString(m[1]))
		}
	}
	return urls
}

// minIDLength is the shortest id the suite looks for inside URLs: a
// shorter one would be found by chance.
const minIDLength = 8

// idInURL is IDInURL with the target's cookie name.
func (p *Probe) idInURL(raw string, ids map[string]bool) string { return IDInURL(raw, ids, p.T.Cookie) }

// IDInURL says how the URL raw carries a session id, or "" if it does
// not: one of ids (plainly or escaped; ids shorter than 8 characters are
// not looked for), a session path parameter (;jsessionid=), or a query
// parameter named as sessions are, or as the session cookie is. The
// browser cases judge the pages a browser shows with it.
//
//	if why := spec.IDInURL(link, map[string]bool{id: true}, "TWISTED_SESSION"); why != "" { ... }
func IDInURL(raw string, ids map[string]bool, cookie string) string {
	spellings := []string{raw}
	if s, err := url.PathUnescape(raw); err == nil {
		spellings = append(spellings, s)
	}
	if s, err := url.QueryUnescape(raw); err == nil {
		spellings = append(spellings, s)
	}
	for id := range ids {
		for _, s := range spellings {
			if len(id) >= minIDLength && strings.Contains(strings.ToLower(s), strings.ToLower(id)) {
				return "it carries the session id " + id
			}
		}
	}
	if m := sessionPathParameter.FindString(raw); m != "" {
		return fmt.Sprintf("it carries a session path parameter (%q)", m)
	}
	if strings.Contains(strings.ToLower(raw), "__session_key__") {
		return "it carries a guard session key (__session_key__)"
	}
	if u, err := url.Parse(raw); err == nil {
		for name, vs := range u.Query() {
			if (sessionQueryNames[strings.ToLower(name)] || cookie != "" && strings.EqualFold(name, cookie)) && len(vs) > 0 && vs[0] != "" {
				return fmt.Sprintf("its query carries a session parameter (%s=%s)", name, vs[0])
			}
		}
	}
	return ""
}

// maxRedirects is how many same-origin redirects the URL case follows
// from one request, as a browser would (cookie negotiation redirects).
const maxRedirects = 4

// idsInURLs requests path as u, following same-origin redirects, and
// checks every URL of every answer against the session ids seen so far in
// the case (which it adds to: the id a page shows, the session cookies an
// answer sets, the cookie u holds). A user that refuses cookies has its
// jar emptied before every request. It returns what it found, each
// finding naming the visit (how), the request and the URL.
func (p *Probe) idsInURLs(u *User, path, how string, refuse bool, ids map[string]bool) (found []string) {
	target := path
	for hop := 0; ; hop++ {
		if refuse {
			u.ClearCookies()
		}
		r := p.Get(u, target)
		if id, ok := r.SessionID(); ok {
			ids[id] = true
		}
		for _, c := range r.SetCookies {
			if p.T.Cookie == "" || c.Name == p.T.Cookie {
				ids[c.Value] = true
			}
		}
		if v, ok := u.Cookie(p.T.Cookie); ok {
			ids[v] = true
		}
		for _, link := range urlsOf(r) {
			if why := p.idInURL(link, ids); why != "" {
				found = append(found, fmt.Sprintf("%s: GET %s answered %d with the URL %q: %s", how, target, r.Status, excerpt(link, 300), why))
			}
		}
		loc := r.Header.Get("Location")
		if r.Status < 300 || r.Status > 399 || loc == "" || hop == maxRedirects {
			return found
		}
		base, err := url.Parse(p.T.Resolve(target))
		if err != nil {
			return found
		}
		next, err := base.Parse(loc)
		if err != nil || !p.T.sameOrigin(next) {
			return found
		}
		p.Tr.Note("%s: following the redirect to %s", how, excerpt(next.String(), 300))
		target = next.String()
	}
}

// Cookie negotiation, judged as security: the session id never appears in
// a URL.
//
// Level: ADVISORY, and deliberately so. Glyph's post praises guard for
// negotiating with the browser whether cookies are on and giving "the same
// experience whether they are or not"; guard did it by carrying the session
// key in the URL when cookies failed, as the Servlet API's
// HttpServletResponse.encodeURL (;jsessionid=) and PHP's use_trans_sid do.
// Current practice treats an id in a URL as a leak (OWASP's Session
// Management Cheat Sheet: URLs end up in Referer headers, server and proxy
// logs, browser history and bookmarks, and links people share), and a URL
// that carries an id hands whoever sends it a way to fix the victim's
// session. So this case checks the opposite of what the seed praises: it
// cannot be a MUST or a SHOULD, since no seed asks for it, and the seed's
// "same experience" without cookies is deliberately not required (a client
// that refuses cookies gets a new session on every visit, as PERSIST-003
// already accepts). It cites the sentence it judges.
var urlCases = []Case{
	{
		ID: "URL-001", Level: Advisory, Area: "urls", Source: WhatIsASession,
		Title: "the session id never appears in a URL (redirects, links), on a first visit or with cookies refused",
		Seed:  "it can negotiate with the browser to discover whether cookies are turned on, more or less automatically, and provide effectively the same experience whether they are or not.",
		Check: func(p *Probe) {
			var pages []string // the seed pages the target serves, the one that ends the session last
			for _, path := range []string{p.T.Paths.Session, p.T.Paths.Counter, p.T.Paths.LogMe, p.T.Paths.Expire} {
				if path != "" {
					pages = append(pages, path)
				}
			}
			ids := map[string]bool{}
			// Each kind of client: the visits, and what they found.
			type client struct {
				name, how string
				visits    int
				refuse    bool
			}
			var found []string
			var leaking []string
			for _, c := range []client{
				{"first-visit", "a first visit (no cookie yet)", 1, false},
				{"cookies-refused", "a client that never sends cookies back", 3, true},
				{"alice", "a client that keeps its cookies", 2, false},
			} {
				n := len(found)
				u := p.User(c.name)
				for i := range c.visits {
					for _, page := range pages {
						if c.name == "first-visit" {
							u = p.User(c.name) // a new client for every page
						}
						how := c.how
						if c.visits > 1 {
							how = fmt.Sprintf("%s, visit %d", c.how, i+1)
						}
						found = append(found, p.idsInURLs(u, page, how, c.refuse, ids)...)
					}
				}
				if len(found) > n {
					leaking = append(leaking, fmt.Sprintf("%s (%d URLs)", c.how, len(found)-n))
				}
			}
			shown := found[:min(len(found), 8)]
			more := ""
			if len(found) > len(shown) {
				more = fmt.Sprintf("\n... and %d more", len(found)-len(shown))
			}
			p.Expect(len(found)).To(BeZero(), "the session id is in URLs the target hands out, for %s: a session id in a URL leaks through Referer headers, logs, history and shared links, and lets whoever hands out the URL fix its session:\n%s%s",
				strings.Join(leaking, "; "), strings.Join(shown, "\n"), more)
		},
	},
}
