package spec_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
	"github.com/sessionspec/sessionspec/spec/ginkgosuite"
)

// The cases as Ginkgo specs: `go test ./spec` and `ginkgo ./spec` run
// them, with their labels. By default the target is the reference server
// on a fake clock, reached in memory; SESSIONSPEC_URL points them at a
// real server instead (e.g. `SESSIONSPEC_URL=http://127.0.0.1:8080 go
// test ./spec -ginkgo.label-filter=MUST`).
var _ = ginkgosuite.Describe(func(ctx context.Context) (*spec.Target, error) {
	if u := os.Getenv("SESSIONSPEC_URL"); u != "" {
		t, err := spec.NewTarget(u)
		if err != nil {
			return nil, err
		}
		return t, t.Discover(ctx)
	}
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
	t, err := spec.NewTarget("http://localhost/")
	if err != nil {
		return nil, err
	}
	t.Transport = spec.HandlerTransport(srv)
	if runtime.GOARCH == "wasm" {
		t.Sessions = 500 // one slow core: the uniqueness check stays meaningful and quick
	}
	return t, t.Discover(ctx)
}, nil)

func TestGinkgoSpecs(t *testing.T) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, "sessionspec conformance")
}
