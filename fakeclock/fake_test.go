package fakeclock_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

var _ fakeclock.Clock = (*fakeclock.Fake)(nil)

// start is an arbitrary instant with no monotonic reading, so that
// instants compare equal with ==.
var start = time.Date(2001, time.September, 9, 1, 46, 40, 0, time.UTC)

// event is one entry of a firing trace: what ran and at what offset from
// start the clock stood while it ran.
type event struct {
	name string
	at   time.Duration
}

func (e event) String() string { return fmt.Sprintf("%s@%v", e.name, e.at) }

// recorder collects a trace. It is only touched by callbacks, which run in
// the advancing goroutine.
type recorder struct {
	c      *fakeclock.Fake
	events []event
}

func (r *recorder) note(name string) {
	r.events = append(r.events, event{name, r.c.Now().Sub(start)})
}

// rec returns a callback that notes name.
func (r *recorder) rec(name string) func() { return func() { r.note(name) } }

func (r *recorder) check(t *testing.T, want ...event) {
	t.Helper()
	if !slices.Equal(r.events, want) {
		t.Fatalf("trace:\n got %v\nwant %v", r.events, want)
	}
}

func newRecorder() *recorder { return &recorder{c: fakeclock.NewFake(start)} }

const (
	ms = time.Millisecond
	s  = time.Second
)

func TestNewFakeStandsStill(t *testing.T) {
	c := fakeclock.NewFake(start)
	if got := c.Now(); got != start {
		t.Fatalf("Now() = %v, want %v", got, start)
	}
	if c.Len() != 0 || c.Generation() != 0 || len(c.Pending()) != 0 {
		t.Fatalf("new clock has state: Len %d, Generation %d, Pending %v", c.Len(), c.Generation(), c.Pending())
	}
	fired := false
	c.AfterFunc(0, func() { fired = true })
	if fired {
		t.Fatal("AfterFunc(0) ran its call before the clock was advanced")
	}
	if got := c.Now(); got != start {
		t.Fatalf("Now() moved by itself to %v", got)
	}
}

func TestZeroFakeStandsAtZeroTime(t *testing.T) {
	var c fakeclock.Fake
	var at time.Time
	c.AfterFunc(s, func() { at = c.Now() })
	if n := c.Advance(2 * s); n != 1 {
		t.Fatalf("Advance ran %d calls, want 1", n)
	}
	if want := (time.Time{}).Add(s); at != want {
		t.Fatalf("callback saw %v, want %v", at, want)
	}
}

func TestFiringOrderWithTiesAndResets(t *testing.T) {
	r := newRecorder()
	c := r.c
	a := c.AfterFunc(2*s, r.rec("a"))
	c.AfterFunc(1*s, r.rec("b"))
	c.AfterFunc(2*s, r.rec("c"))
	c.AfterFunc(1*s, r.rec("d"))
	e := c.AfterFunc(3*s, r.rec("e"))
	c.AfterFunc(2*s, r.rec("f"))
	c.AfterFunc(0, r.rec("now"))
	c.AfterFunc(-time.Hour, r.rec("past"))
	// A reset takes a new sequence number: a now runs after c and f,
	// although it was scheduled before them; e moves before them.
	if !a.Reset(2 * s) {
		t.Fatal("Reset of a pending timer returned false")
	}
	if !e.Reset(2 * s) {
		t.Fatal("Reset of a pending timer returned false")
	}
	if n := c.Advance(3 * s); n != 8 {
		t.Fatalf("Advance ran %d calls, want 8", n)
	}
	r.check(t,
		event{"now", 0}, event{"past", 0},
		event{"b", 1 * s}, event{"d", 1 * s},
		event{"c", 2 * s}, event{"f", 2 * s}, event{"a", 2 * s}, event{"e", 2 * s},
	)
}

func TestResetEarlierAndLater(t *testing.T) {
	// Resets in both directions, some repeated, among other calls: the
	// order and Pending follow the latest Reset of each.
	r := newRecorder()
	c := r.c
	a := c.AfterFunc(3*s, r.rec("a"))
	c.AfterFunc(2*s, r.rec("b"))
	cc := c.AfterFunc(1*s, r.rec("c"))
	d := c.AfterFunc(4*s, r.rec("d"))
	cc.Reset(5 * s)    // later
	a.Reset(500 * ms)  // earlier than everything
	cc.Reset(4 * s)    // earlier than its last Reset, later than at first
	d.Reset(1500 * ms) // earlier
	d.Reset(1700 * ms) // later again
	a.Reset(10 * s)    // later than everything...
	a.Reset(2500 * ms) // ...and back
	want := []fakeclock.Call{
		{start.Add(1700 * ms), 9},
		{start.Add(2 * s), 2},
		{start.Add(2500 * ms), 11},
		{start.Add(4 * s), 7},
	}
	if got := c.Pending(); !slices.Equal(got, want) {
		t.Fatalf("Pending() =\n %v\nwant\n %v", got, want)
	}
	c.Advance(10 * s)
	r.check(t, event{"d", 1700 * ms}, event{"b", 2 * s}, event{"a", 2500 * ms}, event{"c", 4 * s})
}

func TestTiesAreFIFOAtScale(t *testing.T) {
	// Many calls due at a handful of instants, scheduled in a scrambled
	// order: each instant's calls run in the order they were scheduled.
	c := fakeclock.NewFake(start)
	rng := rand.New(rand.NewPCG(1, 2))
	type key struct {
		at  time.Duration
		seq int
	}
	var got []key
	for i := range 5000 {
		d := time.Duration(rng.IntN(5)) * ms
		c.AfterFunc(d, func() { got = append(got, key{c.Now().Sub(start), i}) })
	}
	c.Advance(time.Hour)
	if len(got) != 5000 {
		t.Fatalf("ran %d calls, want 5000", len(got))
	}
	if !slices.IsSortedFunc(got, func(a, b key) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.seq - b.seq
	}) {
		t.Fatal("calls did not run in (deadline, scheduling order)")
	}
}

func TestNowInsideCallbackIsItsDeadline(t *testing.T) {
	c := fakeclock.NewFake(start)
	seen := map[time.Duration]time.Time{}
	for _, d := range []time.Duration{1, 999 * ms, s, 1500 * ms, 7 * s} {
		c.AfterFunc(d, func() { seen[d] = c.Now() })
	}
	c.Advance(10 * s)
	if len(seen) != 5 {
		t.Fatalf("ran %d calls, want 5", len(seen))
	}
	for d, at := range seen {
		if want := start.Add(d); at != want {
			t.Errorf("callback due at +%v saw Now() = %v, want %v", d, at, want)
		}
	}
	if got, want := c.Now(), start.Add(10*s); got != want {
		t.Fatalf("after Advance, Now() = %v, want the end instant %v", got, want)
	}
}

func TestCallbackSeesOwnDeadlineFromAnotherGoroutine(t *testing.T) {
	// Now is the running callback's deadline for every goroutine, not
	// only the advancing one.
	c := fakeclock.NewFake(start)
	var seen time.Time
	c.AfterFunc(3*s, func() {
		done := make(chan time.Time)
		go func() { done <- c.Now() }()
		seen = <-done
	})
	c.Advance(time.Minute)
	if want := start.Add(3 * s); seen != want {
		t.Fatalf("other goroutine saw %v during the callback, want %v", seen, want)
	}
}

// scenario schedules a set of calls, some of which schedule, reset and
// stop others, and returns the trace they will produce once run.
func scenario(r *recorder) {
	c := r.c
	ticks := 0
	var tick fakeclock.Timer
	tick = c.AfterFunc(700*ms, func() {
		r.note("tick")
		if ticks++; ticks < 5 {
			if tick.Reset(700 * ms) {
				r.note("tick was pending")
			}
		}
	})
	c.AfterFunc(s, func() {
		r.note("a")
		c.AfterFunc(500*ms, r.rec("a.child"))
		c.AfterFunc(0, r.rec("a.now"))
	})
	c.AfterFunc(s, r.rec("b"))
	late := c.AfterFunc(2*s, r.rec("late"))
	var victim fakeclock.Timer
	c.AfterFunc(2*s, func() { r.note(fmt.Sprint("killer stops victim: ", victim.Stop())) })
	victim = c.AfterFunc(3*s, r.rec("victim"))
	c.AfterFunc(2500*ms, func() {
		r.note("c")
		c.AfterFunc(1500*ms, func() {
			r.note("c2")
			c.AfterFunc(0, r.rec("c3"))
		})
	})
	late.Reset(2 * s)
}

var scenarioTrace = []event{
	{"tick", 700 * ms},
	{"a", s}, {"b", s}, {"a.now", s},
	{"tick", 1400 * ms},
	{"a.child", 1500 * ms},
	{"killer stops victim: true", 2 * s}, {"late", 2 * s},
	{"tick", 2100 * ms},
	{"c", 2500 * ms},
	{"tick", 2800 * ms},
	{"tick", 3500 * ms},
	{"c2", 4 * s}, {"c3", 4 * s},
}

func TestScenarioTrace(t *testing.T) {
	r := newRecorder()
	scenario(r)
	if n := r.c.Advance(10 * s); n != len(scenarioTrace) {
		t.Fatalf("Advance ran %d calls, want %d", n, len(scenarioTrace))
	}
	r.check(t, scenarioTrace...)
	if r.c.Len() != 0 {
		t.Fatalf("%d calls still pending: %v", r.c.Len(), r.c.Pending())
	}
}

func TestAdvanceInStepsEqualsAdvanceAtOnce(t *testing.T) {
	splits := map[string][]time.Duration{
		"whole":          {10 * s},
		"at-instants":    {700 * ms, 300 * ms, 0, 500 * ms, 500 * ms, 0, 0, 500 * ms, 1500 * ms, 6 * s},
		"between":        {999 * ms, 2 * ms, 1998 * ms, 7001 * ms},
		"1ns-then-rest":  {1, 10*s - 1},
		"every-100ms":    slices.Repeat([]time.Duration{100 * ms}, 100),
		"every-1ms":      slices.Repeat([]time.Duration{ms}, 10000),
		"zeros-and-ones": {0, 0, s, 0, s, 0, 8 * s},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		var steps []time.Duration
		for left := 10 * s; left > 0; {
			d := min(left, time.Duration(rng.Int64N(int64(2*s))))
			if rng.IntN(5) == 0 {
				d = 0
			}
			steps = append(steps, d)
			left -= d
		}
		splits[fmt.Sprint("random-", i)] = steps
	}
	for name, steps := range splits {
		t.Run(name, func(t *testing.T) {
			r := newRecorder()
			scenario(r)
			total, ran := time.Duration(0), 0
			for _, d := range steps {
				total += d
				ran += r.c.Advance(d)
				if got, want := r.c.Now(), start.Add(total); got != want {
					t.Fatalf("after advancing %v, Now() = %v, want %v", total, got, want)
				}
			}
			if total != 10*s {
				t.Fatalf("steps add up to %v, want 10s", total)
			}
			if ran != len(scenarioTrace) {
				t.Fatalf("Advance calls ran %d calls in all, want %d", ran, len(scenarioTrace))
			}
			r.check(t, scenarioTrace...)
		})
	}
}

func TestStopAndResetReturnValues(t *testing.T) {
	c := fakeclock.NewFake(start)
	runs := 0
	tm := c.AfterFunc(s, func() { runs++ })
	step := func(what string, got, want bool) {
		t.Helper()
		if got != want {
			t.Fatalf("%s returned %v, want %v", what, got, want)
		}
	}
	// Pending.
	step("Reset of a pending timer", tm.Reset(2*s), true)
	step("Stop of a pending timer", tm.Stop(), true)
	// Stopped.
	step("Stop of a stopped timer", tm.Stop(), false)
	c.Advance(10 * s)
	if runs != 0 {
		t.Fatalf("stopped timer ran %d times", runs)
	}
	step("Reset of a stopped timer", tm.Reset(s), false)
	// Revived by that Reset: pending again, due 1s after now.
	if p := c.Pending(); len(p) != 1 || p[0].When != start.Add(11*s) {
		t.Fatalf("Pending() = %v, want one call at +11s", p)
	}
	c.Advance(s)
	if runs != 1 {
		t.Fatalf("revived timer ran %d times, want 1", runs)
	}
	// Fired.
	step("Stop of a fired timer", tm.Stop(), false)
	step("Reset of a fired timer", tm.Reset(s), false)
	c.Advance(s)
	if runs != 2 {
		t.Fatalf("timer reset after firing ran %d times in all, want 2", runs)
	}
	step("Stop of a timer fired again", tm.Stop(), false)
}

func TestStopAndResetFromOwnCallback(t *testing.T) {
	c := fakeclock.NewFake(start)
	var tm fakeclock.Timer
	var stopped, reset []bool
	var at []time.Duration
	tm = c.AfterFunc(s, func() {
		at = append(at, c.Now().Sub(start))
		// A running call is no longer pending, as with *time.Timer.
		stopped = append(stopped, tm.Stop())
		if len(at) < 3 {
			reset = append(reset, tm.Reset(s))
		}
	})
	c.Advance(time.Minute)
	if !slices.Equal(at, []time.Duration{s, 2 * s, 3 * s}) {
		t.Fatalf("ran at %v, want [1s 2s 3s]", at)
	}
	if !slices.Equal(stopped, []bool{false, false, false}) || !slices.Equal(reset, []bool{false, false}) {
		t.Fatalf("Stop in callback returned %v, Reset %v; want all false", stopped, reset)
	}
}

func TestCallbackStopsLaterCallAtSameInstant(t *testing.T) {
	r := newRecorder()
	c := r.c
	var first, third fakeclock.Timer
	var gotFirst, gotThird bool
	first = c.AfterFunc(s, r.rec("first"))
	c.AfterFunc(s, func() {
		r.note("second")
		gotFirst = first.Stop() // already ran
		gotThird = third.Stop() // due now, but not run yet
	})
	third = c.AfterFunc(s, r.rec("third"))
	c.AfterFunc(s, r.rec("fourth"))
	if n := c.Advance(s); n != 3 {
		t.Fatalf("Advance ran %d calls, want 3", n)
	}
	r.check(t, event{"first", s}, event{"second", s}, event{"fourth", s})
	if gotFirst || !gotThird {
		t.Fatalf("Stop of the call that ran returned %v, of the call due returned %v; want false, true", gotFirst, gotThird)
	}
}

func TestCallbackResetsLaterCallAtSameInstant(t *testing.T) {
	// Resetting to zero a call due at the running instant sends it to the
	// back of that instant's queue.
	r := newRecorder()
	c := r.c
	var b fakeclock.Timer
	c.AfterFunc(s, func() {
		r.note("a")
		if !b.Reset(0) {
			t.Error("Reset of a call due but not run returned false")
		}
	})
	b = c.AfterFunc(s, r.rec("b"))
	c.AfterFunc(s, r.rec("c"))
	c.Advance(s)
	r.check(t, event{"a", s}, event{"c", s}, event{"b", s})
}

func TestCallbackSchedulesDueNowWorkInSameAdvance(t *testing.T) {
	r := newRecorder()
	c := r.c
	c.AfterFunc(s, func() {
		r.note("parent")
		c.AfterFunc(0, func() {
			r.note("child")
			c.AfterFunc(-s, r.rec("grandchild"))
		})
		c.AfterFunc(500*ms, r.rec("within"))
		c.AfterFunc(2*s, r.rec("beyond"))
	})
	c.AfterFunc(s, r.rec("sibling"))
	if n := c.Advance(2 * s); n != 5 {
		t.Fatalf("Advance ran %d calls, want 5", n)
	}
	r.check(t,
		event{"parent", s}, event{"sibling", s}, event{"child", s}, event{"grandchild", s},
		event{"within", 1500 * ms},
	)
	if p := c.Pending(); len(p) != 1 || p[0].When != start.Add(3*s) {
		t.Fatalf("Pending() = %v, want the one call at +3s", p)
	}
}

func TestAdvanceZeroRunsOnlyDueCalls(t *testing.T) {
	r := newRecorder()
	c := r.c
	c.AfterFunc(0, r.rec("zero"))
	c.AfterFunc(-time.Hour, r.rec("negative"))
	c.AfterFunc(1, r.rec("1ns"))
	if n := c.Advance(0); n != 2 {
		t.Fatalf("Advance(0) ran %d calls, want 2", n)
	}
	r.check(t, event{"zero", 0}, event{"negative", 0})
	if c.Now() != start {
		t.Fatalf("Advance(0) moved the clock to %v", c.Now())
	}
	if n := c.Advance(0); n != 0 {
		t.Fatalf("second Advance(0) ran %d calls, want 0", n)
	}
}

func TestAdvanceNegativePanics(t *testing.T) {
	c := fakeclock.NewFake(start)
	msg := catch(func() { c.Advance(-1) })
	if !strings.Contains(msg, "backwards") {
		t.Fatalf("Advance(-1) panicked with %q, want a message about going backwards", msg)
	}
	// The clock is still usable.
	c.AfterFunc(s, func() {})
	if n := c.Advance(s); n != 1 {
		t.Fatalf("Advance after the panic ran %d calls, want 1", n)
	}
}

func TestAfterFuncNilPanics(t *testing.T) {
	c := fakeclock.NewFake(start)
	if msg := catch(func() { c.AfterFunc(s, nil) }); !strings.Contains(msg, "nil") {
		t.Fatalf("AfterFunc(nil) panicked with %q", msg)
	}
}

func TestRunNext(t *testing.T) {
	r := newRecorder()
	c := r.c
	if c.RunNext() {
		t.Fatal("RunNext on an empty clock returned true")
	}
	c.AfterFunc(3*s, r.rec("c"))
	c.AfterFunc(s, r.rec("a"))
	c.AfterFunc(s, r.rec("b"))
	step := func(want ...event) {
		t.Helper()
		if !c.RunNext() {
			t.Fatal("RunNext returned false with calls pending")
		}
		r.check(t, want...)
	}
	step(event{"a", s})
	if c.Now() != start.Add(s) || c.Len() != 2 {
		t.Fatalf("after RunNext: Now %v, Len %d; want +1s and 2", c.Now(), c.Len())
	}
	step(event{"a", s}, event{"b", s})
	// Time has moved past 1s: a call due now runs now, without moving
	// the clock backwards or forwards.
	c.Advance(s)
	c.AfterFunc(-time.Hour, r.rec("due"))
	step(event{"a", s}, event{"b", s}, event{"due", 2 * s})
	step(event{"a", s}, event{"b", s}, event{"due", 2 * s}, event{"c", 3 * s})
	if c.RunNext() {
		t.Fatal("RunNext returned true after the last call ran")
	}
	if c.Now() != start.Add(3*s) {
		t.Fatalf("Now() = %v, want +3s", c.Now())
	}
}

func TestAdvanceTo(t *testing.T) {
	r := newRecorder()
	c := r.c
	c.AfterFunc(s, r.rec("a"))
	c.AfterFunc(2*s, r.rec("b"))
	if n := c.AdvanceTo(start.Add(1500 * ms)); n != 1 {
		t.Fatalf("AdvanceTo(+1.5s) ran %d calls, want 1", n)
	}
	if c.Now() != start.Add(1500*ms) {
		t.Fatalf("Now() = %v, want +1.5s", c.Now())
	}
	// Into the past, or to now: time does not move and nothing runs...
	for _, to := range []time.Time{start, start.Add(1500 * ms), start.Add(-time.Hour), {}} {
		if n := c.AdvanceTo(to); n != 0 {
			t.Fatalf("AdvanceTo(%v) ran %d calls, want 0", to, n)
		}
		if c.Now() != start.Add(1500*ms) {
			t.Fatalf("AdvanceTo(%v) moved the clock to %v", to, c.Now())
		}
	}
	// ...except calls already due now.
	c.AfterFunc(0, r.rec("due"))
	if n := c.AdvanceTo(start); n != 1 {
		t.Fatalf("AdvanceTo(the past) with a call due ran %d calls, want 1", n)
	}
	if n := c.AdvanceTo(start.Add(2 * s)); n != 1 {
		t.Fatalf("AdvanceTo(+2s) ran %d calls, want 1", n)
	}
	r.check(t, event{"a", s}, event{"due", 1500 * ms}, event{"b", 2 * s})
	if c.Now() != start.Add(2*s) {
		t.Fatalf("Now() = %v, want +2s", c.Now())
	}
}

func TestPendingOrderAndLen(t *testing.T) {
	c := fakeclock.NewFake(start)
	// Pending reports absolute instants, not delays.
	c.Advance(s)
	a := c.AfterFunc(3*s, func() {})  // seq 1
	c.AfterFunc(s, func() {})         // seq 2
	b := c.AfterFunc(2*s, func() {})  // seq 3
	c.AfterFunc(s, func() {})         // seq 4
	c.AfterFunc(0, func() {})         // seq 5
	a.Reset(s)                        // seq 6
	b.Stop()                          //
	c.AfterFunc(time.Hour, func() {}) // seq 7
	want := []fakeclock.Call{
		{start.Add(s), 5},
		{start.Add(2 * s), 2},
		{start.Add(2 * s), 4},
		{start.Add(2 * s), 6},
		{start.Add(s + time.Hour), 7},
	}
	if got := c.Pending(); !slices.Equal(got, want) {
		t.Fatalf("Pending() =\n %v\nwant\n %v", got, want)
	}
	if c.Len() != 5 {
		t.Fatalf("Len() = %d, want 5", c.Len())
	}
	c.Advance(s)
	if got := c.Pending(); !slices.Equal(got, want[4:]) {
		t.Fatalf("after Advance, Pending() = %v, want %v", got, want[4:])
	}
	if c.Len() != 1 {
		t.Fatalf("Len() = %d, want 1", c.Len())
	}
}

func TestPendingIsASnapshot(t *testing.T) {
	c := fakeclock.NewFake(start)
	c.AfterFunc(s, func() {})
	p := c.Pending()
	c.AfterFunc(0, func() {})
	c.Advance(2 * s)
	if len(p) != 1 || p[0] != (fakeclock.Call{When: start.Add(s), Seq: 1}) {
		t.Fatalf("earlier Pending() result changed to %v", p)
	}
}

func TestFarFutureIsClamped(t *testing.T) {
	c := fakeclock.NewFake(start)
	c.Advance(time.Hour)
	var ran bool
	c.AfterFunc(math.MaxInt64, func() { ran = true })
	c.AfterFunc(math.MaxInt64-1, func() {})
	if n := c.Advance(time.Hour); n != 0 || ran {
		t.Fatalf("a call due in 292 years ran after an hour")
	}
	end := start.Add(math.MaxInt64)
	for _, p := range c.Pending() {
		if p.When != end {
			t.Fatalf("Pending() = %v, want both calls clamped to %v", c.Pending(), end)
		}
	}
	if n := c.Advance(math.MaxInt64); n != 2 || !ran {
		t.Fatalf("advancing to the end of time ran %d calls, want 2", n)
	}
	if c.Now() != end {
		t.Fatalf("Now() = %v, want %v", c.Now(), end)
	}
}

func TestGeneration(t *testing.T) {
	c := fakeclock.NewFake(start)
	want := uint64(0)
	check := func(what string, delta uint64) {
		t.Helper()
		want += delta
		if got := c.Generation(); got != want {
			t.Fatalf("after %s, Generation() = %d, want %d", what, got, want)
		}
	}
	tm := c.AfterFunc(s, func() {})
	check("AfterFunc", 1)
	tm.Reset(2 * s)
	check("Reset of a pending timer", 1)
	tm.Stop()
	check("Stop", 0)
	tm.Stop()
	check("second Stop", 0)
	tm.Reset(s)
	check("Reset of a stopped timer", 1)
	c.Advance(time.Minute)
	check("Advance", 0)
	tm.Reset(s)
	check("Reset of a fired timer", 1)
	c.RunNext()
	c.AdvanceTo(start.Add(time.Hour))
	check("RunNext and AdvanceTo", 0)
	c.AfterFunc(s, func() { c.AfterFunc(0, func() {}) })
	c.Advance(s)
	check("AfterFunc and a callback's AfterFunc", 2)
}

func TestWaitScheduled(t *testing.T) {
	c := fakeclock.NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	since := c.Generation()
	fired := make(chan time.Time, 1)
	release := make(chan struct{})
	go func() {
		<-release // "after a moment": once the test is surely waiting or about to
		c.AfterFunc(5*s, func() { fired <- c.Now() })
	}()
	close(release)
	if err := c.WaitScheduled(ctx, since); err != nil {
		t.Fatalf("WaitScheduled: %v", err)
	}
	if c.Len() != 1 {
		t.Fatalf("WaitScheduled returned with %d calls pending, want 1", c.Len())
	}
	c.Advance(5 * s)
	select {
	case at := <-fired:
		if at != start.Add(5*s) {
			t.Fatalf("call ran at %v, want +5s", at)
		}
	default:
		t.Fatal("the call scheduled by the goroutine did not run in Advance")
	}

	// A Reset counts as scheduling too.
	since = c.Generation()
	tm := c.AfterFunc(time.Hour, func() {})
	if err := c.WaitScheduled(ctx, since); err != nil {
		t.Fatalf("WaitScheduled right after AfterFunc: %v", err)
	}
	since = c.Generation()
	go tm.Reset(s)
	if err := c.WaitScheduled(ctx, since); err != nil {
		t.Fatalf("WaitScheduled for a Reset: %v", err)
	}
	if p := c.Pending(); len(p) != 1 || p[0].When != start.Add(6*s) {
		t.Fatalf("after the Reset, Pending() = %v, want one call at +6s", p)
	}
}

func TestWaitScheduledContextEnds(t *testing.T) {
	c := fakeclock.NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitScheduled(ctx, c.Generation()); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitScheduled with a cancelled context returned %v, want context.Canceled", err)
	}
	// A condition that already holds wins over a dead context.
	c.AfterFunc(s, func() {})
	if err := c.WaitScheduled(ctx, 0); err != nil {
		t.Fatalf("WaitScheduled with the condition met returned %v", err)
	}
	// A context ending while waiting.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- c.WaitFor(ctx, func() bool { return false }) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor returned %v after cancel, want context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if err := c.WaitFor(ctx, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor with an expired deadline returned %v", err)
	}
}

func TestWaitForSeesEveryKindOfChange(t *testing.T) {
	c := fakeclock.NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tm := c.AfterFunc(time.Hour, func() {})
	// Each change is made by another goroutine after WaitFor starts
	// waiting on a condition only that change makes true; cond calls the
	// clock, which must not deadlock.
	changes := []struct {
		name   string
		change func()
		cond   func() bool
	}{
		{"schedule", func() { c.AfterFunc(s, func() {}) }, func() bool { return c.Len() == 2 }},
		{"stop", func() { tm.Stop() }, func() bool { return c.Len() == 1 }},
		{"reset", func() { tm.Reset(2 * s) }, func() bool { return c.Len() == 2 }},
		{"advance", func() { c.Advance(s) }, func() bool { return c.Now() == start.Add(s) }},
		{"fire", func() { c.RunNext() }, func() bool { return c.Len() == 0 }},
	}
	for _, ch := range changes {
		if ch.cond() {
			t.Fatalf("%s: condition holds before the change", ch.name)
		}
		go ch.change()
		if err := c.WaitFor(ctx, ch.cond); err != nil {
			t.Fatalf("%s: WaitFor: %v", ch.name, err)
		}
	}
}

func TestWaitForWakesDuringAdvance(t *testing.T) {
	// A waiter sees state changes between callbacks of one Advance.
	c := fakeclock.NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reached := make(chan struct{})
	proceed := make(chan struct{})
	c.AfterFunc(s, func() {})
	c.AfterFunc(2*s, func() {
		close(reached)
		<-proceed
	})
	go func() {
		_ = c.WaitFor(ctx, func() bool { return c.Now() == start.Add(2*s) })
		close(proceed)
	}()
	c.Advance(3 * s) // deadlocks unless the waiter wakes at +2s
	<-reached
}

func TestRunawayLoopPanics(t *testing.T) {
	c := fakeclock.NewFake(start)
	runs := 0
	var tm fakeclock.Timer
	tm = c.AfterFunc(s, func() {
		runs++
		tm.Reset(0)
	})
	msg := catch(func() { c.Advance(2 * s) })
	if !strings.Contains(msg, "runaway") || !strings.Contains(msg, fmt.Sprint(fakeclock.MaxCallsPerInstant)) {
		t.Fatalf("Advance panicked with %q, want a runaway-loop message", msg)
	}
	// The first run was scheduled before the advance; then exactly
	// MaxCallsPerInstant runs of calls scheduled at that instant.
	if want := 1 + fakeclock.MaxCallsPerInstant; runs != want {
		t.Fatalf("ran %d times before panicking, want %d", runs, want)
	}
	// The clock stays where the loop was and remains usable.
	if c.Now() != start.Add(s) {
		t.Fatalf("Now() = %v after the panic, want +1s", c.Now())
	}
	if !tm.Stop() {
		t.Fatal("the looping call was not left pending")
	}
	c.AfterFunc(s, func() {})
	if n := c.Advance(2 * s); n != 1 {
		t.Fatalf("Advance after the panic ran %d calls, want 1", n)
	}
}

func TestLegitimateStormDoesNotPanic(t *testing.T) {
	if raceEnabled {
		t.Skip("a million calls in one goroutine take too long under -race; run without it")
	}
	// A million calls due at one instant, all scheduled before the
	// advance; then exactly MaxCallsPerInstant due-now calls made in a
	// chain while the clock stands there, the most allowed; and two calls
	// for that instant made by a callback at an earlier instant of the
	// same advance, which do not count against the limit either.
	n := fakeclock.MaxCallsPerInstant
	c := fakeclock.NewFake(start)
	ran, last := 0, -1
	ordered := true
	for i := range n {
		c.AfterFunc(time.Hour, func() {
			if i != last+1 {
				ordered = false
			}
			last = i
			ran++
		})
	}
	chained := 0
	var chain func()
	chain = func() {
		if chained++; chained <= fakeclock.MaxCallsPerInstant {
			c.AfterFunc(0, chain)
		}
	}
	c.AfterFunc(time.Hour, chain)
	early := 0
	c.AfterFunc(time.Hour-1, func() {
		c.AfterFunc(1, func() { early++ })
		c.AfterFunc(1, func() { early++ })
	})
	want := n + 1 + fakeclock.MaxCallsPerInstant + 1 + 2
	if got := c.Advance(time.Hour); got != want {
		t.Fatalf("Advance ran %d calls, want %d", got, want)
	}
	if ran != n || !ordered {
		t.Fatalf("storm ran %d calls (in order: %v), want %d in scheduling order", ran, ordered, n)
	}
	if chained != 1+fakeclock.MaxCallsPerInstant || early != 2 {
		t.Fatalf("chain ran %d times and early calls %d, want %d and 2", chained, early, 1+fakeclock.MaxCallsPerInstant)
	}
	if c.Len() != 0 {
		t.Fatalf("%d calls left pending", c.Len())
	}
}

func TestAdvanceFromCallbackPanics(t *testing.T) {
	c := fakeclock.NewFake(start)
	advances := map[string]func(){
		"Advance":   func() { c.Advance(s) },
		"AdvanceTo": func() { c.AdvanceTo(start.Add(time.Hour)) },
		"RunNext":   func() { c.RunNext() },
	}
	var msgs []string
	after := 0
	for name, advance := range advances {
		c.AfterFunc(s, func() {
			msg := catch(advance)
			if !strings.Contains(msg, name) || !strings.Contains(msg, "inside a callback") {
				t.Errorf("%s from a callback panicked with %q", name, msg)
			}
			msgs = append(msgs, msg)
		})
		c.AfterFunc(s, func() { after++ })
	}
	if n := c.Advance(s); n != 6 {
		t.Fatalf("outer Advance ran %d calls, want 6", n)
	}
	if len(msgs) != 3 || after != 3 {
		t.Fatalf("%d callbacks caught a panic and %d later calls ran, want 3 and 3", len(msgs), after)
	}
	// The failed attempts changed nothing.
	if c.Now() != start.Add(s) {
		t.Fatalf("Now() = %v, want +1s", c.Now())
	}
	c.AfterFunc(s, func() {})
	if n := c.Advance(s); n != 1 {
		t.Fatal("the clock does not advance after the caught panics")
	}
}

func TestAdvanceFromCallbackPanicUnwinds(t *testing.T) {
	// Left uncaught, the panic unwinds the outer Advance and leaves the
	// clock usable.
	c := fakeclock.NewFake(start)
	c.AfterFunc(s, func() { c.Advance(s) })
	c.AfterFunc(2*s, func() {})
	if msg := catch(func() { c.Advance(time.Minute) }); !strings.Contains(msg, "inside a callback") {
		t.Fatalf("outer Advance panicked with %q", msg)
	}
	if c.Now() != start.Add(s) || c.Len() != 1 {
		t.Fatalf("after the panic: Now %v, Len %d; want +1s, 1", c.Now(), c.Len())
	}
	if n := c.Advance(time.Minute); n != 1 {
		t.Fatalf("Advance after the panic ran %d calls, want 1", n)
	}
}

func TestCallbackPanicLeavesClockUsable(t *testing.T) {
	r := newRecorder()
	c := r.c
	c.AfterFunc(s, r.rec("a"))
	c.AfterFunc(2*s, func() { panic("boom") })
	c.AfterFunc(3*s, r.rec("c"))
	if msg := catch(func() { c.Advance(10 * s) }); msg != "boom" {
		t.Fatalf("Advance panicked with %q, want the callback's", msg)
	}
	if c.Now() != start.Add(2*s) {
		t.Fatalf("Now() = %v, want the panicking call's deadline +2s", c.Now())
	}
	if n := c.Advance(8 * s); n != 1 {
		t.Fatalf("next Advance ran %d calls, want 1", n)
	}
	r.check(t, event{"a", s}, event{"c", 3 * s})
}

func TestCallbackMayAdvanceAnotherFake(t *testing.T) {
	a := fakeclock.NewFake(start)
	b := fakeclock.NewFake(start)
	var trace []string
	b.AfterFunc(s, func() {
		trace = append(trace, "b")
		// b's callback calls a, which is advancing: allowed, as long as
		// it does not advance a.
		a.AfterFunc(0, func() { trace = append(trace, "a.now") })
	})
	a.AfterFunc(s, func() {
		trace = append(trace, "a")
		b.Advance(s)
	})
	a.Advance(s)
	if want := []string{"a", "b", "a.now"}; !slices.Equal(trace, want) {
		t.Fatalf("trace %v, want %v", trace, want)
	}
}

func TestConcurrentAdvanceWaitsItsTurn(t *testing.T) {
	c := fakeclock.NewFake(start)
	waiting := make(chan struct{}, 1)
	defer fakeclock.SetAdvanceWaitHook(func() { waiting <- struct{}{} })()
	var trace []event // touched only by callbacks, which the advances serialise
	note := func(name string) { trace = append(trace, event{name, c.Now().Sub(start)}) }
	second := make(chan int)
	c.AfterFunc(s, func() {
		note("first")
		// Start another goroutine's Advance while this callback runs,
		// and return only once it is waiting: it must wait, not panic
		// and not run anything meanwhile.
		go func() { second <- c.Advance(2 * s) }()
		<-waiting
		note("first returns")
	})
	c.AfterFunc(2*s, func() { note("second") })
	c.AfterFunc(3*s, func() { note("third") })
	if n := c.Advance(s); n != 1 {
		t.Fatalf("first Advance ran %d calls, want 1", n)
	}
	if n := <-second; n != 2 {
		t.Fatalf("second Advance ran %d calls, want 2", n)
	}
	want := []event{{"first", s}, {"first returns", s}, {"second", 2 * s}, {"third", 3 * s}}
	if !slices.Equal(trace, want) {
		t.Fatalf("trace %v, want %v", trace, want)
	}
	if c.Now() != start.Add(3*s) {
		t.Fatalf("Now() = %v, want +3s", c.Now())
	}
}

func TestConcurrentAdvancesAddUp(t *testing.T) {
	c := fakeclock.NewFake(start)
	const goroutines, steps = 4, 500
	var bad atomic.Int32
	var fired atomic.Int32
	for i := range goroutines * steps {
		d := time.Duration(i) * ms
		c.AfterFunc(d, func() {
			fired.Add(1)
			if c.Now() != start.Add(d) {
				bad.Add(1)
			}
		})
	}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range steps {
				c.Advance(ms)
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(goroutines*steps*ms); got != want {
		t.Fatalf("Now() = %v after concurrent advances, want %v", got, want)
	}
	if fired.Load() != goroutines*steps || bad.Load() != 0 {
		t.Fatalf("%d calls ran, %d of them off their deadline; want %d and 0", fired.Load(), bad.Load(), goroutines*steps)
	}
}

func TestConcurrentUse(t *testing.T) {
	// Several goroutines schedule, reset and stop their timers while
	// another advances. Stop and Reset's results account for every
	// firing: each timer must fire exactly as often as they imply.
	c := fakeclock.NewFake(start)
	const workers, timers, ops = 4, 100, 3000
	type tracked struct {
		tm       fakeclock.Timer
		fired    atomic.Int64
		expected int64
	}
	all := make([][]*tracked, workers)
	stop := make(chan struct{})
	advanced := make(chan struct{})
	go func() {
		defer close(advanced)
		rng := rand.New(rand.NewPCG(9, 9))
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Let the workers run even where goroutines are not
			// preempted (js/wasm, wasip1).
			runtime.Gosched()
			switch rng.IntN(4) {
			case 0:
				c.RunNext()
			case 1:
				c.AdvanceTo(c.Now().Add(time.Duration(rng.IntN(3)) * ms))
			default:
				c.Advance(time.Duration(rng.IntN(3)) * ms)
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		mine := make([]*tracked, timers)
		all[w] = mine
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range ops {
				i := rng.IntN(timers)
				d := time.Duration(rng.IntN(20)-2) * ms
				tr := mine[i]
				switch {
				case tr == nil:
					tr = &tracked{expected: 1}
					tr.tm = c.AfterFunc(d, func() { tr.fired.Add(1) })
					mine[i] = tr
				case rng.IntN(2) == 0:
					if tr.tm.Stop() {
						tr.expected--
					}
				default:
					if !tr.tm.Reset(d) {
						tr.expected++
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-advanced
	c.Advance(time.Hour)
	if c.Len() != 0 {
		t.Fatalf("%d calls still pending", c.Len())
	}
	count := 0
	for w, mine := range all {
		for i, tr := range mine {
			if tr == nil {
				continue
			}
			count++
			if got := tr.fired.Load(); got != tr.expected {
				t.Errorf("worker %d timer %d fired %d times, want %d", w, i, got, tr.expected)
			}
		}
	}
	if count == 0 {
		t.Fatal("no timers were made")
	}
}

func TestRealClock(t *testing.T) {
	c := fakeclock.Real()
	before := time.Now()
	now := c.Now()
	after := time.Now()
	if now.Before(before) || now.After(after) {
		t.Fatalf("Real().Now() = %v, not between %v and %v", now, before, after)
	}
	tm := c.AfterFunc(time.Hour, func() { t.Error("a real timer due in an hour ran") })
	if _, ok := tm.(*time.Timer); !ok {
		t.Fatalf("Real().AfterFunc returned a %T, want *time.Timer", tm)
	}
	if !tm.Stop() {
		t.Fatal("Stop of a pending real timer returned false")
	}
	fired := make(chan struct{})
	c.AfterFunc(0, func() { close(fired) })
	select {
	case <-fired:
	case <-time.After(time.Minute):
		t.Fatal("a real timer due now did not run within a minute")
	}
}

// catch runs f and returns what it panicked with, as a string, or "" if
// it returned.
func catch(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func Example() {
	c := fakeclock.NewFake(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	c.AfterFunc(90*time.Second, func() { fmt.Println("session expired at", c.Now().Format(time.TimeOnly)) })
	touch := c.AfterFunc(30*time.Second, func() { fmt.Println("idle warning at", c.Now().Format(time.TimeOnly)) })
	touch.Reset(60 * time.Second)
	fmt.Println(c.Advance(2*time.Minute), "calls ran")
	// Output:
	// idle warning at 00:01:00
	// session expired at 00:01:30
	// 2 calls ran
}
