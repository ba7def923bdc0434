package spec

import (
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// handlerTransport delivers requests to a handler in memory: HTTP
// semantics without sockets, so the suite's own tests also run where
// there is no network (GOOS=wasip1, js).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, req)
	resp := w.Result()
	resp.Request = req
	return resp, nil
}

// TestConformance runs every case. By default the target is the reference
// server on a fake clock, reached in memory; SESSIONSPEC_URL points it at
// a real server instead (e.g. `SESSIONSPEC_URL=http://127.0.0.1:8080 go
// test ./spec -ginkgo.label-filter=MUST`).
func TestConformance(t *testing.T) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	if u := os.Getenv("SESSIONSPEC_URL"); u != "" {
		target, err := NewTarget(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := target.Discover(t.Context()); err != nil {
			t.Fatal(err)
		}
		Use(target)
	} else {
		clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		srv := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
		target, err := NewTarget("http://reference.test")
		if err != nil {
			t.Fatal(err)
		}
		target.Transport = handlerTransport{srv}
		if runtime.GOARCH == "wasm" {
			target.Sessions = 500 // one slow core: the uniqueness check stays meaningful and quick
		}
		if err := target.Discover(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !target.Controlled() || target.Timeout != 900*time.Second {
			t.Fatalf("discovery gave clock %q, timeout %s; want the reference's", target.Paths.Clock, target.Timeout)
		}
		Use(target)
	}
	ginkgo.RunSpecs(t, "sessionspec conformance")
}
