//go:build race

package fakeclock_test

// raceEnabled lets the heaviest single-goroutine tests trim themselves
// under the race detector, which slows them tenfold and has nothing to
// find in them.
const raceEnabled = true
