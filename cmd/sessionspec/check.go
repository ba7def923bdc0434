package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/htmlreport"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// checkConfig is what `sessionspec check` is told by its arguments.
type checkConfig struct {
	url            string
	timeout        time.Duration
	clock          string
	expired        string
	paths          string
	maxWait        time.Duration
	tolerance      time.Duration
	requestTimeout time.Duration
	sessions       int
	run            string
	startTimeout   time.Duration
	junit          string
	json           string
	html           string // the HTML page of the report
	htmlEvidence   bool   // the page shows the exchanges of every case
	expect         string
	labelFilter    string
	cookie         string
	parallel       int
	isolateTime    bool
	deadline       time.Duration
	allowNA        string
	replicas       []string // --replica: the target's other replicas (a cluster)
	verbose        bool
	insecure       bool
	name           string
	idFromCookie   bool
	sharedFeed     bool
	browser        bool             // also run the browser cases
	screenshots    string           // where the browser cases' screenshots go
	chromium       string           // the browser to run
	set            map[string]bool  // flags given explicitly
	target         string           // --target targets/NAME[:MODE]: a peer manifest (peer.go)
	install        bool             // --target: install what the peer needs first
	procs          []*targetProcess // started by --target: the primary first
}

const checkUsage = `usage: sessionspec check [URL] [flags]

Runs the conformance suite against the session implementation at URL
(a base URL with a path, http://host/app/, is the root of every resource
and of the discovery document). Without URL it checks an embedded
reference server on a fake clock. The target's discovery document
(URL/.well-known/sessionspec) is read when present; flags override it.
Exit codes: 0 every MUST case ran and passed (or every outcome matched
--expect), 1 a conformance failure, 2 a harness or target error (also an
interrupted run), 3 incomplete: a MUST case could not run (--allow-na or
an expectation "ID n/a" accepts that). With --browser it also replays the
seeds' walk-throughs in headless Chromium (the cases labelled browser),
with a screenshot of every step.

flags:
`

func parseCheckFlags(args []string, stderr io.Writer) (checkConfig, error) {
	var c checkConfig
	fs := flag.NewFlagSet("sessionspec check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, checkUsage); fs.PrintDefaults() }
	fs.DurationVar(&c.timeout, "timeout", 0, "the target's session `timeout`, what it is configured with, not a time limit (default: from discovery, else 900s)")
	fs.StringVar(&c.cookie, "cookie", "", "the session cookie's `name` (default: from discovery, else taken from the first response of the session page)")
	fs.IntVar(&c.parallel, "parallel", spec.DefaultParallel, "how many cases run at once (on a controlled clock a case that moves time always runs alone)")
	fs.BoolVar(&c.isolateTime, "isolate-time", false, "on the wall clock, run the cases that wait for time only after all the others have ended, so no other case's requests reach the target while they wait (for a store that ends sessions only while serving requests); longer runs")
	fs.DurationVar(&c.deadline, "deadline", 0, "overall time limit of the run; cases still running then are interrupted, exit 2 (default: 15m plus 2 x --max-wait)")
	fs.StringVar(&c.allowNA, "allow-na", "", "label `expression` of MUST cases allowed to be not applicable without making the run incomplete, e.g. TIMEOUT-004, 'notify' or needs-expired (every case that reads the notification feed)")
	fs.StringVar(&c.clock, "clock", "", "`URL` or path of the target's clock-control resource (GET now, POST ?advance=D)")
	fs.StringVar(&c.expired, "expired", "", "`URL` or path of the expired-notification feed, or \"stdout\" for the --run command's output")
	fs.StringVar(&c.paths, "paths", "", "resource paths, `name=path,...` with names session, expire, logme, expired, counter, clock (empty path: not served)")
	fs.DurationVar(&c.maxWait, "max-wait", 30*time.Second, "longest wall-clock `wait` a case may need; longer cases are not applicable")
	fs.DurationVar(&c.tolerance, "tolerance", 250*time.Millisecond, "slack around a wall-clock timeout: alive at timeout-tolerance, gone at timeout+tolerance")
	fs.DurationVar(&c.requestTimeout, "request-timeout", 10*time.Second, "bound on each request")
	fs.IntVar(&c.sessions, "sessions", 2000, fmt.Sprintf("how many sessions the uniqueness check creates (2 to %d)", spec.MaxSessions))
	fs.StringVar(&c.run, "run", "", "shell `command` that starts the target; it is stopped afterwards (its stdout is the notification feed only with --expired stdout)")
	fs.DurationVar(&c.startTimeout, "start-timeout", 30*time.Second, "how long to wait for the --run target to answer")
	fs.StringVar(&c.junit, "junit", "", "write a JUnit XML report to `file`")
	fs.StringVar(&c.json, "json", "", "write a JSON report to `file`")
	fs.StringVar(&c.html, "html", "", "write the report as one self-contained HTML page to `file` (the browser cases' screenshots embedded)")
	fs.BoolVar(&c.htmlEvidence, "html-evidence", false, "the --html page shows the exchanges of every case, not only of the cases that failed")
	fs.StringVar(&c.expect, "expect", "", "expectations `file` of known deviations (lines: ID OUTCOME reason)")
	fs.Func("replica", "base `URL` of another replica of the target, a cluster of one site (repeatable; default: the discovery document's \"replicas\"); the CLUSTER cases need two or more", func(v string) error {
		c.replicas = append(c.replicas, v)
		return nil
	})
	fs.StringVar(&c.labelFilter, "label-filter", "", "run only cases matching this Ginkgo label `expression` (levels, areas, IDs, needs-RESOURCE), e.g. 'MUST && !timeout'")
	fs.StringVar(&c.name, "name", "", "what reports call the target (default: the discovery document's implementation, else host:port)")
	fs.BoolVar(&c.idFromCookie, "id-from-cookie", false, "when the session page shows no id, take the session cookie's value as the id")
	fs.BoolVar(&c.sharedFeed, "shared-feed", false, "the replicas' expired feeds are one log of the whole cluster's notifications: read one, do not add them up")
	fs.BoolVar(&c.insecure, "insecure", false, "accept any TLS certificate (a self-signed test server on loopback)")
	fs.BoolVar(&c.verbose, "v", false, "also show Ginkgo's output and the evidence of every case")
	fs.BoolVar(&c.browser, "browser", false, "also run the browser cases (BROWSER-*) in headless Chromium; without it they are left out")
	fs.StringVar(&c.screenshots, "screenshots", "", "`directory` for the browser cases' screenshots (default: sessionspec-screenshots beside the --json or --junit report, else in the current directory)")
	fs.StringVar(&c.target, "target", "", "check a peer from its manifest, `targets/NAME[:MODE]`: start it (port 0, its announced URL), check it with the mode's expectations and flags, write reports/NAME[-MODE].{json,xml} unless --json or --junit is given, stop it (see targets/README.md)")
	fs.BoolVar(&c.install, "install", false, "with --target: install what the peer's manifest needs and is missing (Debian packages, npm ci, go mod download) first")
	fs.StringVar(&c.chromium, "chromium", "", "the Chromium to run for --browser, a `path` or a name on PATH (default: $"+browser.EnvChromium+", else /usr/bin/chromium, chromium, chromium-browser, google-chrome)")

	// Flags may come before or after the URL.
	var err error
	if c.url, c.set, err = parseURLAndFlags(fs, args); err != nil {
		return c, err
	}
	switch {
	case c.set["timeout"] && c.timeout <= 0:
		return c, fmt.Errorf("--timeout must be positive, got %s", c.timeout)
	case c.maxWait < 0 || c.tolerance < 0 || c.requestTimeout <= 0 || c.startTimeout <= 0:
		return c, errors.New("--max-wait and --tolerance must not be negative; --request-timeout and --start-timeout must be positive")
	case c.sessions < 2 || c.sessions > spec.MaxSessions:
		return c, fmt.Errorf("--sessions must be between 2 and %d, got %d", spec.MaxSessions, c.sessions)
	case c.parallel < 1:
		return c, fmt.Errorf("--parallel must be at least 1, got %d", c.parallel)
	case c.set["deadline"] && c.deadline <= 0:
		return c, fmt.Errorf("--deadline must be positive, got %s", c.deadline)
	case c.cookie != "" && !contract.ValidCookieName(c.cookie):
		return c, fmt.Errorf("--cookie %q is not a cookie name", c.cookie)
	case c.run != "" && c.url == "":
		return c, errors.New("--run needs the URL the command will serve")
	case c.expired == "stdout" && c.run == "" && c.target == "":
		return c, errors.New("--expired stdout needs --run")
	case (c.screenshots != "" || c.chromium != "") && !c.browser:
		return c, errors.New("--screenshots and --chromium need --browser")
	case c.htmlEvidence && c.html == "":
		return c, errors.New("--html-evidence needs --html")
	case c.install && c.target == "":
		return c, errors.New("--install needs --target")
	}
	if _, err := parsePaths(c.paths); err != nil {
		return c, err
	}
	for _, r := range c.replicas {
		if _, err := contract.ParseReplica(r); err != nil {
			return c, fmt.Errorf("--replica: %v", err)
		}
	}
	if len(c.replicas)+1 > contract.MaxReplicas {
		return c, fmt.Errorf("--replica: %d replicas, at most %d with the target's own URL", len(c.replicas), contract.MaxReplicas-1)
	}
	for _, f := range []struct{ flag, expr string }{{"--label-filter", c.labelFilter}, {"--allow-na", c.allowNA}} {
		if _, err := spec.ParseLabelFilter(f.expr); err != nil {
			return c, fmt.Errorf("%s: %v", f.flag, err)
		}
	}
	if !c.set["deadline"] {
		c.deadline = 15*time.Minute + 2*c.maxWait
	}
	return c, nil
}

// parsePaths reads --paths: name=path pairs separated by commas.
func parsePaths(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		name, path, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return nil, fmt.Errorf("--paths: %q wants name=path", pair)
		}
		if err := (&spec.Paths{}).Set(name, path); err != nil {
			return nil, fmt.Errorf("--paths: %v", err)
		}
		out[name] = path
	}
	return out, nil
}

// apply lays the flags over what discovery found.
func (c checkConfig) apply(t *spec.Target) {
	paths, _ := parsePaths(c.paths)
	for name, p := range paths {
		t.Paths.Set(name, p) // checked by parsePaths
	}
	if c.set["timeout"] {
		t.Timeout = c.timeout
	}
	if c.set["clock"] {
		t.Paths.Clock = c.clock
	}
	if c.name != "" {
		t.Name = c.name
	}
	if c.cookie != "" {
		t.Cookie, t.CookieSource = c.cookie, "--cookie"
	}
	// What the user names on the command line may be on another origin;
	// nothing else may.
	for _, f := range []string{c.clock, c.expired} {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			t.Allowed = append(t.Allowed, f)
		}
	}
	t.IDFromCookie = t.IDFromCookie || c.idFromCookie
	t.SharedFeed = t.SharedFeed || c.sharedFeed
	if c.set["expired"] && c.expired != "stdout" {
		t.Paths.Expired = c.expired
	}
	t.MaxWait, t.Tolerance, t.RequestTimeout, t.Sessions = c.maxWait, c.tolerance, c.requestTimeout, c.sessions
	if len(c.replicas) > 0 { // --replica replaces the discovery document's list
		t.Replicas, t.ReplicaTransports = nil, nil
		for _, r := range c.replicas {
			t.AddReplica(r) // checked by the flag
		}
	}
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseCheckFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec check: %v (see sessionspec check --help)\n", err)
		return exitHarness
	}
	if c.target != "" {
		return checkTarget(ctx, c, args, stdout, stderr)
	}
	code, err := runCheck(ctx, c, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec check: %v\n", err)
	}
	return code
}

// runCheck does the work of check; an error is a harness or target error,
// reported in one line with exit code 2.
func runCheck(ctx context.Context, c checkConfig, stdout, stderr io.Writer) (int, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.deadline, fmt.Errorf("the run's --deadline of %s passed", c.deadline))
	defer cancel()
	cases := spec.Cases()
	if c.browser {
		cases = append(cases, browser.Catalogue()...) // bound to the browser once it has started
	}
	selected, err := spec.Select(cases, c.labelFilter)
	if err != nil {
		if !c.browser {
			if _, all := spec.Select(append(cases, browser.Catalogue()...), c.labelFilter); all == nil {
				err = fmt.Errorf("%v; the browser cases run only with --browser", err)
			}
		}
		return exitHarness, err
	}
	var exp spec.Expectations
	if c.expect != "" {
		f, err := os.Open(c.expect)
		if err != nil {
			return exitHarness, fmt.Errorf("--expect: %v", err)
		}
		exp, err = spec.ParseExpectations(f, append(spec.Cases(), browser.Catalogue()...))
		f.Close()
		if err != nil {
			return exitHarness, fmt.Errorf("--expect %s: %v", c.expect, err)
		}
	}
	// An unwritable report path costs seconds, not a whole run; the
	// reports themselves are written whole at the end, or not at all.
	for _, path := range []string{c.junit, c.json, c.html} {
		if path != "" {
			if err := spec.CheckWritable(path); err != nil {
				return exitHarness, fmt.Errorf("report file: %v", err)
			}
		}
	}
	// With --browser, Chromium starts now, so that a missing or broken one
	// is said at once, in one line, before any target is started or any
	// case runs.
	var b *browser.Browser
	if c.browser {
		b, err = browser.Start(ctx, browser.Options{Chromium: c.chromium, Screenshots: c.screenshotDir(), Insecure: c.insecure})
		if err != nil {
			return exitHarness, err
		}
		defer b.Stop()
		cases = append(spec.Cases(), b.Cases()...)
	}

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
	if c.insecure {
		tr := spec.NewTransport()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		target.Transport = tr
	}

	var proc *targetProcess
	if len(c.procs) > 0 {
		proc = c.procs[0]
	}
	if c.run != "" {
		if proc, err = startTarget(ctx, c.run, target, c.startTimeout, stderr, c.verbose); err != nil {
			return exitHarness, err
		}
		defer proc.stop()
	}
	if err := target.Discover(ctx); err != nil {
		if strings.Contains(err.Error(), "x509:") && !c.insecure {
			err = fmt.Errorf("%v (for a self-signed test server, add --insecure)", err)
		}
		return exitHarness, err
	}
	c.apply(target)
	if proc != nil && c.expired == "stdout" {
		target.ExpiredLines = proc.lines
	}
	if c.url == "" && c.name == "" {
		target.Name = "embedded reference"
	}

	clock := "wall clock"
	if target.Controlled() {
		clock = "controlled clock at " + target.Resolve(target.Paths.Clock)
	}
	fmt.Fprintf(stdout, "sessionspec %s: checking %s at %s (%s, session timeout %s, %d cases, %d at a time)\n",
		spec.Version, target.Name, target.URL, clock, target.Timeout, len(selected), c.parallel)
	if len(target.Replicas) > 0 {
		fmt.Fprintf(stdout, "sessionspec: a cluster of %d replicas, the suite their load balancer: %s\n", target.ReplicaCount(), strings.Join(target.ReplicaNames(), " "))
	}
	opts := spec.Options{Cases: cases, LabelFilter: c.labelFilter, Parallel: c.parallel, AllowNA: c.allowNA, IsolateTime: c.isolateTime}
	opts.OnCase = func(r spec.Result) {
		if exp != nil {
			e := exp[r.ID]
			r.Expected, r.Reason = e.Outcome, e.Reason
		}
		fmt.Fprintln(stdout, r.Line())
		if r.Outcome != spec.Passed {
			fmt.Fprintln(stdout, indent(r.Message, "      "))
		}
		if r.Outcome == spec.Failed || r.Outcome == spec.Errored || c.verbose && r.Evidence != "" {
			if r.Seed != "" {
				fmt.Fprintf(stdout, "      source: %s: %q\n", r.Source, r.Seed)
			}
			if r.Evidence != "" {
				fmt.Fprintf(stdout, "      evidence:\n%s\n", indent(r.Evidence, "        "))
			}
		}
	}
	var rec *htmlreport.Recorder // every case's transcript, for --html
	if c.html != "" {
		rec = htmlreport.NewRecorder()
		opts.Cases = rec.Wrap(opts.Cases)
	}
	rep, err := spec.Run(ctx, target, opts)
	if err != nil {
		if ctx.Err() != nil {
			return exitHarness, fmt.Errorf("%v (%v)", err, context.Cause(ctx))
		}
		return exitHarness, err
	}
	if proc != nil {
		rep.Problems = append(rep.Problems, proc.problems()...)
	}
	for _, p := range c.procs[min(1, len(c.procs)):] {
		rep.Problems = append(rep.Problems, p.problems()...)
	}
	rep.Judge(exp)
	s := rep.Summary
	fmt.Fprintf(stdout, "sessionspec: cookie %s (%s)\n", orDash(rep.Cookie), rep.CookieSource)
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "sessionspec: PROBLEM: %s\n", p)
	}
	if len(s.Incomplete) > 0 {
		fmt.Fprintf(stdout, "sessionspec: INCOMPLETE: MUST cases not applicable: %s (their reasons are above; --allow-na accepts them on purpose)\n", strings.Join(s.Incomplete, ", "))
	}
	fmt.Fprintf(stdout, "sessionspec: %d cases: %d pass, %d fail (%d MUST), %d n/a, %d error, %d interrupted in %.2fs",
		len(rep.Results), s.Pass, s.Fail, s.MustFailures, s.NotApplicable, s.Error, s.Interrupted, rep.Seconds)
	if exp != nil {
		fmt.Fprintf(stdout, "; %d differ from %s", s.Unexpected, c.expect)
	}
	fmt.Fprintf(stdout, " -> exit %d\n", rep.ExitCode)
	if c.browser {
		fmt.Fprintf(stdout, "sessionspec: browser screenshots in %s\n", b.ScreenshotDir())
	}
	if c.junit != "" {
		if err := spec.WriteFile(c.junit, rep.WriteJUnit); err != nil {
			return exitHarness, fmt.Errorf("writing %s: %v", c.junit, err)
		}
	}
	if c.json != "" {
		if err := spec.WriteFile(c.json, rep.WriteJSON); err != nil {
			return exitHarness, fmt.Errorf("writing %s: %v", c.json, err)
		}
	}
	if c.html != "" {
		o := htmlreport.Options{Expect: c.expect, Transcripts: rec.Transcripts(), AllEvidence: c.htmlEvidence}
		if b != nil {
			o.Screenshots = b.ScreenshotDir()
		}
		if err := htmlreport.WriteFile(c.html, rep, o); err != nil {
			return exitHarness, fmt.Errorf("writing %s: %v", c.html, err)
		}
	}
	return rep.ExitCode, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// screenshotDir is where --browser puts its screenshots: --screenshots,
// else beside the report (--json, --junit, --html), else in the current
// directory.
func (c checkConfig) screenshotDir() string {
	switch {
	case c.screenshots != "":
		return c.screenshots
	case c.json != "":
		return filepath.Join(filepath.Dir(c.json), browser.DefaultScreenshots)
	case c.junit != "":
		return filepath.Join(filepath.Dir(c.junit), browser.DefaultScreenshots)
	case c.html != "":
		return filepath.Join(filepath.Dir(c.html), browser.DefaultScreenshots)
	}
	return browser.DefaultScreenshots
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// urlOrEmbedded returns url, or when it is empty the URL of a reference
// started here on a fake clock (with timeout if set, else the default),
// and what stops it.
func urlOrEmbedded(url string, timeout time.Duration, set bool) (string, func(), error) {
	if url != "" {
		return url, func() {}, nil
	}
	if !set {
		timeout = reference.DefaultTimeout
	}
	rs, err := startReference(serveConfig{addr: "127.0.0.1:0", timeout: timeout, fakeClock: true}, io.Discard)
	if err != nil {
		return "", nil, fmt.Errorf("starting the embedded reference: %v", err)
	}
	return rs.URL, func() { rs.shutdown(5 * time.Second) }, nil
}
