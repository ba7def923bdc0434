//go:build !wasm

package browser

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"

	"github.com/sessionspec/sessionspec/internal/oneline"
	"github.com/sessionspec/sessionspec/spec"
)

// Area is the area, and the label, of every browser case: a label
// filter of "!browser" leaves them out of a run, "browser" runs only them.
//
//	spec.Run(ctx, target, spec.Options{Cases: append(spec.Cases(), b.Cases()...), LabelFilter: browser.Area})
const Area = "browser"

// Cases are the browser cases BROWSER-001..007, in report order, bound
// to b: they run in its Chromium, one at a time. Importing the package
// adds them to no run; they join one explicitly. Each call returns a
// fresh slice; the cases of several calls share b.
//
//	b, err := browser.Start(ctx, browser.Options{Screenshots: "shots"})
//	if err != nil {
//		return err
//	}
//	defer b.Stop()
//	rep, err := spec.Run(ctx, target, spec.Options{Cases: append(spec.Cases(), b.Cases()...)})
func (b *Browser) Cases() []spec.Case { return cases(b) }

// Catalogue describes the browser cases without a browser: the same IDs,
// levels, areas, titles, sources, seeds and needs as (*Browser).Cases,
// for listing them, selecting them with a label filter, parsing an
// expectations file or computing spec.CatalogueVersion. Their Check
// cannot run: it ends the case as an error, "no browser: use
// (*Browser).Cases".
//
//	all := append(spec.Cases(), browser.Catalogue()...)
//	exp, err := spec.ParseExpectations(f, all) // "BROWSER-005 n/a ..." parses
func Catalogue() []spec.Case { return cases(nil) }

// cases are the browser cases bound to b; nil binds them to no browser.
func cases(b *Browser) []spec.Case {
	return []spec.Case{
		// Session Basics, as the seed walks through it: load the top page, reload,
		// flush the cookie, visit expire, go back.
		scenarioCase(b, spec.Case{
			ID: "BROWSER-001", Level: spec.Must, Area: Area, Needs: []spec.Resource{spec.Expire},
			Title:  "in a browser, the id stays across reloads; flushing the cookie or visiting expire gives a new one",
			Source: spec.SessionBasics,
			Seed: "You can fire this up and load the top page. You'll see a (rather opaque) session identifier that remains the same across reloads " +
				"(at least until you flush the TWISTED_SESSION cookie from your browser or enough time passes). " +
				"You can then visit the expire child and go back to the top page and see that you have a new session.",
		}, func(s *scenario) {
			p := s.p
			alice := s.user("alice")
			first := alice.open("top-page", p.T.Paths.Session).id()
			for i := 1; i <= 3; i++ {
				p.Expect(alice.reload(fmt.Sprintf("reload-%d", i)).id()).To(Equal(first), "the id the top page shows after reload %d", i)
			}
			jar := alice.jar()
			s.note("[alice] the cookie jar after the reloads:\n%s", indent(renderJar(jar), "  "))
			p.Expect(s.sessionCookie(jar)).NotTo(BeNil(), "after loading the top page the browser's cookie jar must hold a %s cookie that it sends with %s; it holds:\n%s",
				p.T.Cookie, p.T.Resolve(p.T.Paths.Session), renderJar(jar))

			alice.flushCookie("flush-cookie")
			if s.sessionCookie(alice.jar()) != nil {
				p.Abort("the browser kept the %s cookie after it was flushed", p.T.Cookie)
			}
			second := alice.reload("reload-after-flush").id()
			p.Expect(second).NotTo(Equal(first), "after flushing the %s cookie the top page must show a new session", p.T.Cookie)

			expired := alice.open("expire", p.T.Paths.Expire)
			p.Expect(expired.Text).To(ContainSubstring("Your session has been expired."), "the expire page as the browser shows it: %s", expired)
			alice.back("back-to-top-page")
			third := alice.reload("reload-after-expire").id()
			p.Expect(third).NotTo(Equal(second), "after visiting expire, going back and reloading, the top page must show a new session")
		}),

		// Session Endings: visits to /logme keep the session; a timeout without
		// visits ends it, with the notification for exactly its id.
		scenarioCase(b, spec.Case{
			ID: "BROWSER-002", Level: spec.Must, Area: Area, Needs: []spec.Resource{spec.LogMe, spec.Expired, spec.Time},
			Title:  "in a browser, visits to logme keep the session; a timeout without visits ends it with its notification",
			Source: spec.SessionEndings,
			Seed:   "Keep visiting it to keep your session active. Stop visiting it for five seconds to see your session expiration message.",
		}, func(s *scenario) {
			p := s.p
			// Each visit comes inside the timeout; all of them together take
			// longer than it. On the wall clock, half the (short) timeout leaves
			// room for the browser's own time.
			step := p.T.Timeout - p.Margin()
			if !p.T.Controlled() {
				step = p.T.Timeout / 2
			}
			p.NeedTime(3*step + p.Full())

			alice := s.user("alice")
			id := alice.open("top-page", p.T.Paths.Session).id()
			alice.open("logme", p.T.Paths.LogMe)
			for i := 1; i <= 2; i++ {
				s.idle(step)
				alice.reload(fmt.Sprintf("logme-again-%d", i))
			}
			s.idle(step)
			p.Expect(alice.open("top-page-still-active", p.T.Paths.Session).id()).To(Equal(id),
				"visited every %s (timeout %s), the session must still be the one it was %s earlier", step, p.T.Timeout, 3*step)
			p.Expect(p.CountNotifications(id)).To(BeZero(), "an expiry notification for %s fired while it was being visited", id)

			s.idle(p.Full())
			p.Expect(p.NotificationsFor(id)).To(Equal(1), "expiry notifications for %s after no visit for its timeout (%s)", id, p.T.Timeout)
			p.Expect(alice.reload("top-page-after-timeout").id()).NotTo(Equal(id), "after the timeout the next visit must show a new session")
		}),

		// Storing objects in the session: the counter page.
		scenarioCase(b, spec.Case{
			ID: "BROWSER-003", Level: spec.Must, Area: Area, Needs: []spec.Resource{spec.Counter, spec.Expire},
			Title:  "in a browser, the counter counts 1, 2, 3 across reloads, restarts at 1 after expire, and counts apart for two users",
			Source: spec.SessionStore,
			Seed: "Can someone give a helloworld example of how to store and retrieve objects specific to a session ? maybe a counter example. " +
				"The objects would need to be destroyed automatically when the session expires.",
		}, func(s *scenario) {
			p := s.p
			alice := s.user("alice")
			before := alice.open("top-page", p.T.Paths.Session).id()
			p.Expect(alice.open("counter", p.T.Paths.Counter).number()).To(Equal(1), "alice's first visit to the counter")
			for want := 2; want <= 3; want++ {
				p.Expect(alice.reload(fmt.Sprintf("counter-reload-%d", want-1)).number()).To(Equal(want), "alice's counter after reload %d", want-1)
			}
			alice.open("expire", p.T.Paths.Expire)
			p.Expect(alice.open("counter-after-expire", p.T.Paths.Counter).number()).To(Equal(1), "alice's counter after her session was expired")
			aliceID := alice.open("top-page-after-expire", p.T.Paths.Session).id()
			aliceLast := time.Now()
			p.Expect(aliceID).NotTo(Equal(before), "after expire alice must have a new session")

			bob := s.user("bob")
			p.Expect(bob.open("top-page", p.T.Paths.Session).id()).NotTo(Equal(aliceID), "bob, in a browser context of his own, must not get alice's session")
			p.Expect(bob.open("counter", p.T.Paths.Counter).number()).To(Equal(1), "bob's first visit to the counter")
			p.Expect(bob.reload("counter-reload-1").number()).To(Equal(2), "bob's counter after one reload")
			s.stillAlive(aliceLast, "alice")
			p.Expect(alice.open("counter-again", p.T.Paths.Counter).number()).To(Equal(2), "alice's counter after bob's visits")
			p.Expect(bob.reload("counter-reload-2").number()).To(Equal(3), "bob's counter after alice's visit")
		}),

		// Tabs share the browser's cookie, and so its session. The seeds do not
		// say it outright (hence SHOULD): they tie the session to the cookie in
		// "your browser".
		scenarioCase(b, spec.Case{
			ID: "BROWSER-004", Level: spec.Should, Area: Area,
			Title:  "two tabs of one browser share one session; two isolated browser contexts never do",
			Source: spec.SessionBasics,
			Seed:   "until you flush the TWISTED_SESSION cookie from your browser",
		}, func(s *scenario) {
			p := s.p
			alice := s.user("alice")
			id := alice.open("top-page", p.T.Paths.Session).id()
			second := alice.newTab("alice-tab-2")
			p.Expect(second.open("top-page", p.T.Paths.Session).id()).To(Equal(id), "a second tab of alice's browser must show her session")
			p.Expect(alice.reload("reload").id()).To(Equal(id), "alice's first tab after her second tab's visit")
			if p.T.Paths.Counter != "" {
				p.Expect(alice.open("counter", p.T.Paths.Counter).number()).To(Equal(1), "alice's first visit to the counter, in her first tab")
				p.Expect(second.open("counter", p.T.Paths.Counter).number()).To(Equal(2), "the counter in alice's second tab must go on from her first tab's")
			}

			aliceLast := time.Now()
			bob := s.user("bob")
			bobID := bob.open("top-page", p.T.Paths.Session).id()
			p.Expect(bobID).NotTo(Equal(id), "bob, in a browser context of his own, must not get alice's session")
			if p.T.Paths.Counter != "" {
				p.Expect(bob.open("counter", p.T.Paths.Counter).number()).To(Equal(1), "bob's first visit to the counter")
			}
			s.stillAlive(aliceLast, "alice")
			p.Expect(second.open("top-page-again", p.T.Paths.Session).id()).To(Equal(id), "alice's session after bob's visits")
			aliceJar, bobJar := alice.jar(), bob.jar()
			s.note("the cookie jars:\n  alice:\n%s\n  bob:\n%s", indent(renderJar(aliceJar), "    "), indent(renderJar(bobJar), "    "))
			a, b := s.sessionCookie(aliceJar), s.sessionCookie(bobJar)
			p.Expect(a).NotTo(BeNil(), "alice's cookie jar holds no %s cookie", p.T.Cookie)
			p.Expect(b).NotTo(BeNil(), "bob's cookie jar holds no %s cookie", p.T.Cookie)
			p.Expect(b.Value).NotTo(Equal(a.Value), "alice's and bob's browser contexts hold the same %s cookie", p.T.Cookie)
		}),

		// Closing the browser ends a browser-session cookie, not the session on
		// the server. Twisted's cookie has no Expires or Max-Age; the seeds do
		// not say so (hence SHOULD), but they do say what ends a session, and
		// closing a browser is not among it.
		scenarioCase(b, spec.Case{
			ID: "BROWSER-005", Level: spec.Should, Area: Area,
			Title:  "closing the browser drops the session cookie: a restarted browser gets a new id while the old session lives on",
			Source: spec.SessionBasics,
			Seed:   "Session instances are kept on the Site instance until they expire (due to inactivity or because they are explicitly expired).",
		}, func(s *scenario) {
			p := s.p
			// The browser's default context keeps its cookie jar in the profile on
			// disk, as a person's browser does. A persistent cookie of another
			// site shows that the jar did survive the restart.
			const keptName, keptURL = "sessionspec_kept", "http://kept.sessionspec.invalid/"
			before := s.person("browser")
			id := before.open("top-page", p.T.Paths.Session).id()
			lastVisit := time.Now()
			jar := before.jar()
			cookie := s.sessionCookie(jar)
			p.Expect(cookie).NotTo(BeNil(), "the browser's cookie jar must hold a %s cookie for the top page; it holds:\n%s", p.T.Cookie, renderJar(jar))
			p.Expect(cookie.Session).To(BeTrue(), "the %s cookie must last as long as the browser (no Expires or Max-Age), as Twisted's does; the jar holds:\n%s",
				p.T.Cookie, renderJar(jar))
			before.do("setting a persistent cookie of another site", func(ctx context.Context) error {
				_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: keptName, Value: "1", URL: keptURL, Path: "/",
					Expires: cdp.TimeSinceEpoch(time.Now().Add(time.Hour).Unix())})
				return err
			})
			s.note("[browser] closing the browser and starting it again on the same profile; the cookie jar holds:\n%s", indent(renderJar(before.jar()), "  "))

			// Once Chromium has exited, and before the new one starts (which
			// can take seconds on a loaded machine), a client sends the old
			// cookies: the session they find then has outlived the browser.
			keeper := p.User("old-cookies-after-close")
			keeper.Restore(s.siteCookies(jar))
			var afterClose string
			var afterCloseErr error
			after := s.restart("restarted-browser", func() {
				r, err := keeper.Do(p.Context(), "GET", p.T.Paths.Session, "")
				if err != nil {
					afterCloseErr = err
					return
				}
				afterClose, _ = p.IDOf(keeper, r)
			})
			jar = after.jar()
			s.shot(after, "restarted", "the browser restarted on the same profile; the cookie jar holds: "+oneline.Clip(renderJar(jar), 600))
			if !holds(jar, keptName) {
				p.Abort("the restarted browser lost its profile's cookie jar (the persistent cookie %s is gone), so it cannot show what closing does to the session cookie", keptName)
			}
			p.Expect(s.sessionCookie(jar)).To(BeNil(), "the restarted browser must not hold the %s cookie any more; it holds:\n%s", p.T.Cookie, renderJar(jar))
			p.Expect(after.open("top-page", p.T.Paths.Session).id()).NotTo(Equal(id), "the restarted browser must get a new session")

			// Setting the cookie back and reloading take time too: half of
			// what the MUST cases give a session (its timeout less a
			// second and the tolerance) must be left. When the restart took
			// longer, what the old cookie found once the browser had closed
			// judges instead.
			if !p.T.Controlled() && time.Since(lastVisit) >= p.Alive()/2 {
				took := time.Since(lastVisit).Round(time.Millisecond)
				if afterCloseErr != nil {
					s.notApplicable("restarting the browser took %s, too near the session timeout %s to see the old session alive, and the old cookie sent while it was closed got no answer: %v", took, p.T.Timeout, afterCloseErr)
				}
				s.note("restarting the browser took %s, too near the session timeout %s to set the old cookie back in it; what the old cookie found while the browser was closed judges instead", took, p.T.Timeout)
				p.Expect(afterClose).To(Equal(id), "with the browser closed, its old cookie must still find the old session on the server (closing a browser drops its cookie, not the session)")
				return
			}
			after.setCookie("old-cookie-back", p.T.Cookie, cookie.Value)
			p.Expect(after.reload("top-page-with-old-cookie").id()).To(Equal(id), "with its old cookie back, the browser must find the old session still alive on the server")
		}),

		// Glyph's detached objects, as a person sees them: a page holds a
		// WebSocket attached to the session; the same person expires the
		// session in another tab; the first page's socket closes. MUST, as
		// WS-004 is: the sentence lists a session's end among the things that
		// detach what is attached to it, and a socket left open would go on
		// answering for a session that has ended.
		scenarioCase(b, spec.Case{
			ID: "BROWSER-006", Level: spec.Must, Area: Area, Needs: []spec.Resource{spec.WebSocket, spec.Expire},
			Title:  "in a browser, a page's WebSocket is closed when the session is expired from another tab",
			Source: spec.WhatIsASession,
			Seed:   detachedSentence,
		}, socketScenario),

		// Cookies blocked for the site. ADVISORY, like URL-001: the seed
		// praises guard's negotiation of cookies, but modern practice treats
		// a session id in a URL as a leak (it is logged, shared and sent in
		// Referer), and the "same experience" without cookies that the seed
		// describes is deliberately not required: a new session on every
		// load is what a browser without cookies should get.
		scenarioCase(b, spec.Case{
			ID: "BROWSER-007", Level: spec.Advisory, Area: Area,
			Title:  "in a browser with cookies blocked for the site, every load is a new session and no address or link carries the id",
			Source: spec.WhatIsASession,
			Seed:   cookieSentence,
		}, cookielessScenario),
	}
}

// stillAlive ends the case as not applicable when, on the wall clock,
// who's last visit (at last) is so long ago that the session may have
// timed out for real while the browser worked on another user's steps:
// the case could then not tell a target's fault from the browser's pace.
func (s *scenario) stillAlive(last time.Time, who string) {
	if gap := time.Since(last); !s.p.T.Controlled() && gap >= s.p.Alive() {
		s.notApplicable("%s's last visit was %s ago, too near the session timeout %s to expect her session alive; use a longer timeout or a clock",
			who, gap.Round(time.Millisecond), s.p.T.Timeout)
	}
}

// idle lets d of the target's time pass with no visit, noted as a step.
func (s *scenario) idle(d time.Duration) {
	how := "advanced the target's clock"
	if !s.p.T.Controlled() {
		how = "waited on the wall clock"
	}
	s.note("no visit for %s (%s)", d, how)
	s.p.Idle(d)
}

// holds reports whether jar has a cookie named name.
func holds(jar []*network.Cookie, name string) bool {
	for _, c := range jar {
		if c.Name == name {
			return true
		}
	}
	return false
}
