// Command matrix runs sessionspec against every implementation under
// targets/ and the reference, and renders the results as a compatibility
// matrix: reports/matrix.html (static, self-contained), reports/matrix.md,
// an evidence page per run (reports/evidence/RUN.html: every case's
// message, the expectation's reason, the HTTP exchanges of a failure and the
// browser screenshots) and, with -snapshot, a Markdown snapshot to commit.
//
//	go run ./targets/matrix                 run every target (2 at a time), then render
//	go run ./targets/matrix -run=false      render the reports already in reports/
//	go run ./targets/matrix -only tomcat,scs
//
// The runs are every mode of every peer manifest (targets/*/peer.json, the
// reference's included), each `sessionspec check --target
// targets/NAME:MODE` at the mode's matrix_timeout, gated on the mode's
// expectations file; -only takes their report names (NAME, or NAME-MODE
// for a peer of several modes: `sessionspec peers` lists them). The exit code is 0 when every run exited 0 (no outcome differs from its
// expectations), 1 when one differed, 2 when one could not run at all (a
// missing toolchain fails loudly, it is never skipped); the page is written
// either way.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessionspec/sessionspec/internal/peer"
	"github.com/sessionspec/sessionspec/spec"
)

// The kinds of session an implementation keeps (a manifest's "kind"): the
// matrix groups its columns by them.
const (
	ServerStore  = peer.ServerStore
	ClientCookie = peer.ClientCookie
	Clustered    = peer.Clustered
)

// Run is one column of the matrix: one implementation in one mode.
type Run struct {
	Name    string   // report base name: reports/NAME.json
	Kind    string   // how the implementation keeps sessions (ServerStore, ClientCookie): the top header
	Impl    string   // the implementation (column group)
	Mode    string   // the mode (sub-column)
	Expect  string   // its expectations file, "" for none (every MUST case must pass)
	Browser bool     // runs the browser cases when the CLI has them
	Command []string // what runs it (with {browser} replaced by the browser flags)
	Env     []string // added to its environment

	// Filled in after the run.
	Report    *spec.Report
	Exit      int
	Seconds   float64
	Log       string // path of its log, relative to the reports directory
	Problem   string // why there is no report, if there is none
	Skipped   bool   // not run this time (-run=false or -only): its old report is shown
	Browsers  bool   // the browser cases were run
	KindFirst bool   // the first column of its kind (set when the matrix is built)
}

// runs lists the columns in the order they are shown (and started): every
// mode of every peer manifest under root/targets (internal/peer), the runs
// of one kind together in the order of peer.Kinds, the reference first.
// Each run is `sessionspec check --target targets/NAME:MODE` with the
// mode's matrix timeout, its report reports/RUN.json.
func runs(root, bin string) ([]*Run, error) {
	ms, err := peer.List(root)
	if err != nil {
		return nil, err
	}
	var out []*Run
	for _, m := range ms {
		for _, pr := range m.Runs() {
			name := pr.Name()
			cmd := []string{bin, "check", "--target", pr.Target(),
				"--json", "{reports}/" + name + ".json", "--junit", "{reports}/" + name + ".xml"}
			about := pr.About
			if pr.MatrixTimeout != pr.Timeout {
				cmd = append(cmd, "--timeout", pr.MatrixTimeout.String())
				about = retime(about, pr.Timeout, pr.MatrixTimeout)
			}
			r := &Run{Name: name, Kind: pr.Kind, Impl: m.Impl, Mode: about, Browser: pr.Browser, Command: append(cmd, "{browser}")}
			if pr.Expect != "" {
				r.Expect = filepath.ToSlash(filepath.Join("targets", m.Name, filepath.Base(pr.Expect)))
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b *Run) int { return kindIndex(a.Kind) - kindIndex(b.Kind) })
	return out, nil
}

func kindIndex(k string) int {
	if i := slices.Index(peer.Kinds, k); i >= 0 {
		return i
	}
	return len(peer.Kinds)
}

// retime says the matrix's timeout in a mode's description: "wall clock,
// 2 s" becomes "wall clock, 4 s"; a description that does not name the
// timeout gets it added.
func retime(about string, from, to time.Duration) string {
	say := func(d time.Duration) string {
		if d%time.Second == 0 {
			return fmt.Sprintf("%d s", d/time.Second)
		}
		return d.String()
	}
	if strings.Contains(about, say(from)) {
		return strings.Replace(about, say(from), say(to), 1)
	}
	return about + ", " + say(to)
}

func main() {
	run := flag.Bool("run", true, "run the targets; false renders the reports already there")
	jobs := flag.Int("jobs", 2, "how many targets run at once")
	only := flag.String("only", "", "comma-separated run names to run (the others' old reports are shown)")
	browserMode := flag.String("browser", "auto", "run the browser cases: auto (when `sessionspec check` has --browser), on, off")
	reports := flag.String("reports", "reports", "directory for the reports and the pages")
	bin := flag.String("sessionspec", "bin/sessionspec", "the sessionspec binary (built by make matrix)")
	snapshot := flag.String("snapshot", "", "also write the Markdown matrix, without links, to this file (e.g. targets/MATRIX.md)")
	runTimeout := flag.Duration("run-timeout", 5*time.Minute, "bound on one run")
	root := flag.String("root", ".", "the repository `directory` whose targets/*/peer.json are the runs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := matrix(ctx, options{
		run: *run, jobs: *jobs, only: *only, browser: *browserMode, reports: *reports,
		bin: *bin, snapshot: *snapshot, runTimeout: *runTimeout, root: *root,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "matrix: %v\n", err)
	}
	os.Exit(code)
}

type options struct {
	run        bool
	jobs       int
	only       string
	browser    string
	reports    string
	bin        string
	snapshot   string
	runTimeout time.Duration
	root       string
}

func matrix(ctx context.Context, o options) (int, error) {
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(o.reports, "logs"), 0o755); err != nil {
		return 2, err
	}
	all, err := runs(o.root, o.bin)
	if err != nil {
		return 2, err
	}
	selected := map[string]bool{}
	for n := range strings.SplitSeq(o.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if !slices.ContainsFunc(all, func(r *Run) bool { return r.Name == n }) {
				return 2, fmt.Errorf("-only: no run named %q", n)
			}
			selected[n] = true
		}
	}

	browser := false
	switch o.browser {
	case "on", "auto":
		out, _ := exec.Command(o.bin, "check", "--help").CombinedOutput()
		browser = strings.Contains(string(out), "-browser")
		if !browser && o.browser == "on" {
			return 2, fmt.Errorf("-browser=on: %s check has no --browser flag", o.bin)
		}
	case "off":
	default:
		return 2, fmt.Errorf("-browser: want auto, on or off, got %q", o.browser)
	}

	var toRun []*Run
	for _, r := range all {
		r.Log = "logs/" + r.Name + ".log"
		if !o.run || len(selected) > 0 && !selected[r.Name] {
			r.Skipped = true
			continue
		}
		r.Browsers = browser && r.Browser
		toRun = append(toRun, r)
	}
	if len(toRun) > 0 {
		fmt.Printf("matrix: %d runs, %d at a time; browser cases: %v; logs in %s/logs\n", len(toRun), o.jobs, browser, o.reports)
		execute(ctx, toRun, o)
	}

	code := 0
	for _, r := range all {
		if r.Skipped {
			load(r, o.reports)
			continue
		}
		switch {
		case r.Exit == 2 || r.Report == nil:
			code = 2
		case r.Exit != 0 && code == 0:
			code = 1
		}
	}
	wall := time.Since(start)
	if len(toRun) == 0 {
		wall = 0 // nothing ran: the page must not claim a run time
	}
	m := build(all, wall, browser)
	if err := m.write(o.reports, o.snapshot); err != nil {
		return 2, err
	}
	fmt.Printf("matrix: %s/matrix.html, %s/matrix.md", o.reports, o.reports)
	if o.snapshot != "" {
		fmt.Printf(", %s", o.snapshot)
	}
	fmt.Printf(" (%.1fs wall time)\n", time.Since(start).Seconds())
	for _, r := range all {
		if r.Skipped {
			continue
		}
		status := "ok"
		switch {
		case r.Report == nil:
			status = "NO REPORT: " + r.Problem
		case r.Exit == 3:
			status = "exit 3: incomplete, a MUST case was not applicable"
		case r.Exit != 0:
			status = fmt.Sprintf("exit %d: outcomes differ from %s", r.Exit, orNone(r.Expect))
		}
		fmt.Printf("  %-22s %6.1fs  %s\n", r.Name, r.Seconds, status)
	}
	return code, nil
}

func orNone(s string) string {
	if s == "" {
		return "the MUST cases (no expectations file)"
	}
	return s
}

// execute runs the runs, o.jobs at a time, longest first as listed.
func execute(ctx context.Context, rs []*Run, o options) {
	sem := make(chan struct{}, max(1, o.jobs))
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runOne(ctx, r, o)
			fmt.Printf("matrix: %-22s exit %d in %.1fs\n", r.Name, r.Exit, r.Seconds)
		}()
		// Start them in order, a moment apart, so that two JVMs or
		// Chromiums do not start in the same instant.
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
}

func runOne(ctx context.Context, r *Run, o options) {
	var args []string
	for _, a := range r.Command {
		switch {
		case a == "{browser}":
			if r.Browsers {
				args = append(args, "--browser", "--screenshots", filepath.Join(o.reports, "screenshots", r.Name))
			}
		default:
			args = append(args, strings.ReplaceAll(a, "{reports}", o.reports))
		}
	}
	logf, err := os.Create(filepath.Join(o.reports, r.Log))
	if err != nil {
		r.Exit, r.Problem = 2, err.Error()
		return
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", strings.Join(append(slices.Clone(r.Env), args...), " "))
	// An old report must not pass for this run's.
	os.Remove(filepath.Join(o.reports, r.Name+".json"))
	os.RemoveAll(filepath.Join(o.reports, "screenshots", r.Name))

	ctx, cancel := context.WithTimeout(ctx, o.runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), r.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	// Long enough for the check to stop what it started (its replicas in
	// up to 12 s, then a Redis service in up to 5 s): killed sooner, it
	// would leave them running.
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	err = cmd.Run()
	r.Seconds = time.Since(start).Seconds()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		r.Exit = exit.ExitCode()
	default:
		r.Exit, r.Problem = 2, err.Error()
	}
	if ctx.Err() != nil {
		r.Exit, r.Problem = 2, fmt.Sprintf("stopped after %s (-run-timeout)", o.runTimeout)
	}
	fmt.Fprintf(logf, "\n[matrix] exit %d in %.1fs\n", r.Exit, r.Seconds)
	// Read the report at once: the reports directory is shared (make
	// test-twisted writes the same files), so later may be too late.
	load(r, o.reports)
}

// load reads a run's JSON report, if there is one.
func load(r *Run, reports string) {
	b, err := os.ReadFile(filepath.Join(reports, r.Name+".json"))
	if err != nil {
		if r.Problem == "" {
			r.Problem = fmt.Sprintf("no report (%v); see %s", errors.Unwrap(err), r.Log)
		}
		return
	}
	var rep spec.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		r.Problem = fmt.Sprintf("%s.json: %v", r.Name, err)
		return
	}
	r.Report = &rep
	if r.Skipped {
		r.Exit = rep.ExitCode
		r.Seconds = rep.Seconds
	}
}

// machine describes where the matrix ran, for the page.
func machine() string {
	return fmt.Sprintf("%s/%s, %d cores, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}
