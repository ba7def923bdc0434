// Package wasmhost runs a WebAssembly HTTP server module (WASI preview 1,
// e.g. Go's GOOS=wasip1) in an embedded wazero runtime on virtual time, so
// that any such server, even one with no clock hook at all — only time.Now
// and timers — can have its timeouts checked in milliseconds.
//
// The guest's wall and monotonic clocks are a *fakeclock.Fake. Its
// randomness is crypto/rand (wazero's default source is deterministic:
// two runs would issue the same session ids). It gets a listening TCP
// socket preopened at fd 3 (after stdin, stdout and stderr), on which it
// serves HTTP; the host fronts it with Handler, which serves the
// clock-control resource /_clock itself, adds it to the guest's discovery
// document, and proxies everything else to the guest.
//
// # How time moves
//
// A wasip1 program waits through one function, poll_oneoff: the Go
// runtime's scheduler calls it with the guest's sockets and, when a timer
// is pending, a clock subscription for the time until the earliest one,
// whenever it has nothing to run (runtime/netpoll_wasip1.go). wazero's own
// poll_oneoff reports a non-blocking socket ready at once, so a naive guest
// spins a whole core; and it sleeps on the real clock. The host replaces
// it (every other WASI function stays wazero's): a subscribed socket is
// waited on for real, with ppoll(2) on its descriptor, and a clock
// subscription is a deadline on the virtual clock, reached only by
// Advance.
//
// The guest is idle when it is blocked in poll_oneoff with nothing ready:
// no subscribed socket readable or writable and its clock deadline, if
// any, after the virtual now. Since the Go scheduler only blocks there when
// no goroutine is runnable and no timer is due, idle means the guest has
// run everything that was due. (It does not mean "no request in flight": a
// handler that sleeps leaves the guest idle, waiting for the advance that
// ends the sleep. And a request on its way in is a readable socket, so the
// guest is not idle until it has dealt with it.)
//
// Advance (POST /_clock?advance=D) waits until the guest is idle, then
// moves the virtual clock in steps: to the guest's deadline, if it falls
// within the advance, where it lets the guest out of poll_oneoff and waits
// until the guest is idle again, having run its due timers and everything
// they started, and having set its next deadline; and so on, until no
// deadline is left within the advance and the clock goes to its end. The
// steps are fakeclock's AdvanceTo, so any other call pending on the Fake
// runs in order too. While an advance is under way the guest leaves
// poll_oneoff only for those steps: a request that arrives meanwhile is
// served after it. So the virtual clock moves only while the guest is
// blocked and cannot run; a timer of the guest runs at exactly its
// instant, and a relative timeout the guest computed from the clock is
// exact. Advance returns when the clock is at its end and the guest is
// idle: everything that fell due has run.
//
// The one exception to virtual time: a wait with no socket in it for at
// most a millisecond of virtual time (the Go runtime's back-offs, and its
// crash path, which sleeps 1 ms several times) also ends after that much
// real time when no advance is under way, so that a panicking guest prints
// its panic instead of hanging. The Go scheduler then just waits again.
//
// # What it relies on in wazero
//
// wazero v1.12.0, pinned by go.mod. Replacing poll_oneoff uses the public
// FunctionExporter: the host's wasi_snapshot_preview1 module is wazero's
// with that one function overridden. Waiting on a guest socket needs its
// operating-system descriptor, which wazero keeps in an internal file
// table: guestfd.go reaches it by reflection, and Start fails with a clear
// error if wazero's shape changes. And wazero v1.12.0 never closes a TCP
// connection the guest closes (sockfix.go): the host closes it, watching
// the guest's fd_close with a function listener.
//
// Limits: one guest per Host; Linux only (ppoll); the guest must not be
// advanced by calling the Fake's own Advance (use Host.Advance); a guest
// that sleeps while serving a request waits for an advance like any timer;
// an advance costs one run of the guest per distinct deadline within it (a
// 1 ms ticker makes a 900 s advance 900 000 runs).
package wasmhost

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sock"
	wasi "github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// Config describes the guest and its host. The zero value runs the module
// with no arguments, its output discarded, on a virtual clock starting at
// the current second.
type Config struct {
	// Name is the guest's argv[0]; "guest.wasm" if empty.
	Name string
	// Args are the guest's arguments after argv[0].
	Args []string
	// Env is the guest's environment, as KEY=VALUE strings.
	Env []string
	// Stdout and Stderr receive the guest's output; nil discards it.
	Stdout, Stderr io.Writer
	// Clock is the virtual clock; nil means a new Fake standing at the
	// current second. Move it only with Host.Advance.
	Clock *fakeclock.Fake
	// ListenHost is the address the guest's preopened socket listens on,
	// on a port the system picks; "127.0.0.1" if empty.
	ListenHost string
	// SettleTimeout bounds, in real time, each wait of an advance for the
	// guest to become idle; 30 s if zero.
	SettleTimeout time.Duration
	// CacheDir, if set, keeps wazero's compiled code there across runs
	// (compiling a Go module takes seconds; loading it, milliseconds).
	CacheDir string
}

// DefaultCacheDir is the compilation cache the wazero CLI uses under
// Go's go_wasip1_wasm_exec, so that both share it (and `make clean`
// removes it).
func DefaultCacheDir() string { return filepath.Join(tempDir(), "wazero") }

// Host runs one guest module. Its methods are safe for concurrent use.
type Host struct {
	cfg    Config
	clock  *fakeclock.Fake
	epoch  time.Time // the clock's instant at start: monotonic time is measured from it
	settle time.Duration

	rt        wazero.Runtime
	cancel    context.CancelFunc
	mod       api.Module
	fds       *fdTable
	conns     *connCloser
	waker     *waker
	guestAddr string
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	transport *http.Transport
	handler   http.Handler

	advMu sync.Mutex // serialises Advance

	mu        sync.Mutex
	idle      bool // the guest is blocked in poll_oneoff with nothing ready
	permit    bool // an advance's call lets the guest out of its wait once
	advancing bool // an advance is moving the clock
	closing   bool
	exited    bool
	exitErr   error
	hasDL     bool          // the current wait has a clock deadline
	deadline  int64         // it, in virtual monotonic nanoseconds
	changed   chan struct{} // closed at the next change of the fields above

	// scratch for poll_oneoff, used only by the guest's goroutine
	subs []subscription
	pfds []pollFd

	stats struct{ polls, waits, wakeups, fired, writeWaits atomic.Uint64 }
}

// Stats counts what the guest has done in poll_oneoff since Start.
type Stats struct {
	Polls   uint64 // calls to poll_oneoff
	Waits   uint64 // of which blocked (the guest went idle)
	Wakeups uint64 // returns from a blocking ppoll, for any reason
	Fired   uint64 // guest deadlines reached by an advance
}

// monoBase is the guest's monotonic time at start: not zero, which the Go
// runtime reserves as "no time" in places (sched.lastpoll).
const monoBase = int64(time.Second)

// Start compiles and instantiates the module wasm and starts its _start
// function in a goroutine of its own. It returns once the guest's
// listening socket exists (the guest may not be accepting yet; requests
// wait in the socket's backlog until it does).
func Start(ctx context.Context, wasm []byte, cfg Config) (*Host, error) {
	if err := platformError(); err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, clock: cfg.Clock, settle: cfg.SettleTimeout, done: make(chan struct{})}
	if h.clock == nil {
		h.clock = fakeclock.NewFake(time.Now().UTC().Truncate(time.Second))
	}
	if h.settle <= 0 {
		h.settle = 30 * time.Second
	}
	h.epoch = h.clock.Now()
	name := cfg.Name
	if name == "" {
		name = "guest.wasm"
	}
	listenHost := cfg.ListenHost
	if listenHost == "" {
		listenHost = "127.0.0.1"
	}
	stdout, stderr := cfg.Stdout, cfg.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var err error
	if h.waker, err = newWaker(); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	fail := func(err error) (*Host, error) {
		cancel()
		if h.rt != nil {
			h.rt.Close(context.Background())
		}
		h.waker.close()
		return nil, err
	}
	// Not WithCloseOnContextDone: its checks in every loop halve the
	// guest's speed. A guest is stopped in poll_oneoff instead (Close).
	rc := wazero.NewRuntimeConfig()
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return fail(fmt.Errorf("wasmhost: compilation cache %s: %w", cfg.CacheDir, err))
		}
		rc = rc.WithCompilationCache(cache)
	}
	h.rt = wazero.NewRuntimeWithConfig(runCtx, rc)

	// wasi_snapshot_preview1 is wazero's, except poll_oneoff.
	b := h.rt.NewHostModuleBuilder(wasi.ModuleName)
	wasi.NewFunctionExporter().ExportFunctions(b)
	i32 := api.ValueTypeI32
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(h.pollOneoff), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("in", "out", "nsubscriptions", "result.nevents").
		WithResultNames("errno").
		Export("poll_oneoff")
	h.conns = newConnCloser(h)
	if _, err := b.Instantiate(experimental.WithFunctionListenerFactory(runCtx, h.conns)); err != nil {
		return fail(fmt.Errorf("wasmhost: instantiating WASI: %w", err))
	}

	compiled, err := h.rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(fmt.Errorf("wasmhost: compiling the module: %w", err))
	}
	mc := wazero.NewModuleConfig().
		WithName(name).
		WithArgs(append([]string{name}, cfg.Args...)...).
		WithStdout(stdout).
		WithStderr(stderr).
		WithWalltime(h.walltime, 1).
		WithNanotime(h.nanotime, 1).
		WithNanosleep(func(int64) {}). // only wazero's poll_oneoff sleeps, and it is replaced
		WithOsyield(runtime.Gosched).
		WithRandSource(crand.Reader).
		WithStartFunctions() // _start is called below, in its own goroutine
	for _, kv := range cfg.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fail(fmt.Errorf("wasmhost: environment entry %q is not KEY=VALUE", kv))
		}
		mc = mc.WithEnv(k, v)
	}
	sockCtx := sock.WithConfig(runCtx, sock.NewConfig().WithTCPListener(listenHost, 0))
	h.mod, err = h.rt.InstantiateModule(sockCtx, compiled, mc)
	if err != nil {
		return fail(fmt.Errorf("wasmhost: instantiating the module: %w", err))
	}
	start := h.mod.ExportedFunction("_start")
	if start == nil {
		return fail(errors.New("wasmhost: the module exports no _start: it is not a WASI command"))
	}
	if h.fds, err = newFDTable(h.mod); err != nil {
		return fail(err)
	}
	if _, h.guestAddr, err = h.fds.listenerAddr(); err != nil {
		return fail(err)
	}
	h.setupProxy()
	go h.run(runCtx, start)
	return h, nil
}

// run calls the guest's _start and records how it ended.
func (h *Host) run(ctx context.Context, start api.Function) {
	_, err := start.Call(ctx)
	h.mod.Close(ctx) // closes the guest's listener and files, if exiting did not
	h.conns.closeAll()
	h.mu.Lock()
	var exit *wazerosys.ExitError
	switch {
	case h.closing:
		err = nil
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		err = errors.New("the guest exited (code 0)")
	case errors.As(err, &exit):
		err = fmt.Errorf("the guest exited with code %d", exit.ExitCode())
	case err != nil:
		err = fmt.Errorf("the guest failed: %w", err)
	default:
		err = errors.New("the guest's _start returned")
	}
	h.exited, h.exitErr, h.idle = true, err, false
	h.notifyLocked()
	h.mu.Unlock()
	close(h.done)
}

// GuestAddr is the host:port the guest's own socket listens on. Handler
// proxies to it; a request sent there directly bypasses /_clock.
func (h *Host) GuestAddr() string { return h.guestAddr }

// Clock is the guest's virtual clock. Read it freely; move it only with
// Advance.
func (h *Host) Clock() *fakeclock.Fake { return h.clock }

// Done is closed when the guest has exited; Err then says how.
func (h *Host) Done() <-chan struct{} { return h.done }

// Err reports why the guest exited, or nil while it runs (and after
// Close).
func (h *Host) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exitErr
}

// Deadline reports the instant the guest waits for when it is idle with a
// clock deadline: when its next timer is due.
func (h *Host) Deadline() (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.idle || !h.hasDL || h.deadline == math.MaxInt64 {
		return time.Time{}, false
	}
	return h.instant(h.deadline), true
}

// Stats reports the guest's poll_oneoff counters.
func (h *Host) Stats() Stats {
	return Stats{
		Polls: h.stats.polls.Load(), Waits: h.stats.waits.Load(),
		Wakeups: h.stats.wakeups.Load(), Fired: h.stats.fired.Load(),
	}
}

// Close stops the guest and releases the runtime. The guest exits from
// poll_oneoff, where it waits whenever it has nothing to run. One that
// does not get there within 5 s (it computes without end) is left
// running, and Close reports so; the runtime is not closed under it.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closing = true
		h.notifyLocked()
		h.mu.Unlock()
		h.waker.wake()
		h.transport.CloseIdleConnections()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			h.closeErr = errors.New("wasmhost: the guest did not stop within 5s (it never waits in poll_oneoff)")
			return
		}
		h.cancel()
		h.rt.Close(context.Background())
		h.waker.close()
	})
	return h.closeErr
}

// walltime and nanotime are the guest's clocks.
func (h *Host) walltime() (int64, int32) {
	t := h.clock.Now()
	return t.Unix(), int32(t.Nanosecond())
}

func (h *Host) nanotime() int64 { return h.monotonic() }

func (h *Host) monotonic() int64 { return monoBase + int64(h.clock.Now().Sub(h.epoch)) }

// notifyLocked wakes every waitFor. Called with h.mu held.
func (h *Host) notifyLocked() {
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
}

// waitFor blocks until cond, evaluated with h.mu held, reports true, or
// until ctx is done or limit has passed.
func (h *Host) waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		h.mu.Lock()
		if cond() {
			h.mu.Unlock()
			return nil
		}
		if h.changed == nil {
			h.changed = make(chan struct{})
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("the guest did not become idle within %s", limit)
		}
	}
}

// ErrExited is returned by Advance when the guest is no longer running.
var ErrExited = errors.New("wasmhost: the guest has exited")

// Advance moves the virtual clock forward by d and returns the new time
// once the guest has run everything that fell due and is idle again (see
// the package documentation). It first waits, up to the settle timeout,
// for the guest to become idle. Advances are serialised.
func (h *Host) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	if d < 0 {
		return h.clock.Now(), fmt.Errorf("wasmhost: advance by %s: time cannot go backwards", d)
	}
	h.advMu.Lock()
	defer h.advMu.Unlock()
	err := h.waitFor(ctx, h.settle, func() bool {
		if h.exited || h.closing {
			return true
		}
		if h.idle {
			h.advancing = true // atomically with the check: the guest cannot leave its wait now
		}
		return h.idle
	})
	if err != nil {
		return h.clock.Now(), fmt.Errorf("wasmhost: advance by %s: %w", d, err)
	}
	h.mu.Lock()
	advancing := h.advancing
	h.mu.Unlock()
	if !advancing {
		return h.clock.Now(), ErrExited
	}
	defer func() {
		h.mu.Lock()
		h.advancing = false
		h.notifyLocked()
		h.mu.Unlock()
		h.waker.wake() // let the guest see what arrived on its sockets meanwhile
	}()

	end := h.monotonic() + int64(d)
	if int64(d) > math.MaxInt64-h.monotonic() {
		end = math.MaxInt64
	}
	for {
		h.mu.Lock()
		next, due := h.deadline, h.idle && h.hasDL && !h.exited && !h.closing
		h.mu.Unlock()
		if !due || next > end {
			break
		}
		h.clock.AdvanceTo(h.instant(next))
		// The clock stands at the guest's deadline: let it run what fell
		// due, and wait until it is idle again.
		h.mu.Lock()
		h.permit = true
		h.mu.Unlock()
		h.stats.fired.Add(1)
		h.waker.wake()
		if err := h.waitFor(ctx, h.settle, func() bool {
			return h.exited || h.closing || h.idle && !h.permit
		}); err != nil {
			return h.clock.Now(), fmt.Errorf("wasmhost: at %s, the guest's deadline: %w",
				h.clock.Now().UTC().Format(time.RFC3339Nano), err)
		}
	}
	h.clock.AdvanceTo(h.instant(end))
	return h.clock.Now(), nil
}

// instant is the clock's instant at virtual monotonic time mono.
func (h *Host) instant(mono int64) time.Time { return h.epoch.Add(time.Duration(mono - monoBase)) }
