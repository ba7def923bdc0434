package spec

import (
	"strings"
	"testing"
)

// FuzzParseExpectations: an expectations file is read whole or refused;
// what is read names only catalogue cases and known outcomes.
func FuzzParseExpectations(f *testing.F) {
	for _, seed := range []string{"TIMEOUT-003 fail reason\n", "# c\n\nPERSIST-001 pass", "NOPE-1 fail", "PERSIST-001 maybe",
		"PERSIST-001 fail\nPERSIST-001 pass", "PERSIST-001", "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		exp, err := ParseExpectations(strings.NewReader(text), Cases())
		if err != nil {
			return
		}
		for id, e := range exp {
			if _, ok := Lookup(id); !ok {
				t.Fatalf("accepted unknown case %q", id)
			}
			switch e.Outcome {
			case Passed, Failed, NotApplicable, Errored:
			default:
				t.Fatalf("accepted outcome %q", e.Outcome)
			}
		}
	})
}
