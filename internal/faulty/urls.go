package faulty

import (
	"net/http"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// urlFaults are the defects of the url cases' resource, each with the
// case that must catch it.
var urlFaults = []Entry{}

// newURLTarget builds the target of one of urlFaults, or returns nil
// for any other fault.
func newURLTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	return nil
}
