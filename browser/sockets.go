//go:build !wasm

package browser

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"

	"github.com/sessionspec/sessionspec/spec"
)

// detachedSentence is Glyph's list of the ways a client object is
// detached, the sentence WS-004 cites too.
const detachedSentence = `When you log out / your broker goes stale / your IRC connection drops / your web session times out, the symmetric "detached" method is called.`

// cookieSentence is what the seeds say of guard's cookie negotiation,
// the sentence URL-001 cites too.
const cookieSentence = "it can negotiate with the browser to discover whether cookies are turned on, more or less automatically, and provide effectively the same experience whether they are or not."

// socketCloseWait bounds how long BROWSER-006 polls the first tab for
// the close of its socket after the second tab's visit to expire. The
// contract allows the target spec.DetachBound (a second); the rest is
// the browser's own pace: delivering the close to the page, and the
// polling itself.
const socketCloseWait = 5 * time.Second

// pollEvery is how often a case asks a page for the state of its socket.
const pollEvery = 50 * time.Millisecond

// socketState is what the page's script records of its WebSocket.
type socketState struct {
	URL      string       `json:"url"`
	Opened   bool         `json:"opened"`
	Errored  bool         `json:"errored"`
	Messages []string     `json:"messages"`
	Close    *socketClose `json:"close"`
}

// socketClose is the page's close event: code 1006 means the browser saw
// no close frame (the connection just ended).
type socketClose struct {
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	WasClean bool   `json:"wasClean"`
}

func (c *socketClose) String() string {
	if c == nil {
		return "open"
	}
	return fmt.Sprintf("closed with code %d, reason %q (clean: %v)", c.Code, c.Reason, c.WasClean)
}

// openSocketScript opens a WebSocket from the page to the target's ws
// path (%s: the path, a JSON string), as a page's own script would: the
// browser sends the session cookie by itself. It records the messages
// and the close event in window.__sessionspecWS and writes them into the
// page, so that screenshots show them.
const openSocketScript = `(() => {
  const u = new URL(%s, location.href);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  const st = {url: u.href, opened: false, errored: false, messages: [], close: null};
  window.__sessionspecWS = st;
  const show = () => {
    let el = document.getElementById("sessionspec-ws");
    if (!el) {
      el = document.createElement("pre");
      el.id = "sessionspec-ws";
      el.style.cssText = "border: 2px solid #36c; padding: 0.5em; font-size: 16px";
      document.body.appendChild(el);
    }
    el.textContent = "WebSocket " + st.url + "\n" +
      (st.opened ? "open\n" : "connecting\n") +
      st.messages.map(m => "<- " + m).join("\n") +
      (st.errored ? "\nerror" : "") +
      (st.close ? "\nclosed: code " + st.close.code + ", reason \"" + st.close.reason + "\"" : "");
  };
  const ws = new WebSocket(u.href);
  window.__sessionspecSocket = ws;
  ws.onopen = () => { st.opened = true; show(); };
  ws.onmessage = e => { st.messages.push(String(e.data)); show(); };
  ws.onerror = () => { st.errored = true; show(); };
  ws.onclose = e => { st.close = {code: e.code, reason: e.reason, wasClean: e.wasClean}; show(); };
  show();
  return u.href;
})()`

// openSocket runs openSocketScript in the tab and returns the socket's URL.
func (t *tab) openSocket(path string) string {
	js, _ := json.Marshal(path)
	var u string
	t.do("opening a WebSocket from the page", func(ctx context.Context) error {
		var err error
		u, err = chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(openSocketScript, js)))
		return err
	})
	return u
}

// socket reads what the page recorded of its socket.
func (t *tab) socket() socketState {
	var st socketState
	t.do("reading the page's WebSocket", func(ctx context.Context) error {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[socketState](`window.__sessionspecWS`))
		return err
	})
	return st
}

// send sends a text message on the page's socket.
func (t *tab) send(msg string) {
	js, _ := json.Marshal(msg)
	t.do("sending "+string(js)+" on the page's WebSocket", func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(window.__sessionspecSocket.send(%s), true)`, js)))
		return err
	})
}

// waitSocket polls the page's socket until done says so or d has passed,
// and returns its last state and whether done said so.
func (t *tab) waitSocket(d time.Duration, done func(socketState) bool) (socketState, bool) {
	deadline := time.Now().Add(d)
	for {
		st := t.socket()
		if done(st) {
			return st, true
		}
		if time.Now().After(deadline) {
			return st, false
		}
		select {
		case <-time.After(pollEvery):
		case <-t.s.p.Context().Done():
			t.s.p.Abort("interrupted while watching the page's WebSocket")
		}
	}
}

func hasMessage(prefix string) func(socketState) bool {
	return func(st socketState) bool {
		for _, m := range st.Messages {
			if strings.HasPrefix(strings.TrimSpace(m), prefix) {
				return true
			}
		}
		return st.Close != nil
	}
}

func renderSocket(st socketState) string {
	return fmt.Sprintf("%s: messages %q; %s", st.URL, st.Messages, st.Close)
}

// socketScenario is BROWSER-006: a page holds a WebSocket attached to the
// session; the same user expires the session in another tab; the first
// page sees its socket closed.
func socketScenario(s *scenario) {
	p := s.p
	if p.T.Paths.WebSocket == "" {
		s.notApplicable("the target serves no WebSocket (no ws path)")
	}
	alice := s.user("alice")
	id := alice.open("top-page", p.T.Paths.Session).id()
	wsURL := alice.openSocket(p.T.Paths.WebSocket)
	st, ok := alice.waitSocket(p.T.RequestTimeout, hasMessage("attached "))
	s.shot(alice, "socket-attached", "opened a WebSocket from the page to "+wsURL+": "+renderSocket(st))
	p.Expect(ok && st.Close == nil).To(BeTrue(), "the page's WebSocket to %s, opened with the session's cookie, must first say \"attached <id>\" within %s and stay open; it shows %s",
		wsURL, p.T.RequestTimeout, renderSocket(st))
	p.Expect(strings.TrimSpace(st.Messages[0])).To(Equal("attached "+id), "the page's WebSocket must be attached to the session the page shows")

	alice.send("ping")
	st, _ = alice.waitSocket(p.T.RequestTimeout, hasMessage("pong "))
	s.shot(alice, "socket-pong", "sent \"ping\" on the page's WebSocket: "+renderSocket(st))
	p.Expect(st.Messages).To(ContainElement(HavePrefix("pong "+id)), "\"ping\" on the page's WebSocket of live session %s must get \"pong %s\"; it shows %s", id, id, renderSocket(st))
	p.Expect(st.Close).To(BeNil(), "the page's WebSocket closed before the session ended")

	second := alice.newTab("alice-tab-2")
	expired := second.open("expire", p.T.Paths.Expire)
	p.Expect(expired.Text).To(ContainSubstring("Your session has been expired."), "the expire page as the second tab shows it: %s", expired)

	st, closed := alice.waitSocket(socketCloseWait, func(st socketState) bool { return st.Close != nil })
	s.shot(alice, "socket-after-expire", "the first tab after the second tab's visit to expire: "+renderSocket(st))
	p.Expect(closed).To(BeTrue(), "the first tab's WebSocket, attached to session %s, was still open %s after a second tab of the same browser visited %s: when the session ends, its socket must be detached and closed; it shows %s",
		id, socketCloseWait, p.T.Paths.Expire, renderSocket(st))
	// 1006 is the browser's code for a connection that ended without a
	// close frame; the reference closes with 4001 "session expired".
	p.Expect(st.Close.Code).NotTo(Equal(1006), "the first tab's WebSocket ended without a close frame (code 1006): the target must close it with a close frame (the reference: 4001 \"session expired\")")
	s.note("[alice] the first tab's WebSocket %s", st.Close)
}

// The cookieless scenario: cookies blocked for the site.
//
// Chromium's per-site cookie blocking (the "sites that can never use
// cookies" setting) has no DevTools command in cdproto v0.159:
// Network.setCookieControls only restricts third-party cookies, and
// Browser.setPermission knows no cookie permission. Stripping Set-Cookie
// from responses paused at the Fetch domain's response stage does not
// work either: Chromium stores the cookie before the pause, and does
// not show Set-Cookie among the paused response's headers. So the case
// blocks cookies with what the protocol offers: the Fetch domain pauses
// every request for the target's origin at the request stage, the suite
// makes that request itself (with the browser's headers, no cookie jar,
// redirects not followed) and fulfils it with the answer less its
// Set-Cookie headers, so the browser never sees one; and
// Emulation.setDocumentCookieDisabled turns document.cookie off, so
// that the page's own scripts cannot set one either.

// stripped records the session cookies the interception kept from the
// browser: their values are session ids to look for in URLs.
type stripped struct {
	mu      sync.Mutex
	headers []string
}

func (st *stripped) add(h string) {
	st.mu.Lock()
	st.headers = append(st.headers, h)
	st.mu.Unlock()
}

func (st *stripped) all() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]string(nil), st.headers...)
}

// blockCookies blocks cookies for the target's origin in the tab: see
// above. It returns what it strips.
func (t *tab) blockCookies() *stripped {
	base := t.s.p.T.URL
	pattern := base.Scheme + "://" + base.Host + "/*"
	got := &stripped{}
	paused := make(chan *fetch.EventRequestPaused, 64)
	rt := t.s.p.T.Transport
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: t.s.b.opts.Insecure}
		rt = tr
	}
	client := &http.Client{Transport: rt, Timeout: t.s.p.T.RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.do("listening for paused responses", func(ctx context.Context) error {
		return chromedp.Listen(t.ctx, func(ev any) {
			if e, ok := ev.(*fetch.EventRequestPaused); ok {
				select {
				case paused <- e:
				default:
					// A full queue: the handler below is stuck; the step that
					// waits on this response times out and says so.
				}
			}
		})
	})
	go func() {
		for {
			var e *fetch.EventRequestPaused
			select {
			case e = <-paused:
			case <-t.ctx.Done():
				return
			}
			ctx, cancel := context.WithTimeout(t.ctx, t.s.stepTimeout())
			fulfil(ctx, client, e, got)
			cancel()
		}
	}()
	t.do("blocking cookies for "+pattern, func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, emulation.SetDocumentCookieDisabled, emulation.SetDocumentCookieDisabledParams{Disabled: true}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
			Patterns: []*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageRequest}},
		})
		return err
	})
	return got
}

// fulfil makes the paused request e itself and answers the browser with
// the target's answer less its Set-Cookie headers, which it records.
func fulfil(ctx context.Context, client *http.Client, e *fetch.EventRequestPaused, got *stripped) {
	fail := func() {
		chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonFailed})
	}
	if e.Request.HasPostData {
		// The seed pages are loaded, never posted to: a form's post goes
		// on as the browser sends it (with no cookie: the jar stays empty).
		chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
		return
	}
	req, err := http.NewRequestWithContext(ctx, e.Request.Method, e.Request.URL, nil)
	if err != nil {
		fail()
		return
	}
	for k, v := range e.Request.Headers {
		if s, ok := v.(string); ok && !strings.EqualFold(k, "Cookie") {
			req.Header.Set(k, s)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		fail()
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fail()
		return
	}
	var headers []*fetch.HeaderEntry
	for k, vs := range resp.Header {
		for _, v := range vs {
			if strings.EqualFold(k, "Set-Cookie") {
				got.add(v)
				continue
			}
			headers = append(headers, &fetch.HeaderEntry{Name: k, Value: v})
		}
	}
	chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
		RequestID: e.RequestID, ResponseCode: int64(resp.StatusCode), ResponseHeaders: headers, Body: body,
	})
}

// pageURLs are the addresses a page shows or hands its user: the
// address bar, every link, and every href, src, action and formaction
// attribute (as written and as the browser resolves it), and meta
// refreshes.
const pageURLsScript = `(() => {
  const urls = [location.href];
  for (const a of document.links) urls.push(a.href);
  for (const el of document.querySelectorAll("[href],[src],[action],[formaction]")) {
    for (const name of ["href", "src", "action", "formaction"]) {
      const v = el.getAttribute(name);
      if (v !== null) { urls.push(v); try { urls.push(new URL(v, location.href).href); } catch (e) {} }
    }
  }
  for (const m of document.querySelectorAll('meta[http-equiv="refresh" i]')) urls.push(m.getAttribute("content") || "");
  return urls;
})()`

func (t *tab) pageURLs() []string {
	var urls []string
	t.do("reading the page's address and links", func(ctx context.Context) error {
		var err error
		urls, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](pageURLsScript))
		return err
	})
	return urls
}

// cookielessScenario is BROWSER-007: with cookies blocked for the site, a
// person reloading the seed pages gets a new session on every load, and
// no address the browser shows or the page links to carries one.
func cookielessScenario(s *scenario) {
	p := s.p
	alice := s.user("alice-cookies-blocked")
	got := alice.blockCookies()
	s.note("[%s] cookies blocked for %s://%s: the Fetch domain hands every request for it to the suite, which answers without the Set-Cookie headers, and document.cookie is disabled", alice.name, p.T.URL.Scheme, p.T.URL.Host)

	ids := map[string]bool{}
	addStripped := func() {
		for _, h := range got.all() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(h), p.T.Cookie+"="); ok {
				v, _, _ = strings.Cut(v, ";")
				if v != "" {
					ids[v] = true
				}
			}
		}
	}
	var leaks []string
	look := func(pg shown, what string) {
		addStripped()
		for _, u := range alice.pageURLs() {
			if why := spec.IDInURL(u, ids, s.p.T.Cookie); why != "" {
				leaks = append(leaks, fmt.Sprintf("%s: %s: %s", what, u, why))
			}
		}
	}

	pages := []string{p.T.Paths.Session}
	if p.T.Paths.Counter != "" {
		pages = append(pages, p.T.Paths.Counter)
	}
	for _, path := range pages {
		seen := map[string]bool{}
		for i := 1; i <= 3; i++ {
			var pg shown
			if i == 1 {
				pg = alice.open(slugify(path)+"-load-1", path)
			} else {
				pg = alice.reload(fmt.Sprintf("%s-load-%d", slugify(path), i))
			}
			what := fmt.Sprintf("load %d of %s", i, path)
			if path == p.T.Paths.Session {
				id, ok := (&spec.Response{Body: pg.Text}).SessionID()
				p.Expect(ok).To(BeTrue(), "[%s] %s must show \"Your session id is: <id>\"; the browser shows %s", alice.name, what, pg)
				p.Expect(seen).NotTo(HaveKey(id), "[%s] with cookies blocked, %s must show a new session (the browser cannot carry one back); it shows %s again", alice.name, what, id)
				seen[id] = true
				ids[id] = true
			} else if n, ok := (&spec.Response{Body: pg.Text}).Number(); ok {
				p.Expect(n).To(Equal(1), "[%s] with cookies blocked, %s must count a new session's first visit", alice.name, what)
			}
			look(pg, what)
		}
	}
	p.Expect(leaks).To(BeEmpty(), "with cookies blocked, no address the browser shows and no link of the page may carry the session id (a URL is logged, shared and sent in Referer)")

	jar := alice.jar()
	s.note("[%s] the cookie jar after the visits:\n%s\n  Set-Cookie headers kept from the browser: %d", alice.name, indent(renderJar(jar), "  "), len(got.all()))
	var mine []string
	base, _ := url.Parse(p.T.Resolve(p.T.Paths.Session))
	for _, c := range jar {
		if base != nil && cookieApplies(c, base) {
			mine = append(mine, c.Name)
		}
	}
	p.Expect(mine).To(BeEmpty(), "with cookies blocked, the browser's cookie jar must hold no cookie of the target")
}
