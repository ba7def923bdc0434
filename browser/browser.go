//go:build !wasm

package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// Options shape a Browser.
//
//	b, err := browser.Start(ctx, browser.Options{Chromium: "/usr/bin/chromium", Screenshots: "shots"})
type Options struct {
	// Chromium is the browser to run: a path, or a name looked up on PATH.
	// Empty means $SESSIONSPEC_CHROMIUM, else the first of
	// /usr/bin/chromium, chromium, chromium-browser and google-chrome
	// (FindChromium).
	//
	//	browser.Options{Chromium: "chromium"}
	Chromium string
	// Screenshots is the directory the screenshots go to; empty means
	// DefaultScreenshots. It is made when a case starts; a case removes
	// the screenshots its own earlier run left there (<CASE-ID>-*.png), so
	// the directory holds each case's last run. Give each Browser a
	// directory of its own.
	//
	//	browser.Options{Screenshots: filepath.Join(t.TempDir(), "shots")}
	Screenshots string
	// StartTimeout bounds each start of Chromium (Start, and BROWSER-005's
	// restart); zero means 30 s.
	//
	//	browser.Options{StartTimeout: time.Minute} // a slow machine
	StartTimeout time.Duration
	// Insecure makes Chromium accept any TLS certificate (a self-signed
	// test server), as check --insecure does for the HTTP cases.
	//
	//	browser.Options{Insecure: true} // https://127.0.0.1:8443, self-signed
	Insecure bool
}

// DefaultScreenshots is where screenshots go when Options do not say: a
// directory relative to the current one.
//
//	b, _ := browser.Start(ctx, browser.Options{})
//	fmt.Println(b.ScreenshotDir()) // sessionspec-screenshots
const DefaultScreenshots = "sessionspec-screenshots"

// EnvChromium names the environment variable that points at the browser
// when Options.Chromium is empty.
//
//	SESSIONSPEC_CHROMIUM=/opt/chrome/chrome sessionspec check URL --browser
const EnvChromium = "SESSIONSPEC_CHROMIUM"

// Browser is one headless Chromium that the caller owns: Start makes it,
// Stop ends it, and its Cases run in it. Nothing of it is global: two
// Browsers in one process are two Chromiums with profiles of their own.
//
// A Browser runs one of its cases at a time: a case waits for the one
// in progress (its evidence says how long), so the cases of one run, and
// of several runs at once that share the Browser, never meet in it. See
// the package documentation for why.
//
//	b, err := browser.Start(ctx, browser.Options{Screenshots: "shots"})
//	if err != nil {
//		return err // one line: no Chromium, or it would not start
//	}
//	defer b.Stop()
//	rep, err := spec.Run(ctx, target, spec.Options{Cases: append(spec.Cases(), b.Cases()...)})
type Browser struct {
	opts    Options
	path    string // the Chromium binary
	profile string // its user data directory, kept across BROWSER-005's restart
	shots   string

	// turn is held by the case that uses the browser, and by Stop: what
	// follows is only touched by its holder.
	turn    chan struct{}
	c       *chromium // nil after a restart that failed: the next case starts one
	stopped bool
}

// Start finds Chromium (Options.Chromium, $SESSIONSPEC_CHROMIUM, the
// usual places), starts it headless with a fresh profile, and waits until
// it answers. ctx bounds only the start: the browser lives until Stop.
// The error is one line that says what to do: install Chromium, name it,
// or see why it would not start. It is a harness error (exit code 2 for
// the check command), never a reason to skip the browser cases.
//
//	b, err := browser.Start(ctx, browser.Options{})
//	if err != nil {
//		log.Fatal(err) // e.g. no Chromium found (tried ...): install Debian's chromium ...
//	}
//	defer b.Stop()
func Start(ctx context.Context, o Options) (*Browser, error) {
	path, err := FindChromium(o.Chromium)
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "sessionspec-chromium-")
	if err != nil {
		return nil, fmt.Errorf("a profile directory for Chromium: %v (set $TMPDIR to a writable directory)", err)
	}
	b := &Browser{opts: o, path: path, profile: profile, shots: o.Screenshots, turn: make(chan struct{}, 1)}
	if b.shots == "" {
		b.shots = DefaultScreenshots
	}
	if b.c, err = b.startChromium(ctx); err != nil {
		os.RemoveAll(profile)
		return nil, err
	}
	return b, nil
}

// Stop waits for the case in progress, if any, closes Chromium (letting
// it write its profile) and removes its profile directory. It is safe to
// call more than once; cases that start afterwards end as errors.
//
//	b, err := browser.Start(ctx, browser.Options{})
//	if err != nil {
//		return err
//	}
//	defer b.Stop()
func (b *Browser) Stop() {
	if b == nil {
		return
	}
	b.turn <- struct{}{}
	defer func() { <-b.turn }()
	if b.stopped {
		return
	}
	b.stopped = true
	if b.c != nil {
		b.c.stop()
		b.c = nil
	}
	os.RemoveAll(b.profile)
}

// ScreenshotDir is the directory the cases' screenshots go to:
// Options.Screenshots, or DefaultScreenshots.
//
//	fmt.Printf("screenshots in %s\n", b.ScreenshotDir())
func (b *Browser) ScreenshotDir() string { return b.shots }

// startTimeout bounds one start of Chromium.
func (b *Browser) startTimeout() time.Duration {
	if b.opts.StartTimeout > 0 {
		return b.opts.StartTimeout
	}
	return 30 * time.Second
}

// startChromium starts Chromium on the Browser's profile, with the next
// user's browser context made ahead.
func (b *Browser) startChromium(ctx context.Context) (*chromium, error) {
	c, err := startChromium(ctx, b.path, b.profile, b.opts.Insecure, b.startTimeout())
	if err != nil {
		return nil, err
	}
	c.prepare()
	return c, nil
}

// errNoBrowser is what a case of Catalogue says when it is run.
const errNoBrowser = "no browser: use (*Browser).Cases; browser.Catalogue's cases describe the browser cases but cannot run them (b, err := browser.Start(ctx, browser.Options{}); defer b.Stop(); then b.Cases())"

// take waits for the browser's turn for case id and returns the running
// Chromium and the function that gives the turn back. It ends p's case if the
// Browser is missing or stopped, if the run is interrupted while it
// waits, or if Chromium died and cannot be started again.
func (b *Browser) take(p *spec.Probe, id string) (*chromium, func()) {
	if b == nil {
		p.Abort("%s", errNoBrowser)
	}
	start := time.Now()
	select {
	case b.turn <- struct{}{}:
	case <-p.Context().Done():
		p.Abort("interrupted while waiting for the browser")
	}
	release := func() { <-b.turn }
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	if waited := time.Since(start); waited >= 10*time.Millisecond {
		p.Tr.Note("waited %s for the browser: another browser case had it (a Browser runs one case at a time)", waited.Round(time.Millisecond))
	}
	if b.stopped {
		p.Abort("the browser was stopped (Browser.Stop) before this case ran: stop it after spec.Run returns")
	}
	if b.c != nil && b.c.ctx.Err() != nil {
		// Chromium died (or was killed) since the last case: start it
		// again rather than fail every case after.
		p.Tr.Note("Chromium had stopped since the last browser case; starting it again")
		b.c.stop()
		b.c = nil
	}
	if b.c == nil {
		c, err := b.startChromium(p.Context())
		if err != nil {
			p.Abort("%v", err)
		}
		b.c = c
	}
	if err := b.clearShots(id); err != nil {
		p.Abort("%v", err)
	}
	ok = true
	return b.c, release
}

// restart closes Chromium as a person closes a browser, letting it write
// its profile, calls closed (if not nil; it must not panic) once it has
// exited, and starts it again on the same profile. The caller holds the
// turn. If the new one cannot start, the next case starts one.
func (b *Browser) restart(ctx context.Context, closed func()) (*chromium, error) {
	if b.c != nil {
		b.c.stop()
		b.c = nil
	}
	if closed != nil {
		closed()
	}
	c, err := b.startChromium(ctx)
	if err != nil {
		return nil, fmt.Errorf("restarting: %v", err)
	}
	b.c = c
	return c, nil
}

// clearShots makes the screenshot directory and removes the screenshots
// an earlier run of case id left there. The caller holds the turn.
func (b *Browser) clearShots(id string) error {
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		return fmt.Errorf("screenshot directory: %v (choose a writable one: --screenshots DIR, or Options.Screenshots)", err)
	}
	entries, err := os.ReadDir(b.shots)
	if err != nil {
		return fmt.Errorf("screenshot directory: %v (choose a readable one: --screenshots DIR, or Options.Screenshots)", err)
	}
	prefix := id + "-"
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, prefix) && strings.HasSuffix(name, ".png") && !e.IsDir() {
			if err := os.Remove(filepath.Join(b.shots, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing an old screenshot: %v", err)
			}
		}
	}
	return nil
}
