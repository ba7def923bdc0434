package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/reference"
)

// serveConfig is what `sessionspec serve` is told by its flags.
type serveConfig struct {
	addr        string
	timeout     time.Duration
	fakeClock   bool
	maxSessions int
	fault       string
}

func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("sessionspec serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	fs.DurationVar(&c.timeout, "timeout", reference.DefaultTimeout, "session inactivity `timeout`")
	fs.BoolVar(&c.fakeClock, "fake-clock", false, "run on a fake clock, driven through POST /_clock?advance=DURATION")
	fs.IntVar(&c.maxSessions, "max-sessions", 0, "cap on live sessions; new ones get 503 past it (0: no cap)")
	fs.StringVar(&c.fault, "fault", "", "serve a deliberately broken reference (`name`: see internal/faulty), to watch the suite catch it; needs --fake-clock")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.fault != "" {
		if _, err := faulty.Parse(c.fault); err != nil {
			return c, fmt.Errorf("--fault: %v", err)
		}
		if !c.fakeClock {
			return c, errors.New("--fault needs --fake-clock")
		}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	if c.timeout <= 0 {
		return c, fmt.Errorf("--timeout must be positive, got %s", c.timeout)
	}
	if c.maxSessions < 0 {
		return c, fmt.Errorf("--max-sessions must not be negative, got %d", c.maxSessions)
	}
	return c, nil
}

// lockedWriter serialises lines written from expiry callbacks, which may
// run on several goroutines at once on the real clock.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// reference server: a listener plus the Server it serves.
type runningServer struct {
	URL  string
	http *http.Server
	done chan error
}

// startReference listens on c.addr and serves the reference there until
// shutdown is called.
func startReference(c serveConfig, log io.Writer) (*runningServer, error) {
	var clock fakeclock.Clock = fakeclock.Real()
	if c.fakeClock {
		clock = fakeclock.NewFake(time.Now().UTC().Truncate(time.Second))
	}
	site := reference.NewSite(reference.Config{
		Clock:          clock,
		SessionTimeout: c.timeout,
		MaxSessions:    c.maxSessions,
		OnCallbackPanic: func(uid string, r any) {
			fmt.Fprintf(log, "sessionspec: expiry callback of session %s panicked: %v\n", uid, r)
		},
	})
	var h http.Handler = reference.NewServer(site, log)
	if c.fault != "" {
		f, _ := faulty.Parse(c.fault)
		h = faulty.New(f, clock.(*fakeclock.Fake), c.timeout)
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	hs := reference.NewHTTPServer(c.addr, h)
	rs := &runningServer{URL: "http://" + ln.Addr().String(), http: hs, done: make(chan error, 1)}
	go func() { rs.done <- hs.Serve(ln) }()
	return rs, nil
}

// shutdown stops accepting connections and lets in-flight requests
// finish, for at most grace.
func (rs *runningServer) shutdown(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := rs.http.Shutdown(ctx)
	if serr := <-rs.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec serve: %v\n", err)
		return exitHarness
	}
	out := &lockedWriter{w: stdout}
	rs, err := startReference(c, out)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec serve: %v\n", err)
		return exitHarness
	}
	clock := "real clock"
	if c.fakeClock {
		clock = "fake clock, POST " + rs.URL + reference.PathClock + "?advance=DURATION"
	}
	fmt.Fprintf(out, "sessionspec reference serving %s/ (timeout %s, %s)\n", rs.URL, c.timeout, clock)
	select {
	case <-ctx.Done():
	case err := <-rs.done:
		fmt.Fprintf(stderr, "sessionspec serve: %v\n", err)
		return exitHarness
	}
	fmt.Fprintln(out, "sessionspec: shutting down")
	if err := rs.shutdown(10 * time.Second); err != nil {
		fmt.Fprintf(stderr, "sessionspec serve: shutdown: %v\n", err)
		return exitHarness
	}
	return exitOK
}
