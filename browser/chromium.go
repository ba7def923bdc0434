//go:build !wasm

package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sessionspec/sessionspec/internal/oneline"
)

// FindChromium returns the browser to run: given, if not empty, else
// $SESSIONSPEC_CHROMIUM, else the first of /usr/bin/chromium, chromium,
// chromium-browser and google-chrome that exists. The error is one line
// that says what was tried and how to fix it. Start calls it; call it
// yourself to fail early, before a target is started.
//
//	if _, err := browser.FindChromium(""); err != nil {
//		t.Fatal(err) // no Chromium found (tried ...): install Debian's chromium ...
//	}
func FindChromium(given string) (string, error) {
	from := "--chromium"
	if given == "" {
		given, from = os.Getenv(EnvChromium), "$"+EnvChromium
	}
	if given != "" {
		p, err := exec.LookPath(given)
		if err != nil {
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return "", fmt.Errorf("no browser at %q (%s): %v; give the path of a Chromium or Chrome binary", given, from, err)
		}
		return p, nil
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found (tried %s): install Debian's chromium (ci/install-deps.sh does), or name one with --chromium PATH or $%s",
		strings.Join(candidates, ", "), EnvChromium)
}

// candidates are where FindChromium looks when it is told nothing.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}

// flags are Chromium's command line: headless, fit for root in a
// container, and quiet, so that the only traffic is the target's.
func flags(path, userDataDir string, insecure bool, out *tail) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),            // root in a container has no user namespace sandbox
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("disable-gpu", true),           // no GPU in a container
		chromedp.Flag("no-first-run", true),          // no welcome page
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true), // no requests of its own
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// Every tab has a window of its own and all of them must keep
		// rendering: the screenshots come from them.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-hang-monitor", true),
		chromedp.Flag("disable-ipc-flooding-protection", true),
		// BackForwardCache: going back loads the page from the target, as
		// the browsers of the seeds' time did. Translate ... Autofill:
		// no requests of its own. WebUIOmnibox*: a headless window still
		// builds its address bar's popups, each a renderer that costs CPU.
		chromedp.Flag("disable-features", "BackForwardCache,Translate,OptimizationHints,MediaRouter,"+
			"DialMediaRouteProvider,AutofillServerCommunication,WebUIOmniboxPopup,WebUIOmniboxAimPopup"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(800, 240),
		chromedp.CombinedOutput(out),
	}
	if userDataDir != "" {
		opts = append(opts, chromedp.UserDataDir(userDataDir))
	}
	if insecure {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	// Without a user data directory chromedp makes a fresh one and removes
	// it when the browser stops.
	return opts
}

// chromium is one running browser.
type chromium struct {
	path        string
	insecure    bool
	ctx         context.Context // the browser's chromedp context; its first tab
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	out         *tail
	stopOnce    sync.Once

	mu      sync.Mutex
	spare   *userContext   // the next user's browser context, made ahead
	closing sync.WaitGroup // tabs being closed in the background
}

// userContext is an isolated browser context with one tab, made ahead of
// the case that needs it: making one costs a renderer process start,
// which then overlaps the previous case's steps.
type userContext struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// prepare starts making the next user's browser context.
func (c *chromium) prepare() {
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	u := &userContext{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	c.mu.Lock()
	c.spare = u
	c.mu.Unlock()
	// The first run makes the browser context and the tab, and binds the
	// tab to ctx: no deadline on it (userContext bounds the wait).
	go func() {
		u.err = chromedp.Do(ctx)
		close(u.done)
	}()
}

// userContext returns a fresh isolated browser context with one tab: the
// one made ahead, while the next one is started. It waits at most d.
func (c *chromium) userContext(parent context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	c.mu.Lock()
	u := c.spare
	c.mu.Unlock()
	if u == nil {
		c.prepare()
		c.mu.Lock()
		u = c.spare
		c.mu.Unlock()
	}
	c.prepare()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-u.done:
	case <-timer.C:
		u.cancel()
		return nil, nil, fmt.Errorf("no new browser context within %s", d)
	case <-parent.Done():
		u.cancel()
		return nil, nil, parent.Err()
	}
	if u.err != nil {
		u.cancel()
		return nil, nil, u.err
	}
	return u.ctx, u.cancel, nil
}

// closeInBackground closes a tab (and the browser context it owns)
// without waiting; stop waits for it.
func (c *chromium) closeInBackground(cancel context.CancelFunc) {
	c.closing.Go(cancel)
}

// startChromium starts the browser at path, with a fresh profile or the
// one in userDataDir, and waits until it answers. parent only bounds the
// start: the browser lives until stop.
func startChromium(parent context.Context, path, userDataDir string, insecure bool, timeout time.Duration) (*chromium, error) {
	c := &chromium{path: path, insecure: insecure, out: &tail{max: 8 << 10}}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), flags(path, userDataDir, insecure, c.out)...)
	// chromedp logs what goes wrong on the connection (e.g. a browser that
	// died at start) on the standard logger; the errors that matter reach
	// the caller, and the output stays one line.
	quiet := func(string, ...any) {}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	c.ctx, c.cancel, c.allocCancel = ctx, cancel, allocCancel
	// The first run starts the process and binds it to ctx, so it runs on
	// ctx itself, bounded from outside.
	err := bounded(parent, timeout, cancel, func() error { return chromedp.Do(ctx) })
	if err != nil {
		cancel()
		allocCancel()
		msg := fmt.Sprintf("Chromium %s could not start: %v", path, err)
		if last := c.out.lastLine(); last != "" && !strings.Contains(oneline.Clip(err.Error(), 1<<20), oneline.Clip(last, 1<<20)) {
			msg += "; it said: " + last
		}
		// The fix: see Chromium's own complaint in full, by hand.
		fix := fmt.Sprintf(" (try it by hand: %s --headless --no-sandbox --disable-gpu --dump-dom about:blank; or name another with --chromium PATH or $%s)", path, EnvChromium)
		return nil, errors.New(strings.TrimSuffix(oneline.Clip(msg, 400), ":") + fix)
	}
	return c, nil
}

// stop closes the browser gracefully, so that it writes its profile, and
// waits for it to exit; then it frees what chromedp holds.
func (c *chromium) stop() {
	c.stopOnce.Do(func() {
		c.closing.Wait()
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		chromedp.Cancel(ctx)
		cancel()
		c.cancel()
		// The browser is gone, so the spare context closes at once.
		c.mu.Lock()
		spare := c.spare
		c.spare = nil
		c.mu.Unlock()
		if spare != nil {
			spare.cancel()
		}
		c.allocCancel()
	})
}

// bounded runs f, which works on a context that must not carry a deadline
// (the first run of a chromedp context binds the browser or the tab to
// it), and gives up after d or when parent ends, calling cancel to make f
// return.
func bounded(parent context.Context, d time.Duration, cancel func(), f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cancel()
		<-done
		return fmt.Errorf("no answer within %s", d)
	case <-parent.Done():
		cancel()
		<-done
		return parent.Err()
	}
}

// tail keeps the last bytes written to it: Chromium's output, for the
// message when it cannot start.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLine returns the last line Chromium wrote that is not blank.
func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
