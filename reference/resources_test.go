package reference_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// browser is a minimal cookie-keeping client over a handler, with no
// network, so these tests also run under GOOS=wasip1 and js.
type browser struct {
	t      *testing.T
	h      http.Handler
	cookie string // "NAME=VALUE" or ""
}

type answer struct {
	status    int
	body      string
	setCookie []string
	header    http.Header
}

func (b *browser) do(method, target string) answer {
	b.t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1"+target, nil)
	if b.cookie != "" {
		req.Header.Set("Cookie", b.cookie)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	a := answer{status: w.Code, body: w.Body.String(), setCookie: w.Header().Values("Set-Cookie"), header: w.Header()}
	for _, c := range a.setCookie {
		b.cookie, _, _ = strings.Cut(c, ";")
	}
	return a
}

func (b *browser) get(target string) answer { b.t.Helper(); return b.do("GET", target) }

func (b *browser) id() string {
	b.t.Helper()
	a := b.get("/")
	uid, ok := strings.CutPrefix(a.body, "Your session id is: ")
	if a.status != 200 || !ok {
		b.t.Fatalf("GET / = %d %q", a.status, a.body)
	}
	return uid
}

func newServer(t *testing.T, timeout time.Duration) (*reference.Server, *fakeclock.Fake) {
	clock := fakeclock.NewFake(epoch)
	site := reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout})
	return reference.NewServer(site, nil), clock
}

// Session Basics: the id stays the same across reloads, and the cookie is
// sent only when the session is created.
func TestShowSessionStableAcrossReloads(t *testing.T) {
	srv, _ := newServer(t, timeout)
	b := &browser{t: t, h: srv}
	first := b.get("/")
	if len(first.setCookie) != 1 {
		t.Fatalf("first visit Set-Cookie = %q, want one cookie", first.setCookie)
	}
	uid := strings.TrimPrefix(first.body, "Your session id is: ")
	if want := "TWISTED_SESSION=" + uid + "; Path=/; HttpOnly; SameSite=Lax"; first.setCookie[0] != want {
		t.Fatalf("Set-Cookie = %q, want %q", first.setCookie[0], want)
	}
	for range 3 {
		a := b.get("/")
		if a.body != first.body || len(a.setCookie) != 0 {
			t.Fatalf("reload: body %q Set-Cookie %q; want %q and no cookie", a.body, a.setCookie, first.body)
		}
	}
	b.cookie = "" // flush the cookie
	if b.id() == uid {
		t.Fatal("a client without the cookie got the old session")
	}
}

func TestExpireGivesNewSessionAndNoResurrection(t *testing.T) {
	srv, _ := newServer(t, timeout)
	b := &browser{t: t, h: srv}
	old := b.id()
	oldCookie := b.cookie
	if a := b.get("/expire"); a.body != "Your session has been expired." {
		t.Fatalf("GET /expire body %q", a.body)
	}
	if b.id() == old {
		t.Fatal("the session survived /expire")
	}
	b.cookie = oldCookie
	a := b.get("/")
	if strings.Contains(a.body, old) || len(a.setCookie) != 1 || strings.Contains(a.setCookie[0], old) {
		t.Fatalf("an expired uid was accepted again: %q %q", a.body, a.setCookie)
	}
}

func TestHostileCookiesAreNeverAdopted(t *testing.T) {
	srv, _ := newServer(t, timeout)
	live := (&browser{t: t, h: srv}).id()
	for _, c := range []string{
		"TWISTED_SESSION=" + strings.Repeat("a", 64),
		"TWISTED_SESSION=" + strings.ToUpper(live),
		"TWISTED_SESSION=\"" + live + "\"",
		"TWISTED_SESSION=" + live[:63],
		"TWISTED_SESSION=",
		"TWISTED_SESSION",
		"=;;;=;",
		"twisted_session=" + live,
		"TWISTED_SESSION=" + strings.Repeat("x", 8000),
		"TWISTED_SESSION=\x00\xff",
	} {
		b := &browser{t: t, h: srv, cookie: c}
		a := b.get("/")
		if a.status != 200 || strings.Contains(a.body, live) || len(a.setCookie) != 1 {
			t.Errorf("Cookie %.40q: status %d body %q Set-Cookie %q; want a fresh session", c, a.status, a.body, a.setCookie)
		}
	}
	// A valid cookie among junk and duplicates is still found.
	b := &browser{t: t, h: srv, cookie: "TWISTED_SESSION=junk; other=1;TWISTED_SESSION=" + live}
	if a := b.get("/"); !strings.Contains(a.body, live) || len(a.setCookie) != 0 {
		t.Fatalf("live session not found among duplicates: %q %q", a.body, a.setCookie)
	}
}

func TestCounterIsPerSession(t *testing.T) {
	srv, _ := newServer(t, timeout)
	alice, bob := &browser{t: t, h: srv}, &browser{t: t, h: srv}
	for i, want := range []string{"Visit #1 for you!", "Visit #2 for you!", "Visit #3 for you!"} {
		if a := alice.get("/counter"); a.body != want {
			t.Fatalf("alice visit %d: %q, want %q", i+1, a.body, want)
		}
	}
	if a := bob.get("/counter"); a.body != "Visit #1 for you!" {
		t.Fatalf("bob's first visit: %q", a.body)
	}
	alice.get("/expire")
	if a := alice.get("/counter"); a.body != "Visit #1 for you!" {
		t.Fatalf("after expire: %q, want the counter to restart", a.body)
	}
}

// Session Endings: /logme registers one notification per session; it
// fires on timeout and on explicit expiry, and the feed lists each once.
func TestLogMeAndExpiredFeed(t *testing.T) {
	srv, clock := newServer(t, timeout)
	var log strings.Builder
	srv = reference.NewServer(srv.Site(), &log)
	a, b, idle := &browser{t: t, h: srv}, &browser{t: t, h: srv}, &browser{t: t, h: srv}
	for range 3 {
		a.get("/logme")
		b.get("/logme")
	}
	idle.get("/") // never logged: never in the feed
	ua, ub := a.id(), b.id()
	b.get("/expire")
	for range 4 { // keep a alive well past one timeout
		clock.Advance(timeout - time.Second)
		a.get("/logme")
	}
	if got := srv.Expired(); len(got) != 1 || got[0] != ub {
		t.Fatalf("feed = %v, want only %s", got, ub)
	}
	clock.Advance(timeout)
	feed := b.get("/expired")
	if feed.body != ub+"\n"+ua+"\n" {
		t.Fatalf("GET /expired = %q, want %s then %s", feed.body, ub, ua)
	}
	if want := "Session " + ub + " has expired.\nSession " + ua + " has expired.\n"; log.String() != want {
		t.Fatalf("log = %q, want %q", log.String(), want)
	}
}

func TestDiscovery(t *testing.T) {
	srv, _ := newServer(t, 5*time.Second)
	a := (&browser{t: t, h: srv}).get("/.well-known/sessionspec")
	d, err := contract.ParseDiscovery([]byte(a.body))
	if err != nil {
		t.Fatalf("discovery document: %v\n%s", err, a.body)
	}
	five := 5.0
	want := contract.Discovery{Version: 1, Implementation: "sessionspec reference", Cookie: "TWISTED_SESSION", TimeoutSeconds: &five,
		Paths: &contract.Paths{Session: "/", Expire: "/expire", LogMe: "/logme", Expired: "/expired", Counter: "/counter", Clock: "/_clock", Components: "/components", WebSocket: reference.ServedWebSocketPath}}
	if !reflect.DeepEqual(d, want) || len(a.setCookie) != 0 {
		t.Fatalf("discovery = %+v (cookies %q), want %+v and no cookie", d, a.setCookie, want)
	}
	real := reference.NewServer(reference.NewSite(reference.Config{}), nil)
	if real.Discovery().Paths.Clock != "" {
		t.Fatal("a real-clock server advertises a clock")
	}
	if a := (&browser{t: t, h: real}).get("/_clock"); a.status != 404 {
		t.Fatalf("GET /_clock on the real clock = %d, want 404", a.status)
	}
}

func TestClockControl(t *testing.T) {
	srv, clock := newServer(t, timeout)
	b := &browser{t: t, h: srv}
	if a := b.get("/_clock"); a.status != 200 || a.body != "2026-01-01T00:00:00Z\n" {
		t.Fatalf("GET /_clock = %d %q", a.status, a.body)
	}
	b.get("/logme")
	uid := b.id()
	if a := b.do("POST", "/_clock?advance=4.5s"); a.body != "2026-01-01T00:00:04.5Z\n" {
		t.Fatalf("POST advance=4.5s = %q", a.body)
	}
	if a := b.do("POST", "/_clock?advance=500ms"); a.status != 200 || !clock.Now().Equal(epoch.Add(5*time.Second)) {
		t.Fatalf("POST advance=500ms = %d, clock at %s", a.status, clock.Now())
	}
	if feed := b.get("/expired").body; feed != uid+"\n" {
		t.Fatalf("after advancing past the timeout the feed is %q, want %s", feed, uid)
	}
	for _, q := range []string{"", "?advance=", "?advance=-1s", "?advance=5", "?advance=1s&advance=2s",
		"?advance=1s&x=1", "?wait=1s", "?advance=%zz", "?advance=1000000h", "?advance=9999999999999999999s"} {
		a := b.do("POST", "/_clock"+q)
		if a.status != 400 || strings.Count(strings.TrimSpace(a.body), "\n") != 0 || a.body == "" {
			t.Errorf("POST /_clock%s = %d %q, want 400 with a one-line reason", q, a.status, a.body)
		}
	}
	if a := b.get("/_clock?advance=1s"); a.status != 400 {
		t.Errorf("GET with parameters = %d, want 400", a.status)
	}
	if a := b.do("DELETE", "/_clock"); a.status != 405 {
		t.Errorf("DELETE /_clock = %d, want 405", a.status)
	}
	if !clock.Now().Equal(epoch.Add(5 * time.Second)) {
		t.Fatalf("rejected requests moved the clock to %s", clock.Now())
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	srv, _ := newServer(t, timeout)
	b := &browser{t: t, h: srv}
	for _, p := range []string{"/favicon.ico", "/nope", "/expire/x"} {
		if a := b.get(p); a.status != 404 || len(a.setCookie) != 0 {
			t.Errorf("GET %s = %d, Set-Cookie %q; want 404 and no session", p, a.status, a.setCookie)
		}
	}
	if a := b.do("POST", "/"); a.status != 405 || len(a.setCookie) != 0 {
		t.Errorf("POST / = %d %q", a.status, a.setCookie)
	}
}
