package spec

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"testing"
)

// idStrength on ids whose true strength is known: the estimate is exact
// for generators that map whole bits to symbols, and lower than the
// positions times the alphabet where a position takes fewer values.
func TestIDStrength(t *testing.T) {
	const n = 256
	gen := func(f func() string) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = f()
		}
		return ids
	}
	random := func(k int) []byte {
		b := make([]byte, k)
		rand.Read(b)
		return b
	}
	uuid4 := func() string {
		b := random(16)
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return hex.EncodeToString(b)
	}
	ms := int64(1764619000000)
	for _, c := range []struct {
		name string
		ids  []string
		want float64
	}{
		{"64 hex digits (Twisted)", gen(func() string { return hex.EncodeToString(random(32)) }), 256},
		{"uuid4 as 32 hex digits", gen(uuid4), 122},
		{"16 bytes in base64url", gen(func() string { return base64.RawURLEncoding.EncodeToString(random(16)) }), 128},
		{"24 bytes in base64url (express)", gen(func() string { return base64.RawURLEncoding.EncodeToString(random(24)) }), 192},
		// A millisecond timestamp then 8 random hex digits: 256 ids 3 ms
		// apart span 768 ms, so of the 13 decimal digits of the time the
		// last two take 10 values (4 bits each, rounded up), the third 8
		// (3 bits), the others one.
		{"time in ms + 32 random bits", gen(func() string { ms += 3; return fmt.Sprintf("%d%s", ms, hex.EncodeToString(random(4))) }), 32 + 4 + 4 + 3},
	} {
		bits, _ := idStrength(c.ids)
		if math.Abs(bits-c.want) > 0.01 {
			t.Errorf("%s: %.2f bits, want %.0f", c.name, bits, c.want)
		}
	}
	if bits, varying := idStrength(gen(func() string { return "same" })); bits != 0 || varying != 0 {
		t.Errorf("one id 256 times: %.0f bits, %d varying", bits, varying)
	}
}
