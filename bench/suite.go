package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// suiteRow is one way of running the whole suite.
type suiteRow struct {
	Name    string
	Command string
	Runs    []float64 // wall seconds, process start included
	Exit    []int
	Note    string
	Skipped string // why it did not run
}

type suiteResult struct {
	Rows   []*suiteRow
	Shards int
}

type caseReport struct {
	Seconds float64 `json:"seconds"`
	Cases   []struct {
		ID      string  `json:"id"`
		Outcome string  `json:"outcome"`
		Seconds float64 `json:"seconds"`
	} `json:"cases"`
}

func readReport(path string) (*caseReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r caseReport
	return &r, json.Unmarshal(data, &r)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1 // did not run, or killed for its time budget
}

// shardsOf splits the cases of a serial run into k groups of about equal
// total time, longest first (LPT), each as a Ginkgo label filter.
func shardsOf(r *caseReport, k int) []string {
	cases := slices.Clone(r.Cases)
	slices.SortFunc(cases, func(a, b struct {
		ID      string  `json:"id"`
		Outcome string  `json:"outcome"`
		Seconds float64 `json:"seconds"`
	}) int {
		switch {
		case a.Seconds > b.Seconds:
			return -1
		case a.Seconds < b.Seconds:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	load := make([]float64, k)
	groups := make([][]string, k)
	for _, c := range cases {
		i := 0
		for j := range load {
			if load[j] < load[i] {
				i = j
			}
		}
		load[i] += c.Seconds
		groups[i] = append(groups[i], c.ID)
	}
	var filters []string
	for _, g := range groups {
		if len(g) > 0 {
			filters = append(filters, strings.Join(g, " || "))
		}
	}
	return filters
}

// runShards runs one `sessionspec check URL --label-filter` per shard, all
// at once, and reports the wall time and whether every case had the
// outcome it had in the serial run.
func runShards(ctx context.Context, cfg *config, url string, extra []string, serial *caseReport, k int, tag string) (float64, string, error) {
	filters := shardsOf(serial, k)
	want := map[string]string{}
	for _, c := range serial.Cases {
		want[c.ID] = c.Outcome
	}
	dir := filepath.Join(cfg.profiles, "suite")
	os.MkdirAll(dir, 0o755)
	var wg sync.WaitGroup
	errs := make([]error, len(filters))
	t0 := time.Now()
	for i, f := range filters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			argv := append([]string{cfg.sessionspec, "check", url, "--label-filter", f,
				"--json", filepath.Join(dir, fmt.Sprintf("%s-shard%d.json", tag, i))}, extra...)
			out, _, err := runCmd(ctx, 3*time.Minute, cfg.root, nil, argv...)
			if err != nil && exitCode(err) < 0 {
				errs[i] = fmt.Errorf("shard %d: %v\n%s", i, err, tail(out, 10))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0).Seconds()
	for _, err := range errs {
		if err != nil {
			return wall, "", err
		}
	}
	got := map[string]string{}
	for i := range filters {
		r, err := readReport(filepath.Join(dir, fmt.Sprintf("%s-shard%d.json", tag, i)))
		if err != nil {
			return wall, "", err
		}
		for _, c := range r.Cases {
			got[c.ID] = c.Outcome
		}
	}
	var diffs []string
	for id, o := range want {
		if got[id] != o {
			diffs = append(diffs, fmt.Sprintf("%s %s (serial: %s)", id, orDash(got[id]), o))
		}
	}
	slices.Sort(diffs)
	if len(diffs) == 0 {
		return wall, fmt.Sprintf("%d shards; every one of the %d cases had its serial outcome", len(filters), len(want)), nil
	}
	return wall, fmt.Sprintf("%d shards; outcomes that differ from the serial run: %s", len(filters), strings.Join(diffs, ", ")), nil
}

func orDash(s string) string {
	if s == "" {
		return "not run"
	}
	return s
}

func runSuite(ctx context.Context, cfg *config, log io.Writer) (*suiteResult, error) {
	res := &suiteResult{Shards: 4}
	if out, _, err := runCmd(ctx, 5*time.Minute, cfg.root, nil, "go", "build", "-o", cfg.sessionspec, "./cmd/sessionspec"); err != nil {
		return nil, fmt.Errorf("building bin/sessionspec: %v\n%s", err, out)
	}
	dir := filepath.Join(cfg.profiles, "suite")
	os.MkdirAll(dir, 0o755)
	add := func(r *suiteRow) {
		res.Rows = append(res.Rows, r)
		s := summarize(r.Runs)
		if r.Skipped != "" {
			fmt.Fprintf(log, "  %-58s not run: %s\n", r.Name, r.Skipped)
			return
		}
		fmt.Fprintf(log, "  %-58s %6.2fs (min %.2f, max %.2f, %d run(s)) exit %v %s\n", r.Name, s.Median, s.Min, s.Max, s.N, r.Exit, r.Note)
	}
	timed := func(r *suiteRow, n int, budget time.Duration, argv ...string) {
		r.Command = displayCmd(cfg, argv)
		for range n {
			out, el, err := runCmd(ctx, budget, cfg.root, nil, argv...)
			r.Runs = append(r.Runs, el.Seconds())
			r.Exit = append(r.Exit, exitCode(err))
			if exitCode(err) < 0 {
				r.Note = fmt.Sprintf("%v: %s", err, tail(out, 3))
			}
		}
	}

	// 1. The embedded reference on the fake clock.
	fake := &suiteRow{Name: "embedded reference, fake clock (`check`)"}
	timed(fake, 3, 2*time.Minute, cfg.sessionspec, "check")
	add(fake)

	// 2. `serve --timeout 2s` on the wall clock: serial, then sharded.
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	srv, err := start("serve", nil, nil, cfg.sessionspec, "serve", "--timeout", "2s", "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	if err := waitHTTP(url+".well-known/sessionspec", 10*time.Second); err != nil {
		return nil, err
	}
	// Serial (--parallel 1), then the cases at once (the default): the
	// goal is a whole run within 1.25x its longest case.
	for _, mode := range []struct{ name, parallel string }{{"serial (`--parallel 1`)", "1"}, {"cases at once (default `--parallel 16`)", "16"}} {
		js := filepath.Join(dir, "reference-wall-"+mode.parallel+".json")
		row := &suiteRow{Name: "reference, wall clock, `serve --timeout 2s`, " + mode.name}
		timed(row, 1, 3*time.Minute, cfg.sessionspec, "check", url, "--parallel", mode.parallel, "--allow-na", "TIMEOUT-004", "--json", js)
		if r, err := readReport(js); err == nil {
			longest := 0.0
			for _, c := range r.Cases {
				longest = max(longest, c.Seconds)
			}
			row.Note = fmt.Sprintf("run %.2fs, longest case %.2fs: %.2fx", r.Seconds, longest, r.Seconds/longest)
		}
		add(row)
	}
	srv.Stop()

	// 2b. The 900 s default on the wall clock, with --max-wait 1h: every
	// MUST case runs (TIMEOUT-003 alone needs about 49 minutes).
	long := &suiteRow{Name: "reference, wall clock, 900 s default, `--max-wait 1h` (cases at once)"}
	if !cfg.long {
		long.Skipped = "about 50 minutes: run bin/bench -long -only suite"
	} else if lport, err := freePort(); err == nil {
		lurl := fmt.Sprintf("http://127.0.0.1:%d/", lport)
		lsrv, err := start("serve-900", nil, nil, cfg.sessionspec, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", lport))
		if err == nil && waitHTTP(lurl+".well-known/sessionspec", 10*time.Second) == nil {
			js := filepath.Join(dir, "reference-wall-900.json")
			timed(long, 1, 70*time.Minute, cfg.sessionspec, "check", lurl, "--max-wait", "1h", "--json", js)
			if r, err := readReport(js); err == nil {
				na := 0
				for _, c := range r.Cases {
					if c.Outcome == "n/a" {
						na++
					}
				}
				long.Note = fmt.Sprintf("%d cases, %d n/a (goal: under 55 min, no MUST case n/a)", len(r.Cases), na)
			}
		}
		if lsrv != nil {
			lsrv.Stop()
		}
	}
	add(long)

	// 3. Twisted 22.4 through its adapter, as `make test-twisted` runs it
	// (its manifest, targets/twisted/peer.json).
	twisted := filepath.Join(cfg.root, "targets", "twisted")
	if _, err := os.Stat(filepath.Join(twisted, "peer.json")); err != nil {
		add(&suiteRow{Name: "Twisted 22.4", Skipped: "targets/twisted/peer.json is not there"})
	} else {
		tc := &suiteRow{Name: "Twisted 22.4, controlled clock (`check --target targets/twisted:controlled`)"}
		timed(tc, 1, 3*time.Minute, cfg.sessionspec, "check", "--target", twisted+":controlled")
		add(tc)
		tw := &suiteRow{Name: "Twisted 22.4, wall clock, 2 s (`check --target targets/twisted:wall`)"}
		timed(tw, 1, 3*time.Minute, cfg.sessionspec, "check", "--target", twisted+":wall")
		add(tw)
		// Sharded, against one seedsite on the wall clock.
		if serial, err := readReport(filepath.Join(cfg.root, "reports", "twisted-wall.json")); err == nil {
			tport, _ := freePort()
			turl := fmt.Sprintf("http://127.0.0.1:%d/", tport)
			tsrv, err := start("seedsite", nil, nil, cfg.python, filepath.Join(cfg.root, "targets", "twisted", "seedsite.py"),
				"--port", fmt.Sprint(tport), "--timeout", "2")
			sh := &suiteRow{Name: fmt.Sprintf("Twisted 22.4, wall clock, %d shards in parallel", res.Shards),
				Command: fmt.Sprintf("seedsite.py --timeout 2, then %d × `bin/sessionspec check URL --label-filter …` at once", res.Shards)}
			if err == nil {
				if err = waitHTTP(turl+".well-known/sessionspec", 20*time.Second); err == nil {
					var w float64
					var note string
					if w, note, err = runShards(ctx, cfg, turl, nil, serial, res.Shards, "twisted-wall"); err == nil {
						sh.Runs, sh.Exit, sh.Note = []float64{w}, []int{0}, note
					}
				}
				tsrv.Stop()
			}
			if err != nil {
				sh.Skipped = err.Error()
			}
			add(sh)
		}
	}

	// 4. The browser scenarios, if this build has them.
	help, _, _ := runCmd(ctx, 10*time.Second, cfg.root, nil, cfg.sessionspec, "check", "--help")
	br := &suiteRow{Name: "browser scenarios, headless Chromium (`check --browser --label-filter browser`)"}
	if !strings.Contains(help, "-browser") {
		br.Skipped = "this build of sessionspec has no --browser"
	} else {
		timed(br, 1, 4*time.Minute, cfg.sessionspec, "check", "--browser", "--label-filter", "browser",
			"--json", filepath.Join(dir, "browser.json"))
		if r, err := readReport(filepath.Join(dir, "browser.json")); err == nil {
			counts := map[string]int{}
			var kinds []string
			for _, c := range r.Cases {
				if counts[c.Outcome] == 0 {
					kinds = append(kinds, c.Outcome)
				}
				counts[c.Outcome]++
			}
			var parts []string
			for _, k := range kinds {
				parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
			}
			br.Note = fmt.Sprintf("%d cases: %s", len(r.Cases), strings.Join(parts, ", "))
		}
	}
	add(br)
	return res, nil
}
