// Package oneline fits text from the other side into one short line of
// an error message or log: whatever a target, a browser or a command
// sends, a reason quoting it stays one line of bounded length.
//
//	err := fmt.Errorf("advance=%s is not a duration", oneline.Quote(v, 40))
//	log.Printf("redis unreachable: %s", oneline.Clip(err.Error(), 300))
package oneline

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Ellipsis ends a line that was cut.
const Ellipsis = "…"

// Clip joins s's lines and runs of white space into single spaces and
// keeps at most n bytes of the result, cut at a character boundary and
// ending in Ellipsis when something was left out.
//
//	oneline.Clip("exit status 1:\n  no such file", 100) // "exit status 1: no such file"
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}

// Quote is s as a Go string literal of at most n bytes between its
// quotes: control characters, newlines and invalid UTF-8 are escaped,
// and a literal that would be longer is cut between two escapes and
// followed by Ellipsis.
//
//	oneline.Quote("5 s\n", 40)     // "\"5 s\\n\""
//	oneline.Quote("\x00\x80…", 4) // "\"\\x00\"…"
func Quote(s string, n int) string {
	var b strings.Builder
	b.WriteByte('"')
	used := 0
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		q := strconv.Quote(s[i : i+w])
		piece := q[1 : len(q)-1]
		if used+len(piece) > n {
			b.WriteByte('"')
			b.WriteString(Ellipsis)
			return b.String()
		}
		b.WriteString(piece)
		used += len(piece)
		i += w
	}
	b.WriteByte('"')
	return b.String()
}
