package oneline

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"exit status 1:\n  no such file", 100, "exit status 1: no such file"},
		{"abcdef", 3, "abc…"},
		{"héllo", 2, "h…"}, // é is two bytes: cut before it, not inside
		{"", 5, ""},
		{"abc", 0, "…"},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"5 s\n", 40, `"5 s\n"`},
		{"\x00\x80\xdc", 4, `"\x00"…`},
		{"abc", 3, `"abc"`},
		{"abcd", 3, `"abc"…`},
		{"日本", 3, `"日"…`},
	} {
		if got := Quote(tc.in, tc.n); got != tc.want {
			t.Errorf("Quote(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// FuzzQuote: whatever the input, the literal is one line, valid UTF-8,
// within its bound, and unquotes to a prefix of the input when whole
// input was valid UTF-8.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "advance=5s", "\x00\x80\xdc\xdc", "a\nb", "日本語", "\"\\"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n % 300
		if n < 0 {
			n = -n
		}
		q := Quote(s, n)
		if strings.ContainsAny(q, "\r\n") || !utf8.ValidString(q) {
			t.Fatalf("Quote(%q, %d) = %q: not one valid line", s, n, q)
		}
		body := strings.TrimSuffix(q, Ellipsis)
		if len(body) > n+2 {
			t.Fatalf("Quote(%q, %d) = %q: %d bytes", s, n, q, len(body))
		}
		u, err := strconv.Unquote(body)
		if err != nil {
			t.Fatalf("Quote(%q, %d) = %q does not unquote: %v", s, n, q, err)
		}
		if !strings.HasPrefix(s, u) {
			t.Fatalf("Quote(%q, %d) unquotes to %q, not a prefix", s, n, u)
		}
		c := Clip(s, n)
		if strings.ContainsAny(c, "\r\n") || len(strings.TrimSuffix(c, Ellipsis)) > n {
			t.Fatalf("Clip(%q, %d) = %q", s, n, c)
		}
	})
}
