package spec

import (
	"strings"
	"testing"
)

// FuzzParseExpectations: an expectations file is read whole or refused;
// what is read names only catalogue cases and known outcomes.
func FuzzParseExpectations(f *testing.F) {
	for _, seed := range []string{"TIMEOUT-003 fail reason\n", "# c\n\nPERSIST-001 pass", "NOPE-1 fail", "PERSIST-001 maybe",
		"PERSIST-001 fail\nPERSIST-001 pass", "PERSIST-001", "\x00", "TIMEOUT-005 fail|n/a slow", "TIMEOUT-005 fail|pass", "TIMEOUT-005 n/a|n/a"} {
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
			case Passed, Failed, NotApplicable, Errored,
				Passed + "|" + NotApplicable, Failed + "|" + NotApplicable, Errored + "|" + NotApplicable,
				NotApplicable + "|" + Passed, NotApplicable + "|" + Failed, NotApplicable + "|" + Errored:
			default:
				t.Fatalf("accepted outcome %q", e.Outcome)
			}
		}
	})
}

// An expectation may admit n/a beside a verdict (a case some runs cannot
// judge), never two verdicts; a run judged against it differs only on
// an outcome it does not admit.
func TestExpectationWithNoVerdict(t *testing.T) {
	for _, bad := range []string{"TIMEOUT-005 fail|pass r", "TIMEOUT-005 n/a|n/a r", "TIMEOUT-005 fail|n/a|pass r", "TIMEOUT-005 fail| r", "TIMEOUT-005 |n/a r"} {
		if _, err := ParseExpectations(strings.NewReader(bad), Cases()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	exp, err := ParseExpectations(strings.NewReader("TIMEOUT-005 fail|n/a whole seconds; slow answers give no verdict\nTIMEOUT-001 n/a|fail r\n"), Cases())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id      string
		got     Outcome
		differs bool
	}{
		{"TIMEOUT-005", Failed, false}, {"TIMEOUT-005", NotApplicable, false}, {"TIMEOUT-005", Passed, true}, {"TIMEOUT-005", Errored, true},
		{"TIMEOUT-001", NotApplicable, false}, {"TIMEOUT-001", Failed, false}, {"TIMEOUT-001", Passed, true},
	} {
		c, _ := Lookup(tc.id)
		rep := &Report{Results: []Result{{Case: c, Outcome: tc.got}}}
		rep.Judge(exp)
		if d := rep.Results[0].Differs(true); d != tc.differs {
			t.Errorf("%s expected %s, got %s: differs %v, want %v", tc.id, exp[tc.id].Outcome, tc.got, d, tc.differs)
		}
		want := ExitPass
		if tc.differs {
			want = ExitFail
			if tc.got == Errored {
				want = ExitHarness
			}
		}
		if rep.ExitCode != want {
			t.Errorf("%s expected %s, got %s: exit %d, want %d (MUST n/a allowed by the expectation)", tc.id, exp[tc.id].Outcome, tc.got, rep.ExitCode, want)
		}
	}
}
