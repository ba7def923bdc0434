//go:build !wasm

package browser

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"

	"github.com/sessionspec/sessionspec/internal/oneline"
	"github.com/sessionspec/sessionspec/spec"
)

// scenario is one browser case as it plays: the probe of package spec,
// the Browser it plays in (whose turn it holds), the tabs it opened and
// the steps it took.
type scenario struct {
	p        *spec.Probe
	id       string
	b        *Browser
	c        *chromium // the Browser's Chromium; a new one after restart
	step     int
	tabs     []*tab
	skipping bool // the case ends as not applicable: no failure evidence
}

// scenarioCase makes a browser case of b whose body plays a scenario. A
// nil b makes the case of Catalogue: its Check ends as an error that
// says to use (*Browser).Cases.
func scenarioCase(b *Browser, c spec.Case, body func(s *scenario)) spec.Case {
	id := c.ID
	c.Check = func(p *spec.Probe) { b.play(p, id, body) }
	return c
}

// play runs body with the Browser's turn and closes every tab it opened.
// A case that fails (or panics, or aborts) first gets the evidence of
// every open tab.
func (b *Browser) play(p *spec.Probe, id string, body func(*scenario)) {
	c, release := b.take(p, id)
	defer release()
	s := &scenario{p: p, id: id, b: b, c: c}
	defer s.close()
	defer func() {
		if r := recover(); r != nil {
			if !s.skipping {
				s.evidence()
			}
			panic(r)
		}
	}()
	body(s)
}

// notApplicable ends the case as not applicable, without failure
// evidence.
func (s *scenario) notApplicable(format string, args ...any) {
	s.skipping = true
	s.p.NotApplicable(format, args...)
}

// stepTimeout bounds one browser step: a page load is a request to the
// target and then some rendering.
func (s *scenario) stepTimeout() time.Duration { return s.p.T.RequestTimeout + 5*time.Second }

// user opens a new user: an isolated browser context of the Browser's
// Chromium (its own cookie jar, empty) with one tab.
func (s *scenario) user(name string) *tab {
	ctx, cancel, err := s.c.userContext(s.p.Context(), s.stepTimeout())
	if err != nil {
		s.p.Abort("opening a browser context for %s: %v (Chromium did not answer in time, e.g. on a loaded machine: a longer --request-timeout gives every browser step longer)", name, oneline.Clip(err.Error(), 300))
	}
	return s.attach(name, ctx, cancel, s.c, false)
}

// person returns the first tab of the Browser's Chromium, in its default
// browser context: the one whose cookie jar is kept in the profile on
// disk, as a person's browser keeps it. No other case uses it, and it
// starts with the jar emptied, so that an earlier run on the same
// Browser leaves nothing in it.
func (s *scenario) person(name string) *tab {
	t := s.attach(name, s.c.ctx, func() {}, s.c, true)
	t.do("emptying the cookie jar of the browser's default context", func(ctx context.Context) error {
		_, err := chromedp.CallBrowser(ctx, storage.ClearCookies, storage.ClearCookiesParams{})
		return err
	})
	return t
}

// restart closes the Browser's Chromium, as a person closes the browser,
// calls closed (if not nil; it must not panic) while no browser runs, and
// starts it again on the same profile; it returns the new first tab.
func (s *scenario) restart(name string, closed func()) *tab {
	for _, t := range s.tabs {
		if t.first {
			t.closed = true
			t.unwatch()
		}
	}
	c, err := s.b.restart(s.p.Context(), closed)
	if err != nil {
		s.p.Abort("%v", err)
	}
	s.c = c
	return s.attach(name, c.ctx, func() {}, c, true)
}

// tab is one browser tab the case drives.
type tab struct {
	s       *scenario
	name    string
	ctx     context.Context
	cancel  context.CancelFunc
	unwatch func() bool
	browser *chromium
	first   bool // the browser's first tab, which lives as long as the browser
	closed  bool
}

// newTab opens another tab in the browser context of t: the same user.
func (t *tab) newTab(name string) *tab {
	ctx, cancel := chromedp.NewContext(t.ctx)
	// The first run makes the tab and binds it to ctx: no deadline on it.
	err := bounded(t.s.p.Context(), t.s.stepTimeout(), cancel, func() error { return chromedp.Do(ctx) })
	if err != nil {
		t.s.p.Abort("opening a second tab for %s: %v", name, oneline.Clip(err.Error(), 300))
	}
	return t.s.attach(name, ctx, cancel, t.browser, false)
}

// attach makes a tab of a chromedp context that has run once.
func (s *scenario) attach(name string, ctx context.Context, cancel context.CancelFunc, b *chromium, first bool) *tab {
	t := &tab{s: s, name: name, ctx: ctx, cancel: cancel, browser: b, first: first}
	s.tabs = append(s.tabs, t)
	// An interrupted case closes its tabs at once.
	t.unwatch = context.AfterFunc(s.p.Context(), cancel)
	// The browser asks for /favicon.ico by itself; a target that makes a
	// session for any request would give the user one more session.
	t.do("blocking /favicon.ico", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/favicon.ico", Block: true}},
		})
		return err
	})
	return t
}

// do runs one browser action, bounded by the step timeout. A browser
// that fails to do it, or a target it cannot load, is a harness or target
// error (exit code 2), not a conformance failure.
func (t *tab) do(what string, f func(ctx context.Context) error) {
	if err := t.try(f); err != nil {
		t.s.p.Abort("browser [%s]: %s: %v", t.name, what, oneline.Clip(err.Error(), 300))
	}
}

func (t *tab) try(f func(ctx context.Context) error) error {
	if t.closed {
		return errors.New("the tab is closed")
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.s.stepTimeout())
	defer cancel()
	return f(ctx)
}

// close closes the tab; the browser's first tab stays.
func (t *tab) close() {
	if t.closed {
		return
	}
	t.closed = true
	t.unwatch()
	if !t.first {
		t.browser.closeInBackground(t.cancel)
	}
}

// close closes every tab still open, the last opened first (a tab's
// browser context goes with the tab that made it).
func (s *scenario) close() {
	for i := len(s.tabs) - 1; i >= 0; i-- {
		s.tabs[i].close()
	}
}

// shown is a page as the browser shows it after a step.
type shown struct {
	t      *tab
	URL    string `json:"url"`
	Text   string `json:"text"`
	status int64
}

func (pg shown) String() string {
	status := "no response"
	if pg.status != 0 {
		status = fmt.Sprintf("%d", pg.status)
	}
	return fmt.Sprintf("%s (%s): %q", pg.URL, status, excerpt(pg.Text, 200))
}

// id returns the session id the page shows, "Your session id is: <id>";
// for a target whose page shows none and that says so (IDFromCookie), the
// value of the session cookie in the browser's jar.
func (pg shown) id() string {
	id, ok := (&spec.Response{Body: pg.Text}).SessionID()
	if !ok && pg.t.s.p.T.IDFromCookie {
		if c := pg.t.s.sessionCookie(pg.t.jar()); c != nil {
			return c.Value
		}
	}
	pg.t.s.p.Expect(ok).To(BeTrue(), "[%s] the page must show \"Your session id is: <id>\"; the browser shows %s", pg.t.name, pg)
	return id
}

// number returns the first integer the page shows: the counter.
func (pg shown) number() int {
	n, ok := (&spec.Response{Body: pg.Text}).Number()
	pg.t.s.p.Expect(ok).To(BeTrue(), "[%s] the counter page must show a number; the browser shows %s", pg.t.name, pg)
	return n
}

// open loads a path of the target, as a person typing its address.
func (t *tab) open(slug, path string) shown {
	u := t.s.p.T.Resolve(path)
	return t.navigate(slug, "open "+u, func(ctx context.Context) (*network.Response, error) {
		return chromedp.Run(ctx, chromedp.NavigateResponse(u))
	})
}

// reload reloads the page, as the reload button does.
func (t *tab) reload(slug string) shown {
	return t.navigate(slug, "reload", func(ctx context.Context) (*network.Response, error) {
		return chromedp.RunResponse(ctx, chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tt, page.Reload, page.ReloadParams{})
			return err
		}))
	})
}

// back goes back one page in the tab's history, as the back button does.
func (t *tab) back(slug string) shown {
	return t.navigate(slug, "back", func(ctx context.Context) (*network.Response, error) {
		return chromedp.RunResponse(ctx, chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
			h, err := cdp.Call(ctx, tt, page.GetNavigationHistory, cdp.Empty{})
			if err != nil {
				return err
			}
			if h.CurrentIndex < 1 || int(h.CurrentIndex) >= len(h.Entries) {
				return errors.New("there is no page to go back to")
			}
			_, err = cdp.Call(ctx, tt, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID})
			return err
		}))
	})
}

func (t *tab) navigate(slug, what string, load func(ctx context.Context) (*network.Response, error)) shown {
	var resp *network.Response
	t.do(what, func(ctx context.Context) error {
		var err error
		resp, err = load(ctx)
		return err
	})
	// The page's text and its screenshot are independent: ask for both at
	// once.
	var (
		pg         shown
		png        []byte
		readErr    error
		captureErr error
		capturing  sync.WaitGroup
	)
	capturing.Go(func() {
		captureErr = t.try(func(ctx context.Context) error {
			var err error
			png, err = capture(ctx)
			return err
		})
	})
	readErr = t.try(func(ctx context.Context) error {
		var err error
		pg, err = readPage(ctx)
		return err
	})
	capturing.Wait()
	if readErr != nil {
		t.s.p.Abort("browser [%s]: reading the page: %v", t.name, oneline.Clip(readErr.Error(), 300))
	}
	if captureErr != nil {
		t.s.p.Abort("browser [%s]: taking a screenshot: %v", t.name, oneline.Clip(captureErr.Error(), 300))
	}
	pg.t = t
	if resp != nil {
		pg.status = resp.Status
	}
	t.s.saveShot(t, slug, what+" -> "+pg.String(), png)
	return pg
}

// readPage reads the address and the text of the page a tab shows.
func readPage(ctx context.Context) (shown, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[shown](
		`({url: location.href, text: document.body ? document.body.innerText : document.documentElement.innerText})`))
}

// capture takes a screenshot of the tab's viewport.
func capture(ctx context.Context) ([]byte, error) {
	res, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format: page.CaptureScreenshotFormatPng, FromSurface: new(true), OptimizeForSpeed: new(true),
	})
	return res.Data, err
}

// shot saves a screenshot of t as the case's next step and notes the
// step in the case's evidence.
func (s *scenario) shot(t *tab, slug, what string) {
	var png []byte
	t.do("taking a screenshot", func(ctx context.Context) error {
		var err error
		png, err = capture(ctx)
		return err
	})
	s.saveShot(t, slug, what, png)
}

func (s *scenario) saveShot(t *tab, slug, what string, png []byte) {
	path, err := s.save(t, slug, png)
	if err != nil {
		s.p.Abort("%v", err)
	}
	s.p.Tr.Note("browser step %02d [%s] %s\n  screenshot %s", s.step, t.name, what, path)
}

// note records a step that changes no page (a clock advance, a look at
// the cookie jar) in the evidence, numbered with the others.
func (s *scenario) note(format string, args ...any) {
	s.step++
	s.p.Tr.Note("browser step %02d %s", s.step, fmt.Sprintf(format, args...))
}

// save writes png as the case's next step: <CASE-ID>-<step>-<slug>.png.
func (s *scenario) save(t *tab, slug string, png []byte) (string, error) {
	dir := s.b.ScreenshotDir()
	s.step++
	path := filepath.Join(dir, fmt.Sprintf("%s-%02d-%s.png", s.id, s.step, slugify(t.name+"-"+slug)))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("saving a screenshot: %v (choose a writable directory: --screenshots DIR, or Options.Screenshots)", err)
	}
	return path, nil
}

// jar returns every cookie the tab's browser context holds, read through
// the DevTools protocol (which sees HttpOnly cookies too, unlike
// document.cookie).
func (t *tab) jar() []*network.Cookie {
	var jar []*network.Cookie
	t.do("reading the cookie jar", func(ctx context.Context) error {
		var err error
		jar, err = t.readJar(ctx)
		return err
	})
	return jar
}

func (t *tab) readJar(ctx context.Context) ([]*network.Cookie, error) {
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{
		BrowserContextID: chromedp.FromContext(t.ctx).BrowserContextID,
	})
	return res.Cookies, err
}

// sessionCookie returns the target's session cookie in jar that the
// browser sends with the session page, if there is one.
// siteCookies are the cookies of jar that the browser sends with the
// session page, as a client's cookie jar holds them: the session cookie
// and any that go with it (the signature cookie of a signed-cookie store).
func (s *scenario) siteCookies(jar []*network.Cookie) spec.Snapshot {
	u, err := url.Parse(s.p.T.Resolve(s.p.T.Paths.Session))
	if err != nil {
		return nil
	}
	var snap spec.Snapshot
	for _, c := range jar {
		if cookieApplies(c, u) {
			snap = append(snap, &http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return snap
}

func (s *scenario) sessionCookie(jar []*network.Cookie) *network.Cookie {
	u, err := url.Parse(s.p.T.Resolve(s.p.T.Paths.Session))
	if err != nil {
		return nil
	}
	for _, c := range jar {
		if c.Name == s.p.T.Cookie && cookieApplies(c, u) {
			return c
		}
	}
	return nil
}

// cookieApplies reports whether a browser sends c with a request for u:
// the domain and the path match (RFC 6265, 5.1.3 and 5.1.4).
func cookieApplies(c *network.Cookie, u *url.URL) bool {
	host, domain := strings.ToLower(u.Hostname()), strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	if host != domain && !strings.HasSuffix(host, "."+domain) {
		return false
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	switch {
	case p == c.Path:
		return true
	case strings.HasPrefix(p, c.Path):
		return strings.HasSuffix(c.Path, "/") || p[len(c.Path)] == '/'
	}
	return false
}

// flushCookie deletes the target's session cookie from the tab's browser,
// as a person clearing it in the browser's settings.
func (t *tab) flushCookie(slug string) {
	name := t.s.p.T.Cookie
	t.do("flushing the "+name+" cookie", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{
			Name: name, URL: t.s.p.T.Resolve(t.s.p.T.Paths.Session),
		})
		return err
	})
	t.s.shot(t, slug, "flushed the "+name+" cookie from the browser; the jar now holds: "+oneline.Clip(renderJar(t.jar()), 600))
}

// setCookie stores a cookie for the target in the tab's browser, as a
// browser does when a response sets it.
func (t *tab) setCookie(slug, name, value string) {
	t.do("setting the "+name+" cookie", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: name, Value: value, URL: t.s.p.T.URL.String(), Path: "/",
		})
		return err
	})
	t.s.shot(t, slug, fmt.Sprintf("set the cookie %s=%s in the browser", name, value))
}

// renderJar writes a cookie jar as Set-Cookie-like lines.
func renderJar(jar []*network.Cookie) string {
	if len(jar) == 0 {
		return "(empty)"
	}
	var b strings.Builder
	for _, c := range jar {
		fmt.Fprintf(&b, "%s=%s; Domain=%s; Path=%s", c.Name, c.Value, c.Domain, c.Path)
		if c.Session {
			b.WriteString("; (browser session: no Expires or Max-Age)")
		} else {
			fmt.Fprintf(&b, "; Expires=%s", time.Unix(int64(c.Expires), 0).UTC().Format(time.RFC1123))
		}
		if c.HTTPOnly {
			b.WriteString("; HttpOnly")
		}
		if c.Secure {
			b.WriteString("; Secure")
		}
		if c.SameSite != "" {
			fmt.Fprintf(&b, "; SameSite=%s", c.SameSite)
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// evidence adds to a failing case, for every tab still open, a last
// screenshot, the page it shows and its cookie jar. It never fails
// itself: what it cannot get, it says.
func (s *scenario) evidence() {
	for _, t := range s.tabs {
		if t.closed {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "browser evidence [%s] when the case failed:\n", t.name)
		var png []byte
		err := t.try(func(ctx context.Context) error {
			var err error
			png, err = capture(ctx)
			return err
		})
		if err == nil {
			var path string
			if path, err = s.save(t, "failure", png); err == nil {
				fmt.Fprintf(&b, "  screenshot %s\n", path)
			}
		}
		if err != nil {
			fmt.Fprintf(&b, "  no screenshot: %v\n", oneline.Clip(err.Error(), 200))
		}
		var pg shown
		if err := t.try(func(ctx context.Context) error {
			var err error
			pg, err = readPage(ctx)
			return err
		}); err != nil {
			fmt.Fprintf(&b, "  no page text: %v\n", oneline.Clip(err.Error(), 200))
		} else {
			fmt.Fprintf(&b, "  page %s\n  page text:\n%s\n", pg.URL, indent(excerpt(pg.Text, 2000), "    "))
		}
		var jar []*network.Cookie
		if err := t.try(func(ctx context.Context) error {
			var err error
			jar, err = t.readJar(ctx)
			return err
		}); err != nil {
			fmt.Fprintf(&b, "  no cookie jar: %v", oneline.Clip(err.Error(), 200))
		} else {
			fmt.Fprintf(&b, "  cookie jar:\n%s", indent(renderJar(jar), "    "))
		}
		s.p.Tr.Note("%s", b.String())
	}
}

func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes in all)", s[:n], len(s))
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// slugify makes s fit a file name: lower case letters, digits and
// dashes.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
