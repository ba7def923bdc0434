package fakeclock_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// The benchmarks compare the Fake with the runtime's timers at the sizes
// the session code cares about. Each sub-benchmark sets up n pending
// timers outside the timed region, then times one kind of operation:
//
//	Schedule  AfterFunc into a clock already holding n timers
//	Reset     Reset of a random one of n timers to a random delay
//	Touch     Reset of a random one of n timers to the same fixed delay,
//	          as a session touch does: the timer moves behind all others
//	Fire      timers running as the clock passes their deadlines; one
//	          op is one fired timer, reported also as ns/fired
//
// Schedule, Reset and Touch use delays of an hour or more, so no runtime
// timer fires while they run.

var benchSizes = []int{10_000, 1_000_000}

func noop() {}

// delays returns a source of random delays in [1h, 2h).
func delays(seed uint64) func() time.Duration {
	rng := rand.New(rand.NewPCG(seed, 0))
	return func() time.Duration { return time.Hour + time.Duration(rng.Int64N(int64(time.Hour))) }
}

// heapBytes returns the live heap after a collection.
func heapBytes() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fakeWith returns a Fake holding n pending timers, and the timers.
func fakeWith(n int) (*fakeclock.Fake, []fakeclock.Timer) {
	c := fakeclock.NewFake(start)
	next := delays(1)
	ts := make([]fakeclock.Timer, n)
	for i := range ts {
		ts[i] = c.AfterFunc(next(), noop)
	}
	runtime.GC() // so that no collection of the setup's garbage overlaps the timing
	return c, ts
}

// runtimeWith returns n pending runtime timers.
func runtimeWith(b *testing.B, n int) []*time.Timer {
	next := delays(1)
	ts := make([]*time.Timer, n)
	for i := range ts {
		ts[i] = time.AfterFunc(next(), noop)
	}
	runtime.GC() // so that no collection of the setup's garbage overlaps the timing
	b.Cleanup(func() {
		for _, t := range ts {
			t.Stop()
		}
	})
	return ts
}

// scheduleBatch is how many timers a Schedule benchmark adds before it
// stops them, untimed, to keep the clock near n timers.
func scheduleBatch(n int) int { return max(n/100, 100) }

func BenchmarkSchedule(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("fake/n=%d", n), func(b *testing.B) {
			before := heapBytes()
			c, ts := fakeWith(n)
			perTimer := float64(heapBytes()-before) / float64(n)
			next := delays(2)
			added := make([]fakeclock.Timer, 0, scheduleBatch(n))
			for b.Loop() {
				added = append(added, c.AfterFunc(next(), noop))
				if len(added) == cap(added) {
					b.StopTimer()
					for _, t := range added {
						t.Stop()
					}
					added = added[:0]
					b.StartTimer()
				}
			}
			runtime.KeepAlive(ts)
			b.ReportMetric(perTimer, "B/pending") // after b.Loop, which clears metrics
		})
		b.Run(fmt.Sprintf("runtime/n=%d", n), func(b *testing.B) {
			before := heapBytes()
			ts := runtimeWith(b, n)
			perTimer := float64(heapBytes()-before) / float64(n)
			next := delays(2)
			added := make([]*time.Timer, 0, scheduleBatch(n))
			for b.Loop() {
				added = append(added, time.AfterFunc(next(), noop))
				if len(added) == cap(added) {
					b.StopTimer()
					for _, t := range added {
						t.Stop()
					}
					added = added[:0]
					b.StartTimer()
				}
			}
			for _, t := range added {
				t.Stop()
			}
			runtime.KeepAlive(ts)
			b.ReportMetric(perTimer, "B/pending") // after b.Loop, which clears metrics
		})
	}
}

func BenchmarkReset(b *testing.B) {
	benchReset(b, delays(3))
}

func BenchmarkTouch(b *testing.B) {
	benchReset(b, func() time.Duration { return 3 * time.Hour })
}

func benchReset(b *testing.B, next func() time.Duration) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("fake/n=%d", n), func(b *testing.B) {
			_, ts := fakeWith(n)
			rng := rand.New(rand.NewPCG(4, 0))
			for b.Loop() {
				ts[rng.IntN(n)].Reset(next())
			}
		})
		b.Run(fmt.Sprintf("runtime/n=%d", n), func(b *testing.B) {
			ts := runtimeWith(b, n)
			rng := rand.New(rand.NewPCG(4, 0))
			for b.Loop() {
				ts[rng.IntN(n)].Reset(next())
			}
		})
	}
}

// BenchmarkFire counts one op per fired timer. It fires them in rounds:
// each round sets up n timers, untimed, and times the firing of up to n
// of them, so the clock holds between n and n-b.N timers while it fires;
// with b.N a multiple of n every round fires all n.
func BenchmarkFire(b *testing.B) {
	for _, n := range benchSizes {
		// Distinct deadlines 1ns apart, in random order of scheduling.
		perm := rand.New(rand.NewPCG(5, 0)).Perm(n)
		b.Run(fmt.Sprintf("fake/n=%d", n), func(b *testing.B) {
			fired := 0
			f := func() { fired++ }
			b.StopTimer()
			for done := 0; done < b.N; {
				k := min(n, b.N-done)
				c := fakeclock.NewFake(start)
				for _, p := range perm {
					c.AfterFunc(time.Duration(p+1), f)
				}
				runtime.GC() // the last round's clock is garbage
				b.StartTimer()
				c.Advance(time.Duration(k)) // runs the k timers due by then
				b.StopTimer()
				done += k
			}
			if fired != b.N {
				b.Fatalf("fired %d timers, want %d", fired, b.N)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/fired")
		})
		b.Run(fmt.Sprintf("runtime/n=%d", n), func(b *testing.B) {
			// The runtime fires timers on its own, in new goroutines, so
			// the timers are all made due at one instant t0, far enough
			// ahead for the setup to finish first. A round's time runs
			// from t0 until the k-th callback has run. The benchmark
			// goroutine wakes a little before t0 and spins to it, so as
			// not to queue behind the timers. ns/fired, measured by hand
			// from t0 itself, is the figure to compare: ns/op starts only
			// once b.StartTimer has stopped the world to read memory
			// statistics, which waits for the runtime to finish its first
			// batch of due timers, so it flatters the runtime.
			var total time.Duration
			b.StopTimer()
			for done := 0; done < b.N; {
				k := min(n, b.N-done)
				var count atomic.Int64
				reached := make(chan struct{})
				f := func() {
					if count.Add(1) == int64(k) {
						close(reached)
					}
				}
				ts := make([]*time.Timer, n)
				runtime.GC()
				margin := 50*time.Millisecond + time.Duration(n)*3*time.Microsecond
				t0 := time.Now().Add(margin)
				for i := range ts {
					ts[i] = time.AfterFunc(time.Until(t0), f)
				}
				if time.Now().After(t0) {
					b.Fatalf("setting up %d timers took longer than %v; raise the margin", n, margin)
				}
				time.Sleep(time.Until(t0) - 2*time.Millisecond)
				for time.Now().Before(t0) {
				}
				b.StartTimer()
				<-reached
				total += time.Since(t0)
				b.StopTimer()
				for _, t := range ts {
					t.Stop()
				}
				done += k
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/fired")
		})
	}
}
