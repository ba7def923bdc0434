package main

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

type sectionTime struct {
	Name string
	D    time.Duration
}

// saved is what a run keeps in bench/out/results.gob, so that -replot
// can write the report and the plots again without measuring.
type saved struct {
	Started, Finished time.Time
	Machine           string
	Errors            []string
	SectionTimes      []sectionTime
	Hotpath           *hotpathResult
	Throughput        *throughputResult
	Memory            *memoryResult
	Storm             *stormResult
	Clocks            *clocksResult
	Suite             *suiteResult
	Cluster           *clusterResult
	Command           string
}

func (r *report) save(path string) error {
	var buf bytes.Buffer
	// gob rather than JSON: the results hold NaN for what was not measured.
	if err := gob.NewEncoder(&buf).Encode(saved{r.started, r.finished, r.machine, r.errors, r.sectionTimes,
		r.hotpath, r.throughput, r.memory, r.storm, r.clocks, r.suite, r.cluster, r.command}); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func (r *report) load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var sv saved
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&sv); err != nil {
		return err
	}
	r.started, r.finished, r.machine, r.errors, r.sectionTimes = sv.Started, sv.Finished, sv.Machine, sv.Errors, sv.SectionTimes
	r.hotpath, r.throughput, r.memory, r.storm, r.clocks, r.suite = sv.Hotpath, sv.Throughput, sv.Memory, sv.Storm, sv.Clocks, sv.Suite
	r.cluster, r.command = sv.Cluster, sv.Command
	if r.clocks != nil {
		r.clocks.Clocks = clocks
	}
	return nil
}

type report struct {
	cfg          *config
	started      time.Time
	finished     time.Time
	machine      string
	errors       []string
	sectionTimes []sectionTime
	plots        []plotFile
	hotpath      *hotpathResult
	throughput   *throughputResult
	memory       *memoryResult
	storm        *stormResult
	clocks       *clocksResult
	suite        *suiteResult
	cluster      *clusterResult
	command      string // how the run was started
}

type plotFile struct{ Title, Path string }

// Goals of the issue.
const (
	goalCookieVsBare = 0.9
	goalNewVsBare    = 0.75
	goalBytesPerSess = 250
)

func (r *report) write() error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	cfg := r.cfg
	p("# Benchmarks\n\n")
	p("Written by `make bench` (the program in [`bench/`](bench/)) on %s; do not edit by hand, run it again. ",
		r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("The run took %s.\n\n", r.finished.Sub(r.started).Round(time.Second))
	p("Performance claims here count only as **ratios measured side by side in this one run** on this machine. ")
	p("The machine is shared (other test runs, headless Chromium) and wrk shares its 2 cores with the servers, so absolute figures move from run to run; ")
	p("every configuration is repeated and interleaved with the others, and medians are given with min–max.\n\n")
	p("- Machine: %s\n", r.machine)
	p("- Tools: %s; %s; Twisted %s (`%s`)\n", toolVersion("wrk", "--version"), toolVersion(cfg.python, "--version"),
		toolVersion(cfg.python, "-c", "import twisted; print(twisted.__version__)"), cfg.python)
	if r.command != "" {
		p("- This report was made by: `%s`\n", r.command)
	}
	p("- Reproduce: `make bench` (or `cd bench && go run . -only throughput,memory`; `go run . -help` lists the flags; `-only cluster` runs the cluster section alone)\n")
	if len(r.errors) > 0 {
		p("\n**Errors in this run** (the sections concerned are incomplete):\n\n")
		for _, e := range r.errors {
			p("- %s\n", firstLine(e))
		}
	}
	p("\n")
	r.writeHeadline(&b)
	r.writeThroughput(&b)
	r.writeHotpath(&b)
	r.writeMemory(&b)
	r.writeStorm(&b)
	r.writeClocks(&b)
	r.writeSuite(&b)
	r.writeCluster(&b)
	if len(r.plots) > 0 {
		p("## Plots\n\n")
		for _, pl := range r.plots {
			p("![%s](%s)\n\n", pl.Title, relTo(cfg.root, pl.Path))
		}
	}
	p("## This run\n\n| section | wall time |\n|---|---|\n")
	for _, s := range r.sectionTimes {
		p("| %s | %s |\n", s.Name, s.D.Round(100*time.Millisecond))
	}
	p("| total (`make bench` adds the builds) | %s |\n", r.finished.Sub(r.started).Round(time.Second))
	return os.WriteFile(cfg.out, []byte(b.String()), 0o644)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

func fmtRange(s stats, f string) string {
	if s.N == 0 || math.IsNaN(s.Median) {
		return "—"
	}
	if s.N == 1 {
		return fmt.Sprintf(f, s.Median)
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.Median, s.Min, s.Max)
}

// ratio returns the ratio of medians of two cells and the range of the
// per-round ratios (the rounds are interleaved, so each round's ratio is
// a side-by-side measurement of its own).
// pooledRatio is the ratio of two cells' pooled rates (requests/s, or
// server CPU per request with cpu).
func (t *throughputResult) pooledRatio(a, b, c string, cpu bool) (float64, bool) {
	ca, cb := t.Cells[a+"/"+c], t.Cells[b+"/"+c]
	if ca == nil || cb == nil || len(ca.Runs) == 0 || len(cb.Runs) == 0 {
		return math.NaN(), false
	}
	ra, ua := ca.pooled()
	rb, ub := cb.pooled()
	if cpu {
		ra, rb = ua, ub
	}
	if math.IsNaN(ra) || math.IsNaN(rb) || rb == 0 {
		return math.NaN(), false
	}
	return ra / rb, true
}

// ratioText is a pooled ratio followed by the median and range of the
// per-round ratios.
func (t *throughputResult) ratioText(a, b, c string, cpu bool) string {
	pr, ok := t.pooledRatio(a, b, c, cpu)
	if !ok {
		return "—"
	}
	f := func(r wrkResult) float64 { return r.RPS }
	if cpu {
		f = func(r wrkResult) float64 { return r.CPUPerReq }
	}
	s := fmt.Sprintf("**%.2f×**", pr)
	if rr, ok := t.ratioOf(a, b, c, f); ok && rr.N > 1 {
		s += fmt.Sprintf(" (rounds: median %.2f×, %.2f×–%.2f×)", rr.Median, rr.Min, rr.Max)
	}
	return s
}

func (t *throughputResult) ratio(a, b, c string) (stats, bool) {
	return t.ratioOf(a, b, c, func(r wrkResult) float64 { return r.RPS })
}

func (t *throughputResult) ratioOf(a, b, c string, f func(wrkResult) float64) (stats, bool) {
	ca, cb := t.Cells[a+"/"+c], t.Cells[b+"/"+c]
	if ca == nil || cb == nil || len(ca.Runs) == 0 || len(ca.Runs) != len(cb.Runs) {
		return stats{}, false
	}
	var xs []float64
	for i := range ca.Runs {
		if x, y := f(ca.Runs[i]), f(cb.Runs[i]); x > 0 && y > 0 {
			xs = append(xs, x/y)
		}
	}
	if len(xs) == 0 {
		return stats{}, false
	}
	return summarize(xs), true
}

func (r *report) writeHeadline(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Headline\n\n")
	p("The rows the README quotes. Requests/s are pooled over the interleaved rounds (all requests over all the time; see section 1), ")
	p("ratios are of those pooled rates, with the median and range of the per-round ratios in brackets.\n\n")
	p("| what | reference | Twisted 22.4 | bare net/http | reference / Twisted | reference / bare | goal |\n|---|---|---|---|---|---|---|\n")
	if t := r.throughput; t != nil {
		for _, c := range t.Cases {
			row := fmt.Sprintf("| %s, requests/s (wrk -t2 -c32, 127.0.0.1) |", c.Desc)
			for _, impl := range []string{"reference", "twisted", "bare"} {
				rps, _ := t.cell(impl, c.Name).pooled()
				row += fmt.Sprintf(" %.0f |", rps)
			}
			goal := goalCookieVsBare
			if c.Name == "new" {
				goal = goalNewVsBare
			}
			row += " " + t.ratioText("reference", "twisted", c.Name, false) + " | " + t.ratioText("reference", "bare", c.Name, false) + " |"
			row += fmt.Sprintf(" ≥ %.2f× bare: %s |\n", goal, met(t.goal(c.Name, goal)))
			p("%s", row)
		}
	}
	if m := r.memory; m != nil {
		for _, n := range m.Sizes {
			ref, tw := m.row("reference", n), m.row("twisted", n)
			if ref == nil || tw == nil {
				continue
			}
			p("| memory per live session at %s sessions (RSS growth) | %.0f B | %.0f B | — | %.2f× | — | ≤ %d B: %s |\n",
				human(n), ref.RSSPer, tw.RSSPer, ref.RSSPer/tw.RSSPer, goalBytesPerSess, met(ref.RSSPer <= goalBytesPerSess))
		}
	}
	if s := r.storm; s != nil && len(s.Runs) > 0 && s.Runs[0].Err == "" {
		x := s.Runs[0]
		p("| expiry storm: %s logged sessions expiring in one `Advance` (fake clock) | last notification after %.2f s; each fired exactly once: %v | — | — | — | — | — |\n",
			human(x.N), x.LastNotifySec, yesNo(x.ExactlyOnce()))
	}
	p("\n")
	if c := r.clocks; c != nil {
		n := c.Sizes[len(c.Sizes)-1]
		p("| fake clocks at %s pending timers, ns per operation | schedule | touch (reset later) | fire | bytes per timer |\n|---|---|---|---|---|\n", human(n))
		for _, ci := range c.Clocks {
			cr := c.run(ci.Name, n)
			if cr == nil {
				continue
			}
			by := "—"
			if sp := cr.Phases["schedule"]; sp.State == "ok" {
				by = fmt.Sprintf("%.0f B", sp.BytesPer)
			}
			p("| %s | %s | %s | %s | %s |\n", ci.Name, cr.Phases["schedule"].cellText(), cr.Phases["touch"].cellText(), cr.Phases["fire"].cellText(), by)
		}
		p("\n")
	}
	if s := r.suite; s != nil {
		p("| whole suite | wall time, s |\n|---|---|\n")
		for _, row := range s.Rows {
			if row.Skipped == "" {
				p("| %s | %s |\n", row.Name, fmtRange(summarize(row.Runs), "%.2f"))
			} else {
				p("| %s | not run: %s |\n", row.Name, firstLine(row.Skipped))
			}
		}
		p("\n")
	}
	r.writeClusterHeadline(b)
}

func ifOK(ok bool, s string) string {
	if !ok {
		return "—"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func (m *memoryResult) row(impl string, n int) *memRow {
	for i := range m.Rows {
		if m.Rows[i].Impl == impl && m.Rows[i].N == n && m.Rows[i].Path == "" && m.Rows[i].Err == "" {
			return &m.Rows[i]
		}
	}
	return nil
}

var implNames = map[string]string{
	"reference": "reference (this tree)",
	"before":    "reference before (" + beforeCommit[:7] + ")",
	"twisted":   "Twisted 22.4",
	"bare":      "bare net/http",
}

func (r *report) writeThroughput(b *strings.Builder) {
	t := r.throughput
	if t == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 1. Session server throughput and latency\n\n")
	p("`wrk %s` on 127.0.0.1, %d rounds of every configuration, interleaved (each configuration warmed up for 1 s first). ",
		strings.Join(t.WrkArgs, " "), t.Reps)
	p("With a cookie, every request carries `Cookie: TWISTED_SESSION=<uid>` of a session fetched beforehand (and checked to be honoured); ")
	p("without one, every request makes a session (the reference: crypto/rand uid, expiry-queue entry; Twisted: `os.urandom`, a `DelayedCall`). ")
	p("The bare server writes the reference's exact bytes and headers (a constant `Set-Cookie` when the request has no cookie) and does no session work: ")
	p("on this machine, with wrk on the same 2 cores, it is the practical ceiling.\n\n")
	p("Servers:\n\n")
	for _, tg := range t.Targets {
		p("- %s: %s — `%s`\n", implNames[tg.Name], tg.Desc, tg.Cmd)
	}
	for name, why := range t.Skipped {
		p("- %s: **not measured**: %s\n", implNames[name], firstLine(why))
	}
	p("\n*Pooled* is all the requests a server answered in its rounds over all the time of those rounds: the rounds are interleaved, so the machine's ups and downs fall on every server alike, ")
	p("and a cost that comes in lumps is counted at its average, as a long-running server pays it (the reference's collections over a million live sessions in the no-cookie rounds land inside some 2-second rounds and not others). ")
	p("*Server CPU* is the server process's user+system CPU time (from `/proc/PID/stat`) over its rounds divided by the requests it served: it depends less on what else the machine is doing than requests/s does.\n")
	p("\n| request | implementation | requests/s pooled | requests/s per round: median (min–max) | p50 latency | p99 latency | server CPU per request, pooled | bytes/response | non-2xx, socket errors |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range t.Cases {
		for _, tg := range t.Targets {
			cell := t.cell(tg.Name, c.Name)
			if len(cell.Runs) == 0 {
				continue
			}
			bad, bytes := 0, 0.0
			for _, r := range cell.Runs {
				bad += r.Non2xx + r.Errors
				bytes = r.BytesPerReq
			}
			rps, cpu := cell.pooled()
			p("| %s | %s | %.0f | %s | %s | %s | %.1f µs | %.0f | %d |\n", c.Desc, implNames[tg.Name], rps, fmtRange(cell.rps(), "%.0f"),
				fmtRange(cell.lat(false), "%.0f µs"), fmtRange(cell.lat(true), "%.0f µs"), cpu, bytes, bad)
		}
	}
	p("\nRatios of requests/s, pooled (in brackets: the per-round ratios, each of two runs next to each other in time):\n\n| request | reference / bare | reference / Twisted | reference / reference before | bare / Twisted |\n|---|---|---|---|---|\n")
	for _, c := range t.Cases {
		p("| %s | %s | %s | %s | %s |\n", c.Desc, t.ratioText("reference", "bare", c.Name, false), t.ratioText("reference", "twisted", c.Name, false),
			t.ratioText("reference", "before", c.Name, false), t.ratioText("bare", "twisted", c.Name, false))
	}
	p("\nRatios of server CPU per request, pooled (below 1: cheaper):\n\n| request | reference / bare | reference / Twisted | reference / reference before |\n|---|---|---|---|\n")
	for _, c := range t.Cases {
		p("| %s | %s | %s | %s |\n", c.Desc, t.ratioText("reference", "bare", c.Name, true), t.ratioText("reference", "twisted", c.Name, true),
			t.ratioText("reference", "before", c.Name, true))
	}
	p("\nGoals: with a cookie ≥ %.2f× bare: %s; creating sessions ≥ %.2f× bare: %s.\n\n",
		goalCookieVsBare, met(t.goal("cookie", goalCookieVsBare)), goalNewVsBare, met(t.goal("new", goalNewVsBare)))
	if len(t.RSSAfter) > 0 {
		p("Resident memory of the servers after all rounds (the no-cookie rounds leave every session they made alive, 900 s timeout, no cap):")
		for _, tg := range t.Targets {
			if rss, ok := t.RSSAfter[tg.Name]; ok {
				p(" %s %.0f MB;", implNames[tg.Name], float64(rss)/(1<<20))
			}
		}
		p("\n\n")
	}
}

func (t *throughputResult) goal(c string, g float64) bool {
	r, ok := t.pooledRatio("reference", "bare", c, false)
	return ok && r >= g
}

func (r *report) writeHotpath(b *strings.Builder) {
	h := r.hotpath
	if h == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 2. The hot path: `GET /` with a cookie\n\n")
	p("The handler alone (no network), through `reference.Server.ServeHTTP` with a ResponseWriter that keeps nothing, `testing.Benchmark`, 3 processes each, before and now alternating; ")
	p("**before** is the same program ([`bench/refprog`](bench/refprog/main.go)) built against commit %s, **now** against this tree.\n\n", beforeCommit[:7])
	if h.BeforeErr != "" {
		p("(The before build failed: %s.)\n\n", firstLine(h.BeforeErr))
	}
	p("| request | before: ns/op | before: B/op, allocs/op | now: ns/op | now: B/op, allocs/op | now / before |\n|---|---|---|---|---|---|\n")
	for _, row := range h.Rows {
		ratio := "—"
		if !math.IsNaN(row.Before.Median) {
			ratio = fmt.Sprintf("%.2f×", row.Now.Median/row.Before.Median)
		}
		bb := "—"
		if row.BeforeB >= 0 {
			bb = fmt.Sprintf("%d B, %d", row.BeforeB, row.BeforeAlc)
		}
		p("| %s | %s | %s | %s | %d B, %d | %s |\n", row.Name, fmtRange(row.Before, "%.0f"), bb, fmtRange(row.Now, "%.0f"), row.NowB, row.NowAlloc, ratio)
	}
	p("\nCPU profile of the reference server under wrk with a cookie (%.0f requests/s while profiled): ", h.ProfileRPS)
	p("**%.1f%%** of the samples fall in `reference.(*Server).ServeHTTP`, the session work and the page; net/http's connection loop `(*conn).serve` holds %.1f%%, ", h.RefShare, h.ServeShare)
	p("and the rest is the kernel's loopback, the scheduler and the runtime. Command: %s.\n\n", h.ProfileCmd)
	var refs []profileEntry
	for _, e := range h.Profile {
		if strings.Contains(e.Func, "sessionspec/reference.") && e.Cum >= 0.1 {
			refs = append(refs, e)
		}
	}
	if len(refs) > 0 {
		p("| reference function | flat %% | cumulative %% |\n|---|---|---|\n")
		for _, e := range refs {
			p("| `%s` | %.1f | %.1f |\n", strings.TrimPrefix(e.Func, "github.com/sessionspec/sessionspec/"), e.Flat, e.Cum)
		}
		p("\n")
	}
	p("What was removed from that path (profiles and allocation counts of the before build):\n\n")
	p("- the `[]string` of cookie values built per request: the Cookie headers are now walked in place, with the same parsing (the fuzz test holds the two to the same answers);\n")
	p("- the 64-byte string key hashed per lookup: the cookie value is decoded once into the uid's 32 raw bytes, which are also what the site keys sessions by;\n")
	p("- the page string `\"Your session id is: \" + uid` and the hex uid string: the page is spelled into a pooled buffer;\n")
	p("- two `Header().Set` calls, each allocating a `[]string`: the two constant header values are shared slices;\n")
	p("- making a session reads the random uid straight into the session and spells its `Set-Cookie` in one allocation.\n\n")
}

func (r *report) writeMemory(b *strings.Builder) {
	m := r.memory
	if m == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 3. Memory per live session\n\n")
	p("A fresh process per implementation and size makes N sessions and reads its own `VmRSS` from `/proc/self/status` before and after. ")
	p("The reference makes them through `Site.MakeSession` on a fake clock ([`bench/refprog`](bench/refprog/main.go) `mem`); ")
	p("Twisted through its own `Site.makeSession`, each with the `DelayedCall` its `Session` schedules on the reactor ([`bench/twisted_mem.py`](bench/twisted_mem.py)). ")
	p("*RSS* is the growth as the process stands right after making them (for Go this includes garbage the collector has not returned yet, as a running server would hold it); ")
	p("*settled* is after a full collection (Go: `runtime.GC` and `debug.FreeOSMemory`; Python: `gc.collect`).\n\n")
	p("| implementation | sessions | RSS growth per session | settled | Go heap in use per session | time to make them |\n|---|---|---|---|---|---|\n")
	for _, row := range m.Rows {
		if row.Path != "" {
			continue // below
		}
		if row.Err != "" {
			p("| %s | %s | failed: %s | | | |\n", implNames[row.Impl], human(row.N), firstLine(row.Err))
			continue
		}
		heap := "—"
		if !math.IsNaN(row.HeapPer) {
			heap = fmt.Sprintf("%.0f B", row.HeapPer)
		}
		p("| %s | %s | %.0f B | %.0f B | %s | %.2f s |\n", implNames[row.Impl], human(row.N), row.RSSPer, row.SettledPer, heap, row.Seconds)
	}
	largest := m.Sizes[len(m.Sizes)-1]
	if ref := m.row("reference", largest); ref != nil {
		p("\nGoal ≤ %d B per session, uid and expiry bookkeeping included: %s (%.0f B RSS growth at %s", goalBytesPerSess,
			met(ref.RSSPer <= goalBytesPerSess), ref.RSSPer, human(largest))
		if tw := m.row("twisted", largest); tw != nil {
			p("; Twisted %.0f B, %.1f× as much", tw.RSSPer, tw.RSSPer/ref.RSSPer)
		}
		p("). A session is a 64-byte object (the uid as 32 raw bytes, its last access, its queue index, two flags, a pointer to a record made only for sessions with callbacks or stored objects), ")
		p("one 16-byte entry in the site's expiry queue (no timer per session: the site has one clock timer for the earliest deadline), ")
		p("and one entry in a map keyed by a 64-bit seeded hash of the uid (collisions go to a second, exact map).\n\n")
	}
	m.writeKinds(b)
	if len(m.HeapTop) > 0 {
		p("Heap profile of the reference at %s sessions (`go tool pprof -top -sample_index=inuse_space bin/refprog-now %s`; pprof: \"%s\"):\n\n",
			human(largest), relTo(r.cfg.root, m.HeapProfile), m.HeapTotal)
		p("| function | flat %% of in-use bytes |\n|---|---|\n")
		for _, e := range m.HeapTop {
			p("| `%s` | %.1f |\n", strings.TrimPrefix(e.Func, "github.com/sessionspec/sessionspec/"), e.Flat)
		}
		p("\n")
	}
	p("Commands: %s.\n\n", backticks(m.Commands))
}

// writeKinds writes the rows of plain, logged and counted sessions made
// through the handler.
func (m *memoryResult) writeKinds(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	var rows []memRow
	for _, row := range m.Rows {
		if row.Path != "" {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return
	}
	p("Sessions of each kind, made through the handler (`refprog mem -path P`: GET P without a cookie, through `Server.ServeHTTP`): ")
	p("*plain* by `GET /`, *logged* by `GET /logme` (an expiry callback and a marker stored on the session), *counted* by `GET /counter` (a stored counter). ")
	p("*live* is the Go heap still allocated after a full collection, per session; goal: logged and counted at most twice plain.\n\n")
	p("| implementation | kind | sessions | RSS growth per session | settled | Go heap in use | live heap | live / plain |\n|---|---|---|---|---|---|---|---|\n")
	plain := map[string]float64{}
	for _, row := range rows {
		if row.Path == "/" && row.Err == "" {
			plain[row.Impl] = row.LivePer
		}
	}
	for _, k := range sessionKinds {
		for _, row := range rows {
			if row.Path != k.Path {
				continue
			}
			if row.Err != "" {
				p("| %s | %s | %s | failed: %s | | | | |\n", implNames[row.Impl], k.Name, human(row.N), firstLine(row.Err))
				continue
			}
			ratio := "—"
			if base, ok := plain[row.Impl]; ok && base > 0 {
				ratio = fmt.Sprintf("%.2f×", row.LivePer/base)
			}
			p("| %s | %s | %s | %.0f B | %.0f B | %.0f B | %.0f B | %s |\n", implNames[row.Impl], k.Name, human(row.N), row.RSSPer, row.SettledPer, row.HeapPer, row.LivePer, ratio)
		}
	}
	p("\n")
}

func backticks(cmds []string) string {
	var out []string
	for _, c := range cmds {
		out = append(out, "`"+c+"`")
	}
	return strings.Join(out, ", ")
}

func (r *report) writeStorm(b *strings.Builder) {
	s := r.storm
	if s == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 4. Expiry storm\n\n")
	p("N sessions made through `GET /logme` (the ExpirationLogger seed: one logged notification registered per session) at one instant of a fake clock, ")
	p("then one `Advance` past the 900 s timeout. Timed: from the start of the `Advance` to the last notification logged (the fake clock runs them all before `Advance` returns). ")
	p("Checked: the uids logged against the uids made (sorted and compared), and no session left.\n\n")
	p("| implementation | sessions | last notification after | per session | logged | distinct | duplicates | missing | live after | exactly once | setup (untimed) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range s.Runs {
		if x.Err != "" {
			p("| %s | %s | failed: %s | | | | | | | | |\n", implNames[x.Impl], human(x.N), firstLine(x.Err))
			continue
		}
		p("| %s | %s | %.3f s | %.0f ns | %d | %d | %d | %d | %d | %s | %.1f s |\n", implNames[x.Impl], human(x.N), x.LastNotifySec,
			x.NsPerSession, x.Logged, x.Distinct, x.Duplicates, x.Missing, x.LiveAfter, yesNo(x.ExactlyOnce()), x.SetupSeconds)
	}
	p("\nCommands: %s.\n\n", backticks(s.Commands))
}

func (r *report) writeClocks(b *strings.Builder) {
	c := r.clocks
	if c == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 5. fakeclock against the other clocks\n\n")
	p("Each clock, at each size, in a process of its own (`%s`), holds N timers sharing one callback, and goes through three phases:\n\n", c.Commands[0])
	p("- **schedule**: N `AfterFunc` calls with delays spread over [1h, 2h) (ns per call; heap bytes per pending timer after a collection);\n")
	p("- **touch**: min(N, %s) `Reset`s of random timers to 3h, what a session touch does (ns per reset);\n", human(touchOps))
	p("- **fire**: time moves 3h+1s and all N callbacks run (ns per fired timer, until the last has run, goroutines included).\n\n")
	p("A phase gets %.0f%% / %.0f%% / %.0f%% of the clock's budget (%s); one that runs out is **DNF**, shown with how far it got (and so a lower bound of its cost per operation); after a DNF in *schedule* nothing else runs, after one in *touch* *fire* still does. ",
		100*phaseShare["schedule"], 100*phaseShare["touch"], 100*phaseShare["fire"], c.Budgets)
	p("A clock that finishes all three phases in under 2 s is run again, up to 5 processes, and the median is shown with min–max. ")
	p("The runtime's timers cannot be advanced: for *fire* they are all reset (untimed) to one instant t0 a little ahead, and timed from t0.\n\n")
	for _, ph := range phases {
		p("**%s** (ns per operation)\n\n| clock |", ph)
		for _, n := range c.Sizes {
			p(" %s |", human(n))
		}
		p("\n|---|")
		for range c.Sizes {
			p("---|")
		}
		p("\n")
		for _, ci := range c.Clocks {
			p("| %s |", ci.Name)
			for _, n := range c.Sizes {
				cr := c.run(ci.Name, n)
				if cr == nil {
					p(" — |")
					continue
				}
				p(" %s |", cr.Phases[ph].cellText())
			}
			p("\n")
		}
		p("\n")
	}
	p("**memory per pending timer** (heap bytes after scheduling N, collected)\n\n| clock |")
	for _, n := range c.Sizes {
		p(" %s |", human(n))
	}
	p("\n|---|")
	for range c.Sizes {
		p("---|")
	}
	p("\n")
	for _, ci := range c.Clocks {
		p("| %s |", ci.Name)
		for _, n := range c.Sizes {
			cr := c.run(ci.Name, n)
			if cr == nil || cr.Phases["schedule"].State != "ok" {
				p(" — |")
				continue
			}
			p(" %.0f B |", cr.Phases["schedule"].BytesPer)
		}
		p("\n")
	}
	p("\nThe clocks:\n\n")
	for _, ci := range c.Clocks {
		p("- **%s** (`%s`): %s.\n", ci.Name, ci.Module, ci.Notes)
	}
	p("\n")
}

func (ph *clockPhase) cellText() string {
	switch ph.State {
	case "ok":
		if ph.Max > ph.Min {
			return fmtNs(ph.NsPerOp) + " (" + fmtNs(ph.Min) + "–" + fmtNs(ph.Max) + ")"
		}
		return fmtNs(ph.NsPerOp)
	case "dnf":
		s := fmt.Sprintf("DNF: %d of %d in %.0f s", ph.Done, ph.Of, ph.Seconds)
		if ph.Done > 0 {
			s += fmt.Sprintf(" (≥ %s each)", fmtNs(ph.Seconds*1e9/float64(ph.Done)))
		}
		return s
	}
	return "not run"
}

func (r *report) writeSuite(b *strings.Builder) {
	s := r.suite
	if s == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 6. The suite itself\n\n")
	p("Whole-suite wall time, process start included. The suite's cases run in one Ginkgo `Ordered` container, so Ginkgo's own `-p` cannot spread them over processes; ")
	p("on the wall clock, where the time is waiting, the harness instead runs %d `sessionspec check --label-filter` processes at once against the same server, ", s.Shards)
	p("the cases split by their times in the serial run (longest first), and checks that every case had its serial outcome. ")
	p("On a controlled clock, shards would move each other's time, so those runs stay serial (they take about a second anyway).\n\n")
	p("| run | wall time, s | runs | exit codes | note | command |\n|---|---|---|---|---|---|\n")
	for _, row := range s.Rows {
		if row.Skipped != "" {
			p("| %s | not run | | | %s | %s |\n", row.Name, cell(firstLine(row.Skipped)), cmdCell(row.Command))
			continue
		}
		p("| %s | %s | %d | %v | %s | %s |\n", row.Name, fmtRange(summarize(row.Runs), "%.2f"), len(row.Runs), row.Exit, cell(row.Note), cmdCell(row.Command))
	}
	p("\n")
}

func cmdCell(c string) string {
	if c == "" {
		return ""
	}
	if !strings.Contains(c, "`") {
		c = "`" + c + "`"
	}
	return cell(c)
}

// cell makes text safe in a table cell: GitHub ends a cell at any |, even
// inside a code span, unless it is escaped.
func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
