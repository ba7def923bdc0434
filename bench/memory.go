package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memRow is one implementation at one size.
type memRow struct {
	Impl       string
	N          int
	Path       string  // the reference's sessions made by GET Path through the handler; "" for Site.MakeSession (Twisted: makeSession)
	RSSPer     float64 // RSS growth per session, as the process stands after making them
	SettledPer float64 // the same after a full collection (Go: and FreeOSMemory; Python: gc.collect)
	HeapPer    float64 // Go only: HeapInuse growth per session; NaN otherwise
	LivePer    float64 // Go only: HeapAlloc growth per session
	Seconds    float64 // time to make them
	Err        string
}

type memoryResult struct {
	Sizes       []int
	Rows        []memRow
	Commands    []string
	HeapProfile string
	HeapTop     []profileEntry
	HeapTotal   string
}

type refMem struct {
	N              int     `json:"n"`
	RSSPerSession  float64 `json:"rss_per_session"`
	SettledPer     float64 `json:"rss_settled_per_session"`
	HeapPerSession float64 `json:"heap_inuse_per_session"`
	LivePerSession float64 `json:"heap_alloc_per_session"`
	Seconds        float64 `json:"seconds"`
}

// sessionKinds are the sessions measured through the handler, at the
// smallest size, for the reference now and before: plain (GET /), logged
// (GET /logme: an expiry callback and a marker) and counted (GET
// /counter: a stored counter).
var sessionKinds = []struct{ Name, Path string }{{"plain", "/"}, {"logged", "/logme"}, {"counted", "/counter"}}

// runMemory measures the growth of a fresh process per implementation
// and size: the reference now and before (bench/refprog mem, sessions
// made through Site.MakeSession on a fake clock) and Twisted
// (bench/twisted_mem.py, sessions made through Site.makeSession); then
// the reference's plain, logged and counted sessions, made through the
// handler.
func runMemory(ctx context.Context, cfg *config, log io.Writer) (*memoryResult, error) {
	rp, err := buildRefprogs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := &memoryResult{Sizes: cfg.memSizes}
	largest := cfg.memSizes[len(cfg.memSizes)-1]
	res.HeapProfile = filepath.Join(cfg.profiles, fmt.Sprintf("reference-%s-sessions.heap.pprof", human(largest)))
	type impl struct {
		name string
		path string
		argv func(n int) []string
	}
	impls := []impl{
		{"reference", "", func(n int) []string {
			a := []string{rp.now, "mem", "-n", strconv.Itoa(n)}
			if n == largest {
				a = append(a, "-heapprofile", res.HeapProfile)
			}
			return a
		}},
	}
	if rp.before != "" {
		impls = append(impls, impl{"before", "", func(n int) []string { return []string{rp.before, "mem", "-n", strconv.Itoa(n)} }})
	}
	impls = append(impls, impl{"twisted", "", func(n int) []string {
		return []string{cfg.python, filepath.Join(cfg.root, "bench", "twisted_mem.py"), strconv.Itoa(n)}
	}})
	type run struct {
		n  int
		im impl
	}
	var runs []run
	for _, n := range cfg.memSizes {
		for _, im := range impls {
			runs = append(runs, run{n, im})
		}
	}
	for _, k := range sessionKinds {
		for _, name := range []string{"reference", "before"} {
			exe := rp.now
			if name == "before" {
				exe = rp.before
			}
			if exe == "" {
				continue
			}
			runs = append(runs, run{cfg.memSizes[0], impl{name, k.Path, func(n int) []string {
				return []string{exe, "mem", "-n", strconv.Itoa(n), "-path", k.Path}
			}}})
		}
	}
	for _, ru := range runs {
		n, im := ru.n, ru.im
		argv := im.argv(n)
		res.Commands = append(res.Commands, displayCmd(cfg, argv))
		row := memRow{Impl: im.name, N: n, Path: im.path, HeapPer: nan(), LivePer: nan()}
		out, _, err := runCmd(ctx, 3*time.Minute, cfg.root, nil, argv...)
		var m refMem
		if err == nil {
			err = lastJSON(out, &m)
		}
		if err != nil {
			row.Err = err.Error()
			row.RSSPer, row.SettledPer = nan(), nan()
			fmt.Fprintf(log, "  %-9s %-8s n=%-8s FAILED: %v\n%s\n", im.name, im.path, human(n), err, tail(out, 5))
		} else {
			row.RSSPer, row.SettledPer, row.Seconds = m.RSSPerSession, m.SettledPer, m.Seconds
			if im.name != "twisted" {
				row.HeapPer, row.LivePer = m.HeapPerSession, m.LivePerSession
			}
			fmt.Fprintf(log, "  %-9s %-8s n=%-8s RSS %7.1f B/session (settled %7.1f), Go heap in use %7.1f B/session, live %7.1f B/session, made in %.2fs\n",
				im.name, im.path, human(n), row.RSSPer, row.SettledPer, row.HeapPer, row.LivePer, row.Seconds)
		}
		res.Rows = append(res.Rows, row)
	}
	top, _, err := runCmd(ctx, time.Minute, "", nil, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", rp.now, res.HeapProfile)
	if err == nil {
		for line := range strings.SplitSeq(top, "\n") {
			if strings.HasPrefix(line, "Showing nodes accounting for") {
				res.HeapTotal = strings.TrimSpace(line)
			}
		}
		entries, _, _ := parseTop(top)
		for _, e := range entries {
			if e.Flat > 0.5 {
				res.HeapTop = append(res.HeapTop, e)
			}
		}
	}
	return res, nil
}

// displayCmd shows a command with paths relative to the repository.
func displayCmd(cfg *config, argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if strings.HasPrefix(a, cfg.root+"/") {
			a = strings.TrimPrefix(a, cfg.root+"/")
		}
		if strings.ContainsAny(a, " ;'\"") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
