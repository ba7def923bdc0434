package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// beforeCommit is the reference as it was before the hot-path and memory
// work: the harness builds bench/refprog against it and against the
// working tree, so every run measures both side by side.
const beforeCommit = "2ac3c473b1c31b4cd0f521ed64d0a9cd549a7056"

// refprogs are the two builds of bench/refprog.
type refprogs struct {
	now, before string // executables; before is "" if it could not be built
	beforeErr   string
}

var builtRefprogs *refprogs

// buildRefprogs builds bench/refprog from the working tree and from
// beforeCommit (extracted with git archive into a temporary directory;
// the repository itself is not touched).
func buildRefprogs(ctx context.Context, cfg *config) (*refprogs, error) {
	if builtRefprogs != nil {
		return builtRefprogs, nil
	}
	bin := filepath.Join(cfg.root, "bin")
	rp := &refprogs{now: filepath.Join(bin, "refprog-now"), before: filepath.Join(bin, "refprog-before")}
	if out, _, err := runCmd(ctx, 5*time.Minute, filepath.Join(cfg.root, "bench"), nil,
		"go", "build", "-o", rp.now, "./refprog"); err != nil {
		return nil, fmt.Errorf("building refprog: %v\n%s", err, out)
	}
	err := func() error {
		dir, err := os.MkdirTemp("", "sessionspec-before-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		archive := exec.CommandContext(ctx, "git", "-C", cfg.root, "archive", beforeCommit, "go.mod", "go.sum", "reference", "fakeclock")
		untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
		pipe, err := archive.StdoutPipe()
		if err != nil {
			return err
		}
		untar.Stdin = pipe
		if err := untar.Start(); err != nil {
			return err
		}
		if err := archive.Run(); err != nil {
			return fmt.Errorf("git archive %s: %v", beforeCommit[:12], err)
		}
		if err := untar.Wait(); err != nil {
			return err
		}
		src, err := os.ReadFile(filepath.Join(cfg.root, "bench", "refprog", "main.go"))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, "cmd", "refprog"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "cmd", "refprog", "main.go"), src, 0o644); err != nil {
			return err
		}
		if out, _, err := runCmd(ctx, 5*time.Minute, dir, []string{"GOFLAGS=-mod=mod"}, "go", "build", "-o", rp.before, "./cmd/refprog"); err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	}()
	if err != nil {
		rp.before, rp.beforeErr = "", err.Error()
	}
	builtRefprogs = rp
	return rp, nil
}

type benchLine struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
	N           int     `json:"n"`
}

type hotRow struct {
	Name                string
	Before, Now         stats // ns/op
	BeforeB, NowB       int64
	BeforeAlc, NowAlloc int64
}

type profileEntry struct {
	Flat, Cum float64 // percent
	Func      string
}

type hotpathResult struct {
	Rows        []hotRow
	Commands    []string
	BeforeErr   string
	Profile     []profileEntry // top of the CPU profile under wrk
	RefShare    float64        // percent of samples under reference.(*Server).ServeHTTP
	ServeShare  float64        // percent under net/http.(*conn).serve
	ProfileFile string
	ProfileCmd  string
	ProfileRPS  float64
}

func lastJSON(out string, v any) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "{") || strings.HasPrefix(lines[i], "[") {
			return json.Unmarshal([]byte(lines[i]), v)
		}
	}
	return fmt.Errorf("no JSON result in output:\n%s", tail(out, 20))
}

// runHotpath times the handler alone, before and now, and profiles the
// reference server under wrk with a cookie.
func runHotpath(ctx context.Context, cfg *config, log io.Writer) (*hotpathResult, error) {
	rp, err := buildRefprogs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := &hotpathResult{BeforeErr: rp.beforeErr}
	// One process per run, before and now alternating, so that a change
	// in the machine's load falls on both.
	now, before := map[string][]benchLine{}, map[string][]benchLine{}
	var order []string
	run := func(exe string, into map[string][]benchLine) error {
		out, _, err := runCmd(ctx, 2*time.Minute, "", nil, exe, "handler", "-count", "1")
		if err != nil {
			return fmt.Errorf("%s handler: %v\n%s", exe, err, out)
		}
		var lines []benchLine
		if err := lastJSON(out, &lines); err != nil {
			return err
		}
		for _, l := range lines {
			if into[l.Name] == nil && exe == rp.now && len(now[l.Name]) == 0 {
				order = append(order, l.Name)
			}
			into[l.Name] = append(into[l.Name], l)
		}
		return nil
	}
	res.Commands = append(res.Commands, "bin/refprog-now handler -count 1", "bin/refprog-before handler -count 1")
	for range 3 {
		if err := run(rp.now, now); err != nil {
			return nil, err
		}
		if rp.before != "" {
			if err := run(rp.before, before); err != nil {
				return nil, err
			}
		}
	}
	ns := func(ls []benchLine) stats {
		var xs []float64
		for _, l := range ls {
			xs = append(xs, l.NsPerOp)
		}
		return summarize(xs)
	}
	for _, name := range order {
		row := hotRow{Name: name, Now: ns(now[name]), NowB: now[name][0].BytesPerOp, NowAlloc: now[name][0].AllocsPerOp}
		if b := before[name]; len(b) > 0 {
			row.Before, row.BeforeB, row.BeforeAlc = ns(b), b[0].BytesPerOp, b[0].AllocsPerOp
		} else {
			row.Before = summarize(nil)
			row.BeforeB, row.BeforeAlc = -1, -1
		}
		res.Rows = append(res.Rows, row)
		fmt.Fprintf(log, "  %-62s now %7.0f ns/op %4d B/op %2d allocs/op   before %7.0f ns/op %4d B/op %2d allocs/op\n",
			name, row.Now.Median, row.NowB, row.NowAlloc, row.Before.Median, row.BeforeB, row.BeforeAlc)
	}

	// CPU profile of the server under wrk, GET / with a cookie.
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	res.ProfileFile = filepath.Join(cfg.profiles, "reference-cookie.cpu.pprof")
	p, err := start("refprog serve", nil, nil, rp.now, "serve", "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-cpuprofile", res.ProfileFile)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if err := waitHTTP(url+".well-known/sessionspec", 10*time.Second); err != nil {
		return nil, err
	}
	cookie, _, err := fetchSession(url, "")
	if err != nil {
		return nil, err
	}
	const profiled = 5 * time.Second
	args := []string{"wrk", "-t2", "-c32", "-d" + profiled.String(), "-H", "Cookie: " + cookie, url}
	res.ProfileCmd = fmt.Sprintf("`bin/refprog-now serve -cpuprofile %s` under `wrk -t2 -c32 -d%s -H 'Cookie: …'`, then `go tool pprof -top bin/refprog-now %s`",
		relTo(cfg.root, res.ProfileFile), profiled, relTo(cfg.root, res.ProfileFile))
	out, _, err := runCmd(ctx, profiled+20*time.Second, "", nil, args...)
	if err != nil {
		return nil, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if w, err := parseWrk(out); err == nil {
		res.ProfileRPS = w.RPS
	}
	p.Stop() // SIGTERM: the server stops its profile and exits
	top, _, err := runCmd(ctx, time.Minute, "", nil, "go", "tool", "pprof", "-top", "-nodecount=400", rp.now, res.ProfileFile)
	if err != nil {
		return nil, fmt.Errorf("pprof: %v\n%s", err, top)
	}
	res.Profile, res.RefShare, res.ServeShare = parseTop(top)
	fmt.Fprintf(log, "  profile under wrk (%.0f req/s): %.1f%% of CPU samples in reference.(*Server).ServeHTTP, %.1f%% in net/http's conn.serve\n",
		res.ProfileRPS, res.RefShare, res.ServeShare)
	return res, nil
}

var reTop = regexp.MustCompile(`^\s*([0-9.]+)[a-zA-Zµ]*\s+([0-9.]+)%\s+([0-9.]+)%\s+([0-9.]+)[a-zA-Zµ]*\s+([0-9.]+)%\s+(.+)$`)

// parseTop reads `go tool pprof -top` output: the entries, and the
// cumulative shares of the reference's handler and of net/http's
// connection loop.
func parseTop(out string) (entries []profileEntry, ref, serve float64) {
	for line := range strings.SplitSeq(out, "\n") {
		m := reTop.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		flat, _ := strconv.ParseFloat(m[2], 64)
		cum, _ := strconv.ParseFloat(m[5], 64)
		fn := strings.TrimSpace(m[6])
		entries = append(entries, profileEntry{Flat: flat, Cum: cum, Func: fn})
		switch {
		case strings.HasSuffix(fn, "reference.(*Server).ServeHTTP"):
			ref = cum
		case fn == "net/http.(*conn).serve":
			serve = cum
		}
	}
	return entries, ref, serve
}

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}
