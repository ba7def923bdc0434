package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/wasmhost"
)

// hostConfig is what `sessionspec host` is told by its arguments.
type hostConfig struct {
	module   string
	addr     string
	timeout  time.Duration
	env      []string
	cacheDir string
	args     []string // the guest's, after --
}

const hostUsage = `usage: sessionspec host MODULE.wasm [flags] [-- guest arguments]

Runs MODULE.wasm, a WASI preview 1 HTTP server (e.g. GOOS=wasip1), in an
embedded WebAssembly runtime on a virtual clock, and serves it at --addr:
/_clock is the clock control (POST /_clock?advance=DURATION), added to the
guest's discovery document; everything else goes to the guest, which
listens on a socket preopened at its fd 3. Then check it with
sessionspec check URL.

flags:
`

// envFlag collects repeated --env KEY=VALUE.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }
func (e *envFlag) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func parseHostFlags(args []string, stderr io.Writer) (hostConfig, error) {
	var c hostConfig
	for i, a := range args {
		if a == "--" {
			args, c.args = args[:i], args[i+1:]
			break
		}
	}
	fs := flag.NewFlagSet("sessionspec host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, hostUsage); fs.PrintDefaults() }
	fs.StringVar(&c.addr, "addr", "127.0.0.1:0", "`host:port` to serve the guest on (port 0 picks a free one)")
	fs.DurationVar(&c.timeout, "timeout", 0, "session `timeout` for the guest, passed as SESSIONSPEC_TIMEOUT (default: the guest's own, 900s for the sessionspec guests)")
	fs.Var((*envFlag)(&c.env), "env", "`KEY=VALUE` in the guest's environment (repeatable)")
	fs.StringVar(&c.cacheDir, "cachedir", wasmhost.DefaultCacheDir(), "`directory` for compiled code, kept across runs (empty: none)")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return c, err
	}
	if len(positional) != 1 {
		return c, fmt.Errorf("want one MODULE.wasm, got %q (guest arguments go after --)", positional)
	}
	c.module = positional[0]
	if isSet(fs, "timeout") && c.timeout <= 0 {
		return c, fmt.Errorf("--timeout must be positive, got %s", c.timeout)
	}
	if c.timeout > 0 {
		c.env = append(c.env, "SESSIONSPEC_TIMEOUT="+c.timeout.String())
	}
	return c, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func host(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseHostFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec host: %v\n", err)
		return exitHarness
	}
	wasm, err := os.ReadFile(c.module)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec host: %v\n", err)
		return exitHarness
	}
	out := &lockedWriter{w: stdout}
	h, err := wasmhost.Start(ctx, wasm, wasmhost.Config{
		Name: filepath.Base(c.module), Args: c.args, Env: c.env,
		Stdout: out, Stderr: stderr, CacheDir: c.cacheDir,
	})
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec host: %v\n", err)
		return exitHarness
	}
	defer h.Close()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec host: listen on %s: %v\n", c.addr, err)
		return exitHarness
	}
	hs := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "sessionspec host: serving %s at %s/ on a virtual clock (POST %s%s?advance=DURATION); the guest listens on %s\n",
		c.module, url, url, contract.PathClock, h.GuestAddr())

	code := exitOK
	select {
	case <-ctx.Done():
	case <-h.Done():
		fmt.Fprintf(stderr, "sessionspec host: %v\n", h.Err())
		code = exitHarness
	case err := <-served:
		fmt.Fprintf(stderr, "sessionspec host: %v\n", err)
		code = exitHarness
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	s := h.Stats()
	fmt.Fprintf(stderr, "sessionspec host: stopping; the guest called poll_oneoff %d times, blocked %d times, woke %d times, %d deadlines reached by advances\n",
		s.Polls, s.Waits, s.Wakeups, s.Fired)
	return code
}
