package browser

import (
	"bufio"
	"embed"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// A walk-through is one seed document's step-by-step text as a script
// that `sessionspec replay` (Browser.Replay) performs in Chromium. The
// scripts are small text files in replay/, embedded in the package: the
// seed's paragraphs quoted verbatim (the project cites its specification,
// as the cases' Seed sentences do), and under each paragraph the steps
// its reader takes. The grammar, one "key: value" line each, '#' starts a
// comment line:
//
//	id: basics                         the page's name (basics.html)
//	title: Session Basics              its heading
//	source: Twisted Web: Session Basics   the document cited (a spec source)
//	needs: expire, counter             the resources beyond the session page
//	paragraph: <text>                  a paragraph of the seed, verbatim
//	step: <action>; <action>; ...      a step of the paragraph above it
//	as: bob                            the step's user (default alice): a browser of its own
//	claim: <text>                      what the step checks: verbatim, part of its paragraph
//	judge: <judgement>, <judgement>    how; every judgement must hold
//
// Actions: "open NAME" (a resource of the target: session, expire, logme,
// counter), "reload", "back", "flush" (delete the session cookie from the
// browser), "wait alive|full|visit" (let the target's time pass with no
// visit: alive is the timeout less a second — less the tolerance too on
// the wall clock —, full the timeout and a second, visit a gap shorter
// than the timeout: the timeout less a second on a controlled clock, half
// of it on the wall clock).
//
// Judgements, made on the step's last page and the user's cookie jar,
// against what the user's earlier steps saw: "id" (the page shows a
// session id and the browser holds the session cookie), "same-id",
// "new-id", "same-cookie" (the browser still holds the session cookie it
// held when the page last showed the id: a page that shows no id, such as
// /logme, judged by the cookie; n/a where the cookie is not the id),
// "expired-page" (the expire resource's answer), "count=N" (the counter
// shows N), "not-notified" (no expiry notification yet for the user's
// session) and "notified" (exactly one, waiting briefly for it).

//go:embed replay/*.txt
var scriptFiles embed.FS

// Walkthrough is one seed document's walk-through as a script: its
// paragraphs, verbatim, and the steps a reader takes under each.
type Walkthrough struct {
	ID         string          `json:"id"`
	Title      string          `json:"title"`
	Source     string          `json:"source"`
	Needs      []spec.Resource `json:"needs,omitempty"`
	Paragraphs []string        `json:"paragraphs"`
	Steps      []ScriptStep    `json:"steps"`
}

// ScriptStep is one step of a walk-through.
type ScriptStep struct {
	Paragraph int      `json:"paragraph"` // index into Walkthrough.Paragraphs
	User      string   `json:"user"`
	Do        []string `json:"do"`
	Claim     string   `json:"claim,omitempty"`
	Judge     []string `json:"judge"`
}

// Walkthroughs returns the embedded walk-throughs, in the order the
// seeds introduce them: "Session Basics", "Session Endings", the counter
// of the twisted-web thread. Each call parses them afresh.
//
//	for _, w := range browser.Walkthroughs() {
//		fmt.Println(w.ID, w.Title, len(w.Steps))
//	}
func Walkthroughs() []*Walkthrough {
	var out []*Walkthrough
	for _, name := range []string{"basics.txt", "endings.txt", "counter.txt"} {
		f, err := scriptFiles.Open(path.Join("replay", name))
		if err != nil {
			panic("browser: embedded walk-through: " + err.Error())
		}
		w, err := ParseWalkthrough(name, f)
		f.Close()
		if err != nil {
			panic("browser: embedded walk-through: " + err.Error()) // a bug: TestWalkthroughsParse
		}
		out = append(out, w)
	}
	return out
}

// ParseWalkthrough reads a walk-through script (the grammar is in the
// package source, replay_script.go); name is for the errors, which are one
// line each, with the line number.
//
//	w, err := browser.ParseWalkthrough("mine.txt", f)
func ParseWalkthrough(name string, r io.Reader) (*Walkthrough, error) {
	w := &Walkthrough{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	fail := func(format string, args ...any) (*Walkthrough, error) {
		return nil, fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
	}
	var cur *ScriptStep
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return fail("want key: value, got %q", line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "id":
			w.ID = val
		case "title":
			w.Title = val
		case "source":
			w.Source = val
		case "needs":
			for r := range strings.SplitSeq(val, ",") {
				r = strings.TrimSpace(r)
				switch spec.Resource(r) {
				case spec.Expire, spec.LogMe, spec.Expired, spec.Counter:
					w.Needs = append(w.Needs, spec.Resource(r))
				default:
					return fail("needs: unknown resource %q (want expire, logme, expired, counter)", r)
				}
			}
		case "paragraph":
			w.Paragraphs = append(w.Paragraphs, strings.Join(strings.Fields(val), " "))
			cur = nil
		case "step":
			if len(w.Paragraphs) == 0 {
				return fail("a step before any paragraph")
			}
			w.Steps = append(w.Steps, ScriptStep{Paragraph: len(w.Paragraphs) - 1, User: "alice"})
			cur = &w.Steps[len(w.Steps)-1]
			for a := range strings.SplitSeq(val, ";") {
				a = strings.Join(strings.Fields(a), " ")
				if err := checkAction(a); err != nil {
					return fail("%v", err)
				}
				cur.Do = append(cur.Do, a)
			}
		case "as", "claim", "judge":
			if cur == nil {
				return fail("%s: before a step", key)
			}
			switch key {
			case "as":
				if val == "" || strings.ContainsAny(val, " \t") {
					return fail("as: want one word, got %q", val)
				}
				cur.User = val
			case "claim":
				val = strings.Join(strings.Fields(val), " ")
				if !strings.Contains(w.Paragraphs[cur.Paragraph], val) {
					return fail("claim %q is not in the paragraph above it", val)
				}
				cur.Claim = val
			case "judge":
				for j := range strings.SplitSeq(val, ",") {
					j = strings.TrimSpace(j)
					if err := checkJudgement(j); err != nil {
						return fail("%v", err)
					}
					cur.Judge = append(cur.Judge, j)
				}
			}
		default:
			return fail("unknown key %q", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	switch {
	case w.ID == "" || w.Title == "" || w.Source == "":
		return nil, fmt.Errorf("%s: id, title and source are required", name)
	case len(w.Steps) == 0:
		return nil, fmt.Errorf("%s: no step", name)
	}
	for i, s := range w.Steps {
		if len(s.Judge) == 0 {
			return nil, fmt.Errorf("%s: step %d has no judge", name, i+1)
		}
	}
	return w, nil
}

// pageNames are the resources an "open" action may name.
var pageNames = []string{"session", "expire", "logme", "counter"}

func checkAction(a string) error {
	verb, arg, _ := strings.Cut(a, " ")
	switch verb {
	case "open":
		if !slices.Contains(pageNames, arg) {
			return fmt.Errorf("open %q: want one of %s", arg, strings.Join(pageNames, ", "))
		}
	case "wait":
		if arg != "alive" && arg != "full" && arg != "visit" {
			return fmt.Errorf("wait %q: want alive, full or visit", arg)
		}
	case "reload", "back", "flush":
		if arg != "" {
			return fmt.Errorf("%s takes no argument", verb)
		}
	default:
		return fmt.Errorf("unknown action %q (want open, reload, back, flush, wait)", a)
	}
	return nil
}

func checkJudgement(j string) error {
	if rest, ok := strings.CutPrefix(j, "count="); ok {
		if _, err := strconv.Atoi(rest); err != nil {
			return fmt.Errorf("judge %q: want count=N", j)
		}
		return nil
	}
	switch j {
	case "id", "same-id", "new-id", "same-cookie", "expired-page", "notified", "not-notified":
		return nil
	}
	return fmt.Errorf("unknown judgement %q (want id, same-id, new-id, same-cookie, expired-page, count=N, notified, not-notified)", j)
}

// waits are the "wait" actions of the walk-through, in order.
func (w *Walkthrough) waits() []string {
	var out []string
	for _, s := range w.Steps {
		for _, a := range s.Do {
			if arg, ok := strings.CutPrefix(a, "wait "); ok {
				out = append(out, arg)
			}
		}
	}
	return out
}

// WallWait is how long the walk-through waits on the wall clock against
// t: 0 on a controlled clock, where it advances the target's clock
// instead. `sessionspec replay` refuses to wait longer than --max-wait.
//
//	if d := w.WallWait(target); d > maxWait { ... }
func (w *Walkthrough) WallWait(t *spec.Target) time.Duration {
	if t.Controlled() {
		return 0
	}
	var sum time.Duration
	for _, name := range w.waits() {
		sum += wallWait(t, name)
	}
	return sum
}

// wallWait is one wait on the wall clock, as spec.Probe's Alive, Full
// and BROWSER-002's gap between visits make it.
func wallWait(t *spec.Target, name string) time.Duration {
	switch name {
	case "alive":
		return t.Timeout - spec.Overshoot - t.Tolerance
	case "full":
		return t.Timeout + spec.Overshoot + t.Tolerance
	}
	return t.Timeout / 2
}
