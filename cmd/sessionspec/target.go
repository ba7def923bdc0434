package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// targetProcess is a target started by --run: its stdout is kept (the
// seed's ExpirationLogger reports expiry only there) and it is stopped,
// with its whole process group, when the check ends.
type targetProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // how it exited, once exited is closed

	mu     sync.Mutex
	out    []string
	errOut []string // the last lines of stderr, for the error message
}

func startTarget(ctx context.Context, command string, t *spec.Target, wait time.Duration, stderr io.Writer, verbose bool) (*targetProcess, error) {
	p := &targetProcess{exited: make(chan struct{})}
	p.cmd = exec.Command("sh", "-c", command)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outPipe, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("--run: %v", err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go p.collect(outPipe, &readers, func(line string) {
		p.out = append(p.out, line)
		if verbose {
			fmt.Fprintf(stderr, "[target] %s\n", line)
		}
	})
	go p.collect(errPipe, &readers, func(line string) {
		p.errOut = append(p.errOut, line)
		if len(p.errOut) > 10 {
			p.errOut = p.errOut[1:]
		}
		if verbose {
			fmt.Fprintf(stderr, "[target stderr] %s\n", line)
		}
	})
	go func() {
		readers.Wait()
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, t, wait); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *targetProcess) collect(r io.Reader, wg *sync.WaitGroup, keep func(string)) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		keep(sc.Text())
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r) // a line too long for the scanner must not block the target
}

// waitReady polls the target's URL until it answers at all.
func (p *targetProcess) waitReady(ctx context.Context, t *spec.Target, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	client := &http.Client{Timeout: time.Second, Transport: t.Transport}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", t.URL.String(), nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.exited:
			p.mu.Lock()
			tail := strings.Join(p.errOut, " | ")
			p.mu.Unlock()
			return fmt.Errorf("--run: the target exited before answering (%v): %s", p.err, tail)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("--run: the target did not answer at %s within %s: %v", t.URL, wait, err)
		}
	}
}

// lines returns what the target has printed on stdout so far.
func (p *targetProcess) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.out...)
}

// stop ends the target's process group: SIGTERM, then SIGKILL after 5 s.
func (p *targetProcess) stop() {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
	}
}

// checkClock makes sure a clock-control resource does what it claims
// before any case relies on it: it reads the time, advances a
// millisecond, and reads it again.
func checkClock(ctx context.Context, t *spec.Target) error {
	if !t.Controlled() {
		return nil
	}
	tr := &spec.Transcript{}
	u := spec.NewUser(t, "clock", tr)
	read := func(method, query string) (time.Time, error) {
		r, err := u.Do(ctx, method, t.Paths.Clock+query, "")
		if err != nil {
			return time.Time{}, fmt.Errorf("clock %s: %v", t.Resolve(t.Paths.Clock), err)
		}
		if r.Status != http.StatusOK {
			return time.Time{}, fmt.Errorf("clock: %s %s%s answered %d, want 200", method, t.Resolve(t.Paths.Clock), query, r.Status)
		}
		now, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(r.Body))
		if err != nil {
			return time.Time{}, fmt.Errorf("clock: %s %s%s: the body is not an RFC 3339 time: %q", method, t.Resolve(t.Paths.Clock), query, strings.TrimSpace(r.Body))
		}
		return now, nil
	}
	t0, err := read("GET", "")
	if err != nil {
		return err
	}
	t1, err := read("POST", "?advance=1ms")
	if err != nil {
		return err
	}
	t2, err := read("GET", "")
	if err != nil {
		return err
	}
	if off := t2.Sub(t0) - time.Millisecond; math.Abs(float64(off)) > float64(time.Microsecond) || !t1.Equal(t2) {
		return errors.New("clock: advancing 1ms moved the clock from " + t0.Format(time.RFC3339Nano) +
			" to " + t2.Format(time.RFC3339Nano) + " (POST answered " + t1.Format(time.RFC3339Nano) + "); the clock resource does not control the target's time")
	}
	return nil
}
