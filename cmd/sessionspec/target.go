package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/sessionspec/sessionspec/spec"
)

// A target started by --run is the whole tree of processes its command
// starts, not only the shell: the check must be able to say that what
// answered was that command, and must leave nothing of it behind.
//
// Before the command starts, nothing may answer at the target's URL (a
// stale server there would answer for a command that failed to bind).
// While the check waits for it to answer, a command that exits is an error
// carrying its stderr; after the run, stillOurs (and problems) says so when
// it died during the run.
//
// Stopping is bounded and thorough. On Linux, the check process makes
// itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER) while a target
// runs, so that descendants orphaned by their parents (double forks,
// setsid daemons) are re-parented to it rather than to init: it can then
// reap them itself, with wait4 on their own pids only (never wait(-1): the
// check has other children, Chromium for one). stop finds the target's
// processes in /proc; a process belongs to the target when it started no
// earlier than the target's shell and
//
//   - it is the shell, or its parent belongs to the target (the tree,
//     followed until no new process turns up), or
//   - it is in the shell's process group, or in one whose leader belongs
//     to the target (a zombie keeps its group), or
//   - its environment carries the target's token (runTokenVar, a random
//     value set only in the command's environment and inherited by
//     everything it starts, even by a daemon that left the process group
//     and its parent), or
//   - it holds the target's stdout or stderr pipe (it inherited them, even
//     with an emptied environment);
//
// and once found it stays known by pid and start time (a zombie shows
// neither its environment nor its descriptors): the tree is recorded when
// the target first answers, and at each look while stopping, before any
// signal. stop sends SIGTERM to the process group and to every such
// process, waits up to the grace period, then sends SIGKILL (again at each
// look, to processes forked meanwhile) and reaps the zombies that became
// the check's children, within killWait. Signals go through a pidfd
// (os.FindProcess on Linux) to a process whose start time is checked after
// pinning it, so a reused pid is never hit.
//
// The pipes are the check's own (os.Pipe, not StdoutPipe, with which
// exec.Cmd.Wait would wait for every holder): they are read until every
// holder is gone, or at most pipeWait after the processes are, then
// closed. stdout is kept in memory as the expiry feed (--expired stdout),
// the last stdoutMaxLines lines within stdoutMaxBytes; what is dropped is
// counted, and is a problem of the run once the suite has read the feed.
//
// A descendant that clears its environment, closes or redirects its stdio
// and leaves both the tree and the process groups cannot be told from the
// check's other children and is not stopped; it holds no pipe of ours, so
// it cannot hold stop up either.
//
// Elsewhere (no /proc), stop signals the process group and waits for the
// shell, with the same bounds.
type targetProcess struct {
	cmd       *exec.Cmd
	root      int      // the shell's pid, also its process group id
	rootStart uint64   // its start time in /proc/<pid>/stat, 0 without /proc
	token     string   // runTokenVar=random, in the command's environment
	pipes     []string // its stdout and stderr pipes as /proc/<pid>/fd shows them
	outR      *os.File
	errR      *os.File
	stderr    io.Writer // where stop says what it could not end
	grace     time.Duration
	subreaper bool // the check is a subreaper until stop has ended

	announced   chan string   // the first "listening on" URL the target printed (buffered, 1)
	announceHit atomic.Bool   // a "listening on" line was seen
	procDone    chan struct{} // closed once the shell has exited and been reaped
	readersDone chan struct{} // closed once both pipes are read to their end (or closed by stop)
	err         error         // how the shell exited, once procDone is closed

	mu       sync.Mutex
	out      lineBuffer // stdout: the expiry feed with --expired stdout
	errOut   []string   // the last lines of stderr, for the error message
	feedLoss int64      // lines dropped before the suite last read the feed

	echoMu sync.Mutex // serializes the --verbose echo of both streams

	stopOnce    sync.Once
	scanMu      sync.Mutex
	known       map[int]uint64   // pid -> start time of processes found to belong
	classified  map[procKey]bool // token or pipe check, once per process
	termed      map[procKey]bool // processes sent SIGTERM
	groupTermed bool             // the process group was sent SIGTERM
	stopped     chan struct{}    // closed when stop has returned
}

const (
	// runTokenVar names the environment variable that marks the
	// processes of a --run target.
	runTokenVar = "SESSIONSPEC_RUN_TOKEN"
	// termGrace is how long the target has to end after SIGTERM.
	termGrace = 5 * time.Second
	// killWait bounds the SIGKILL-and-reap phase.
	killWait = 5 * time.Second
	// pipeWait bounds reading the pipes once the processes are gone, and
	// how long an exit waits for the rest of stderr.
	pipeWait = time.Second
	// stdoutMaxLines and stdoutMaxBytes bound the stdout kept (the last
	// lines); a line counts its bytes plus lineOverhead.
	stdoutMaxLines = 1 << 20
	stdoutMaxBytes = 64 << 20
	lineOverhead   = 16
	// maxLine cuts a longer line (the rest of it is dropped and counted).
	maxLine = 1 << 20
	// stderrTail is how many lines of stderr an error quotes, each cut to
	// stderrTailLine bytes.
	stderrTail     = 10
	stderrTailLine = 512
)

func startTarget(ctx context.Context, command string, t *spec.Target, wait time.Duration, stderr io.Writer, verbose bool) (*targetProcess, error) {
	if err := alreadyAnswering(ctx, t); err != nil {
		return nil, err
	}
	p, err := spawnTarget(command, "", nil, stderr, verbose)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, t, wait); err != nil {
		p.stop()
		return nil, err
	}
	p.remember()
	return p, nil
}

// spawnTarget starts command (sh -c) in dir (the current directory when
// ""), with env added to the environment, as a target process: its
// whole tree is stopped by stop. It does not wait for it to answer.
func spawnTarget(command, dir string, env []string, stderr io.Writer, verbose bool) (*targetProcess, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	p := &targetProcess{
		subreaper:   holdSubreaper(),
		stderr:      stderr,
		grace:       termGrace,
		announced:   make(chan string, 1),
		procDone:    make(chan struct{}),
		readersDone: make(chan struct{}),
		stopped:     make(chan struct{}),
		out:         lineBuffer{maxLines: stdoutMaxLines, maxBytes: stdoutMaxBytes},
		known:       map[int]uint64{},
		classified:  map[procKey]bool{},
		termed:      map[procKey]bool{},
	}
	// A target that never started gives the subreaper back at once.
	fail := func(err error) (*targetProcess, error) {
		if p.subreaper {
			releaseSubreaper()
		}
		return nil, fmt.Errorf("--run: %v", err)
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	p.token = runTokenVar + "=" + hex.EncodeToString(tok)

	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fail(err)
	}
	p.outR, p.errR = outR, errR
	p.pipes = []string{pipeName(outW), pipeName(errW)}
	p.cmd = exec.Command("sh", "-c", command)
	p.cmd.Dir = dir
	p.cmd.Env = append(append(os.Environ(), env...), p.token)
	p.cmd.Stdout, p.cmd.Stderr = outW, errW
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = p.cmd.Start()
	outW.Close() // the target holds them now; EOF comes when it no longer does
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return fail(err)
	}
	p.root = p.cmd.Process.Pid
	// The shell is unreaped until Wait below: its stat is there.
	if st, ok := readStat(p.root); ok {
		p.rootStart = st.start
	}
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.procDone)
	}()
	var readers sync.WaitGroup
	readers.Add(2)
	go p.collect(outR, &readers, func(lines []string, cut int64) {
		p.mu.Lock()
		for _, l := range lines {
			p.out.add(l)
		}
		p.out.droppedBytes += cut
		p.mu.Unlock()
		p.watch(lines)
		if verbose {
			p.echo(stderr, "[target] ", lines)
		}
	})
	go p.collect(errR, &readers, func(lines []string, _ int64) {
		p.mu.Lock()
		for _, l := range lines {
			if len(l) > stderrTailLine {
				l = l[:stderrTailLine] + "…"
			}
			p.errOut = append(p.errOut, l)
		}
		if n := len(p.errOut); n > stderrTail {
			p.errOut = append(p.errOut[:0:0], p.errOut[n-stderrTail:]...)
		}
		p.mu.Unlock()
		p.watch(lines)
		if verbose {
			p.echo(stderr, "[target stderr] ", lines)
		}
	})
	go func() {
		readers.Wait()
		close(p.readersDone)
	}()
	return p, nil
}

// alreadyAnswering refuses a URL at which something accepts connections
// before the command has started: a stale server there would answer for
// a command that then fails with "address already in use".
func alreadyAnswering(ctx context.Context, t *spec.Target) error {
	port := t.URL.Port()
	if port == "" {
		port = "80"
		if t.URL.Scheme == "https" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.URL.Hostname(), port))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("--run: %v", context.Cause(ctx))
		}
		return nil // refused, unresolved or silent: not answering
	}
	conn.Close()
	return fmt.Errorf("--run: a server already answers at %s before --run started it: stop it or use a free port", t.URL)
}

func (p *targetProcess) echo(w io.Writer, prefix string, lines []string) {
	p.echoMu.Lock()
	defer p.echoMu.Unlock()
	for _, l := range lines {
		fmt.Fprintf(w, "%s%s\n", prefix, l)
	}
}

// collect reads r to its end (or until stop closes it) and hands keep the
// complete lines of each read, and how many bytes of over-long lines were
// cut; a last line without a newline counts too.
func (p *targetProcess) collect(r io.Reader, wg *sync.WaitGroup, keep func(lines []string, cut int64)) {
	defer wg.Done()
	var s lineSplitter
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			lines, cut := s.write(buf[:n])
			if len(lines) > 0 || cut > 0 {
				keep(lines, cut)
			}
		}
		if err != nil {
			if lines, cut := s.end(); len(lines) > 0 || cut > 0 {
				keep(lines, cut)
			}
			return
		}
	}
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
			select {
			case <-p.procDone:
				return fmt.Errorf("--run: the target's command exited %s; whatever answers at %s is not it", p.exitReport(), t.URL)
			default:
				return nil
			}
		}
		select {
		case <-p.procDone:
			return fmt.Errorf("--run: the target exited before answering %s", p.exitReport())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("--run: the target did not answer at %s within %s: %v", t.URL, wait, err)
		}
	}
}

// exitReport says how the shell exited and quotes the last lines of
// stderr, "(exit status 1): line | line", once procDone is closed; it
// waits up to pipeWait for the rest of stderr.
func (p *targetProcess) exitReport() string {
	select {
	case <-p.readersDone:
	case <-time.After(pipeWait):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := strings.Join(p.errOut, " | ")
	if tail == "" {
		tail = "nothing on stderr"
	}
	return fmt.Sprintf("(%v): %s", p.err, tail)
}

// lines returns a copy of what the target has printed on stdout so far:
// the last stdoutMaxLines lines at most.
func (p *targetProcess) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out.droppedLines > p.feedLoss {
		p.feedLoss = p.out.droppedLines
	}
	return p.out.snapshot()
}

// dropped says how much of the target's stdout is not kept: whole lines
// (the oldest, beyond the bounds) and bytes (those lines', plus the cut
// ends of over-long lines).
func (p *targetProcess) dropped() (lines, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.droppedLines, p.out.droppedBytes
}

// stillOurs reports a target whose own process has died: whatever
// answered since was not the command --run started.
func (p *targetProcess) stillOurs() error {
	select {
	case <-p.procDone:
		return fmt.Errorf("--run: the target's command exited during the run %s; whatever answered was not it", p.exitReport())
	default:
		return nil
	}
}

// problems lists what, on the target's side, keeps the run's verdict
// from standing: its command died during the run (stillOurs), or the
// suite read its stdout as the expiry feed after lines had been dropped.
func (p *targetProcess) problems() []string {
	var out []string
	if err := p.stillOurs(); err != nil {
		out = append(out, err.Error())
	}
	p.mu.Lock()
	loss := p.feedLoss
	p.mu.Unlock()
	if loss > 0 {
		out = append(out, fmt.Sprintf("--run: the target printed more on stdout than the last %d lines (%d MiB) that are kept: %d lines were dropped before the suite read them, so expiry notifications may be missing", stdoutMaxLines, stdoutMaxBytes>>20, loss))
	}
	return out
}

// stop ends the target, every process of it, within grace + killWait +
// 2 pipeWait (12 s); it may be called more than once, even concurrently.
func (p *targetProcess) stop() {
	p.stopOnce.Do(func() {
		defer close(p.stopped)
		p.terminate()
		if p.subreaper {
			releaseSubreaper()
		}
	})
	<-p.stopped
}

func (p *targetProcess) terminate() {
	deadline := time.Now().Add(p.grace)
	for !p.step(syscall.SIGTERM) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(killWait)
	for !p.step(syscall.SIGKILL) {
		if time.Now().After(deadline) {
			fmt.Fprintf(p.stderr, "sessionspec: --run: the target's processes did not all end within %s of SIGKILL: %s\n", killWait, p.leftOver())
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-p.readersDone:
	case <-time.After(pipeWait):
	}
	p.outR.Close() // unblocks the readers; a holder left gets EPIPE
	p.errR.Close()
	<-p.readersDone
	select {
	case <-p.procDone:
	case <-time.After(pipeWait):
	}
}

// step sends sig to the target's processes that have not had it (SIGTERM)
// or are still alive (SIGKILL), reaps those that became the check's
// zombie children, and reports whether the target is gone: the shell
// reaped and no process of it left, alive or waiting to be reaped by us.
func (p *targetProcess) step(sig syscall.Signal) bool {
	// Look before signalling: a process that dies of the signal before
	// the scan would re-parent its zombie children beyond recognition.
	procs, ok := scanProcs()
	groupNow := false
	select {
	case <-p.procDone:
	default:
		// The group, while its leader is unreaped (its pid is not
		// reused); SIGTERM once only: some servers take a second one as
		// "quit now".
		if sig != syscall.SIGTERM || !p.groupTermed {
			syscall.Kill(-p.root, sig)
			p.groupTermed, groupNow = true, true
		}
	}
	if !ok {
		select {
		case <-p.procDone:
			return true
		default:
			return false
		}
	}
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	members := p.members(procs)
	self := os.Getpid()
	gone := true
	for _, st := range members {
		key := procKey{st.pid, st.start}
		switch {
		case st.state != 'Z' && st.state != 'X':
			gone = false
			switch {
			case sig != syscall.SIGTERM:
				signalPinned(st, sig)
			case p.termed[key]:
			case groupNow && st.pgid == p.root:
				p.termed[key] = true // it had it with the group
			default:
				signalPinned(st, sig)
				p.termed[key] = true
			}
		case st.pid == p.root:
			// exec.Cmd.Wait reaps it; procDone says when.
		case st.ppid == self:
			reap(st)
			gone = false // confirmed by the next scan
		default:
			if _, member := members[st.ppid]; member {
				gone = false // re-parented to us when its parent ends
			}
			// Otherwise its parent (init, another subreaper) reaps it.
		}
	}
	select {
	case <-p.procDone:
	default:
		gone = false
	}
	return gone
}

// remember records the target's processes as they are once it answers,
// while its tree is whole (a zombie found later only through its parent
// could otherwise be lost with it).
func (p *targetProcess) remember() {
	if procs, ok := scanProcs(); ok {
		p.scanMu.Lock()
		p.members(procs)
		p.scanMu.Unlock()
	}
}

// leftOver names the processes of the target still there.
func (p *targetProcess) leftOver() string {
	procs, ok := scanProcs()
	if !ok {
		return "the shell, pid " + strconv.Itoa(p.root)
	}
	p.scanMu.Lock()
	members := p.members(procs)
	p.scanMu.Unlock()
	var s []string
	for _, st := range members {
		s = append(s, fmt.Sprintf("%d (%c, parent %d)", st.pid, st.state, st.ppid))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	pid, ppid, pgid int
	state           byte
	start           uint64 // clock ticks after boot; with pid, names one process
}

type procKey struct {
	pid   int
	start uint64
}

func readStat(pid int) (procStat, bool) {
	if runtime.GOOS != "linux" {
		return procStat{}, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime priority nice
	// num_threads itrealvalue starttime …; comm may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, false
	}
	return procStat{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0], start: start}, true
}

// scanProcs reads every process's stat; false without a Linux /proc.
func scanProcs() (map[int]procStat, bool) {
	if runtime.GOOS != "linux" {
		return nil, false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	procs := make(map[int]procStat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if st, ok := readStat(pid); ok {
			procs[pid] = st
		}
	}
	return procs, len(procs) > 0
}

// members picks the target's processes out of procs (see targetProcess);
// p.scanMu is held.
func (p *targetProcess) members(procs map[int]procStat) map[int]procStat {
	self := os.Getpid()
	root, rootHere := procs[p.root]
	rootHere = rootHere && root.start == p.rootStart
	in := map[int]procStat{}
	children := map[int][]procStat{}
	for pid, st := range procs {
		if pid == self || st.start < p.rootStart {
			continue
		}
		children[st.ppid] = append(children[st.ppid], st)
		key := procKey{pid, st.start}
		if p.knownAs(pid, st.start) || pid == p.root && rootHere || p.groupKnown(st.pgid, procs) {
			in[pid] = st
			continue
		}
		ours, seen := p.classified[key]
		if !seen {
			ours = p.carriesToken(pid) || p.holdsPipe(pid)
			p.classified[key] = ours
		}
		if ours {
			in[pid] = st
		}
	}
	queue := make([]int, 0, len(in))
	for pid := range in {
		queue = append(queue, pid)
	}
	for len(queue) > 0 {
		pid := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range children[pid] {
			if _, ok := in[c.pid]; !ok {
				in[c.pid] = c
				queue = append(queue, c.pid)
			}
		}
	}
	for pid, st := range in {
		p.known[pid] = st.start
	}
	return in
}

func (p *targetProcess) knownAs(pid int, start uint64) bool {
	s, ok := p.known[pid]
	return ok && s == start
}

// groupKnown says whether process group pgid is the target's: its leader
// is the shell or a process known to belong, present now as the same
// process or gone (a group's id is not reused while it has members).
func (p *targetProcess) groupKnown(pgid int, procs map[int]procStat) bool {
	start, ok := p.known[pgid]
	if pgid == p.root {
		start, ok = p.rootStart, true
	}
	if !ok {
		return false
	}
	leader, here := procs[pgid]
	return !here || leader.start == start
}

func (p *targetProcess) carriesToken(pid int) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if string(kv) == p.token {
			return true
		}
	}
	return false
}

func (p *targetProcess) holdsPipe(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err == nil && (link == p.pipes[0] || link == p.pipes[1]) {
			return true
		}
	}
	return false
}

// pipeName is how /proc/<pid>/fd links name the pipe f is an end of.
func pipeName(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("pipe:[%d]", uint64(st.Ino))
}

// signalPinned sends sig to the process st names, through a pidfd where
// the system has them, after checking that the pid still names it.
func signalPinned(st procStat, sig syscall.Signal) {
	proc, err := os.FindProcess(st.pid)
	if err != nil {
		return
	}
	defer proc.Release()
	if now, ok := readStat(st.pid); !ok || now.start != st.start {
		return // gone, and maybe its pid reused
	}
	proc.Signal(sig)
}

// wnohang is WNOHANG on Linux, the only system where reap is called
// (not every system's syscall package defines it).
const wnohang = 1

// reap collects a zombie of the target that was re-parented to the check:
// st was seen as our zombie child, so its pid cannot be reused before we
// reap it, and no one else in the process waits for it.
func reap(st procStat) {
	var ws syscall.WaitStatus
	syscall.Wait4(st.pid, &ws, wnohang, nil)
}

// lineSplitter cuts a stream into lines (without "\n" or "\r\n"), each at
// most maxLine bytes.
type lineSplitter struct {
	partial []byte
	cut     int64 // bytes cut from the current line
}

// write returns the lines b completes and the bytes cut from them.
func (s *lineSplitter) write(b []byte) (lines []string, cut int64) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := maxLine - len(s.partial); len(chunk) > room {
			s.cut += int64(len(chunk) - room)
			chunk = chunk[:room]
		}
		s.partial = append(s.partial, chunk...)
		if i < 0 {
			break
		}
		lines = append(lines, s.line())
		cut += s.cut
		s.cut = 0
		b = b[i+1:]
	}
	return lines, cut
}

// end returns the last line, when the stream did not end with a newline.
func (s *lineSplitter) end() (lines []string, cut int64) {
	if len(s.partial) == 0 && s.cut == 0 {
		return nil, 0
	}
	lines, cut = []string{s.line()}, s.cut
	s.cut = 0
	return lines, cut
}

func (s *lineSplitter) line() string {
	l := string(bytes.TrimSuffix(s.partial, []byte{'\r'}))
	s.partial = s.partial[:0]
	return l
}

// lineBuffer keeps the last lines added within maxLines and maxBytes
// (each line counting lineOverhead more than its length) and counts the
// ones it dropped.
type lineBuffer struct {
	maxLines     int
	maxBytes     int64
	lines        []string // lines[head:] are kept
	head         int
	bytes        int64
	droppedLines int64
	droppedBytes int64
}

func (b *lineBuffer) add(l string) {
	b.lines = append(b.lines, l)
	b.bytes += int64(len(l)) + lineOverhead
	for len(b.lines)-b.head > b.maxLines || b.bytes > b.maxBytes && len(b.lines)-b.head > 0 {
		old := b.lines[b.head]
		b.lines[b.head] = ""
		b.head++
		b.bytes -= int64(len(old)) + lineOverhead
		b.droppedLines++
		b.droppedBytes += int64(len(old))
	}
	if b.head > 1024 && b.head >= len(b.lines)/2 {
		n := copy(b.lines, b.lines[b.head:])
		clear(b.lines[n:])
		b.lines = b.lines[:n]
		b.head = 0
	}
}

func (b *lineBuffer) snapshot() []string {
	return append([]string(nil), b.lines[b.head:]...)
}

// The check is a subreaper only while a target runs: an orphan of its
// other children (Chromium's crash handler, say) is better reaped by
// init than left a zombie of ours until the check exits.
var (
	subreaperMu    sync.Mutex
	subreaperUsers int
)

// prSetChildSubreaper and prGetChildSubreaper are the prctl options, the
// same on every architecture.
const (
	prSetChildSubreaper = 36
	prGetChildSubreaper = 37
)

// prctlTrap is prctl's system call number on each Linux architecture Go
// supports: syscall.SYS_PRCTL exists only on Linux, and this file builds
// everywhere (target_test.go checks the table against it).
var prctlTrap = map[string]uintptr{
	"386": 172, "amd64": 157, "arm": 172, "arm64": 167, "loong64": 167,
	"mips": 4192, "mipsle": 4192, "mips64": 5153, "mips64le": 5153,
	"ppc64": 171, "ppc64le": 171, "riscv64": 167, "s390x": 172,
}

// setSubreaper sets or clears the check's PR_SET_CHILD_SUBREAPER.
func setSubreaper(on uintptr) bool {
	trap, ok := prctlTrap[runtime.GOARCH]
	if runtime.GOOS != "linux" || !ok {
		return false
	}
	_, _, errno := syscall.RawSyscall(trap, prSetChildSubreaper, on, 0)
	return errno == 0
}

// isSubreaper reports PR_GET_CHILD_SUBREAPER.
func isSubreaper() bool {
	trap, ok := prctlTrap[runtime.GOARCH]
	if runtime.GOOS != "linux" || !ok {
		return false
	}
	var v int32
	_, _, errno := syscall.RawSyscall(trap, prGetChildSubreaper, uintptr(unsafe.Pointer(&v)), 0)
	return errno == 0 && v != 0
}

// holdSubreaper makes the check process the reaper of its orphaned
// descendants (Linux; elsewhere they go to init, which reaps them) until
// as many releaseSubreaper calls; it reports whether it is one. A process
// that was a subreaper already is left one.
func holdSubreaper() bool {
	subreaperMu.Lock()
	defer subreaperMu.Unlock()
	if subreaperUsers == 0 {
		if isSubreaper() {
			subreaperUsers = 1 // someone else's: never released
		} else if !setSubreaper(1) {
			return false
		}
	}
	subreaperUsers++
	return true
}

func releaseSubreaper() {
	subreaperMu.Lock()
	defer subreaperMu.Unlock()
	subreaperUsers--
	if subreaperUsers == 0 {
		setSubreaper(0)
	}
}
