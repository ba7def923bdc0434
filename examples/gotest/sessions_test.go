package sessions

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// TestConformance checks the server with every sessionspec case, on
// virtual time: the 900 s default takes milliseconds. SESSIONS_FORGETFUL=1
// plants the bug a visit that does not refresh the session; TIMEOUT-003
// then fails.
func TestConformance(t *testing.T) {
	spec.Test(t, func(t *testing.T) http.Handler {
		s := New(900 * time.Second)
		s.Forgetful = os.Getenv("SESSIONS_FORGETFUL") == "1"
		t.Cleanup(s.Close)
		return s
	})
}
