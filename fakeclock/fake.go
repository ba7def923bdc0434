package fakeclock

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

// MaxCallsPerInstant bounds a runaway loop: within one Advance, AdvanceTo
// or RunNext, at most this many calls may run at one instant having been
// scheduled or reset while the clock already stood at that instant. One
// more makes the advance panic, where a real clock would spin forever
// (a callback that keeps calling AfterFunc(0, ...) or Reset(0)).
//
// Calls that were already pending when the clock reached the instant are
// not counted, so a storm of any size scheduled beforehand (a million
// sessions expiring in the same nanosecond) never trips the limit.
const MaxCallsPerInstant = 1_000_000

// Fake is a Clock whose time moves only when a test says so: the Go
// counterpart of Twisted's task.Clock. AfterFunc is callLater, Advance
// and AdvanceTo are advance, Pending is getDelayedCalls.
//
// Callbacks run synchronously in the goroutine that advances the clock, in
// the order of their deadlines and, at the same deadline, in the order they
// were scheduled (a Reset counts as scheduling anew). While a callback
// runs, Now reports that callback's own deadline, so code under test sees
// the instant it asked for, exactly as it would on a punctual real clock.
//
// A Fake never starts goroutines, never sleeps and never reads the wall
// clock, so a test driven by it behaves the same under the race detector
// and on every GOOS, wasm included.
//
// All methods are safe for concurrent use. Callbacks run with no lock of
// the Fake held, so they may call Now, AfterFunc and any Timer's Stop and
// Reset; they must not advance the clock that is running them.
//
// Advancing a clock from inside one of its own callbacks is caught and
// panics rather than deadlocking. An advance from any goroutine that is
// not running a callback simply waits its turn. Go has no goroutine
// identity to tell a callback's own goroutine from another, so when an
// advance has to wait, the check is whether the caller is inside a
// callback of any Fake; hence one limitation: a goroutine running a
// callback of another Fake that advances this one while a different
// goroutine is advancing it panics too, where waiting would have been
// correct. (Advancing an idle Fake from another Fake's callback is fine.)
//
// The zero Fake is usable and stands at the zero time.
type Fake struct {
	// advancing serialises Advance, AdvanceTo and RunNext: it is held from
	// the first due call to the return of the last one.
	advancing sync.Mutex

	mu    sync.Mutex
	start time.Time
	now   int64  // nanoseconds since start
	seq   uint64 // last scheduling sequence number handed out
	heap  []entry
	// changed is closed, and forgotten, at the next change of state, so
	// WaitFor can sleep until then. It is nil while nobody waits, which
	// keeps state changes free of allocation.
	changed chan struct{}
}

// Call describes a pending call, as Twisted's DelayedCall does.
type Call struct {
	// When is the instant the call is due.
	When time.Time
	// Seq is the scheduling sequence number the call got from the
	// AfterFunc or Reset that scheduled it last; among calls due at the
	// same instant, the lower Seq runs first.
	Seq uint64
}

// NewFake returns a clock that stands at start until it is advanced.
//
// Instants are kept as nanoseconds since start, so the clock covers about
// 292 years after start; deadlines and advances beyond that are clamped to
// its end.
func NewFake(start time.Time) *Fake {
	return &Fake{start: start}
}

// Now returns the clock's current instant: the deadline of the callback
// that is running, if one is, or else the instant the clock was last
// advanced to.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	now := c.now
	c.mu.Unlock()
	return c.at(now)
}

// AfterFunc schedules f to run once d has elapsed on this clock, like
// Twisted's callLater. A d of zero or less makes the call due now: it runs
// at the next Advance, AdvanceTo or RunNext, even Advance(0), and not
// before, because a Fake runs nothing on its own.
//
// The returned Timer's Stop and Reset behave as those of *time.Timer.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	if f == nil {
		panic("fakeclock: AfterFunc called with a nil func")
	}
	t := &timer{c: c, f: f}
	c.mu.Lock()
	c.seq++
	t.when, t.seq = c.deadline(d), c.seq
	c.push(entry{when: t.when, seq: t.seq, t: t})
	c.notify()
	c.mu.Unlock()
	return t
}

// Advance moves the clock forward by d, running every call that falls due
// on the way, including calls those callbacks schedule, as long as they
// are due by the end. So Advance(a) followed by Advance(b) does just what
// Advance(a+b) does. Advance returns once the last of those callbacks has
// returned, with Now at the end instant, and reports how many calls ran.
//
// Advances are serialised: one started while another goroutine is
// advancing waits for it to finish. Advancing from inside one of this
// clock's callbacks would wait forever, so it panics instead. So does a
// negative d, since time does not go backwards.
//
// If a callback panics, the panic propagates out of Advance; the clock
// stays at that callback's deadline with the later calls still pending.
func (c *Fake) Advance(d time.Duration) int {
	if d < 0 {
		panic(fmt.Sprintf("fakeclock: Advance(%v): time cannot go backwards", d))
	}
	c.beginAdvance("Advance")
	defer c.endAdvance()
	c.mu.Lock()
	return c.runUntil(addClamped(c.now, d))
}

// AdvanceTo moves the clock forward to t, running the calls due by then as
// Advance does, and reports how many ran. If t is not after Now, time does
// not move, but calls already due at Now (scheduled with a delay of zero
// or less) still run, as with Advance(0).
func (c *Fake) AdvanceTo(t time.Time) int {
	c.beginAdvance("AdvanceTo")
	defer c.endAdvance()
	c.mu.Lock()
	end := c.now
	if off := int64(t.Sub(c.start)); off > end {
		end = off
	}
	return c.runUntil(end)
}

// RunNext moves the clock to the deadline of the earliest pending call,
// or leaves it where it is if that call is already due, and runs that
// call alone. It reports false, doing nothing, if no call is pending.
// A test can use it to step through whatever is scheduled without knowing
// when.
func (c *Fake) RunNext() bool {
	c.beginAdvance("RunNext")
	defer c.endAdvance()
	c.mu.Lock()
	t := c.first()
	if t == nil {
		c.mu.Unlock()
		return false
	}
	c.removeAt(0)
	c.now = max(c.now, t.when)
	c.notify()
	c.mu.Unlock()
	runCallback(t.f)
	return true
}

// Pending returns the calls waiting to run, in the order they will run,
// like Twisted's getDelayedCalls. It is a snapshot: it does not change as
// the clock does.
func (c *Fake) Pending() []Call {
	c.mu.Lock()
	keys := make([]entry, len(c.heap))
	for i, e := range c.heap {
		keys[i] = entry{when: e.t.when, seq: e.t.seq}
	}
	c.mu.Unlock()
	slices.SortFunc(keys, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.when, b.when), cmp.Compare(a.seq, b.seq))
	})
	calls := make([]Call, len(keys))
	for i, k := range keys {
		calls[i] = Call{When: c.at(k.when), Seq: k.seq}
	}
	return calls
}

// Len reports how many calls are pending.
func (c *Fake) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.heap)
}

// Generation counts the calls to AfterFunc and to Timer.Reset made on this
// clock so far; it is the last scheduling sequence number handed out (see
// Call.Seq). Stop and the passing of time do not change it, so it tells a
// test whether the code under test has scheduled anything since it last
// looked. See WaitScheduled.
func (c *Fake) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// WaitFor blocks until cond reports true, evaluating it once at the start
// and again after every change of the clock's state: a call scheduled,
// reset, stopped or run, or time moving. It returns nil once cond holds,
// or ctx.Err() if ctx is done first.
//
// It lets a test synchronise with code running in other goroutines
// without sleeping. cond runs with no lock of the clock held, so it may
// call the clock's methods.
func (c *Fake) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		// Take the channel before evaluating cond, so that any change
		// made after the evaluation closes it.
		c.mu.Lock()
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		changed := c.changed
		c.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitScheduled blocks until Generation exceeds since, that is until
// something calls AfterFunc or Timer.Reset on the clock after the test
// read since from Generation, or until ctx is done. A test calls it before
// Advance when the code under test schedules from another goroutine, so
// that the advance does not pass before the call is there to fire.
func (c *Fake) WaitScheduled(ctx context.Context, since uint64) error {
	return c.WaitFor(ctx, func() bool { return c.Generation() > since })
}

// timer is the Timer a Fake hands out. It is kept small, a 48-byte object
// plus its 24-byte heap entry, since a clock may hold a million of them.
type timer struct {
	c    *Fake
	f    func()
	when int64  // deadline, in nanoseconds since c.start
	seq  uint64 // sequence number of the AfterFunc or Reset that set when
	idx  int    // position in c.heap, or -1 when not pending
}

// Stop cancels the call. It reports whether the call was pending: false
// if it has run, is running, or was stopped already.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.idx < 0 {
		return false
	}
	c.removeAt(t.idx)
	c.notify()
	return true
}

// Reset schedules the call to run d after the clock's current instant,
// whether it was pending, has run or was stopped, and reports whether it
// was pending. The call takes a new sequence number, so it runs after the
// calls already scheduled for the same instant.
func (t *timer) Reset(d time.Duration) bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t.when, t.seq = c.deadline(d), c.seq
	e := entry{when: t.when, seq: t.seq, t: t}
	pending := t.idx >= 0
	switch {
	case !pending:
		c.push(e)
	case e.before(&c.heap[t.idx]):
		c.up(t.idx, e)
	default:
		// Moved later, as a session touch does: the entry's key is
		// still a lower bound of the timer's, which is all the heap
		// needs until the entry reaches the top (see first). So the
		// common Reset costs no sifting, however often it is repeated.
	}
	c.notify()
	return pending
}

// beginAdvance takes the right to advance the clock, waiting for another
// goroutine's advance to finish, and panics if the caller is a callback
// of this clock, which would otherwise wait for itself forever.
func (c *Fake) beginAdvance(op string) {
	if c.advancing.TryLock() {
		return
	}
	// Our callbacks run in the goroutine that holds c.advancing, below a
	// runCallback frame. A goroutine without that frame on its stack is
	// certainly another one, and may wait. One with it is inside a
	// callback of some Fake; Go does not say which, so this takes it to
	// be ours (see the limitation in the Fake doc). Looking at the stack
	// costs a microsecond or so, but only here, never on the way of an
	// advance that does not have to wait.
	if insideCallback() {
		panic("fakeclock: " + op + " called from inside a callback run by the clock's own advance; " +
			"a callback may schedule, reset and stop calls, but only the test may move time")
	}
	if testHookAdvanceWait != nil {
		testHookAdvanceWait()
	}
	c.advancing.Lock()
}

func (c *Fake) endAdvance() { c.advancing.Unlock() }

// testHookAdvanceWait, when set by a test, is called by an advance that
// is about to wait for another goroutine's.
var testHookAdvanceWait func()

// runUntil runs, in order, every call due at or before end, then leaves
// the clock at end. It is called with c.mu held and with c.advancing
// held, and returns with c.mu released.
func (c *Fake) runUntil(end int64) int {
	ran := 0
	// Calls with a sequence number above mark were scheduled or reset
	// while the clock already stood at c.now during this advance; storm
	// counts those that have run at c.now.
	mark, storm := c.seq, 0
	for {
		t := c.first()
		if t == nil || t.when > end {
			break
		}
		if t.when > c.now {
			c.now, mark, storm = t.when, c.seq, 0
		} else if t.seq > mark {
			storm++
			if storm > MaxCallsPerInstant {
				at := c.at(c.now)
				c.mu.Unlock()
				panic(fmt.Sprintf("fakeclock: runaway loop: more than MaxCallsPerInstant (%d) calls "+
					"were scheduled for %v while the clock stood at that instant; "+
					"some callback keeps scheduling work due now, so time can never move on",
					MaxCallsPerInstant, at))
			}
		}
		c.removeAt(0)
		c.notify()
		c.mu.Unlock()
		runCallback(t.f)
		ran++
		c.mu.Lock()
	}
	if end > c.now {
		c.now = end
		c.notify()
	}
	c.mu.Unlock()
	return ran
}

// runCallback is the one frame through which every callback is called, so
// that its presence on a goroutine's stack says the goroutine is inside a
// callback.
//
//go:noinline
func runCallback(f func()) { f() }

// runCallbackName is runCallback's name as the runtime reports it in
// stack frames, found by asking rather than spelled out, so it follows the
// module path wherever the package lives.
var runCallbackName = func() string {
	var name string
	runCallback(func() {
		if pc, _, _, ok := runtime.Caller(1); ok {
			name = runtime.FuncForPC(pc).Name()
		}
	})
	return name
}()

// insideCallback reports whether the calling goroutine is running a
// callback of some Fake.
func insideCallback() bool {
	if runCallbackName == "" {
		return false // cannot tell; waiting is the safer guess
	}
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(2, pcs)
		if n == len(pcs) {
			pcs = make([]uintptr, 2*len(pcs))
			continue
		}
		frames := runtime.CallersFrames(pcs[:n])
		for {
			fr, more := frames.Next()
			if fr.Function == runCallbackName {
				return true
			}
			if !more {
				return false
			}
		}
	}
}

// at turns nanoseconds since start into an instant.
func (c *Fake) at(off int64) time.Time { return c.start.Add(time.Duration(off)) }

// deadline is the instant d from now, in nanoseconds since start.
func (c *Fake) deadline(d time.Duration) int64 { return addClamped(c.now, d) }

// addClamped returns off+d, or off if d is not positive, clamped to the
// largest representable instant.
func addClamped(off int64, d time.Duration) int64 {
	if d <= 0 {
		return off
	}
	if off > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return off + int64(d)
}

// notify wakes every WaitFor. Called with c.mu held.
func (c *Fake) notify() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// The pending calls form a 4-ary min-heap ordered by (when, seq). Each
// entry carries a copy of its key, so sifting reads contiguous memory and
// touches a timer only to record its new index; a 4-ary heap is half as
// deep as a binary one and reads the children of a node from one or two
// cache lines, which pays at a million timers.
//
// An entry's key may lag behind its timer's: a Reset that moves a timer
// later leaves the entry alone, and first brings it up to date once it
// reaches the top. The heap is ordered by the entries' keys, each a lower
// bound of its timer's, so an up-to-date top is the true earliest call.
type entry struct {
	when int64
	seq  uint64
	t    *timer
}

// first returns the timer of the earliest pending call, or nil.
func (c *Fake) first() *timer {
	for len(c.heap) > 0 {
		t := c.heap[0].t
		if c.heap[0].when == t.when && c.heap[0].seq == t.seq {
			return t
		}
		c.down(0, entry{when: t.when, seq: t.seq, t: t})
	}
	return nil
}

// before reports whether e runs before o.
func (e *entry) before(o *entry) bool {
	return e.when < o.when || e.when == o.when && e.seq < o.seq
}

const arity = 4

// push adds e to the heap.
func (c *Fake) push(e entry) {
	c.heap = append(c.heap, entry{})
	c.up(len(c.heap)-1, e)
}

// removeAt deletes the entry at index i and marks its timer not pending.
func (c *Fake) removeAt(i int) {
	h := c.heap
	h[i].t.idx = -1
	last := len(h) - 1
	e := h[last]
	h[last] = entry{} // drop the reference for the garbage collector
	c.heap = h[:last]
	if i < last {
		c.fix(i, e)
	}
	// Give memory back after a storm, but not so eagerly that a clock
	// hovering around one size keeps reallocating.
	if cap(c.heap) > 1024 && len(c.heap) < cap(c.heap)/4 {
		c.heap = append(make([]entry, 0, 2*len(c.heap)), c.heap...)
	}
}

// fix puts e at index i, whose previous entry has gone, and restores the
// heap order.
func (c *Fake) fix(i int, e entry) {
	if i > 0 && e.before(&c.heap[(i-1)/arity]) {
		c.up(i, e)
	} else {
		c.down(i, e)
	}
}

// up places e at the hole i or above it.
func (c *Fake) up(i int, e entry) {
	h := c.heap
	for i > 0 {
		p := (i - 1) / arity
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		h[i].t.idx = i
		i = p
	}
	h[i] = e
	e.t.idx = i
}

// down places e at the hole i or below it.
func (c *Fake) down(i int, e entry) {
	h := c.heap
	n := len(h)
	for {
		first := i*arity + 1
		if first >= n {
			break
		}
		m := first
		for j := first + 1; j < min(first+arity, n); j++ {
			if h[j].before(&h[m]) {
				m = j
			}
		}
		if !h[m].before(&e) {
			break
		}
		h[i] = h[m]
		h[i].t.idx = i
		i = m
	}
	h[i] = e
	e.t.idx = i
}
