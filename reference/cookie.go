package reference

import (
	"net/http"
	"strings"
)

// cookieValues returns every value the request's Cookie headers give for
// name, in the order sent. Parsing is deliberately plain and total, close
// to Twisted's: pairs split on ';', surrounding blanks trimmed, the name
// before the first '=' compared exactly, no unquoting. Nothing here can
// fail; a value that is not a well-formed uid simply matches no session.
func cookieValues(h http.Header, name string) []string {
	var vals []string
	for _, line := range h.Values("Cookie") {
		for pair := range strings.SplitSeq(line, ";") {
			pair = strings.TrimSpace(pair)
			k, v, ok := strings.Cut(pair, "=")
			if ok && k == name {
				vals = append(vals, v)
			}
		}
	}
	return vals
}

// wellFormedUID reports whether v has the shape of a uid this package
// issues: 64 lowercase hex digits. Anything else is never looked up.
func wellFormedUID(v string) bool {
	if len(v) != 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// cookieName is the session cookie's name for a request: Twisted uses a
// separate name, and here a separate set of sessions, over TLS.
func cookieName(r *http.Request) string {
	if r.TLS != nil {
		return SecureCookieName
	}
	return CookieName
}

// GetSession returns the session of the request, as Twisted's
// Request.getSession does: the live session its cookie names, marked
// accessed, or else a new session whose cookie is set on w. The cookie is
// sent only in the response that creates the session.
//
// Every lookup refreshes the session's inactivity timer, as the docs
// promise ("Keep visiting it to keep your session active"); Twisted 22.4
// itself refreshes it only on a second getSession call in one request.
//
// A request that names several candidate sessions (a browser may send one
// cookie per matching path) gets the first live one. Unknown, expired and
// malformed ids are never adopted: the client gets a fresh uid.
func (s *Site) GetSession(w http.ResponseWriter, r *http.Request) (*Session, error) {
	name := cookieName(r)
	secure := r.TLS != nil
	for _, v := range cookieValues(r.Header, name) {
		if !wellFormedUID(v) {
			continue
		}
		if sess, ok := s.lookup(v, secure); ok {
			return sess, nil
		}
	}
	sess, err := s.makeSession(secure)
	if err != nil {
		return nil, err
	}
	cookie := name + "=" + sess.uid + "; Path=/; HttpOnly; SameSite=Lax"
	if secure {
		cookie += "; Secure"
	}
	w.Header().Add("Set-Cookie", cookie)
	return sess, nil
}
