package reference

import (
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/sessionspec/sessionspec/contract"
)

// uidBytes is the size of a uid: 256 bits, 64 hex digits in a cookie.
const uidBytes = 32

// cookieValues returns every value the request's Cookie headers give for
// name, in the order sent. Parsing is deliberately plain and total, close
// to Twisted's: pairs split on ';', surrounding blanks trimmed, the name
// before the first '=' compared exactly, no unquoting. Nothing here can
// fail; a value that is not a well-formed uid simply matches no session.
//
// GetSession walks the headers the same way without collecting the
// values; the fuzz test holds the two to the same answers.
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
	_, ok := parseUID(v)
	return ok
}

// hexValue maps a lowercase hex digit to its value and anything else,
// upper case included, to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// parseUID decodes a uid of the shape this package issues, 64 lowercase
// hex digits, into its 32 bytes. It reports false for anything else.
func parseUID(v string) (id [uidBytes]byte, ok bool) {
	if len(v) != 2*uidBytes {
		return id, false
	}
	var bad byte
	for i := range id {
		hi, lo := hexValue[v[2*i]], hexValue[v[2*i+1]]
		bad |= hi | lo
		id[i] = hi<<4 | lo&0x0f
	}
	return id, bad&0xf0 == 0
}

// cookieName is the session cookie's name for a request: Twisted uses a
// separate name, and here a separate set of sessions, over TLS.
func cookieName(r *http.Request) string {
	if r.TLS != nil {
		return contract.SecureCookieName
	}
	return contract.CookieName
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
	// The values cookieValues would return, in the same order, without
	// collecting them: a request with a cookie allocates nothing here.
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || k != name {
				continue
			}
			id, ok := parseUID(v)
			if !ok {
				continue
			}
			if sess, ok := s.lookup(&id, secure); ok {
				return sess, nil
			}
		}
	}
	sess, err := s.makeSession(secure)
	if err != nil {
		return nil, err
	}
	h := w.Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], sessionCookie(name, &sess.id, secure))
	return sess, nil
}

// sessionCookie spells the Set-Cookie value for a new session in one
// allocation.
func sessionCookie(name string, id *[uidBytes]byte, secure bool) string {
	const attrs, secureAttr = "; Path=/; HttpOnly; SameSite=Lax", "; Secure"
	var b strings.Builder
	b.Grow(len(name) + 1 + 2*uidBytes + len(attrs) + len(secureAttr))
	b.WriteString(name)
	b.WriteByte('=')
	var digits [2 * uidBytes]byte
	hex.Encode(digits[:], id[:])
	b.Write(digits[:])
	b.WriteString(attrs)
	if secure {
		b.WriteString(secureAttr)
	}
	return b.String()
}
