package spec

import (
	"strings"
	"testing"
)

// FuzzParseDiscovery: any bytes either give a document whose every field
// the suite can rely on, or an error; never a panic.
func FuzzParseDiscovery(f *testing.F) {
	for _, seed := range []string{
		`{"sessionspec":1}`, `{"sessionspec":1,"timeout_seconds":900,"paths":{"session":"/"}}`,
		`{"sessionspec":1,"timeout_seconds":-1}`, `{"sessionspec":2}`, `{"sessionspec":1,"paths":{}}`,
		`{"sessionspec":1,"cookie":"a b"}`, `{"sessionspec":1} {}`, `null`, `[]`, `{"sessionspec":1,"x":1}`,
		`{"sessionspec":1,"timeout_seconds":1e308}`, `{"sessionspec":1,"paths":{"session":"/","clock":"%zz"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ParseDiscovery(body)
		if err != nil {
			return
		}
		if d.Version != 1 {
			t.Fatalf("accepted version %d", d.Version)
		}
		if d.TimeoutSeconds != nil && !(*d.TimeoutSeconds > 0 && *d.TimeoutSeconds <= 366*24*3600) {
			t.Fatalf("accepted timeout %v", *d.TimeoutSeconds)
		}
		if d.Paths != nil && d.Paths.Session == "" {
			t.Fatal("accepted paths without a session path")
		}
		if strings.ContainsAny(d.Cookie, " ;=") {
			t.Fatalf("accepted cookie name %q", d.Cookie)
		}
		target, _ := NewTarget("http://127.0.0.1:1")
		target.apply(d)
		if target.Timeout <= 0 || target.Paths.Session == "" {
			t.Fatalf("applied to timeout %s, session path %q", target.Timeout, target.Paths.Session)
		}
	})
}

// FuzzParseExpectations: an expectations file is read whole or refused;
// what is read names only catalogue cases and known outcomes.
func FuzzParseExpectations(f *testing.F) {
	for _, seed := range []string{"TIMEOUT-003 fail reason\n", "# c\n\nPERSIST-001 pass", "NOPE-1 fail", "PERSIST-001 maybe",
		"PERSIST-001 fail\nPERSIST-001 pass", "PERSIST-001", "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		exp, err := ParseExpectations(strings.NewReader(text))
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
