//go:build wasip1

// Command reference is the sessionspec reference session server built for
// WASI preview 1 (GOOS=wasip1 GOARCH=wasm). It serves real HTTP on a
// listening socket the host preopens for it, fd 3 unless -fd says
// otherwise:
//
//	GOOS=wasip1 GOARCH=wasm go build -o bin/reference.wasm ./targets/wasm/reference
//	sessionspec host bin/reference.wasm             # on virtual time, with /_clock
//	wazero run -listen 127.0.0.1:8080 bin/reference.wasm   # on the real clock
//
// It runs on the real clock (fakeclock.Real): it reads time.Now and sets
// timers like any program, and knows nothing of virtual time. Under
// `sessionspec host` its clocks are the host's virtual clock, and the host,
// not this program, serves /_clock and adds it to the discovery document.
//
// The session timeout is -timeout, else the environment variable
// SESSIONSPEC_TIMEOUT (a Go duration, which `sessionspec host --timeout`
// sets), else 900 s. Logged expiries are printed on stdout as the docs'
// ExpirationLogger prints them, and listed at /expired.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/sessionspec/sessionspec/reference"
)

func main() {
	timeout := reference.DefaultTimeout
	if v := os.Getenv("SESSIONSPEC_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fatalf("SESSIONSPEC_TIMEOUT=%q is not a positive Go duration", v)
		}
		timeout = d
	}
	flag.DurationVar(&timeout, "timeout", timeout, "session inactivity `timeout` (default: $SESSIONSPEC_TIMEOUT, else 900s)")
	fd := flag.Int("fd", 3, "the preopened listening socket")
	flag.Parse()
	if timeout <= 0 {
		fatalf("-timeout must be positive, got %s", timeout)
	}

	ln, err := listener(*fd)
	if err != nil {
		fatalf("%v", err)
	}
	site := reference.NewSite(reference.Config{
		SessionTimeout: timeout,
		OnCallbackPanic: func(uid string, r any) {
			fmt.Fprintf(os.Stderr, "reference: expiry callback of session %s panicked: %v\n", uid, r)
		},
	})
	hs := reference.NewHTTPServer("", reference.NewServer(site, os.Stdout))
	fmt.Fprintf(os.Stderr, "reference (wasip1): serving on fd %d (timeout %s)\n", *fd, timeout)
	if err := hs.Serve(ln); err != nil {
		fatalf("serve: %v", err)
	}
}

// listener turns the preopened socket fd into a net.Listener. The fd must
// be made non-blocking first: Go's wasip1 network poller only waits on
// non-blocking descriptors (through poll_oneoff), and a blocking accept
// would stop the whole single-threaded program.
func listener(fd int) (net.Listener, error) {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("fd %d: set non-blocking: %v (is a listening socket preopened there?)", fd, err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("fd %d is not a listening socket: %v", fd, err)
	}
	f.Close() // FileListener holds its own copy
	return ln, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "reference: "+format+"\n", args...)
	os.Exit(2)
}
