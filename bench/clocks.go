package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The clock comparison runs each competitor at each size in a process of
// its own, in three phases:
//
//	schedule  n AfterFunc calls with delays in [1h, 2h)        ns per call, heap bytes per pending timer
//	touch     min(n, 100k) Resets of random timers to 3h       ns per reset (a session touch)
//	fire      time moves 3h+1s: all n callbacks run            ns per fired timer
//
// Each phase has its share of the competitor's time budget. A phase that
// runs out of it is reported as DNF with how far it got; after a DNF in
// schedule nothing else runs, after one in touch fire still does (every
// timer is still pending). The parent also kills a child that overstays.

const touchOps = 100_000

// phase shares of a child's budget
var phaseShare = map[string]float64{"schedule": 0.4, "touch": 0.2, "fire": 0.4}

var phases = []string{"schedule", "touch", "fire"}

// clockEvent is one line a clock child prints.
type clockEvent struct {
	Event    string  `json:"event"` // "progress", "phase", "dnf", "end"
	Phase    string  `json:"phase,omitempty"`
	Done     int     `json:"done"`
	Of       int     `json:"of"`
	Seconds  float64 `json:"seconds"`
	NsPerOp  float64 `json:"ns_per_op,omitempty"`
	BytesPer float64 `json:"bytes_per_timer,omitempty"`
	Note     string  `json:"note,omitempty"`
}

type emitter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (e *emitter) emit(ev clockEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, _ := json.Marshal(ev)
	e.w.Write(b)
	e.w.WriteByte('\n')
	e.w.Flush()
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// childClock runs one competitor at one size.
func childClock(args []string) error {
	fs := flag.NewFlagSet("clock", flag.ContinueOnError)
	name := fs.String("clock", "fakeclock", "competitor")
	n := fs.Int("n", 10_000, "timers")
	budget := fs.Duration("budget", 30*time.Second, "time budget for all phases")
	if err := fs.Parse(args); err != nil {
		return err
	}
	info, ok := clockByName(*name)
	if !ok {
		return fmt.Errorf("unknown clock %q", *name)
	}
	out := &emitter{w: bufio.NewWriter(os.Stdout)}
	var fired counter
	rng := rand.New(rand.NewPCG(1, 2))
	delays := make([]time.Duration, *n)
	for i := range delays {
		delays[i] = time.Hour + time.Duration(rng.Int64N(int64(time.Hour)))
	}
	touches := min(*n, touchOps)
	idx := make([]int, touches)
	for i := range idx {
		idx[i] = rng.IntN(*n)
	}
	base := liveHeap()
	c := info.make(*n, fired.inc)

	// progress reports the phase's count every half second and ends the
	// process once the phase has used its share of the budget.
	var progress atomic64
	runPhase := func(phase string, of int, body func() bool) bool {
		share := time.Duration(float64(*budget) * phaseShare[phase])
		progress.store(0)
		start := time.Now()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					el := time.Since(start)
					done := int(progress.load())
					if el > share+2*time.Second { // a phase that cannot stop itself (one long Advance)
						out.emit(clockEvent{Event: "dnf", Phase: phase, Done: done, Of: of, Seconds: el.Seconds(),
							Note: fmt.Sprintf("out of its %s share of the budget", share.Round(time.Second))})
						os.Exit(0)
					}
					out.emit(clockEvent{Event: "progress", Phase: phase, Done: done, Of: of, Seconds: el.Seconds()})
				}
			}
		}()
		ok := body()
		close(stop)
		wg.Wait()
		return ok
	}
	deadline := func(phase string) time.Time {
		return time.Now().Add(time.Duration(float64(*budget) * phaseShare[phase]))
	}

	// schedule
	{
		end := deadline("schedule")
		var t0 time.Time
		complete := runPhase("schedule", *n, func() bool {
			t0 = time.Now()
			for i := 0; i < *n; i++ {
				c.schedule(i, delays[i])
				if i&255 == 255 {
					progress.store(int64(i + 1))
					if time.Now().After(end) {
						return false
					}
				}
			}
			return true
		})
		el := time.Since(t0)
		if !complete {
			out.emit(clockEvent{Event: "dnf", Phase: "schedule", Done: int(progress.load()), Of: *n, Seconds: el.Seconds()})
			return nil
		}
		bytes := float64(liveHeap()-base) / float64(*n)
		out.emit(clockEvent{Event: "phase", Phase: "schedule", Done: *n, Of: *n, Seconds: el.Seconds(),
			NsPerOp: float64(el.Nanoseconds()) / float64(*n), BytesPer: bytes})
	}
	// touch
	{
		end := deadline("touch")
		var t0 time.Time
		complete := runPhase("touch", touches, func() bool {
			t0 = time.Now()
			for k, i := range idx {
				c.reset(i, 3*time.Hour)
				if k&63 == 63 {
					progress.store(int64(k + 1))
					if time.Now().After(end) {
						return false
					}
				}
			}
			return true
		})
		el := time.Since(t0)
		if complete {
			out.emit(clockEvent{Event: "phase", Phase: "touch", Done: touches, Of: touches, Seconds: el.Seconds(),
				NsPerOp: float64(el.Nanoseconds()) / float64(touches)})
		} else {
			// All n timers are still pending, some touched: fire can
			// still be measured.
			out.emit(clockEvent{Event: "dnf", Phase: "touch", Done: int(progress.load()), Of: touches, Seconds: el.Seconds(),
				Note: "out of its share of the budget; fire still measured"})
		}
	}
	// fire
	{
		want := int64(*n)
		var el time.Duration
		note := ""
		complete := runPhase("fire", *n, func() bool {
			if info.runtime {
				// The runtime fires on its own: every timer is reset to
				// one instant t0, untimed, and the time runs from t0.
				rt := c.(*runtimeTimers)
				margin := 200*time.Millisecond + time.Duration(*n)*3*time.Microsecond
				t0 := time.Now().Add(margin)
				for _, t := range rt.ts {
					t.Reset(time.Until(t0))
				}
				if time.Now().After(t0) {
					note = "resetting the timers took longer than the margin; timed from t0 all the same"
				}
				for fired.n.Load() < want {
					progress.store(fired.n.Load())
					time.Sleep(200 * time.Microsecond)
				}
				el = time.Since(t0)
				return true
			}
			t0 := time.Now()
			done := make(chan struct{})
			go func() {
				c.fireAll(3*time.Hour + time.Second)
				close(done)
			}()
			for waiting := true; waiting; {
				select {
				case <-done:
					waiting = false
				case <-time.After(time.Millisecond):
					progress.store(fired.n.Load())
				}
			}
			for fired.n.Load() < want { // callbacks that run in goroutines
				progress.store(fired.n.Load())
				time.Sleep(100 * time.Microsecond)
			}
			el = time.Since(t0)
			return true
		})
		if complete {
			out.emit(clockEvent{Event: "phase", Phase: "fire", Done: *n, Of: *n, Seconds: el.Seconds(),
				NsPerOp: float64(el.Nanoseconds()) / float64(*n), Note: note})
		}
	}
	out.emit(clockEvent{Event: "end"})
	return nil
}

// atomic64 is a progress counter written by the phase and read by the
// reporter.
type atomic64 struct {
	mu sync.Mutex
	v  int64
}

func (a *atomic64) store(v int64) { a.mu.Lock(); a.v = v; a.mu.Unlock() }
func (a *atomic64) load() int64   { a.mu.Lock(); defer a.mu.Unlock(); return a.v }

// clockPhase is the parent's record of one phase.
type clockPhase struct {
	State    string // "ok", "dnf", "not run"
	NsPerOp  float64
	Min, Max float64 // ns per op over repeated runs
	BytesPer float64
	Done, Of int
	Seconds  float64
	Note     string
}

type clockRun struct {
	Clock  string
	N      int
	Budget time.Duration
	Phases map[string]*clockPhase
	Runs   int // processes run; medians are kept when more than one
	Wall   time.Duration
	Err    string
}

type clocksResult struct {
	Runs     []*clockRun
	Clocks   []clockInfo
	Sizes    []int
	Budgets  string
	Commands []string
}

func (r *clocksResult) run(clock string, n int) *clockRun {
	for _, cr := range r.Runs {
		if cr.Clock == clock && cr.N == n {
			return cr
		}
	}
	return nil
}

func runClocks(ctx context.Context, cfg *config, log io.Writer) (*clocksResult, error) {
	res := &clocksResult{Clocks: clocks, Sizes: cfg.clockSizes, Budgets: budgetsText(cfg)}
	res.Commands = append(res.Commands, fmt.Sprintf("bin/bench child clock -clock NAME -n N -budget B (budget %s)", budgetsText(cfg)))
	for _, n := range cfg.clockSizes {
		for _, ci := range clocks {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			b := cfg.clockBudget[n]
			cr := &clockRun{Clock: ci.Name, N: n, Budget: b, Phases: map[string]*clockPhase{}}
			res.Runs = append(res.Runs, cr)
			// A run that completes quickly is repeated (up to 5 runs) and
			// its medians kept: at 10k timers a phase lasts milliseconds,
			// and one preemption on a shared machine would skew it.
			var runs []map[string]*clockPhase
			for attempt := 0; attempt < 5; attempt++ {
				phs, wall, err := runClockChild(cfg, ci.Name, n, b)
				cr.Wall += wall
				if err != "" {
					cr.Err = err
				}
				runs = append(runs, phs)
				quick := wall < 2*time.Second && err == ""
				for _, ph := range phs {
					quick = quick && ph.State == "ok"
				}
				if !quick {
					break
				}
			}
			cr.Runs = len(runs)
			for _, p := range phases {
				if len(runs) == 1 {
					cr.Phases[p] = runs[0][p]
					continue
				}
				var ns, by []float64
				for _, r := range runs {
					ns, by = append(ns, r[p].NsPerOp), append(by, r[p].BytesPer)
				}
				ph := *runs[0][p]
				ph.NsPerOp, ph.BytesPer = summarize(ns).Median, summarize(by).Median
				ph.Min, ph.Max = summarize(ns).Min, summarize(ns).Max
				cr.Phases[p] = &ph
			}
			var parts []string
			for _, p := range phases {
				parts = append(parts, p+" "+cr.Phases[p].short())
			}
			fmt.Fprintf(log, "  %-18s n=%-5s %s  (%d run(s), %.1fs)\n", ci.Name, human(n), strings.Join(parts, ", "), cr.Runs, cr.Wall.Seconds())
		}
	}
	return res, nil
}

// runClockChild runs one competitor at one size in a process of its own
// and reads its phases.
func runClockChild(cfg *config, clock string, n int, b time.Duration) (map[string]*clockPhase, time.Duration, string) {
	phs := map[string]*clockPhase{}
	for _, p := range phases {
		phs[p] = &clockPhase{State: "not run", NsPerOp: math.NaN(), BytesPer: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	t0 := time.Now()
	pr, err := start("clock "+clock, nil, nil, cfg.self, "child", "clock", "-clock", clock, "-n", strconv.Itoa(n), "-budget", b.String())
	if err != nil {
		return phs, 0, err.Error()
	}
	werr := pr.Wait(b + 15*time.Second)
	wall := time.Since(t0)
	ended := false
	for line := range strings.SplitSeq(pr.out.String(), "\n") {
		var ev clockEvent
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		ph := phs[ev.Phase]
		switch ev.Event {
		case "phase":
			*ph = clockPhase{State: "ok", NsPerOp: ev.NsPerOp, BytesPer: ev.BytesPer, Min: ev.NsPerOp, Max: ev.NsPerOp,
				Done: ev.Done, Of: ev.Of, Seconds: ev.Seconds, Note: ev.Note}
			if ev.BytesPer == 0 {
				ph.BytesPer = math.NaN()
			}
		case "progress", "dnf":
			*ph = clockPhase{State: "dnf", NsPerOp: math.NaN(), BytesPer: math.NaN(), Min: math.NaN(), Max: math.NaN(),
				Done: ev.Done, Of: ev.Of, Seconds: ev.Seconds, Note: ev.Note}
		case "end":
			ended = true
		}
	}
	switch {
	case ended || werr == nil: // finished, or stopped itself at a DNF
		return phs, wall, ""
	case strings.Contains(werr.Error(), "killed after"):
		for _, p := range phases {
			if ph := phs[p]; ph.State == "dnf" && ph.Note == "" {
				ph.Note = "killed by the harness after " + (b + 15*time.Second).String()
			}
		}
		return phs, wall, ""
	}
	return phs, wall, fmt.Sprintf("%v: %s", werr, tail(pr.out.String(), 3))
}

func (p *clockPhase) short() string {
	switch p.State {
	case "ok":
		s := fmtNs(p.NsPerOp) + "/op"
		if !math.IsNaN(p.BytesPer) {
			s += fmt.Sprintf(" %.0f B/timer", p.BytesPer)
		}
		return s
	case "dnf":
		return fmt.Sprintf("DNF (%d of %d in %.0fs)", p.Done, p.Of, p.Seconds)
	}
	return "—"
}

func budgetsText(cfg *config) string {
	var parts []string
	for _, n := range cfg.clockSizes {
		parts = append(parts, fmt.Sprintf("%s at %s", cfg.clockBudget[n], human(n)))
	}
	return strings.Join(parts, ", ")
}

// fmtNs formats nanoseconds with a unit that keeps 3 significant digits.
func fmtNs(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "—"
	case ns < 1000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
	return fmt.Sprintf("%.3g s", ns/1e9)
}

func nan() float64 { return math.NaN() }
