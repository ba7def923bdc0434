package faulty

import (
	"net/http"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// componentFaults are the defects of the component cases' resource, each with the
// case that must catch it.
var componentFaults = []Entry{}

// newComponentTarget builds the target of one of componentFaults, or returns nil
// for any other fault.
func newComponentTarget(f Fault, clock *fakeclock.Fake, timeout time.Duration) http.Handler {
	return nil
}
