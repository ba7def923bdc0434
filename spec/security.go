package spec

import (
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strings"
	"sync"

	. "github.com/onsi/gomega"
)

// freshIDs has n new users each visit once and returns the ids shown, in
// the order they were issued (visits run a few at a time).
func (p *Probe) freshIDs(n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problem, transport string
	next := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || problem != "" || transport != ""
				mu.Unlock()
				if stop {
					return
				}
				// Only the first and last few exchanges are kept as evidence.
				visitor := NewUser(p.T, "visitor", p.Tr)
				if p.ctx.Err() != nil {
					return
				}
				r, err := visitor.Do(p.ctx, "GET", p.T.Paths.Session, "")
				mu.Lock()
				switch {
				case err != nil:
					transport = err.Error()
				case r.Status != http.StatusOK:
					problem = fmt.Sprintf("GET %s answered %d", p.T.Paths.Session, r.Status)
				default:
					var ok bool
					if ids[i], ok = p.IDOf(visitor, r); !ok {
						problem = fmt.Sprintf("GET %s showed no session id: %q", p.T.Paths.Session, excerpt(r.Body, 100))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if transport != "" {
		p.Abort("making %d sessions: %s", n, transport)
	}
	p.Expect(problem).To(BeEmpty(), "making %d sessions", n)
	return ids
}

// idStrength estimates the bits of an id from a sample. Each position
// counts the values seen there, rounded up to a power of two (a generator
// maps whole bits to a symbol: a uuid4's variant digit takes 4 values, 2
// bits; the last digit of 16 bytes in base64 takes 4), and never more
// than the alphabet seen in all the ids allows (10 for decimal ids). A
// timestamp or counter prefix shows up as positions that never change.
// With 256 ids, a position of a 64-symbol alphabet shows about 63 of
// them, which rounds up to the 6 bits it holds.
func idStrength(ids []string) (bits float64, varying int) {
	alphabet := map[byte]bool{}
	width := 0
	for _, id := range ids {
		width = max(width, len(id))
		for i := range len(id) {
			alphabet[id[i]] = true
		}
	}
	if len(alphabet) < 2 {
		return 0, 0
	}
	most := math.Log2(float64(len(alphabet)))
	for i := range width {
		seen := map[byte]bool{}
		for _, id := range ids {
			if i < len(id) {
				seen[id[i]] = true
			}
		}
		if len(seen) < 2 {
			continue
		}
		varying++
		bits += min(math.Ceil(math.Log2(float64(len(seen)))), most)
	}
	return bits, varying
}

// sequential reports whether ids read as numbers (hex or decimal) mostly
// step by the same amount: a counter, however well disguised by width.
func sequential(ids []string) bool {
	var nums []*big.Int
	for _, id := range ids {
		n, ok := new(big.Int).SetString(strings.TrimLeft(id, "0"), 16)
		if !ok {
			return false
		}
		nums = append(nums, n)
	}
	steps := map[string]int{}
	for i := 1; i < len(nums); i++ {
		steps[new(big.Int).Sub(nums[i], nums[i-1]).String()]++
	}
	for _, c := range steps {
		if c*2 > len(nums)-1 {
			return true
		}
	}
	return false
}

// Security hardening that no seed asks for: advisory.
var securityCases = []Case{
	{
		ID: "SECURE-001", Level: Advisory, Area: "security", Source: NoSourceSection,
		Title: "session ids are unique over a few thousand sessions",
		Check: func(p *Probe) {
			ids := p.freshIDs(p.T.Sessions)
			seen := make(map[string]int, len(ids))
			for i, id := range ids {
				p.Expect(id).NotTo(BeEmpty(), "visit %d showed no id", i)
				first, dup := seen[id]
				p.Expect(dup).To(BeFalse(), "id %s was issued twice (visits %d and %d of %d)", id, first, i, len(ids))
				seen[id] = i
			}
		},
	},
	{
		ID: "SECURE-002", Level: Advisory, Area: "security", Source: NoSourceSection,
		Title: "session ids are long and show no sequence",
		Check: func(p *Probe) {
			ids := p.freshIDs(256)
			bits, varying := idStrength(ids)
			p.Tr.Note("%d ids: %d positions vary, about %.0f bits", len(ids), varying, bits)
			p.Expect(bits).To(BeNumerically(">=", 128), "estimated id strength in bits (%d varying positions); want at least 128", varying)
			p.Expect(sequential(ids)).To(BeFalse(), "the ids, read as numbers, step by a constant: they are sequential")
		},
	},
	{
		ID: "SECURE-003", Level: Advisory, Area: "security", Source: NoSourceSection,
		Title: "the session cookie is HttpOnly",
		Check: func(p *Probe) {
			r := p.Get(p.User("alice"), p.T.Paths.Session)
			c, raw, ok := r.SessionCookie(p.T.Cookie)
			p.Expect(ok).To(BeTrue(), "the first visit must set the %s cookie", p.T.Cookie)
			p.Expect(c.HttpOnly).To(BeTrue(), "HttpOnly on %q: without it any script on the page can read the session id", raw)
		},
	},
	{
		ID: "SECURE-004", Level: Advisory, Area: "security", Source: NoSourceSection,
		Title: "the session cookie has SameSite=Lax or Strict",
		// SameSite=None is the explicit opt-out of the protection this
		// case asks for, so it fails as a missing attribute does (which
		// Chromium alone reads as Lax).
		Check: func(p *Probe) {
			r := p.Get(p.User("alice"), p.T.Paths.Session)
			c, raw, ok := r.SessionCookie(p.T.Cookie)
			p.Expect(ok).To(BeTrue(), "the first visit must set the %s cookie", p.T.Cookie)
			p.Expect(strings.Contains(strings.ToLower(raw), "samesite=")).To(BeTrue(), "SameSite on %q: without it, browsers other than Chromium send the session cookie with requests from any other site", raw)
			p.Expect(c.SameSite).To(BeElementOf(http.SameSiteLaxMode, http.SameSiteStrictMode), "SameSite on %q must be Lax or Strict: None sends the session cookie with requests from any other site (cross-site request forgery)", raw)
		},
	},
}
