package spec

import (
	"crypto/rand"
	"fmt"
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

// Never adopt what a client makes up.
var _ = check("ROBUST-001", func(p *Probe) {
	u := p.User("alice")
	p.Visit(u)
	real, ok := u.Cookie(p.T.Cookie)
	Expect(ok).To(BeTrue(), "the first visit must set the %s cookie", p.T.Cookie)
	mallory := p.User("mallory")
	forged := forge(real)
	mallory.SetCookie(p.T.Cookie, forged)
	id := p.Visit(mallory)
	Expect(id).NotTo(Equal(forged), "a client-chosen id was adopted")
	got, _ := mallory.Cookie(p.T.Cookie)
	Expect(got).NotTo(Equal(forged), "the target kept the client-chosen cookie %s=%s", p.T.Cookie, forged)
})

var _ = check("ROBUST-002", func(p *Probe) {
	victim := p.User("victim")
	victimID := p.Visit(victim)
	real, _ := victim.Cookie(p.T.Cookie)
	name := p.T.Cookie
	// An id in another case must not find the session; ids that are all
	// upper case (Tomcat's) are changed to lower case instead.
	otherCase := strings.ToUpper(real)
	if otherCase == real {
		otherCase = strings.ToLower(real)
	}
	values := []string{
		"", `""`, real[:len(real)-1], real + "0", "../../../etc/passwd", "%00", "\u00e9\u00e9",
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
		Expect(err).NotTo(HaveOccurred(), "Cookie: %q got no answer", header)
		Expect(r.Status).To(BeNumerically("<", 500), "Cookie: %q caused a server error", header)
		id, ok := r.SessionID()
		if !ok {
			continue
		}
		if !carriesID {
			Expect(id).NotTo(Equal(victimID), "Cookie: %q was given the victim's session", header)
		}
		Expect(id).NotTo(BeElementOf(slices.Concat(values[1:], []string{`"` + real + `"`, real + ";" + real})),
			"Cookie: %q: a malformed value was adopted as the id", header)
	}
})

var _ = check("ROBUST-003", func(p *Probe) {
	for _, size := range []int{4 << 10, 8 << 10} {
		header := p.T.Cookie + "=" + strings.Repeat("a", size)
		r, err := p.Try(p.User(fmt.Sprintf("mallory-%dk", size>>10)), header)
		Expect(err).NotTo(HaveOccurred(), "a %d-byte cookie got no answer: a 4xx is fine, a dropped connection is not", size)
		Expect(r.Status).To(BeNumerically("<", 500), "a %d-byte cookie caused a server error", size)
		if id, ok := r.SessionID(); ok {
			Expect(len(id)).NotTo(Equal(size), "a %d-byte cookie value was adopted as the id", size)
		}
	}
})
