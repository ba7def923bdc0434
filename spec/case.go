package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
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

// Resource names what a case needs of the target beyond its session
// page. A case whose resource the target does not serve (an empty path,
// or a 404) is not applicable, with the flag that declares it.
type Resource string

// The resources a case can need.
const (
	Expire  Resource = "expire"
	LogMe   Resource = "logme"
	Expired Resource = "expired" // the notification feed, or --expired stdout
	Counter Resource = "counter"
	// Components is the session-components resource.
	Components Resource = "components"
	// WebSocket is the WebSocket endpoint attached to the session.
	WebSocket Resource = "ws"
	// Replicas is a clustered target's other replicas (Target.Replicas):
	// optional, the CLUSTER cases are n/a without them.
	Replicas Resource = "replicas"
	// Time is the target's time passing: the case idles, on the wall
	// clock or by advancing a controlled clock. On a controlled clock such
	// a case runs alone (see the package documentation).
	Time Resource = "time"
)

// Case is one conformance check: its metadata and its body, declared in
// one keyed literal in the file of its area.
//
//	{
//		ID: "EXPIRE-001", Level: Must, Area: "expire", Source: SessionBasics,
//		Title: "after visiting expire, the top page shows a new session",
//		Seed:  "You can then visit the expire child and go back to the top page and see that you have a new session.",
//		Needs: []Resource{Expire},
//		Check: func(p *Probe) {
//			u := p.User("alice")
//			before := p.Visit(u)
//			p.Get(u, p.T.Paths.Expire)
//			p.Expect(p.Visit(u)).NotTo(Equal(before), "the top page after expire must show a new session")
//		},
//	},
type Case struct {
	ID     string     `json:"id"` // stable, e.g. PERSIST-001
	Level  Level      `json:"level"`
	Area   string     `json:"area"`   // the section of the suite, one file each
	Title  string     `json:"title"`  // what the target must do, in one line
	Source string     `json:"source"` // the document the sentence comes from
	Seed   string     `json:"seed"`   // the sentence checked, verbatim
	Needs  []Resource `json:"needs,omitempty"`
	// Check runs the case against the probe's target. It fails through
	// p.Expect, and ends early with p.NotApplicable or p.Abort.
	Check func(p *Probe) `json:"-"`
}

// Labels are the labels a label filter sees: the level, the area, the ID
// and needs-R for each resource R the case needs (needs-expired: every
// case that reads the notification feed, CLUSTER-005 and -006 among the
// NOTIFY ones).
//
//	sessionspec check URL --allow-na needs-expired   # a target without a feed
func (c Case) Labels() []string {
	labels := []string{string(c.Level), c.Area, c.ID}
	for _, r := range c.Needs {
		labels = append(labels, "needs-"+string(r))
	}
	return labels
}

// needs reports whether the case needs r.
func (c Case) needs(r Resource) bool { return slices.Contains(c.Needs, r) }

// Cases returns the HTTP cases of the suite, in the order reports list
// them. Each call returns a fresh slice; the browser cases (package
// browser) join a run explicitly, through Options.Cases.
func Cases() []Case {
	return slices.Concat(persistenceCases, expireCases, timeoutCases, notifyCases, counterCases, componentCases, websocketCases, clusterCases,
		robustnessCases, urlCases, securityCases)
}

// Lookup returns the HTTP case with the given ID.
func Lookup(id string) (Case, bool) {
	i := slices.IndexFunc(Cases(), func(c Case) bool { return c.ID == id })
	if i < 0 {
		return Case{}, false
	}
	return Cases()[i], true
}

// CatalogueVersion identifies a catalogue: the IDs, levels and cited
// sentences of its cases, in order. Renaming, removing or re-levelling a
// case, or changing what it cites, changes it; rewording a title does
// not.
func CatalogueVersion(cases []Case) string {
	h := sha256.New()
	for _, c := range cases {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", c.ID, c.Level, c.Source, c.Seed)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Version is the version of this suite's code.
const Version = "0.3.0"

// Unquoted returns the cases whose cited sentence does not stand in any of
// documents (the seed texts), after folding what the seeds spell in
// several ways: curly quotes, mail quoting ("> "), white space, and the
// space the HTML rendering leaves before a full stop.
func Unquoted(cases []Case, documents []string) []Case {
	var all strings.Builder
	for _, d := range documents {
		all.WriteString(foldQuoting(d))
		all.WriteString(" ")
	}
	var missing []Case
	for _, c := range cases {
		if c.Seed != "" && !strings.Contains(all.String(), foldQuoting(c.Seed)) {
			missing = append(missing, c)
		}
	}
	return missing
}

var mailQuote = regexp.MustCompile(`(?m)^> ?`)

func foldQuoting(s string) string {
	s = strings.NewReplacer("\u2019", "'", "\u2018", "'", "&#39;", "'", "\u2026", "...").Replace(s)
	s = mailQuote.ReplaceAllString(s, "")
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), " .", ".")
}
