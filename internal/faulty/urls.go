package faulty

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// The defects of cookie negotiation: a session id carried in URLs for a
// client that sent no session cookie (it may have cookies off), as the
// Servlet API's URL rewriting and PHP's use_trans_sid do.
const (
	// SessionIDInLinks serves the counter, to a request without a session
	// cookie, as HTML with a link to count again that carries the id as a
	// path parameter, "/counter;jsessionid=<uid>": what
	// HttpServletResponse.encodeURL writes for such a request.
	SessionIDInLinks Fault = "session-id-in-links"
	// SessionIDInRedirect answers the counter, to a request without a
	// session cookie, with a redirect to "/counter?sid=<uid>" (a cookie
	// test, as guard's negotiation did), and takes ?sid= as the session
	// from then on.
	SessionIDInRedirect Fault = "session-id-in-redirect"
)

// urlFaults are the defects of the url cases' resource, each with the
// case that must catch it.
var urlFaults = []Entry{
	{Fault: SessionIDInLinks, CaughtBy: "URL-001"},
	// The counter cases (MUST) fail too: the first visit is a redirect.
	{Fault: SessionIDInRedirect, CaughtBy: "URL-001"},
}

// newURLTarget builds the target of one of urlFaults, or returns nil
// for any other fault.
func newURLTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	if f != SessionIDInLinks && f != SessionIDInRedirect {
		return nil
	}
	site := reference.NewSite(reference.Config{Clock: clock, SessionTimeout: timeout})
	return &urlTarget{fault: f, timeout: timeout, srv: reference.NewServer(site, nil)}
}

type urlTarget struct {
	fault   Fault
	timeout time.Duration
	srv     *reference.Server
}

func (u *urlTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == contract.PathDiscovery {
		d := u.srv.Discovery()
		d.Implementation = "faulty reference (" + string(u.fault) + ")"
		secs := u.timeout.Seconds()
		d.TimeoutSeconds = &secs
		writeJSON(w, d)
		return
	}
	_, cookieErr := r.Cookie(contract.CookieName)
	noCookie := cookieErr != nil
	switch {
	case u.fault == SessionIDInRedirect && r.URL.Path == contract.PathCounter && r.URL.Query().Has("sid"):
		// The id in the URL stands for the cookie.
		r.Header.Set("Cookie", contract.CookieName+"="+r.URL.Query().Get("sid"))
	case u.fault == SessionIDInRedirect && r.URL.Path == contract.PathCounter && noCookie:
		rec := httptest.NewRecorder()
		u.srv.ServeHTTP(rec, r) // makes the session and counts the visit
		uid, ok := newUID(rec.Header().Values("Set-Cookie"))
		if !ok {
			break
		}
		w.Header()["Set-Cookie"] = rec.Header().Values("Set-Cookie")
		http.Redirect(w, r, contract.PathCounter+"?sid="+uid, http.StatusFound)
		return
	case u.fault == SessionIDInLinks && r.URL.Path == contract.PathCounter && noCookie:
		rec := httptest.NewRecorder()
		u.srv.ServeHTTP(rec, r)
		uid, ok := newUID(rec.Header().Values("Set-Cookie"))
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		if ok {
			fmt.Fprintf(w, "\n<p><a href=\"%s;jsessionid=%s\">count again</a></p>\n", contract.PathCounter, uid)
		}
		return
	}
	u.srv.ServeHTTP(w, r)
}

// newUID is the uid of the session cookie among Set-Cookie lines.
func newUID(setCookies []string) (string, bool) {
	for _, sc := range setCookies {
		if v, ok := strings.CutPrefix(sc, contract.CookieName+"="); ok {
			v, _, _ = strings.Cut(v, ";")
			return v, true
		}
	}
	return "", false
}
