package faulty

import (
	"net/http"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// websocketFaults are the defects of the websocket cases' resource, each with the
// case that must catch it.
var websocketFaults = []Entry{}

// newWebSocketTarget builds the target of one of websocketFaults, or returns nil
// for any other fault.
func newWebSocketTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	return nil
}
