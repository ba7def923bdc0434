// Package fakeclock is an injectable clock: the Go counterpart of Twisted's
// task.Clock. Code that depends on time takes a Clock; production passes
// Real(), tests pass a *Fake and drive time with Advance, so nothing in a
// test ever sleeps.
package fakeclock

import "time"

// Clock is the part of the time package that session code needs: the
// current instant, and a function run once after a delay.
type Clock interface {
	// Now returns the current instant.
	Now() time.Time
	// AfterFunc arranges for f to run once d has elapsed and returns a
	// handle to stop or reschedule it. f runs in its own goroutine on the
	// real clock and synchronously inside Advance on the fake one.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call made by AfterFunc. Its methods have the
// meaning and the return values of *time.Timer's.
type Timer interface {
	// Stop prevents the call from running. It reports whether the call
	// was pending, false if it had already run or been stopped.
	Stop() bool
	// Reset makes the call run d from now instead, whether or not it was
	// still pending. It reports whether the call was pending.
	Reset(d time.Duration) bool
}

// Real returns the system clock. Its timers are *time.Timer values, so
// using it costs nothing over calling the time package directly.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
