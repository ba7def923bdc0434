package reference

import (
	"encoding/hex"
	"net/http"
	"slices"
)

// The exported pieces below let another server of the same resources
// (package cluster: the reference's sessions kept in Redis) parse and
// answer exactly as this one does, without a copy of the rules.

// ComponentQuery is a parsed request of the components resource (see the
// package documentation): App's component Key, with at most one of
// Default and Set. Adapter is true when Key names the application's
// adapter object ("adapter").
type ComponentQuery struct {
	App, Key   string
	Default    string
	Set        string
	HasDefault bool
	HasSet     bool
	Adapter    bool
}

// ComponentOverhead is what the components resource charges each stored
// component beyond the bytes of its names and value.
const ComponentOverhead = componentOverhead

// ParseComponentQuery checks the raw query of GET /components as Server
// does, answering the parsed request or a one-line reason for a 400.
func ParseComponentQuery(raw string) (ComponentQuery, string) {
	q, bad := parseComponentQuery(raw)
	return ComponentQuery{App: q.app, Key: q.key, Default: q.def, Set: q.set,
		HasDefault: q.hasDef, HasSet: q.hasSet, Adapter: q.isAdapter}, bad
}

// ParseExpiredIDs checks the raw query of GET /expired as Server does:
// nil for the whole feed, else the distinct uids asked (at most
// MaxExpiredIDs), in the order asked; or a one-line reason for a 400.
func ParseExpiredIDs(raw string) ([]string, error) {
	ids, err := parseExpiredQuery(raw)
	if err != nil || ids == nil {
		return nil, err
	}
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = hex.EncodeToString(ids[i][:])
	}
	return out, nil
}

// SessionCookieName is the session cookie's name for r:
// contract.SecureCookieName over TLS, contract.CookieName otherwise.
func SessionCookieName(r *http.Request) string { return cookieName(r) }

// CandidateUIDs returns the values of r's session cookies that have the
// shape of a uid this package issues, in the order sent, each once: the
// sessions GetSession would try, first live one wins.
func CandidateUIDs(r *http.Request) []string {
	var out []string
	for _, v := range cookieValues(r.Header, cookieName(r)) {
		if wellFormedUID(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// SessionCookie is the Set-Cookie value that makes uid the client's
// session, as GetSession sends it for a new session (with Secure when
// secure).
func SessionCookie(name, uid string, secure bool) string {
	id, ok := parseUID(uid)
	if !ok {
		panic("reference.SessionCookie: not a uid: " + uid)
	}
	return sessionCookie(name, &id, secure)
}

// ValidUID reports whether v has the shape of a uid this package issues:
// 64 lowercase hex digits.
func ValidUID(v string) bool { return wellFormedUID(v) }
