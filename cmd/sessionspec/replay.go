package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/htmlreport"
	"github.com/sessionspec/sessionspec/spec"
)

const replayUsage = `usage: sessionspec replay [URL] [flags]

Replays the seeds' walk-throughs ("Session Basics", "Session Endings" and
the counter of the twisted-web thread) in headless Chromium against the
session implementation at URL, or against an embedded reference server on
a fake clock when URL is omitted, and writes one page per walk-through
into --out: the seed's paragraphs beside what the target did at each step
(its screenshot, the cookie jar, the verdict on the step's claim, the
claim highlighted in the paragraph), and index.html linking them.
Time passes through the target's clock (its discovery document, or
--clock) or, without one, on the wall clock: a walk-through that would
wait longer than --max-wait there is refused.
Exit codes: 0 every claim held, 1 a claim did not hold, 2 a harness or
target error (no Chromium, an unreachable target, a refused wait),
3 a walk-through could not be played (the target lacks a resource).

flags:
`

// replayConfig is what `sessionspec replay` is told by its arguments.
type replayConfig struct {
	url            string
	out            string
	timeout        time.Duration
	clock          string
	cookie         string
	name           string
	maxWait        time.Duration
	tolerance      time.Duration
	requestTimeout time.Duration
	chromium       string
	shotWidth      int
	jpeg           bool
	set            map[string]bool
}

func parseReplayFlags(args []string, stderr io.Writer) (replayConfig, error) {
	var c replayConfig
	fs := flag.NewFlagSet("sessionspec replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, replayUsage); fs.PrintDefaults() }
	fs.StringVar(&c.out, "out", filepath.Join("reports", "replay"), "`directory` for the pages (index.html and one page per walk-through)")
	fs.DurationVar(&c.timeout, "timeout", 0, "the target's session `timeout` (default: from discovery, else 900s)")
	fs.StringVar(&c.clock, "clock", "", "`URL` or path of the target's clock-control resource (GET now, POST ?advance=D)")
	fs.StringVar(&c.cookie, "cookie", "", "the session cookie's `name` (default: from discovery, else taken from the first response)")
	fs.StringVar(&c.name, "name", "", "what the pages call the target (default: the discovery document's implementation, else host:port)")
	fs.DurationVar(&c.maxWait, "max-wait", time.Minute, "longest wall-clock `wait` one walk-through may need; a longer one is refused (exit 2)")
	fs.DurationVar(&c.tolerance, "tolerance", 250*time.Millisecond, "slack around a wall-clock timeout")
	fs.DurationVar(&c.requestTimeout, "request-timeout", 10*time.Second, "bound on each request and browser step")
	fs.StringVar(&c.chromium, "chromium", "", "the Chromium to run, a `path` or a name on PATH (default: $"+browser.EnvChromium+", else /usr/bin/chromium, chromium, chromium-browser, google-chrome)")
	fs.IntVar(&c.shotWidth, "shot-width", 0, "scale the screenshots down to this `width` in pixels (0: as taken, 800)")
	fs.BoolVar(&c.jpeg, "jpeg", false, "embed the screenshots as JPEG, not PNG (smaller pages)")
	var err error
	if c.url, c.set, err = parseURLAndFlags(fs, args); err != nil {
		return c, err
	}
	switch {
	case c.set["timeout"] && c.timeout <= 0:
		return c, fmt.Errorf("--timeout must be positive, got %s", c.timeout)
	case c.maxWait < 0 || c.tolerance < 0 || c.requestTimeout <= 0:
		return c, errors.New("--max-wait and --tolerance must not be negative; --request-timeout must be positive")
	case c.out == "":
		return c, errors.New("--out must name a directory")
	case c.shotWidth < 0:
		return c, fmt.Errorf("--shot-width must not be negative, got %d", c.shotWidth)
	}
	return c, nil
}

func replay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseReplayFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec replay: %v (see sessionspec replay --help)\n", err)
		return exitHarness
	}
	code, err := runReplay(ctx, c, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec replay: %v\n", err)
	}
	return code
}

// runReplay does the work of replay; an error is a harness or target
// error, said in one line, exit code 2.
func runReplay(ctx context.Context, c replayConfig, stdout io.Writer) (int, error) {
	deadline := 15*time.Minute + 2*c.maxWait
	ctx, cancel := context.WithTimeoutCause(ctx, deadline, fmt.Errorf("the replay's deadline of %s passed", deadline))
	defer cancel()
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return exitHarness, fmt.Errorf("--out: %v", err)
	}
	if err := spec.CheckWritable(filepath.Join(c.out, "index.html")); err != nil {
		return exitHarness, fmt.Errorf("--out: %v", err)
	}
	// The screenshots pass through a directory of the replay's own; the
	// pages embed them.
	shots, err := os.MkdirTemp("", "sessionspec-replay-")
	if err != nil {
		return exitHarness, fmt.Errorf("a temporary directory for the screenshots: %v (set $TMPDIR to a writable directory)", err)
	}
	defer os.RemoveAll(shots)
	// Chromium first: a missing one is said at once, in one line.
	b, err := browser.Start(ctx, browser.Options{Chromium: c.chromium, Screenshots: shots})
	if err != nil {
		return exitHarness, err
	}
	defer b.Stop()

	url, stop, err := urlOrEmbedded(c.url, c.timeout, c.set["timeout"])
	if err != nil {
		return exitHarness, err
	}
	defer stop()
	target, err := spec.NewTarget(url)
	if err != nil {
		return exitHarness, err
	}
	target.RequestTimeout = c.requestTimeout
	if err := target.Discover(ctx); err != nil {
		return exitHarness, err
	}
	if c.set["timeout"] {
		target.Timeout = c.timeout
	}
	if c.clock != "" {
		target.Paths.Clock = c.clock
		if strings.HasPrefix(c.clock, "http://") || strings.HasPrefix(c.clock, "https://") {
			target.Allowed = append(target.Allowed, c.clock)
		}
	}
	if c.cookie != "" {
		target.Cookie, target.CookieSource = c.cookie, "--cookie"
	}
	switch {
	case c.name != "":
		target.Name = c.name
	case c.url == "":
		target.Name = "embedded reference"
	}
	target.MaxWait, target.Tolerance = c.maxWait, c.tolerance

	walks := browser.Walkthroughs()
	for _, w := range walks {
		if d := w.WallWait(target); d > c.maxWait {
			return exitHarness, fmt.Errorf("%q would wait %s on the wall clock (session timeout %s, no clock resource) and --max-wait is %s: give the target a clock (--clock), a shorter timeout, or a longer --max-wait",
				w.Title, d.Round(time.Millisecond), target.Timeout, c.maxWait)
		}
	}
	clock := "wall clock"
	if target.Controlled() {
		clock = "controlled clock at " + target.Resolve(target.Paths.Clock)
	}
	fmt.Fprintf(stdout, "sessionspec %s: replaying %d walk-throughs against %s at %s (%s, session timeout %s)\n",
		spec.Version, len(walks), target.Name, target.URL, clock, target.Timeout)
	r, err := b.Replay(ctx, target, walks)
	if err != nil {
		if ctx.Err() != nil {
			return exitHarness, fmt.Errorf("%v (%v)", err, context.Cause(ctx))
		}
		return exitHarness, err
	}
	for _, w := range r.Walks {
		held, claims := 0, 0
		for _, s := range w.Steps {
			if s.Claim == "" {
				continue
			}
			claims++
			if s.Mark == spec.Passed {
				held++
			}
			if s.Mark != spec.Passed {
				fmt.Fprintf(stdout, "  %s step %d %s: %q: %s\n", w.Walkthrough.ID, s.N, strings.ToUpper(string(s.Mark)), s.Claim, s.Reason)
			}
		}
		fmt.Fprintf(stdout, "%-5s %s: %d of %d claims held, %d of %d steps played (%.2fs) -> %s\n",
			strings.ToUpper(string(w.Outcome)), w.Walkthrough.Title, held, claims, len(w.Steps), len(w.Walkthrough.Steps), w.Seconds,
			filepath.Join(c.out, htmlreport.ReplayPageName(w.Walkthrough)))
		if w.Outcome != spec.Passed && w.Outcome != spec.Failed {
			fmt.Fprintf(stdout, "      %s\n", indent(w.Message, "      ")[6:])
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(stdout, "sessionspec replay: PROBLEM: %s\n", p)
	}
	if err := htmlreport.WriteReplay(c.out, r, htmlreport.ReplayOptions{ShotWidth: c.shotWidth, JPEG: c.jpeg}); err != nil {
		return exitHarness, fmt.Errorf("writing the pages: %v", err)
	}
	code := r.ExitCode()
	fmt.Fprintf(stdout, "sessionspec replay: %s in %.2fs -> exit %d\n", filepath.Join(c.out, "index.html"), r.Seconds, code)
	return code, nil
}
