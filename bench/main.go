// Command bench measures sessionspec side by side with Twisted 22.4, a
// bare net/http server and other fake clocks, in one run on one machine,
// and writes BENCHMARKS.md and the plots in bench/plots.
//
//	cd bench && go run . [flags]          (make bench does this)
//
// Every load runs on 127.0.0.1 and is bounded in time; the whole run is
// bounded by -budget. The sections can be run alone with -only.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	root        string // the repository
	self        string // this program's executable
	sessionspec string // bin/sessionspec
	python      string // the interpreter with Twisted
	out         string // BENCHMARKS.md
	plots       string // directory of the plots
	profiles    string // directory of the profiles (not committed)

	reps          int
	wrkDuration   time.Duration
	memSizes      []int
	stormN        int
	clusterStormN int // the cluster section's storm (HTTP, three replicas)
	clockSizes    []int
	clockBudget   map[int]time.Duration
	budget        time.Duration
	only          []string
	long          bool // also the wall-clock run with the 900 s default (about 50 min)
}

var sections = []string{"hotpath", "throughput", "memory", "storm", "clocks", "suite", "cluster"}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "child" {
		if err := child(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench child %s: %v\n", os.Args[2], err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run())
}

func child(name string, args []string) error {
	switch name {
	case "bare":
		return childBare(args)
	case "clock":
		return childClock(args)
	}
	return fmt.Errorf("unknown child %q", name)
}

func run() int {
	var cfg config
	var only string
	var quick bool
	flag.StringVar(&cfg.root, "root", "", "the sessionspec repository (default: found from the working directory)")
	flag.StringVar(&cfg.python, "python", envOr("TWISTED_PYTHON", "/usr/bin/python3"), "the Python interpreter with Twisted 22.4")
	flag.StringVar(&cfg.out, "out", "", "the report to write (default ROOT/BENCHMARKS.md)")
	flag.IntVar(&cfg.reps, "reps", 8, "wrk runs per configuration, interleaved")
	flag.DurationVar(&cfg.wrkDuration, "wrk-duration", 2*time.Second, "length of one wrk run (whole seconds: wrk takes no fractions)")
	flag.DurationVar(&cfg.budget, "budget", 15*time.Minute, "bound on the whole run")
	flag.StringVar(&only, "only", "", "comma-separated sections to run (default all): "+strings.Join(sections, ","))
	flag.BoolVar(&cfg.long, "long", false, "also check `serve` with its 900 s default on the wall clock with --max-wait 1h (about 50 minutes)")
	flag.BoolVar(&quick, "quick", false, "smaller sizes and shorter runs, to try the harness (figures not for quoting)")
	replot := flag.Bool("replot", false, "measure nothing: write the report and the plots again from bench/out/results.gob")
	flag.Parse()

	cfg.memSizes = []int{100_000, 1_000_000}
	cfg.stormN = 1_000_000
	cfg.clusterStormN = 100_000
	cfg.clockSizes = []int{10_000, 1_000_000}
	cfg.clockBudget = map[int]time.Duration{10_000: 20 * time.Second, 1_000_000: 30 * time.Second}
	if quick {
		cfg.reps, cfg.wrkDuration = 2, time.Second
		cfg.memSizes = []int{10_000, 100_000}
		cfg.stormN = 100_000
		cfg.clusterStormN = 10_000
		cfg.clockSizes = []int{1_000, 10_000}
		cfg.clockBudget = map[int]time.Duration{1_000: 5 * time.Second, 10_000: 10 * time.Second}
	}
	if cfg.wrkDuration < time.Second || cfg.wrkDuration%time.Second != 0 {
		fmt.Fprintln(os.Stderr, "bench: -wrk-duration must be a whole number of seconds")
		return 2
	}
	if only != "" {
		cfg.only = strings.Split(only, ",")
		for _, s := range cfg.only {
			if !slices.Contains(sections, s) {
				fmt.Fprintf(os.Stderr, "bench: unknown section %q (have %s)\n", s, strings.Join(sections, ","))
				return 2
			}
		}
	}
	var err error
	if cfg.root == "" {
		cfg.root = findRoot()
	}
	if cfg.root, err = filepath.Abs(cfg.root); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if cfg.self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if cfg.out == "" {
		cfg.out = filepath.Join(cfg.root, "BENCHMARKS.md")
	}
	cfg.plots = filepath.Join(cfg.root, "bench", "plots")
	cfg.profiles = filepath.Join(cfg.root, "bench", "out")
	cfg.sessionspec = filepath.Join(cfg.root, "bin", "sessionspec")
	for _, d := range []string{cfg.plots, cfg.profiles} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		fmt.Fprintln(os.Stderr, "bench: wrk is not installed (make deps installs it)")
		return 2
	}

	results := filepath.Join(cfg.profiles, "results.gob")
	if *replot {
		rep := &report{cfg: &cfg}
		if err := rep.load(results); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		if err := rep.plot(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: plots:", err)
		}
		if err := rep.write(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		return 0
	}

	// SIGINT or SIGTERM cancels the run: each section stops its servers,
	// redis-server included, on its way out, and no report is written.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(sigCtx, cfg.budget)
	defer cancel()
	rep := &report{cfg: &cfg, started: time.Now(), machine: machine(), command: commandLine(&cfg)}
	log := io.Writer(os.Stdout)
	want := func(s string) bool { return len(cfg.only) == 0 || slices.Contains(cfg.only, s) }
	step := func(name string, f func() error) {
		if !want(name) {
			return
		}
		fmt.Fprintf(log, "\n==> bench: %s\n", name)
		t0 := time.Now()
		if err := f(); err != nil {
			fmt.Fprintf(log, "bench: %s: %v\n", name, err)
			rep.errors = append(rep.errors, fmt.Sprintf("%s: %v", name, err))
		}
		rep.sectionTimes = append(rep.sectionTimes, sectionTime{name, time.Since(t0)})
		fmt.Fprintf(log, "==> bench: %s took %s\n", name, time.Since(t0).Round(100*time.Millisecond))
	}
	step("hotpath", func() (err error) { rep.hotpath, err = runHotpath(ctx, &cfg, log); return })
	step("throughput", func() (err error) { rep.throughput, err = runThroughput(ctx, &cfg, log); return })
	step("memory", func() (err error) { rep.memory, err = runMemory(ctx, &cfg, log); return })
	step("storm", func() (err error) { rep.storm, err = runStorm(ctx, &cfg, log); return })
	step("clocks", func() (err error) { rep.clocks, err = runClocks(ctx, &cfg, log); return })
	step("suite", func() (err error) { rep.suite, err = runSuite(ctx, &cfg, log); return })
	step("cluster", func() (err error) { rep.cluster, err = runCluster(ctx, &cfg, log); return })
	if sigCtx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted; every process it started is stopped; the report is not written")
		return 2
	}
	rep.finished = time.Now()
	if err := rep.save(results); err != nil {
		fmt.Fprintln(log, "bench: saving the results:", err)
	}
	if err := rep.plot(); err != nil {
		fmt.Fprintln(log, "bench: plots:", err)
		rep.errors = append(rep.errors, "plots: "+err.Error())
	}
	if err := rep.write(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(log, "\nbench: wrote %s and %s/*.png in %s\n", cfg.out, cfg.plots, time.Since(rep.started).Round(time.Second))
	if len(rep.errors) > 0 {
		fmt.Fprintf(log, "bench: %d section(s) had errors (listed in the report)\n", len(rep.errors))
		return 1
	}
	return 0
}

// commandLine is how this run was started, as the report shows it.
func commandLine(cfg *config) string {
	args := slices.Clone(os.Args)
	if len(args) > 0 {
		args[0] = displayCmd(cfg, []string{cfg.self})
	}
	cmd := strings.Join(args, " ")
	if os.Getenv("MAKELEVEL") != "" {
		cmd = "make bench`, which ran `" + cmd
	}
	return cmd
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// findRoot returns the first directory from the working directory up
// that holds bench/refprog, the repository this program belongs to.
func findRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "bench", "refprog", "main.go")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
