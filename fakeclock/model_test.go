package fakeclock_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// system is what the random-operations test drives: the Fake, through a
// thin adapter, or the reference model. Timers are named by small ints.
type system interface {
	now() time.Duration
	schedule(id int, d time.Duration)
	stop(id int) bool
	reset(id int, d time.Duration) bool
	advance(d time.Duration) int
	advanceTo(at time.Duration) int
	runNext() bool
	pending() []fakeclock.Call
	generation() uint64
}

// model is the obviously correct clock: a slice of pending calls, sorted
// afresh whenever it is looked at.
type model struct {
	at      time.Duration
	seq     uint64
	calls   []modelCall
	onFire  func(id int)
	changed int
}

type modelCall struct {
	id   int
	when time.Duration
	seq  uint64
}

func (m *model) now() time.Duration { return m.at }

func (m *model) sort() {
	slices.SortFunc(m.calls, func(a, b modelCall) int {
		if a.when != b.when {
			return int(a.when - b.when)
		}
		return int(a.seq) - int(b.seq)
	})
}

func (m *model) find(id int) int {
	return slices.IndexFunc(m.calls, func(c modelCall) bool { return c.id == id })
}

func (m *model) schedule(id int, d time.Duration) {
	m.seq++
	m.calls = append(m.calls, modelCall{id, m.at + max(d, 0), m.seq})
}

func (m *model) stop(id int) bool {
	i := m.find(id)
	if i < 0 {
		return false
	}
	m.calls = slices.Delete(m.calls, i, i+1)
	return true
}

func (m *model) reset(id int, d time.Duration) bool {
	was := m.stop(id)
	m.schedule(id, d)
	return was
}

// popDue removes and returns the first call if it is due by end.
func (m *model) popDue(end time.Duration) (modelCall, bool) {
	m.sort()
	if len(m.calls) == 0 || m.calls[0].when > end {
		return modelCall{}, false
	}
	c := m.calls[0]
	m.calls = m.calls[1:]
	m.at = max(m.at, c.when)
	return c, true
}

func (m *model) advanceTo(end time.Duration) int {
	end = max(end, m.at)
	n := 0
	for {
		c, ok := m.popDue(end)
		if !ok {
			break
		}
		m.onFire(c.id)
		n++
	}
	m.at = end
	return n
}

func (m *model) advance(d time.Duration) int { return m.advanceTo(m.at + d) }

func (m *model) runNext() bool {
	c, ok := m.popDue(1 << 62)
	if ok {
		m.onFire(c.id)
	}
	return ok
}

func (m *model) pending() []fakeclock.Call {
	m.sort()
	var p []fakeclock.Call
	for _, c := range m.calls {
		p = append(p, fakeclock.Call{When: start.Add(c.when), Seq: c.seq})
	}
	return p
}

func (m *model) generation() uint64 { return m.seq }

// fake adapts a Fake to system.
type fake struct {
	c      *fakeclock.Fake
	timers map[int]fakeclock.Timer
	onFire func(id int)
}

func (f *fake) now() time.Duration { return f.c.Now().Sub(start) }
func (f *fake) schedule(id int, d time.Duration) {
	f.timers[id] = f.c.AfterFunc(d, func() { f.onFire(id) })
}
func (f *fake) stop(id int) bool                   { return f.timers[id].Stop() }
func (f *fake) reset(id int, d time.Duration) bool { return f.timers[id].Reset(d) }
func (f *fake) advance(d time.Duration) int        { return f.c.Advance(d) }
func (f *fake) advanceTo(at time.Duration) int     { return f.c.AdvanceTo(start.Add(at)) }
func (f *fake) runNext() bool                      { return f.c.RunNext() }
func (f *fake) pending() []fakeclock.Call          { return f.c.Pending() }
func (f *fake) generation() uint64                 { return f.c.Generation() }

// world runs one system: it names timers, decides what each does when it
// fires, and records everything observable in a trace.
type world struct {
	sys     system
	seed    uint64
	nextID  int
	resets  map[int]int  // how many more times a timer re-arms itself
	resetOK map[int]bool // whether a timer has used its one reset of another
	trace   []string
}

func (w *world) log(format string, args ...any) {
	w.trace = append(w.trace, fmt.Sprintf(format, args...))
}

// newTimer schedules a new timer; its behaviour when it fires depends only
// on its id and the seed, so both worlds give it the same.
func (w *world) newTimer(d time.Duration) int {
	id := w.nextID
	w.nextID++
	w.sys.schedule(id, d)
	return id
}

func (w *world) fire(id int) {
	w.log("fire %d at %v", id, w.sys.now())
	rng := rand.New(rand.NewPCG(w.seed, uint64(id)))
	d := time.Duration(rng.IntN(6)-1) * ms
	switch rng.IntN(8) {
	case 0, 1:
		child := w.newTimer(d)
		w.log("  %d schedules %d in %v", id, child, d)
	case 2:
		// Re-arm itself a few times; never forever.
		left, seen := w.resets[id]
		if !seen {
			left = rng.IntN(4)
		}
		if left > 0 {
			w.resets[id] = left - 1
			w.log("  %d resets itself in %v: %v", id, d, w.sys.reset(id, d))
		}
	case 3:
		if id > 0 {
			other := rng.IntN(id)
			w.log("  %d stops %d: %v", id, other, w.sys.stop(other))
		}
	case 4:
		if id > 0 && !w.resetOK[id] {
			w.resetOK[id] = true // or two timers could re-arm each other forever
			other := rng.IntN(id)
			w.log("  %d resets %d in %v: %v", id, other, d, w.sys.reset(other, d))
		}
	}
}

// step applies one random operation, chosen from rng, and logs its
// result and the state that follows it.
func (w *world) step(op, i int, d time.Duration) {
	switch op {
	case 0, 1, 2:
		w.log("schedule %d in %v", w.newTimer(d), d)
	case 3:
		if w.nextID > 0 {
			id := i % w.nextID
			w.log("stop %d: %v", id, w.sys.stop(id))
		}
	case 4, 5:
		if w.nextID > 0 {
			id := i % w.nextID
			w.log("reset %d in %v: %v", id, d, w.sys.reset(id, d))
		}
	case 6:
		w.log("advance %v: %d ran", d, w.sys.advance(max(d, 0)))
	case 7:
		w.log("advanceTo now%+v: %d ran", d, w.sys.advanceTo(w.sys.now()+d))
	case 8:
		w.log("runNext: %v", w.sys.runNext())
	}
	w.log("now %v, generation %d, pending %v", w.sys.now(), w.sys.generation(), w.sys.pending())
}

func TestMatchesReferenceModel(t *testing.T) {
	seeds := uint64(20)
	if raceEnabled || runtime.GOARCH == "wasm" {
		seeds = 4
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			m := &model{}
			f := &fake{c: fakeclock.NewFake(start), timers: map[int]fakeclock.Timer{}}
			worlds := [2]*world{
				{sys: m, seed: seed, resets: map[int]int{}, resetOK: map[int]bool{}},
				{sys: f, seed: seed, resets: map[int]int{}, resetOK: map[int]bool{}},
			}
			m.onFire = worlds[0].fire
			f.onFire = worlds[1].fire
			rng := rand.New(rand.NewPCG(seed, 42))
			fired := 0
			for step := range 3000 {
				op, i := rng.IntN(9), rng.IntN(1<<20)
				d := time.Duration(rng.IntN(9)-2) * ms
				for _, w := range worlds {
					w.step(op, i, d)
				}
				mt, ft := worlds[0].trace, worlds[1].trace
				if !slices.Equal(mt, ft) {
					for j := range min(len(mt), len(ft)) {
						if mt[j] != ft[j] {
							t.Fatalf("step %d: traces part at entry %d:\nmodel: %s\nfake:  %s", step, j, mt[j], ft[j])
						}
					}
					t.Fatalf("step %d: traces differ in length:\nmodel: %q\nfake:  %q", step, mt, ft)
				}
				for _, e := range mt {
					if len(e) > 5 && e[:5] == "fire " {
						fired++
					}
				}
				worlds[0].trace, worlds[1].trace = nil, nil
			}
			if fired < 500 {
				t.Fatalf("only %d calls fired: the test exercises too little", fired)
			}
		})
	}
}
