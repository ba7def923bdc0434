//go:build race

package spec_test

// raceEnabled lets the heaviest tests trim themselves under the race
// detector, which slows them tenfold.
const raceEnabled = true
