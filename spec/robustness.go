package spec

import (
	"crypto/rand"
	"fmt"
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
	values := []string{
		"", `""`, `"` + real + `"`, real[:len(real)-1], real + "0", strings.ToUpper(real),
		"../../../etc/passwd", "%00", "\u00e9\u00e9", "null", "undefined", "0", "-1",
		real + ";" + real, "' OR 1=1 --",
	}
	raw := []string{
		name, name + "=", "=" + real, ";;;;", name + "=" + real + "; " + name + "=junk",
		name + " = " + real, strings.ToLower(name) + "=" + real,
	}
	for _, v := range values {
		raw = append(raw, name+"="+v)
	}
	for _, header := range raw {
		r, err := p.Try(p.User("mallory"), header)
		Expect(err).NotTo(HaveOccurred(), "Cookie: %q got no answer", header)
		Expect(r.Status).To(BeNumerically("<", 500), "Cookie: %q caused a server error", header)
		if id, ok := r.SessionID(); ok && !strings.Contains(header, name+"="+real) {
			Expect(id).NotTo(Equal(victimID), "Cookie: %q was given the victim's session", header)
		}
		if id, ok := r.SessionID(); ok {
			Expect(id).NotTo(BeElementOf(values[1:]), "Cookie: %q: a malformed value was adopted as the id", header)
		}
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
