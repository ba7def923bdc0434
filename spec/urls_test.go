package spec

import (
	"net/http"
	"slices"
	"testing"
)

func TestURLsOfAnAnswer(t *testing.T) {
	r := &Response{
		Header: http.Header{"Location": {"/a"}, "Content-Location": {"/b"}, "Refresh": {"5; url=/c"}},
		Body: `Your session id is: 0123456789abcdef <a href="/d?x=1&amp;y=2">d</a> <img SRC='/e'>
<form action=/f><button formaction="/g"></form><meta http-equiv="refresh" content="0;URL='/h'">`,
	}
	want := []string{"/a", "/b", "/c", "/d?x=1&y=2", "/e", "/f", "/g", "/h"}
	if got := urlsOf(r); !slices.Equal(got, want) {
		t.Fatalf("urlsOf = %q, want %q", got, want)
	}
}

func TestSessionIDsInURLs(t *testing.T) {
	p := &Probe{T: &Target{Cookie: "JSESSIONID"}}
	ids := map[string]bool{"0123456789ABCDEF": true, "short": true}
	for raw, leaks := range map[string]bool{
		"/counter;jsessionid=0123456789ABCDEF": true,
		"/counter;jsessionid=unknown":          true, // a path parameter naming a session, whatever its value
		"/counter?id=0123456789abcdef":         true, // the id, in another case
		"/x/0123456789ABCDEF/y":                true,
		"/x?next=%2F%3Fs%3D0123456789ABCDEF":   true, // escaped
		"/?PHPSESSID=abc":                      true,
		"/?jsessionid=abc":                     true,
		"/?sid=abc":                            true,
		"/__session_key__abc/":                 true,
		"/counter":                             false,
		"/counter?short=1":                     false, // ids under 8 characters are not looked for
		"/?sid=":                               false,
		"/static;v=2":                          false,
		"https://example.com/?q=session+tips":  false,
	} {
		if why := p.idInURL(raw, ids); (why != "") != leaks {
			t.Errorf("%s: %q, want a leak: %v", raw, why, leaks)
		}
	}
}
