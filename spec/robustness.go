package spec

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/gomega"
)

// forge returns a value of the same length and alphabet as a real id:
// what an attacker fixing a victim's session would send.
func forge(real string) string {
	alphabet := map[byte]bool{}
	for i := 0; i < len(real); i++ {
		alphabet[real[i]] = true
	}
	chars := make([]byte, 0, len(alphabet))
	for c := range alphabet {
		chars = append(chars, c)
	}
	b := make([]byte, len(real))
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// mutateMiddle returns real with its middle character replaced by
// another of real's own alphabet: the same shape, another secret.
func mutateMiddle(real string) string {
	if real == "" {
		return "0"
	}
	b := []byte(real)
	i := len(b) / 2
	for j := 0; j < len(real); j++ {
		if real[j] != b[i] {
			b[i] = real[j]
			return string(b)
		}
	}
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}

// victim visits the session page as a new user and returns the id shown
// and the session cookie's value, which the forging cases need.
func (p *Probe) victim(name string) (string, string) {
	u := p.User(name)
	id := p.Visit(u)
	real, ok := u.Cookie(p.T.Cookie)
	p.Expect(ok && real != "").To(BeTrue(), "the first visit must set the session cookie %q (%s); %s's browser would send %q",
		p.T.Cookie, p.T.CookieSource, name, u.Snapshot().String())
	return id, real
}

// Robustness: what a client sends is never trusted, and never costs it
// its session.
var robustnessCases = []Case{
	{
		ID: "ROBUST-001", Level: Should, Area: "robustness", Source: SessionBasics,
		Title: "an unknown id of the right shape is never adopted",
		Seed:  "The Site creates a new instance of Session the first time an application asks for it for a particular session.",
		Check: func(p *Probe) {
			_, real := p.victim("alice")
			mallory := p.User("mallory")
			forged := forge(real)
			mallory.SetCookie(p.T.Cookie, forged)
			id := p.Visit(mallory)
			p.Expect(id).NotTo(Equal(forged), "a client-chosen id was adopted")
			got, _ := mallory.Cookie(p.T.Cookie)
			p.Expect(got).NotTo(Equal(forged), "the target kept the client-chosen cookie %s=%s", p.T.Cookie, forged)
		},
	},
	{
		ID: "ROBUST-002", Level: Should, Area: "robustness", Source: SessionBasics,
		Title: "malformed session cookies are never adopted and never cause a server error",
		Seed:  "The Site creates a new instance of Session the first time an application asks for it for a particular session.",
		Check: func(p *Probe) {
			victimID, real := p.victim("victim")
			name := p.T.Cookie
			// An id in another case must not find the session; ids that are all
			// upper case (Tomcat's) are changed to lower case instead.
			otherCase := strings.ToUpper(real)
			if otherCase == real {
				otherCase = strings.ToLower(real)
			}
			// The id changed where its secret is: a server may route on a
			// suffix after the id (Jetty's ".node0") and ignore it, so the
			// last character, or one appended, need not change the secret.
			values := []string{
				"", `""`, real[:len(real)/2], mutateMiddle(real), "../../../etc/passwd", "%00", "\u00e9\u00e9",
				"null", "undefined", "0", "-1", "' OR 1=1 --",
			}
			if otherCase != real {
				values = append(values, otherCase)
			}
			raw := []string{name, name + "=", ";;;;", name + " = junk"}
			for _, v := range values {
				raw = append(raw, name+"="+v)
			}
			// The victim's own id, spelled as RFC 6265 allows (in DQUOTEs, blanks
			// around '=', a second pair, a stray value) or under another name: a
			// target may find her session with it (it adopts nothing the client
			// made up), but must not adopt the spelling as a new id.
			own := []string{
				name + "=" + real + "; " + name + "=junk", name + " = " + real, name + `="` + real + `"`,
				name + "=" + real + ";" + real, "=" + real, strings.ToLower(name) + "=" + real,
			}
			for _, header := range append(raw, own...) {
				carriesID := slices.Contains(own, header)
				r, err := p.Try(p.User("mallory"), header)
				p.Expect(err).NotTo(HaveOccurred(), "Cookie: %q got no answer", header)
				p.Expect(r.Status).To(BeNumerically("<", 500), "Cookie: %q caused a server error", header)
				id, ok := r.SessionID()
				if !ok {
					continue
				}
				if !carriesID {
					p.Expect(id).NotTo(Equal(victimID), "Cookie: %q was given the victim's session", header)
				}
				p.Expect(id).NotTo(BeElementOf(slices.Concat(values[1:], []string{`"` + real + `"`, real + ";" + real})),
					"Cookie: %q: a malformed value was adopted as the id", header)
			}
		},
	},
	{
		ID: "ROBUST-003", Level: Should, Area: "robustness", Source: NoSourceSection,
		Title: "an oversized session cookie never causes a server error",
		Check: func(p *Probe) {
			name := p.T.Cookie
			if name == "" {
				name = "TWISTED_SESSION"
			}
			for _, size := range []int{4 << 10, 8 << 10} {
				header := name + "=" + strings.Repeat("a", size)
				r, err := p.Try(p.User(fmt.Sprintf("mallory-%dk", size>>10)), header)
				p.Expect(err).NotTo(HaveOccurred(), "a %d-byte cookie got no answer: a 4xx is fine, a dropped connection is not", size)
				p.Expect(r.Status).To(BeNumerically("<", 500), "a %d-byte cookie caused a server error", size)
				if id, ok := r.SessionID(); ok {
					p.Expect(len(id)).NotTo(Equal(size), "a %d-byte cookie value was adopted as the id", size)
				}
			}
		},
	},
	{
		ID: "ROBUST-004", Level: Should, Area: "robustness", Source: SessionBasics,
		Title: "an unknown or malformed session cookie still gets the client a new session",
		Seed:  "The Site creates a new instance of Session the first time an application asks for it for a particular session.",
		Check: func(p *Probe) {
			_, real := p.victim("alice")
			for i, value := range []string{forge(real), "", "../../../etc/passwd", "%00", "undefined"} {
				u := p.User(fmt.Sprintf("visitor-%d", i))
				u.SetCookie(p.T.Cookie, value)
				r := p.Get(u, p.T.Paths.Session)
				p.Expect(r.Status).To(Equal(http.StatusOK), "%s=%q: the session page must still be served", p.T.Cookie, value)
				id, ok := p.IDOf(u, r)
				p.Expect(ok).To(BeTrue(), "%s=%q: the client was left without a session; the page must show a new one, with a new cookie. It showed %q and set %q",
					p.T.Cookie, value, excerpt(r.Body, 200), r.Raw)
				p.Expect(p.Visit(u)).To(Equal(id), "%s=%q: the session given in exchange must be found again on the next visit (a new cookie must replace the bad one)", p.T.Cookie, value)
			}
		},
	},
}
