package spec_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// The notification cases still pass against a reference whose feed holds
// a million expiries: the suite asks for its own ids (or streams the
// whole feed), never just the first megabyte, which held only the oldest.
func TestNotifyAfterAMillionExpiries(t *testing.T) {
	if testing.Short() || runtime.GOARCH == "wasm" {
		t.Skip("a million sessions: not with -short, nor on wasm")
	}
	n := 1_000_000
	if raceEnabled {
		n = 100_000
	}
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	req := httptest.NewRequest("GET", contract.PathLogMe, nil)
	for range n {
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	clock.Advance(contract.DefaultTimeout + time.Second)
	if got := len(srv.Expired()); got != n {
		t.Fatalf("the feed holds %d lines, want %d", got, n)
	}
	target, err := spec.HandlerTarget(context.Background(), srv)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(context.Background(), target, spec.Options{LabelFilter: "notify"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Outcome != spec.Passed {
			t.Errorf("%s: %s %s", r.ID, r.Outcome, r.Message)
		}
	}
	// And a feed that ignores the question is read whole, streamed: the
	// same cases through a proxy that drops the query.
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == contract.PathExpired {
			r.URL.RawQuery = ""
		}
		srv.ServeHTTP(w, r)
	})
	target.Transport = spec.HandlerTransport(plain)
	rep, err = spec.Run(context.Background(), target, spec.Options{LabelFilter: "NOTIFY-002"})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Outcome != spec.Passed {
		t.Errorf("NOTIFY-002 over the whole feed: %s %s", r.Outcome, r.Message)
	}
}
