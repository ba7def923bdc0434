package spec_test

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// runTest runs f as a Go test named name, as `go test` would, and says
// whether it passed: what a _test.go file of your own does with
// func TestSessions(t *testing.T) { ... }.
func runTest(name string, f func(t *testing.T)) bool {
	// Quiet even under go test -v, so the example's output is its own.
	if v := flag.Lookup("test.v"); v != nil {
		was := v.Value.String()
		v.Value.Set("false")
		defer v.Value.Set(was)
	}
	return testing.RunTests(func(_, _ string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: name, F: f}})
}

// Check a session implementation written as an http.Handler. The handler
// here is the reference on its real clock (time.Now, time.AfterFunc);
// inside Test that clock is virtual, so the 900 s default timeout is
// checked exactly, in milliseconds.
func ExampleTest() {
	passed := runTest("TestSessions", func(t *testing.T) {
		spec.Test(t, func(t *testing.T) http.Handler {
			return reference.NewServer(reference.NewSite(reference.Config{}), nil)
		})
	})
	fmt.Println("passed:", passed)
	// Output: passed: true
}

// Check a server at a URL: here the reference on a fake clock that the
// suite drives through its clock resource, named in its discovery
// document.
func ExampleTestURL() {
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil))
	defer srv.Close()
	passed := runTest("TestDeployed", func(t *testing.T) {
		spec.TestURL(t, srv.URL, spec.WithLabelFilter("MUST"))
	})
	fmt.Println("passed:", passed)
	// Output: passed: true
}
