//go:build !wasm

package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/sessionspec/sessionspec/spec"
)

// Replay is what Browser.Replay did: each walk-through against one
// target, step by step.
type Replay struct {
	Target   string        `json:"target"`
	URL      string        `json:"url"`
	Clock    string        `json:"clock"` // "controlled" or "wall"
	Timeout  time.Duration `json:"timeout"`
	Cookie   string        `json:"cookie"`
	Started  time.Time     `json:"started"`
	Seconds  float64       `json:"seconds"`
	Walks    []*Replayed   `json:"walks"`
	Problems []string      `json:"problems,omitempty"`
}

// Replayed is one walk-through as it played: its outcome (pass: every
// claim held; fail: one did not; n/a: the target lacks a resource it
// needs; error, interrupted) and its steps.
type Replayed struct {
	Walkthrough *Walkthrough `json:"walkthrough"`
	Outcome     spec.Outcome `json:"outcome"`
	Message     string       `json:"message,omitempty"`
	Seconds     float64      `json:"seconds"`
	Steps       []ReplayStep `json:"steps"`
}

// ReplayStep is one step as it played: what the browser did, the page it
// showed (and its screenshot, PNG), the user's cookie jar afterwards and
// the verdict on the step's claim with its reason in one line.
type ReplayStep struct {
	N          int          `json:"n"`
	Paragraph  int          `json:"paragraph"`
	User       string       `json:"user"`
	Did        []string     `json:"did"`
	URL        string       `json:"url"`
	Status     int64        `json:"status"`
	Text       string       `json:"text"`
	Screenshot []byte       `json:"-"`
	Jar        []JarCookie  `json:"jar"`
	Claim      string       `json:"claim,omitempty"`
	Mark       spec.Outcome `json:"mark"` // pass, fail or n/a
	Reason     string       `json:"reason"`
}

// JarCookie is a cookie of the browser's jar, its value cut short.
type JarCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"` // the first 12 characters, then "…" and the length
	Path     string `json:"path"`
	Expires  string `json:"expires"` // "browser session", or the time
	HTTPOnly bool   `json:"httpOnly"`
	SameSite string `json:"sameSite,omitempty"`
	Session  bool   `json:"session"` // the target's session cookie
}

// ExitCode is the replay's exit code: 2 a walk-through could not run
// (harness or target error, interrupted), 1 a claim did not hold, 3 a
// walk-through was not applicable (the target lacks a resource it needs),
// else 0.
func (r *Replay) ExitCode() int {
	code := spec.ExitPass
	for _, w := range r.Walks {
		switch w.Outcome {
		case spec.Errored, spec.Interrupted:
			return spec.ExitHarness
		case spec.Failed:
			code = spec.ExitFail
		case spec.NotApplicable:
			if code == spec.ExitPass {
				code = spec.ExitIncomplete
			}
		}
	}
	if len(r.Problems) > 0 {
		return spec.ExitHarness
	}
	return code
}

// replayArea is the area of the cases that play the walk-throughs.
const replayArea = "replay"

// Replay performs each walk-through against t in b's Chromium, one after
// another (a case of its own each, run by spec.Run, so that the target's
// discovery, clock and expiry feed are used as the suite uses them): every
// step's actions, a screenshot of the page, the cookie jar, and the
// verdict on the step's claim. A claim that does not hold fails its step
// and the walk-through goes on. The error is one that kept the run from
// starting (an unreachable target, a clock that does not move); a target
// that stops answering midway ends its walk-through as an error.
//
//	b, err := browser.Start(ctx, browser.Options{Screenshots: tmp})
//	...
//	r, err := b.Replay(ctx, target, browser.Walkthroughs())
//	os.Exit(r.ExitCode())
func (b *Browser) Replay(ctx context.Context, t *spec.Target, walks []*Walkthrough) (*Replay, error) {
	outs := make([]*Replayed, len(walks))
	cases := make([]spec.Case, len(walks))
	for i, w := range walks {
		outs[i] = &Replayed{Walkthrough: w}
		cases[i] = b.replayCase(w, outs[i])
	}
	rep, err := spec.Run(ctx, t, spec.Options{Cases: cases, Parallel: 1})
	if err != nil {
		return nil, err
	}
	r := &Replay{Target: rep.Target, URL: rep.URL, Clock: rep.Clock, Timeout: time.Duration(rep.Timeout * float64(time.Second)),
		Cookie: rep.Cookie, Started: rep.Started, Seconds: rep.Seconds, Walks: outs, Problems: rep.Problems}
	for i, res := range rep.Results {
		outs[i].Outcome, outs[i].Message, outs[i].Seconds = res.Outcome, res.Message, res.Seconds
	}
	return r, nil
}

// replayCase is the case that plays w into out.
func (b *Browser) replayCase(w *Walkthrough, out *Replayed) spec.Case {
	needs := append([]spec.Resource(nil), w.Needs...)
	if len(w.waits()) > 0 {
		needs = append(needs, spec.Time)
	}
	id := "REPLAY-" + strings.ToUpper(w.ID)
	return spec.Case{
		ID: id, Level: spec.Must, Area: replayArea, Title: w.Title, Source: w.Source, Needs: needs,
		Check: func(p *spec.Probe) { b.play(p, id, func(s *scenario) { s.replay(w, out) }) },
	}
}

// replayUser is a user of a walk-through: a browser context of its own,
// and what its pages last showed.
type replayUser struct {
	t          *tab
	id         string // the session the user's pages last showed
	cookie     string // the session cookie's value when they did
	cookieIsID bool   // the cookie's value is the id the page shows
	idStep     int    // the step that saw it
}

// replay plays w's steps, recording each in out.
func (s *scenario) replay(w *Walkthrough, out *Replayed) {
	p := s.p
	p.NeedTime(w.WallWait(p.T))
	users := map[string]*replayUser{}
	var failed []string
	for i, st := range w.Steps {
		u := users[st.User]
		if u == nil {
			u = &replayUser{t: s.user(st.User)}
			users[st.User] = u
		}
		rs := ReplayStep{N: i + 1, Paragraph: st.Paragraph, User: st.User, Claim: st.Claim}
		slug := fmt.Sprintf("step-%02d", i+1)
		var pg *shown
		shot := ""
		for _, a := range st.Do {
			verb, arg, _ := strings.Cut(a, " ")
			var v shown
			switch verb {
			case "open":
				path := p.T.Paths.Get(arg)
				if path == "" {
					s.notApplicable("the target has no %s resource (step %d: %s)", arg, i+1, a)
				}
				v = u.t.open(slug, path)
				rs.Did = append(rs.Did, "opened "+v.URL)
			case "reload":
				v = u.t.reload(slug)
				rs.Did = append(rs.Did, "reloaded "+v.URL)
			case "back":
				v = u.t.back(slug)
				rs.Did = append(rs.Did, "went back to "+v.URL)
			case "flush":
				u.t.flushCookie(slug)
				shot = s.shotPath(u.t, slug)
				rs.Did = append(rs.Did, "flushed the "+p.T.Cookie+" cookie from the browser")
				continue
			case "wait":
				d := s.waitFor(arg)
				how := "advanced the target's clock"
				if !p.T.Controlled() {
					how = "waited on the wall clock"
				}
				s.idle(d)
				rs.Did = append(rs.Did, fmt.Sprintf("no visit for %s (%s)", d, how))
				continue
			}
			pg = &v
			shot = s.shotPath(u.t, slug)
		}
		if shot == "" {
			s.shot(u.t, slug, "the page after: "+strings.Join(rs.Did, "; "))
			shot = s.shotPath(u.t, slug)
		}
		png, err := os.ReadFile(shot)
		if err != nil {
			p.Abort("reading the screenshot of step %d: %v", i+1, err)
		}
		rs.Screenshot = png
		if pg != nil {
			rs.URL, rs.Status, rs.Text = pg.URL, pg.status, excerpt(pg.Text, 300)
		}
		jar := u.t.jar()
		cookie := s.sessionCookie(jar)
		for _, c := range jar {
			rs.Jar = append(rs.Jar, jarCookie(c, cookie == c))
		}
		rs.Mark, rs.Reason = s.judge(u, st, pg, cookie)
		p.Tr.Note("replay %s step %d [%s] %s\n  claim: %q\n  %s: %s", w.ID, i+1, st.User, strings.Join(rs.Did, "; "), st.Claim, rs.Mark, rs.Reason)
		if rs.Mark == spec.Failed {
			failed = append(failed, fmt.Sprintf("step %d, %q: %s", i+1, st.Claim, rs.Reason))
		}
		// What the user holds now, for the next steps' judgements.
		if pg != nil {
			if id, ok := pageID(p, pg, cookie); ok {
				u.id, u.idStep = id, i+1
				u.cookie, u.cookieIsID = "", false
				if cookie != nil {
					u.cookie, u.cookieIsID = cookie.Value, cookie.Value == id
				}
			} else if u.cookieIsID && cookie != nil && cookie.Value != u.cookie {
				// A page without the id (logme) that came with a new
				// session cookie: that cookie is the user's session now.
				u.id, u.cookie, u.idStep = cookie.Value, cookie.Value, i+1
			}
		}
		out.Steps = append(out.Steps, rs)
	}
	if len(failed) > 0 {
		p.Fail("%d of %d steps did not hold: %s", len(failed), len(w.Steps), strings.Join(failed, "; "))
	}
}

// shotPath is the screenshot the tab's last step saved (scenario.save's
// name).
func (s *scenario) shotPath(t *tab, slug string) string {
	return filepath.Join(s.b.ScreenshotDir(), fmt.Sprintf("%s-%02d-%s.png", s.id, s.step, slugify(t.name+"-"+slug)))
}

// waitFor is how long a "wait" action lets pass.
func (s *scenario) waitFor(name string) time.Duration {
	p := s.p
	switch name {
	case "alive":
		return p.Alive()
	case "full":
		return p.Full()
	}
	if p.T.Controlled() {
		return p.T.Timeout - p.Margin()
	}
	return p.T.Timeout / 2
}

// pageID is the session id a page shows (or, for a target that says its
// cookie stands for it, the session cookie's value).
func pageID(p *spec.Probe, pg *shown, cookie *network.Cookie) (string, bool) {
	if id, ok := (&spec.Response{Body: pg.Text}).SessionID(); ok {
		return id, true
	}
	if p.T.IDFromCookie && cookie != nil {
		return cookie.Value, true
	}
	return "", false
}

// judge makes every judgement of step st on the page pg (nil: the step
// showed no new page) and the session cookie the browser holds, against
// what u's earlier steps saw. The verdict is fail if one fails, else n/a
// if one is n/a, else pass; the reason joins theirs.
func (s *scenario) judge(u *replayUser, st ScriptStep, pg *shown, cookie *network.Cookie) (spec.Outcome, string) {
	verdict := spec.Passed
	var reasons []string
	for _, j := range st.Judge {
		o, why := s.judgeOne(u, j, pg, cookie)
		switch {
		case o == spec.Failed:
			verdict = spec.Failed
		case o == spec.NotApplicable && verdict == spec.Passed:
			verdict = spec.NotApplicable
		}
		reasons = append(reasons, why)
	}
	return verdict, strings.Join(reasons, "; ")
}

func (s *scenario) judgeOne(u *replayUser, j string, pg *shown, cookie *network.Cookie) (spec.Outcome, string) {
	p := s.p
	name := p.T.Cookie
	if pg == nil && j != "notified" && j != "not-notified" && j != "same-cookie" {
		return spec.NotApplicable, "the step showed no page"
	}
	var id string
	var shows bool
	if pg != nil {
		id, shows = pageID(p, pg, cookie)
	}
	noID := func() (spec.Outcome, string) {
		return spec.Failed, fmt.Sprintf("the page shows no session id: %s", pg)
	}
	switch {
	case j == "id":
		switch {
		case !shows:
			return noID()
		case cookie == nil:
			return spec.Failed, fmt.Sprintf("the page shows session %s, but the browser holds no %s cookie for it", short(id), name)
		}
		return spec.Passed, fmt.Sprintf("a session: the page shows %s and the browser holds its %s cookie", short(id), name)
	case j == "same-id":
		switch {
		case u.id == "":
			return spec.NotApplicable, "no earlier step showed this user's session"
		case !shows:
			return noID()
		case id != u.id:
			return spec.Failed, fmt.Sprintf("a new session %s: the session %s of step %d is gone", short(id), short(u.id), u.idStep)
		}
		return spec.Passed, fmt.Sprintf("the same session %s as at step %d", short(id), u.idStep)
	case j == "new-id":
		switch {
		case u.id == "":
			return spec.NotApplicable, "no earlier step showed this user's session"
		case !shows:
			return noID()
		case id == u.id:
			return spec.Failed, fmt.Sprintf("still the session %s of step %d", short(id), u.idStep)
		}
		return spec.Passed, fmt.Sprintf("a new session %s (it was %s at step %d)", short(id), short(u.id), u.idStep)
	case j == "same-cookie":
		switch {
		case u.cookie == "":
			return spec.NotApplicable, "no earlier step saw this user's session cookie"
		case !u.cookieIsID:
			return spec.NotApplicable, fmt.Sprintf("the %s cookie is not the session id the page shows, so a page without the id cannot be judged by it", name)
		case cookie == nil:
			return spec.Failed, fmt.Sprintf("the browser holds no %s cookie any more", name)
		case cookie.Value != u.cookie:
			return spec.Failed, fmt.Sprintf("the target set a new %s cookie, %s: a new session; the session %s of step %d is gone", name, short(cookie.Value), short(u.cookie), u.idStep)
		}
		return spec.Passed, fmt.Sprintf("the browser still holds the %s cookie of session %s (step %d)", name, short(u.cookie), u.idStep)
	case j == "expired-page":
		if pg.status != 200 || !strings.Contains(pg.Text, "Your session has been expired.") {
			return spec.Failed, fmt.Sprintf("want 200 and \"Your session has been expired.\"; the browser shows %s", pg)
		}
		return spec.Passed, "the page says \"Your session has been expired.\""
	case strings.HasPrefix(j, "count="):
		want := 0
		fmt.Sscan(strings.TrimPrefix(j, "count="), &want)
		n, ok := (&spec.Response{Body: pg.Text}).Number()
		switch {
		case !ok:
			return spec.Failed, fmt.Sprintf("the counter page shows no number: %s", pg)
		case n != want:
			return spec.Failed, fmt.Sprintf("the counter shows %d, want %d", n, want)
		}
		return spec.Passed, fmt.Sprintf("the counter shows %d", n)
	case j == "not-notified":
		if u.id == "" {
			return spec.NotApplicable, "no earlier step showed this user's session"
		}
		if n := p.CountNotifications(u.id); n > 0 {
			return spec.Failed, fmt.Sprintf("the expiry notification of session %s has fired (%d): it ended while it was being visited", short(u.id), n)
		}
		return spec.Passed, fmt.Sprintf("no expiry notification for session %s", short(u.id))
	case j == "notified":
		if u.id == "" {
			return spec.NotApplicable, "no earlier step showed this user's session"
		}
		switch n := p.NotificationsFor(u.id); n {
		case 1:
			return spec.Passed, fmt.Sprintf("\"Session %s has expired.\": its notification fired once", short(u.id))
		case 0:
			return spec.Failed, fmt.Sprintf("no expiry notification for session %s after no visit for its timeout (%s)", short(u.id), p.T.Timeout)
		default:
			return spec.Failed, fmt.Sprintf("the expiry notification of session %s fired %d times, want once", short(u.id), n)
		}
	}
	return spec.Failed, "unknown judgement " + j // ParseWalkthrough admits none
}

// short cuts a session id or cookie value for a reason or a jar:
// its first 12 characters.
func short(v string) string {
	if len(v) <= 12 {
		return v
	}
	return v[:12] + "…"
}

// jarCookie is c as a replay step records it.
func jarCookie(c *network.Cookie, session bool) JarCookie {
	j := JarCookie{Name: c.Name, Value: short(c.Value), Path: c.Path, HTTPOnly: c.HTTPOnly, SameSite: string(c.SameSite), Session: session}
	if len(c.Value) > 12 {
		j.Value = fmt.Sprintf("%s (%d characters)", j.Value, len(c.Value))
	}
	j.Expires = "browser session"
	if !c.Session {
		j.Expires = time.Unix(int64(c.Expires), 0).UTC().Format(time.RFC1123)
	}
	return j
}
