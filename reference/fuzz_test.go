package reference

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
)

// FuzzGetSession: whatever Cookie header a client sends, the site never
// panics and never hands out a session it did not issue to that id: the
// client gets the live session its cookie names exactly, or a new one with
// a fresh uid and a Set-Cookie.
func FuzzGetSession(f *testing.F) {
	live := strings.Repeat("ab", 32)
	for _, seed := range []string{
		"", "TWISTED_SESSION=" + live, "TWISTED_SESSION=\"" + live + "\"", "TWISTED_SESSION=" + live[:63],
		"a=b; TWISTED_SESSION=" + live + "; c", ";;;==;", "TWISTED_SESSION=" + strings.ToUpper(live),
		"TWISTED_SESSION= " + live, "\x00\xff=\x01",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		clock := fakeclock.NewFake(time.Unix(0, 0))
		rnd := strings.NewReader(strings.Repeat("\xab", 32) + strings.Repeat("\x01", 32*8))
		site := NewSite(Config{Clock: clock, Random: rnd})
		first, err := site.MakeSession()
		if err != nil || first.UID() != live {
			t.Fatalf("setup: %v %s", err, first.UID())
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		s, err := site.GetSession(w, req)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		names := false
		for _, v := range cookieValues(req.Header, contract.CookieName) {
			names = names || v == live
		}
		switch {
		case s == first && !names:
			t.Fatalf("Cookie %q was given the live session without naming it", cookie)
		case s != first && names:
			t.Fatalf("Cookie %q names the live session but got a new one", cookie)
		case s != first && (s.UID() == live || len(w.Header().Values("Set-Cookie")) != 1):
			t.Fatalf("a new session for %q: uid %s, Set-Cookie %q", cookie, s.UID(), w.Header().Values("Set-Cookie"))
		case s != first && !wellFormedUID(s.UID()):
			t.Fatalf("malformed new uid %q", s.UID())
		}
	})
}
