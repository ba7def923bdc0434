package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// scs v2 with its memstore, checked in process by spec.Test on virtual
// time: the real library, reading time.Now() itself, with the 900 s
// default the suite's TIMEOUT-004 asks for (scs has no default idle
// timeout; the adapter sets IdleTimeout to it). The known deviations are
// those of expect.txt, as they are over the network on the wall clock,
// except TIMEOUT-004, which virtual time checks for real.
func TestSCSInProcess(t *testing.T) {
	exp := map[string]spec.Expectation{
		"PERSIST-005": {Outcome: spec.Failed, Reason: "scs names its cookie \"session\""},
		"PERSIST-006": {Outcome: spec.Failed, Reason: "with an IdleTimeout scs sends Set-Cookie on every response"},
	}
	spec.Test(t, func(t *testing.T) http.Handler {
		site, _, stop := newSite(900*time.Second, time.Second, 100*time.Millisecond)
		// memstore v2.9.0's StopCleanup does nothing if it runs before the
		// cleanup goroutine has started (that goroutine makes the stop
		// channel itself). Sleeping in the bubble lets every goroutine run
		// until it blocks, so both memstores' goroutines (scs.New makes one
		// of its own) have started before the test can stop them.
		time.Sleep(time.Millisecond)
		t.Cleanup(stop)
		return site
	},
		spec.WithExpectations(exp),
		// COUNTER-004 is judged over the network (expect.txt: it fails).
		// In process, requests cannot be held and released together, and
		// whether two of scs's loads and commits overlap depends on the
		// CPUs the test is given: measured, they did in 20 of 20 runs on
		// two CPUs and in none of 10 on one, where each handler runs to
		// its commit before the next starts.
		spec.WithLabelFilter("!COUNTER-004"))
}
