package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
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

// stillOurs reports a target whose own process has died: whatever
// answered since was not the command --run started.
func (p *targetProcess) stillOurs() error {
	select {
	case <-p.exited:
		p.mu.Lock()
		tail := strings.Join(p.errOut, " | ")
		p.mu.Unlock()
		return fmt.Errorf("--run: the target's command exited during the run (%v): %s; whatever answered was not it", p.err, tail)
	default:
		return nil
	}
}
