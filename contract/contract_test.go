package contract

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseAdvance: the clock-control parameters either parse to a
// duration within bounds or are refused with a one-line reason.
func FuzzParseAdvance(f *testing.F) {
	for _, seed := range []string{"advance=5s", "advance=-1s", "advance=1ns", "advance=5s&advance=1s", "x=1",
		"advance=%zz", "advance=9999999999h", "advance=1e9s", "", ";", "advance=1.5h30m",
		// 40 invalid bytes quote to 160: the reason once ran past its bound
		"advance=%00%80" + strings.Repeat("%DC", 60)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		d, err := ParseAdvance(query)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") || len(msg) > 200 {
				t.Fatalf("reason %q is not one short line", msg)
			}
			return
		}
		if d < 0 || d > MaxAdvance {
			t.Fatalf("%q accepted as %s, out of bounds", query, d)
		}
	})
}

// FuzzParseDiscovery: a document is either refused with a reason or
// accepted with values that are within the contract's bounds.
func FuzzParseDiscovery(f *testing.F) {
	for _, seed := range []string{`{"sessionspec":1}`, `{"sessionspec":1,"timeout_seconds":1e-10}`,
		`{"sessionspec":1,"paths":{"session":"http://evil.example/"}}`, `{"sessionspec":1,"cookie":"a b"}`,
		`{"sessionspec":1,"paths":{"session":"/","clock":"//evil/"}}`, `{"sessionspec":2}`, `{}`, `[`,
		`{"sessionspec":1,"replicas":["http://127.0.0.1:2/","ftp://127.0.0.1/"]}`, `{"sessionspec":1,"replicas":["/x"]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ParseDiscovery(body)
		if err != nil {
			return
		}
		if to := d.Timeout(DefaultTimeout); to < MinTimeout || to > MaxTimeout {
			t.Fatalf("timeout %s accepted", to)
		}
		if d.Paths != nil {
			for _, name := range PathNames {
				if CheckPath(d.Paths.Get(name)) != nil {
					t.Fatalf("paths.%s %q accepted", name, d.Paths.Get(name))
				}
			}
		}
		if len(d.Replicas) > MaxReplicas {
			t.Fatalf("%d replicas accepted", len(d.Replicas))
		}
		base, _ := url.Parse("http://127.0.0.1:8080/")
		at, err := ParseDiscoveryAt(body, base)
		for _, r := range at.Replicas {
			u, perr := ParseReplica(r)
			if err == nil && (perr != nil || u.Hostname() != "127.0.0.1" || u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("replica %q accepted for %s", r, base)
			}
		}
	})
}

func TestDiscoveryRefusesOtherOrigins(t *testing.T) {
	for _, doc := range []string{
		`{"sessionspec":1,"paths":{"session":"/","expired":"http://127.0.0.2:9/x"}}`,
		`{"sessionspec":1,"paths":{"session":"/","clock":"//evil.example/_clock"}}`,
		`{"sessionspec":1,"paths":{"session":"https://evil.example/"}}`,
		`{"sessionspec":1,"timeout_seconds":1e-10}`,
		`{"sessionspec":1,"timeout_seconds":1e300}`,
	} {
		if _, err := ParseDiscovery([]byte(doc)); err == nil {
			t.Errorf("%s was accepted", doc)
		}
	}
	if _, err := ParseDiscovery([]byte(`{"sessionspec":1,"paths":{"session":"app/","clock":"/_clock?x=1"}}`)); err != nil {
		t.Errorf("relative paths refused: %v", err)
	}
}

func TestDiscoveryReplicas(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080/")
	ok := `{"sessionspec":1,"replicas":["http://127.0.0.1:8081/","http://127.0.0.1:8080/","https://127.0.0.1:9/app"]}`
	d, err := ParseDiscoveryAt([]byte(ok), base)
	if err != nil || len(d.Replicas) != 3 {
		t.Fatalf("%s: %v %v", ok, d.Replicas, err)
	}
	many := `{"sessionspec":1,"replicas":[` + strings.Repeat(`"http://127.0.0.1:1/",`, MaxReplicas) + `"http://127.0.0.1:2/"]}`
	for _, doc := range []string{
		`{"sessionspec":1,"replicas":["http://127.0.0.2:8081/"]}`,
		`{"sessionspec":1,"replicas":["http://localhost:8081/"]}`,
		`{"sessionspec":1,"replicas":["/other"]}`,
		`{"sessionspec":1,"replicas":["//127.0.0.1:8081/"]}`,
		`{"sessionspec":1,"replicas":["ftp://127.0.0.1:8081/"]}`,
		`{"sessionspec":1,"replicas":["http://u:p@127.0.0.1:8081/"]}`,
		`{"sessionspec":1,"replicas":["http://127.0.0.1:8081/?x=1"]}`,
		`{"sessionspec":1,"replicas":["http://127.0.0.1:8081/#f"]}`,
		`{"sessionspec":1,"replicas":"http://127.0.0.1:8081/"}`,
		many,
	} {
		if _, err := ParseDiscoveryAt([]byte(doc), base); err == nil {
			t.Errorf("%s was accepted", doc)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: reason is not one line: %v", doc, err)
		}
	}
}

func TestClockControlIsForLoopbackOnly(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cc := ClockControl{Now: func() time.Time { return now }, Advance: func(_ context.Context, d time.Duration) error {
		now = now.Add(d)
		return nil
	}}
	for _, tc := range []struct {
		host, origin, query string
		want                int
	}{
		{"127.0.0.1:8080", "", "advance=1s", 200},
		{"localhost:8080", "http://localhost:3000", "advance=1s", 200},
		{"[::1]:8080", "", "advance=1s", 200},
		{"evil.example", "", "advance=1s", 403},
		{"127.0.0.1:8080", "https://evil.example", "advance=1s", 403},
		{"127.0.0.1:8080", "null", "advance=1s", 403},
		{"127.0.0.1:8080", "", "advance=876000h", 200},
		{"127.0.0.1:8080", "", "advance=876000h", 200},
		{"127.0.0.1:8080", "", "advance=876000h", 400}, // past ClockLimit: refused, never a stopped clock
		{"127.0.0.1:8080", "", "advance=1h", 200},
	} {
		req := httptest.NewRequest("POST", "/_clock?"+tc.query, nil)
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		before := now
		cc.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("Host %q Origin %q %s: %d %q, want %d", tc.host, tc.origin, tc.query, w.Code, w.Body.String(), tc.want)
		}
		if body := w.Body.String(); strings.Count(body, "\n") != 1 {
			t.Errorf("answer %q is not one line", body)
		}
		if w.Code != http.StatusOK && !now.Equal(before) {
			t.Errorf("a refused advance moved the clock")
		}
	}
}
