// Package spec is the sessionspec conformance suite: Ginkgo specs that
// check any HTTP session implementation at a URL against the behaviour
// Twisted Web documents in "Session Basics", "Storing Objects in the
// Session" and "Session Endings".
//
// Every case has a stable ID, a level and the sentence of the source text
// it checks; the catalogue below is the single list of them. The specs
// talk to the target only over HTTP: see Target for what it must serve.
package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Level says how binding a case is.
type Level string

const (
	// Must cases check what the source texts document.
	Must Level = "MUST"
	// Should cases check sound practice the documents imply.
	Should Level = "SHOULD"
	// Advisory cases check security hardening that no source text requires.
	Advisory Level = "ADVISORY"
)

// Sources the cases cite.
const (
	SessionBasics   = "Twisted Web: Session Basics"
	SessionStore    = "Twisted Web: Storing Objects in the Session; twisted-web, Dec 2004 (Donovan Preston)"
	SessionEndings  = "Twisted Web: Session Endings"
	WhatIsASession  = "twisted-python, Dec 2002 (Glyph Lefkowitz)"
	NoSourceSection = "no source text: security practice"
)

// Case is one conformance check.
type Case struct {
	ID     string `json:"id"` // stable, e.g. PERSIST-001
	Level  Level  `json:"level"`
	Area   string `json:"area"`   // the section of the suite, one file each
	Title  string `json:"title"`  // what the target must do, in one line
	Source string `json:"source"` // the document the sentence comes from
	Seed   string `json:"seed"`   // the sentence checked, verbatim
}

// Catalogue lists every case, in the order the report presents them.
var Catalogue = []Case{
	// Session Basics: identity and the cookie.
	{"PERSIST-001", Must, "persistence", "the first visit creates a session and sets its cookie", SessionBasics,
		"The Site creates a new instance of Session the first time an application asks for it for a particular session."},
	{"PERSIST-002", Must, "persistence", "the session id stays the same across reloads", SessionBasics,
		"You'll see a (rather opaque) session identifier that remains the same across reloads"},
	{"PERSIST-003", Must, "persistence", "a client that drops its cookie gets a new session", SessionBasics,
		"(at least until you flush the TWISTED_SESSION cookie from your browser or enough time passes)"},
	{"PERSIST-004", Must, "persistence", "distinct clients get distinct sessions", SessionBasics,
		"The Site creates a new instance of Session the first time an application asks for it for a particular session."},
	{"PERSIST-005", Should, "persistence", "the session cookie is named TWISTED_SESSION (TWISTED_SECURE_SESSION over TLS)", SessionBasics,
		"until you flush the TWISTED_SESSION cookie from your browser"},
	{"PERSIST-006", Should, "persistence", "the session cookie has Path=/ and is sent only when the session is created", SessionBasics,
		"Each time after the first that a particular session's Session object is requested, it is retrieved from the Site."},

	// Session Basics: explicit expiry.
	{"EXPIRE-001", Must, "expire", "after visiting expire, the top page shows a new session", SessionBasics,
		"You can then visit the expire child and go back to the top page and see that you have a new session."},
	{"EXPIRE-002", Must, "expire", "an expired session's id is never accepted again", SessionBasics,
		"Session instances are kept on the Site instance until they expire (due to inactivity or because they are explicitly expired)."},
	{"EXPIRE-003", Must, "expire", "objects stored in an expired session are gone with it", SessionStore,
		"The objects would need to be destroyed automatically when the session expires."},
	{"EXPIRE-004", Should, "expire", "the expire resource answers as the example does", SessionBasics,
		"return 'Your session has been expired.'"},

	// Session Endings: the inactivity timeout.
	{"TIMEOUT-001", Must, "timeout", "a session idle for less than its timeout survives", SessionEndings,
		"This attribute gives the number of seconds a session may go without being accessed before it expires."},
	{"TIMEOUT-002", Must, "timeout", "a session idle for its timeout is gone", SessionEndings,
		"Stop visiting it for five seconds to see your session expiration message."},
	{"TIMEOUT-003", Must, "timeout", "each visit restarts the inactivity timeout", SessionEndings,
		"Keep visiting it to keep your session active."},
	{"TIMEOUT-004", Must, "timeout", "the default timeout is 15 minutes", SessionEndings,
		"The default is 15 minutes."},

	// Session Endings: expiry notifications.
	{"NOTIFY-001", Must, "notify", "a registered notification fires once, for the right session, on timeout", SessionEndings,
		"Stop visiting it for five seconds to see your session expiration message."},
	{"NOTIFY-002", Must, "notify", "a registered notification fires once, for the right session, on explicit expiry", SessionEndings,
		"You can have arbitrary functions run when sessions expire, too."},
	{"NOTIFY-003", Must, "notify", "no notification fires for a session that is kept active", SessionEndings,
		"Keep visiting it to keep your session active."},

	// Storing objects in the session.
	{"COUNTER-001", Must, "counter", "an object stored in the session persists across requests", SessionStore,
		"Future calls to IUserManager(ISession(ctx)) will return the same instance."},
	{"COUNTER-002", Must, "counter", "objects stored in one session are invisible to another", SessionStore,
		"Can someone give a helloworld example of how to store and retrieve objects specific to a session ?"},
	{"COUNTER-003", Must, "counter", "objects stored in a session are gone when it times out", SessionStore,
		"The objects would need to be destroyed automatically when the session expires."},

	// Robustness: what a client sends is never trusted.
	{"ROBUST-001", Should, "robustness", "an unknown id of the right shape is never adopted", SessionBasics,
		"The Site creates a new instance of Session the first time an application asks for it for a particular session."},
	{"ROBUST-002", Should, "robustness", "malformed session cookies are never adopted and never cause a server error", SessionBasics,
		"The Site creates a new instance of Session the first time an application asks for it for a particular session."},
	{"ROBUST-003", Should, "robustness", "an oversized session cookie never causes a server error", NoSourceSection, ""},

	// Security hardening.
	{"SECURE-001", Advisory, "security", "session ids are unique over a few thousand sessions", NoSourceSection, ""},
	{"SECURE-002", Advisory, "security", "session ids are long and show no sequence", NoSourceSection, ""},
	{"SECURE-003", Advisory, "security", "the session cookie is HttpOnly", NoSourceSection, ""},
	{"SECURE-004", Advisory, "security", "the session cookie has a SameSite attribute", NoSourceSection, ""},
}

// Lookup returns the case with the given ID.
func Lookup(id string) (Case, bool) {
	for _, c := range Catalogue {
		if c.ID == id {
			return c, true
		}
	}
	return Case{}, false
}

func mustLookup(id string) Case {
	c, ok := Lookup(id)
	if !ok {
		panic(fmt.Sprintf("spec: case %s is not in the catalogue", id))
	}
	return c
}

// Unquoted returns the cases whose cited sentence does not stand in any of
// documents (the seed texts), after folding what the seeds spell in
// several ways: curly quotes, mail quoting ("> "), white space, and the
// space the HTML rendering leaves before a full stop.
func Unquoted(documents []string) []Case {
	var all strings.Builder
	for _, d := range documents {
		all.WriteString(foldQuoting(d))
		all.WriteString(" ")
	}
	var missing []Case
	for _, c := range Catalogue {
		if c.Seed != "" && !strings.Contains(all.String(), foldQuoting(c.Seed)) {
			missing = append(missing, c)
		}
	}
	return missing
}

var mailQuote = regexp.MustCompile(`(?m)^> ?`)

func foldQuoting(s string) string {
	s = strings.NewReplacer("\u2019", "'", "\u2018", "'", "&#39;", "'").Replace(s)
	s = mailQuote.ReplaceAllString(s, "")
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), " .", ".")
}
