//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// These tests start real process trees through startTarget and look at
// them in /proc. The target they run is this test binary again: with
// targetHelperEnv set, init below serves HTTP at $…_ADDR (after printing
// $…_LINES lines on stdout) instead of running the tests.

const targetHelperEnv = "SESSIONSPEC_TARGET_TEST_HELPER"

func init() {
	if os.Getenv(targetHelperEnv) != "serve" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv(targetHelperEnv + "_LINES"))
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	for i := range n {
		w.WriteString("line ")
		w.WriteString(strconv.Itoa(i))
		w.WriteByte('\n')
	}
	w.Flush()
	if os.Getenv(targetHelperEnv+"_TERMS") != "" {
		// Say each SIGTERM on stdout; exit 500 ms after the first.
		terms := make(chan os.Signal, 10)
		signal.Notify(terms, syscall.SIGTERM)
		go func() {
			<-terms
			fmt.Println("got SIGTERM")
			exit := time.After(500 * time.Millisecond)
			for {
				select {
				case <-terms:
					fmt.Println("got SIGTERM")
				case <-exit:
					os.Exit(0)
				}
			}
		}()
	}
	ln, err := net.Listen("tcp", os.Getenv(targetHelperEnv+"_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	os.Exit(1)
}

// helperCommand is a shell command that runs the helper at addr; marker
// ends up in its command line.
func helperCommand(t *testing.T, addr string, lines int, marker string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("exec env %s=serve %s_ADDR=%s %s_LINES=%d %s %s",
		targetHelperEnv, targetHelperEnv, addr, targetHelperEnv, lines, shQuote(self), shQuote(marker))
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// freeAddr is a loopback address nothing listens at (the port was just
// free).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func targetAt(t *testing.T, addr string) *spec.Target {
	t.Helper()
	tg, err := spec.NewTarget("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func uniqueMarker(name string) string {
	return fmt.Sprintf("sessionspec-%s-%d-%d", name, os.Getpid(), time.Now().UnixNano())
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// withMarker returns the processes whose command line holds marker.
func withMarker(procs map[int]procStat, marker string) []procStat {
	var out []procStat
	for pid, st := range procs {
		if strings.Contains(cmdline(pid), marker) {
			out = append(out, st)
		}
	}
	return out
}

// A target that leaves behind, as a setsid'd process ignoring SIGTERM,
// (1) a child still in its tree, (2) an orphan with its stdio redirected
// (known by the environment token), (3) an orphan with an emptied
// environment (known by the pipes it holds): stop returns within its
// bound and no process of the tree is left, not even a zombie.
func TestTargetStopLeavesNoProcessBehind(t *testing.T) {
	marker := uniqueMarker("stop")
	addr := freeAddr(t)
	command := strings.Join([]string{
		`setsid sh -c 'trap "" TERM; sleep 1000; : ` + marker + `-setsid' &`,
		`setsid sh -c '(trap "" TERM; sleep 1000; : ` + marker + `-nohup) </dev/null >/dev/null 2>&1 & exit 0' &`,
		`env -i setsid sh -c '(trap "" TERM; sleep 1000; : ` + marker + `-envi) & exit 0' &`,
		helperCommand(t, addr, 0, marker+"-server"),
	}, "\n")
	var stderr bytes.Buffer
	p, err := startTarget(testContext(t), command, targetAt(t, addr), 30*time.Second, &stderr, false)
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	if !p.subreaper {
		t.Log("not a child subreaper: orphans go to init, which reaps them")
	}

	// Wait (at most 10 s) until the tree is as the command makes it:
	// every sleeper running under its marked shell, the two orphans
	// re-parented away from theirs.
	var recorded []procStat
	found := map[string]int{} // marker suffix -> pid
	ready := func() (bool, string) {
		procs, _ := scanProcs()
		marked := withMarker(procs, marker)
		children := map[int][]procStat{}
		for _, st := range procs {
			children[st.ppid] = append(children[st.ppid], st)
		}
		why := ""
		for _, part := range []string{"-setsid", "-nohup", "-envi", "-server"} {
			problem := part + " not running"
			for _, st := range marked {
				if !strings.Contains(cmdline(st.pid), marker+part) {
					continue
				}
				switch {
				case part == "-server":
					problem = ""
					if st.pid != p.root {
						problem = fmt.Sprintf("server pid %d, not the root %d", st.pid, p.root)
					}
				case len(children[st.pid]) == 0:
					problem = part + " has no sleeper yet"
				case st.pgid == p.root:
					problem = part + " is still in the target's process group"
				case part != "-setsid" && st.ppid == p.root:
					problem = part + " is not orphaned yet"
				case part != "-setsid" && p.subreaper && st.ppid != self:
					problem = fmt.Sprintf("%s has parent %d, not us", part, st.ppid)
				default:
					problem = ""
				}
				if problem == "" {
					found[part] = st.pid
					break
				}
			}
			if problem != "" {
				why += problem + "; "
			}
		}
		if why != "" {
			return false, why
		}
		recorded = recorded[:0]
		seen := map[int]bool{}
		queue := marked
		for len(queue) > 0 {
			st := queue[0]
			queue = queue[1:]
			if seen[st.pid] {
				continue
			}
			seen[st.pid] = true
			recorded = append(recorded, st)
			queue = append(queue, children[st.pid]...)
		}
		return true, ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, why := ready()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			t.Fatalf("the target's tree did not form within 10 s: %s", why)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { // only if the test fails: nothing must survive it
		for _, st := range recorded {
			signalPinned(st, syscall.SIGKILL)
		}
	})
	t.Logf("%d processes in the tree: root %d", len(recorded), p.root)

	// Each way of belonging finds its process, looking afresh: the
	// orphan with redirected stdio by the token, the one with an empty
	// environment by the pipes; the rest by the tree and the group.
	fresh := &targetProcess{root: p.root, rootStart: p.rootStart, token: p.token, pipes: p.pipes,
		known: map[int]uint64{}, classified: map[procKey]bool{}}
	procs, _ := scanProcs()
	members := fresh.members(procs)
	for _, st := range recorded {
		if _, ok := members[st.pid]; !ok {
			t.Errorf("pid %d (%c) %q is not found to belong", st.pid, st.state, cmdline(st.pid))
		}
	}
	if nohup := found["-nohup"]; !p.carriesToken(nohup) || p.holdsPipe(nohup) {
		t.Errorf("-nohup: token %v, pipe %v; want true, false", p.carriesToken(nohup), p.holdsPipe(nohup))
	}
	if envi := found["-envi"]; p.carriesToken(envi) || !p.holdsPipe(envi) {
		t.Errorf("-envi: token %v, pipe %v; want false, true", p.carriesToken(envi), p.holdsPipe(envi))
	}
	if parent := os.Getppid(); p.carriesToken(parent) || p.holdsPipe(parent) {
		t.Error("the test's parent is taken for part of the target")
	}
	if _, ok := members[self]; ok {
		t.Error("the test process (it holds the pipes' other ends) is taken for part of the target")
	}

	begin := time.Now()
	p.stop()
	took := time.Since(begin)
	t.Logf("stop took %s (grace %s for SIGTERM, which three of them ignore)", took.Round(time.Millisecond), p.grace)
	if took > 15*time.Second {
		t.Errorf("stop took %s, more than 15 s", took)
	}
	for _, st := range recorded {
		if now, ok := readStat(st.pid); ok && now.start == st.start {
			t.Errorf("left behind: pid %d (%c, parent %d): %q", st.pid, now.state, now.ppid, cmdline(st.pid))
		}
	}
	procs, _ = scanProcs()
	for _, st := range withMarker(procs, marker) {
		t.Errorf("left behind: pid %d (%c): %q", st.pid, st.state, cmdline(st.pid))
	}
	if stderr.Len() > 0 {
		t.Errorf("stop complained: %s", stderr.String())
	}
	select {
	case <-p.procDone:
	default:
		t.Error("stop returned before the shell was reaped")
	}
	select {
	case <-p.readersDone:
	default:
		t.Error("stop returned with the pipes still being read")
	}
}

// A stale server already answering at the URL is refused before the
// command starts: an answer from it would pass for the command's.
func TestTargetRefusesAStaleServer(t *testing.T) {
	answering, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(answering)
	defer srv.Close()
	hung, err := net.Listen("tcp", "127.0.0.1:0") // accepts (the kernel does) but never answers
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	for name, addr := range map[string]string{"answering": answering.Addr().String(), "hung": hung.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			started := filepath.Join(t.TempDir(), "started")
			begin := time.Now()
			p, err := startTarget(testContext(t), "touch "+shQuote(started)+"; exec sleep 1000", targetAt(t, addr), 30*time.Second, io.Discard, false)
			took := time.Since(begin)
			if err == nil {
				p.stop()
				t.Fatal("started a target where a server already answers")
			}
			want := fmt.Sprintf("--run: a server already answers at http://%s/ before --run started it: stop it or use a free port", addr)
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if took > 5*time.Second {
				t.Errorf("refusing took %s", took)
			}
			if _, err := os.Stat(started); err == nil {
				t.Error("the command was started")
			}
		})
	}
}

// A command that fails to bind (the stale server is gone, or elsewhere)
// is an error quoting its stderr, even a last line without a newline.
func TestTargetThatExitsIsAnErrorWithItsStderr(t *testing.T) {
	addr := freeAddr(t)
	command := fmt.Sprintf(`echo starting; echo "first line" >&2; printf 'listen tcp %s: bind: address already in use' >&2; exit 1`, addr)
	begin := time.Now()
	p, err := startTarget(testContext(t), command, targetAt(t, addr), 30*time.Second, io.Discard, false)
	took := time.Since(begin)
	if err == nil {
		p.stop()
		t.Fatal("no error")
	}
	want := fmt.Sprintf("--run: the target exited before answering (exit status 1): first line | listen tcp %s: bind: address already in use", addr)
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if took > 5*time.Second {
		t.Errorf("took %s", took)
	}
}

// A command that dies during the run is reported after it.
func TestTargetThatDiesDuringTheRunIsReported(t *testing.T) {
	addr := freeAddr(t)
	p, err := startTarget(testContext(t), `echo "about to serve" >&2; `+helperCommand(t, addr, 0, uniqueMarker("dies")), targetAt(t, addr), 30*time.Second, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if err := p.stillOurs(); err != nil || len(p.problems()) != 0 {
		t.Fatalf("stillOurs %v, problems %q while it runs", err, p.problems())
	}
	p.cmd.Process.Kill()
	select {
	case <-p.procDone:
	case <-time.After(10 * time.Second):
		t.Fatal("not reaped within 10 s of SIGKILL")
	}
	err = p.stillOurs()
	want := "--run: the target's command exited during the run (signal: killed): about to serve; whatever answered was not it"
	if err == nil || err.Error() != want {
		t.Fatalf("stillOurs: %v, want %q", err, want)
	}
	if pr := p.problems(); len(pr) != 1 || pr[0] != want {
		t.Fatalf("problems %q", pr)
	}
	begin := time.Now()
	p.stop()
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("stopping a dead target took %s", took)
	}
}

// A target printing 2M lines: the last stdoutMaxLines are kept, the rest
// counted, memory stays bounded, and the loss is a problem once the suite
// has read the feed.
func TestTargetStdoutIsBounded(t *testing.T) {
	const total = 2_000_000
	addr := freeAddr(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := startTarget(testContext(t), helperCommand(t, addr, total, uniqueMarker("lines")), targetAt(t, addr), 60*time.Second, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	// The helper listens once it has written everything; the last pipe
	// buffer may still be on its way (at most 20 s).
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.mu.Lock()
		n := int64(len(p.out.lines)-p.out.head) + p.out.droppedLines
		p.mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines of %d within 20 s", n, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MiB for %d lines kept", float64(grew)/(1<<20), stdoutMaxLines)
	if grew > 128<<20 {
		t.Errorf("heap grew by %d MiB, more than 128", grew>>20)
	}
	if len(p.problems()) != 0 {
		t.Errorf("a problem before the feed was read: %q", p.problems())
	}

	lines := p.lines()
	const dropped = total - stdoutMaxLines
	if len(lines) != stdoutMaxLines || lines[0] != "line "+strconv.Itoa(dropped) || lines[len(lines)-1] != "line "+strconv.Itoa(total-1) {
		t.Fatalf("%d lines from %q to %q", len(lines), lines[0], lines[len(lines)-1])
	}
	lines[0] = "changed"
	if p.lines()[0] == "changed" {
		t.Error("lines() is not a copy")
	}
	var droppedBytes int64
	for i := range dropped {
		droppedBytes += int64(len("line " + strconv.Itoa(i)))
	}
	if l, b := p.dropped(); l != dropped || b != droppedBytes {
		t.Errorf("dropped %d lines, %d bytes; want %d, %d", l, b, dropped, droppedBytes)
	}
	pr := p.problems()
	if len(pr) != 1 || !strings.Contains(pr[0], fmt.Sprintf(": %d lines were dropped before the suite read them", dropped)) {
		t.Errorf("problems %q", pr)
	}
}

// A target that ends on SIGTERM gets one, and is not killed.
func TestTargetGetsOneSIGTERM(t *testing.T) {
	addr := freeAddr(t)
	command := targetHelperEnv + "_TERMS=1 " + helperCommand(t, addr, 0, uniqueMarker("terms"))
	p, err := startTarget(testContext(t), command, targetAt(t, addr), 30*time.Second, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	p.stop()
	took := time.Since(begin)
	if got := strings.Join(p.lines(), "|"); got != "got SIGTERM" {
		t.Errorf("the target printed %q, want one SIGTERM", got)
	}
	p.mu.Lock()
	exit := p.err
	p.mu.Unlock()
	if exit != nil {
		t.Errorf("it ended with %v, want exit status 0 (not killed)", exit)
	}
	if took > 3*time.Second {
		t.Errorf("stop took %s for a target that exits 500 ms after SIGTERM", took)
	}
}

// syncBuffer is a bytes.Buffer for two writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// With --verbose both streams are echoed, marked, as they come.
func TestTargetVerboseEchoesBothStreams(t *testing.T) {
	addr := freeAddr(t)
	var echo syncBuffer
	p, err := startTarget(testContext(t), `echo "to stdout"; echo "to stderr" >&2; `+helperCommand(t, addr, 2, uniqueMarker("verbose")), targetAt(t, addr), 30*time.Second, &echo, true)
	if err != nil {
		t.Fatal(err)
	}
	p.stop()
	want := []string{"[target] to stdout", "[target stderr] to stderr", "[target] line 0", "[target] line 1"}
	for _, w := range want {
		if !strings.Contains(echo.String(), w+"\n") {
			t.Errorf("%q not echoed in %q", w, echo.String())
		}
	}
	if got := strings.Join(p.lines(), "|"); got != "to stdout|line 0|line 1" {
		t.Errorf("lines %q", got)
	}
}

func TestTargetLineBufferBounds(t *testing.T) {
	long := strings.Repeat("x", 100)
	b := lineBuffer{maxLines: 1000, maxBytes: 10 * (100 + lineOverhead)}
	for range 50 {
		b.add(long)
	}
	if got := b.snapshot(); len(got) != 10 || b.droppedLines != 40 || b.droppedBytes != 4000 {
		t.Errorf("bytes bound: kept %d, dropped %d lines, %d bytes", len(got), b.droppedLines, b.droppedBytes)
	}
	b = lineBuffer{maxLines: 10, maxBytes: 1 << 30}
	for i := range 1_000_000 {
		b.add(strconv.Itoa(i))
	}
	got := b.snapshot()
	if len(got) != 10 || got[0] != "999990" || got[9] != "999999" || b.droppedLines != 999_990 {
		t.Errorf("lines bound: %q, dropped %d", got, b.droppedLines)
	}
	if cap(b.lines) > 4096 {
		t.Errorf("the buffer's array grew to %d for 10 lines", cap(b.lines))
	}
}

func TestTargetLineSplitter(t *testing.T) {
	var s lineSplitter
	var all []string
	var cut int64
	for _, chunk := range []string{"a\r\nb", "c\n\n", strings.Repeat("y", maxLine+5) + "\nz", "", "tail"} {
		lines, c := s.write([]byte(chunk))
		all, cut = append(all, lines...), cut+c
	}
	lines, c := s.end()
	all, cut = append(all, lines...), cut+c
	want := []string{"a", "bc", "", strings.Repeat("y", maxLine), "ztail"}
	if strings.Join(all, "|") != strings.Join(want, "|") || cut != 5 {
		t.Errorf("lines %.40q…, cut %d", all, cut)
	}
}

// The system call table holds for this architecture, and the check
// process is a subreaper while a target runs, and only then.
func TestTargetSubreaper(t *testing.T) {
	if prctlTrap[runtime.GOARCH] != syscall.SYS_PRCTL {
		t.Fatalf("prctlTrap[%s] = %d, syscall.SYS_PRCTL = %d", runtime.GOARCH, prctlTrap[runtime.GOARCH], syscall.SYS_PRCTL)
	}
	if isSubreaper() {
		t.Fatal("a subreaper before any target")
	}
	addr := freeAddr(t)
	p, err := startTarget(testContext(t), helperCommand(t, addr, 0, uniqueMarker("subreaper")), targetAt(t, addr), 30*time.Second, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	if !p.subreaper || !isSubreaper() {
		t.Errorf("while a target runs: held %v, PR_GET_CHILD_SUBREAPER %v", p.subreaper, isSubreaper())
	}
	p.stop()
	p.stop()
	if isSubreaper() {
		t.Error("still a subreaper after the target stopped")
	}
}
