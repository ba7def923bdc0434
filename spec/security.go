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
	var failure, transport string
	next := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || failure != "" || transport != ""
				mu.Unlock()
				if stop {
					return
				}
				// Only the first and last few exchanges are kept as evidence.
				visitor := NewUser(p.T, "visitor", p.Tr)
				r, err := visitor.Do(p.ctx, "GET", p.T.Paths.Session, "")
				mu.Lock()
				switch {
				case err != nil:
					transport = err.Error()
				case r.Status != http.StatusOK:
					failure = fmt.Sprintf("GET %s answered %d", p.T.Paths.Session, r.Status)
				default:
					var ok bool
					if ids[i], ok = p.idOf(visitor, r); !ok {
						failure = fmt.Sprintf("GET %s showed no session id: %q", p.T.Paths.Session, excerpt(r.Body, 100))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if transport != "" {
		p.abort("making %d sessions: %s", n, transport)
	}
	Expect(failure).To(BeEmpty(), "making %d sessions", n)
	return ids
}

var _ = check("SECURE-001", func(p *Probe) {
	ids := p.freshIDs(p.T.Sessions)
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		Expect(id).NotTo(BeEmpty(), "visit %d showed no id", i)
		first, dup := seen[id]
		Expect(dup).To(BeFalse(), "id %s was issued twice (visits %d and %d of %d)", id, first, i, len(ids))
		seen[id] = i
	}
})

// idStrength estimates the bits of an id from a sample: the positions
// that vary times log2 of the alphabet seen. A timestamp or counter
// prefix shows up as positions that never change.
func idStrength(ids []string) (bits float64, varying int) {
	alphabet := map[rune]bool{}
	width := 0
	for _, id := range ids {
		width = max(width, len(id))
		for _, c := range id {
			alphabet[c] = true
		}
	}
	for i := range width {
		var first byte
		for j, id := range ids {
			if i >= len(id) {
				continue
			}
			if j == 0 {
				first = id[i]
			} else if id[i] != first {
				varying++
				break
			}
		}
	}
	if len(alphabet) < 2 {
		return 0, varying
	}
	return float64(varying) * math.Log2(float64(len(alphabet))), varying
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

var _ = check("SECURE-002", func(p *Probe) {
	ids := p.freshIDs(256)
	bits, varying := idStrength(ids)
	p.Tr.Note("%d ids: %d positions vary, about %.0f bits", len(ids), varying, bits)
	Expect(bits).To(BeNumerically(">=", 128), "estimated id strength in bits (%d varying positions); want at least 128", varying)
	Expect(sequential(ids)).To(BeFalse(), "the ids, read as numbers, step by a constant: they are sequential")
})

var _ = check("SECURE-003", func(p *Probe) {
	r := p.Get(p.User("alice"), p.T.Paths.Session)
	c, raw, ok := r.SessionCookie(p.T.Cookie)
	Expect(ok).To(BeTrue(), "the first visit must set the %s cookie", p.T.Cookie)
	Expect(c.HttpOnly).To(BeTrue(), "HttpOnly on %q: without it any script on the page can read the session id", raw)
})

var _ = check("SECURE-004", func(p *Probe) {
	r := p.Get(p.User("alice"), p.T.Paths.Session)
	c, raw, ok := r.SessionCookie(p.T.Cookie)
	Expect(ok).To(BeTrue(), "the first visit must set the %s cookie", p.T.Cookie)
	Expect(c.SameSite).NotTo(Equal(http.SameSiteDefaultMode), "SameSite on %q", raw)
	Expect(strings.Contains(strings.ToLower(raw), "samesite=")).To(BeTrue(), "SameSite on %q", raw)
})
