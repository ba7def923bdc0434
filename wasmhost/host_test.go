package wasmhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
)

// The guests are built once, on first use, as GOOS=wasip1 GOARCH=wasm.
var (
	buildDir  string
	buildMu   sync.Mutex
	built     = map[string]string{}
	buildErrs = map[string]error{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-test")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the package pkg (an import path) for wasip1, or, with
// native, for this machine, and returns the file.
func build(t *testing.T, pkg string, native bool) string {
	t.Helper()
	if err := platformError(); err != nil {
		t.Skip(err)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if f, ok := built[pkg]; ok {
		return f
	}
	if err, ok := buildErrs[pkg]; ok {
		t.Fatal(err)
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if !native {
		out += ".wasm"
		cmd.Args[3] = out
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		buildErrs[pkg] = fmt.Errorf("building %s: %v\n%s", pkg, err, b)
		t.Fatal(buildErrs[pkg])
	}
	built[pkg] = out
	return out
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// start runs the guest pkg under a host on a fake clock at epoch, fronted
// by an httptest server, for the duration of the test.
func start(t *testing.T, pkg string, cfg Config) (*Host, string) {
	t.Helper()
	wasm, err := os.ReadFile(build(t, pkg, false))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clock == nil {
		cfg.Clock = fakeclock.NewFake(epoch)
	}
	cfg.CacheDir = DefaultCacheDir()
	if cfg.Stderr == nil {
		cfg.Stderr = testWriter{t}
	}
	h, err := Start(context.Background(), wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return h, srv.URL
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("guest: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

const clockGuest = "github.com/sessionspec/sessionspec/wasmhost/testdata/clockguest"

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func advance(t *testing.T, h *Host, d time.Duration) {
	t.Helper()
	if _, err := h.Advance(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// The guest's wall and monotonic clocks are the fake clock, and stand
// still between advances.
func TestGuestClocksAreVirtual(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	if got := get(t, url+"/now"); got != stamp(epoch) {
		t.Fatalf("guest time.Now %s, want %s", got, stamp(epoch))
	}
	since0 := get(t, url+"/since")
	if get(t, url+"/since") != since0 {
		t.Fatal("the guest's monotonic clock moved without an advance")
	}
	advance(t, h, 90*time.Minute+time.Nanosecond)
	if got, want := get(t, url+"/now"), stamp(epoch.Add(90*time.Minute+time.Nanosecond)); got != want {
		t.Fatalf("after the advance: guest time.Now %s, want %s", got, want)
	}
	var s0, s1 int64
	fmt.Sscan(since0, &s0)
	fmt.Sscan(get(t, url+"/since"), &s1)
	if s1-s0 != int64(90*time.Minute+time.Nanosecond) {
		t.Fatalf("time.Since moved by %v, want 90m0.000000001s", time.Duration(s1-s0))
	}
}

// An advance runs the guest's timers at their own instants, including
// those the timers set, before it answers.
func TestAdvanceRunsDueTimersAtTheirInstants(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	get(t, url+"/timer?d=10s&name=a")
	get(t, url+"/timer?d=3s&name=b&n=4&every=2s") // at 3, 5, 7, 9 s
	get(t, url+"/timer?d=20s&name=c")
	advance(t, h, 10*time.Second-time.Nanosecond)
	want := []string{"b@" + stamp(epoch.Add(3*time.Second)), "b@" + stamp(epoch.Add(5*time.Second)),
		"b@" + stamp(epoch.Add(7*time.Second)), "b@" + stamp(epoch.Add(9*time.Second))}
	if got := get(t, url+"/fired"); got != strings.Join(want, "\n") {
		t.Fatalf("fired by 10s-1ns:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	advance(t, h, time.Nanosecond)
	want = append(want, "a@"+stamp(epoch.Add(10*time.Second)))
	if got := get(t, url+"/fired"); got != strings.Join(want, "\n") {
		t.Fatalf("fired by 10s:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	advance(t, h, time.Hour)
	want = append(want, "c@"+stamp(epoch.Add(20*time.Second)))
	if got := get(t, url+"/fired"); got != strings.Join(want, "\n") {
		t.Fatalf("fired by 1h10s:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if s := h.Stats(); s.Fired < 6 {
		t.Fatalf("%+v: want at least 6 deadlines reached by advances", s)
	}
}

// Requests arriving while the clock advances neither delay the guest's
// timers nor make them run early: each runs at exactly its instant.
func TestTimersExactUnderConcurrentTraffic(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	for range 4 {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := net.Dial("tcp", h.GuestAddr()); err == nil {
					fmt.Fprint(c, "GET /now HTTP/1.1\r\nHost: guest\r\n\r\n")
					io.Copy(io.Discard, c)
					c.Close()
				}
			}
		}()
	}
	defer traffic.Wait()
	defer close(stop)
	for i := range 30 {
		name := fmt.Sprintf("t%d", i)
		set := get(t, url+"/timer?d=10s&name="+name)
		advance(t, h, 9*time.Second)
		advance(t, h, time.Second)
		at, _ := time.Parse(time.RFC3339Nano, set)
		fired := strings.Split(get(t, url+"/fired"), "\n")
		if last, want := fired[len(fired)-1], name+"@"+stamp(at.Add(10*time.Second)); last != want {
			t.Fatalf("round %d: last fired %q, want %q", i, last, want)
		}
	}
}

// A handler that sleeps waits for virtual time; the advance that reaches
// its wake-up answers after the handler has written its response.
func TestSleepingHandlerWakesOnAdvance(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/sleep?d=30s")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	// Wait until the sleep is the guest's deadline, so that the advance
	// does not pass before the request has arrived.
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if at, ok := h.Deadline(); ok && at.Equal(epoch.Add(30*time.Second)) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the guest never waited for its sleep")
		}
	}
	select {
	case got := <-done:
		t.Fatalf("the sleep ended without an advance: %s", got)
	case <-time.After(100 * time.Millisecond):
	}
	advance(t, h, time.Minute)
	if got, want := <-done, stamp(epoch.Add(30*time.Second)); got != want {
		t.Fatalf("the sleeping handler answered %q, want %q", got, want)
	}
}

// A response larger than the socket's buffers makes the guest wait until
// its socket is writable, for real.
func TestGuestWaitsForWritableSocket(t *testing.T) {
	h, _ := start(t, clockGuest, Config{})
	const n = 8 << 20 // more than the guest's send buffer (4 MiB at most by default) and our receive buffer hold unread
	c, err := net.Dial("tcp", h.GuestAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big?n=%d HTTP/1.1\r\nHost: guest\r\n\r\n", n)
	// Read nothing until the guest, having filled the buffers, waits.
	for start := time.Now(); h.stats.writeWaits.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the guest never waited for its socket to become writable")
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil || got != n {
		t.Fatalf("read %d bytes (%v), want %d", got, err, n)
	}
}

// An idle guest costs nothing: it makes no poll_oneoff call and no CPU
// time goes by while nobody talks to it, with timers pending or not.
func TestIdleGuestDoesNotSpin(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	get(t, url+"/timer?d=900s&name=idle")
	for range 20 {
		get(t, url+"/now")
	}
	time.Sleep(100 * time.Millisecond)
	before, cpu0 := h.Stats(), cpuTime()
	time.Sleep(time.Second)
	after, cpu1 := h.Stats(), cpuTime()
	if after != before {
		t.Fatalf("the idle guest was active: %+v then %+v", before, after)
	}
	// The whole test process, other tests included, in a second of idling.
	if used := cpu1 - cpu0; used > 200*time.Millisecond {
		t.Fatalf("%v of CPU time in a second of idling", used)
	}
	t.Logf("idle second: %+v, process CPU %v", after, cpu1-cpu0)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestClockResource(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	if got := get(t, url+"/_clock"); got != stamp(epoch)+"\n" {
		t.Fatalf("GET /_clock = %q", got)
	}
	if code, body := post(t, url+"/_clock?advance=1m30s"); code != 200 || body != stamp(epoch.Add(90*time.Second)) {
		t.Fatalf("POST advance=1m30s: %d %q", code, body)
	}
	if got := h.Clock().Now(); !got.Equal(epoch.Add(90 * time.Second)) {
		t.Fatalf("clock at %v", got)
	}
	for _, q := range []string{"", "?advance=", "?advance=-1s", "?advance=5", "?advance=1s&advance=2s", "?advance=1s&x=1", "?d=1s", "?advance=876000h1s"} {
		if code, _ := post(t, url+"/_clock"+q); code != http.StatusBadRequest {
			t.Errorf("POST /_clock%s: %d, want 400", q, code)
		}
	}
	if resp, _ := http.Get(url + "/_clock?advance=1s"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET with a query: %d, want 400", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPut, url+"/_clock", nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", resp.StatusCode)
	}
	if got := h.Clock().Now(); !got.Equal(epoch.Add(90 * time.Second)) {
		t.Fatalf("a rejected request moved the clock to %v", got)
	}
}

func TestAddClock(t *testing.T) {
	for _, c := range []struct{ in, paths string }{
		{`{"sessionspec":1,"paths":{"session":"/s","expire":""}}`, `{"clock":"/_clock","expire":"","session":"/s"}`},
		{`{"sessionspec":1,"paths":{"session":"/","clock":"/theirs"}}`, `{"clock":"/_clock","session":"/"}`},
		{`{"sessionspec":1,"timeout_seconds":5}`, `{"clock":"/_clock","counter":"/counter","expire":"/expire","expired":"/expired","logme":"/logme","session":"/"}`},
	} {
		out, ok := AddClock([]byte(c.in), "/_clock")
		var doc map[string]json.RawMessage
		if !ok || json.Unmarshal(out, &doc) != nil {
			t.Fatalf("%s: %s %v", c.in, out, ok)
		}
		var compact bytes.Buffer
		json.Compact(&compact, doc["paths"])
		if compact.String() != c.paths {
			t.Errorf("%s: paths %s, want %s", c.in, compact.String(), c.paths)
		}
		if string(doc["sessionspec"]) != "1" {
			t.Errorf("%s: lost a field: %s", c.in, out)
		}
	}
	for _, bad := range []string{`not json`, `[1]`, `{"paths":[]}`, `null`} {
		if out, ok := AddClock([]byte(bad), "/_clock"); ok || string(out) != bad {
			t.Errorf("%s: %s %v, want it unchanged", bad, out, ok)
		}
	}
}

func TestGuestExitIsReported(t *testing.T) {
	h, url := start(t, clockGuest, Config{})
	http.Get(url + "/exit?code=3")
	select {
	case <-h.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the guest did not exit")
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "code 3") {
		t.Fatalf("Err() = %v", err)
	}
	if _, err := h.Advance(context.Background(), time.Second); err == nil {
		t.Fatal("Advance after the guest exited did not fail")
	}
	if code, body := post(t, url+"/_clock?advance=1s"); code != http.StatusServiceUnavailable {
		t.Fatalf("POST /_clock after exit: %d %s", code, body)
	}
}

// A panicking guest dies with its panic printed, although the Go
// runtime's crash path sleeps (1 ms at a time) before printing it.
func TestPanickingGuestDies(t *testing.T) {
	var stderr bytes.Buffer
	var mu sync.Mutex
	h, url := start(t, clockGuest, Config{Stderr: lockedBuffer{&mu, &stderr}})
	get(t, url+"/panic")
	select {
	case <-h.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the panicking guest did not exit")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(stderr.String(), "clockguest: boom") || !strings.Contains(h.Err().Error(), "code 2") {
		t.Fatalf("Err() = %v; stderr:\n%s", h.Err(), stderr.String())
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Two runs of the same guest draw different random bytes: randomness is
// crypto/rand, not wazero's deterministic default (with which two runs
// would issue the same session ids).
func TestRandomnessDiffersBetweenRuns(t *testing.T) {
	_, url1 := start(t, clockGuest, Config{})
	_, url2 := start(t, clockGuest, Config{})
	if a, b := get(t, url1+"/rand"), get(t, url2+"/rand"); a == b {
		t.Fatalf("both runs drew %s", a)
	}
}

// The conformance suite passes against both wasip1 targets under the
// host, the 900 s default timeout checked on virtual time.
func TestSuitePassesAgainstWasmTargets(t *testing.T) {
	if testing.Short() || raceEnabled {
		// Compiling the two guests under the race detector takes minutes;
		// `make test-wasm-host` runs these checks without it.
		t.Skip("runs the whole suite twice, on two large guests")
	}
	bin := build(t, "github.com/sessionspec/sessionspec/cmd/sessionspec", true)
	for _, pkg := range []string{
		"github.com/sessionspec/sessionspec/targets/wasm/reference",
		"github.com/sessionspec/sessionspec/targets/wasm/plainserver",
	} {
		t.Run(filepath.Base(pkg), func(t *testing.T) {
			_, url := start(t, pkg, Config{Clock: fakeclock.NewFake(time.Now().UTC().Truncate(time.Second))})
			jsonPath := filepath.Join(t.TempDir(), "r.json")
			cmd := exec.Command(bin, "check", url, "--json", jsonPath)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			var rep struct {
				Clock   string
				Results []struct{ ID, Outcome string } `json:"cases"`
			}
			b, _ := os.ReadFile(jsonPath)
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			outcome := map[string]string{}
			for _, r := range rep.Results {
				outcome[r.ID] = r.Outcome
			}
			for _, id := range []string{"TIMEOUT-001", "TIMEOUT-002", "TIMEOUT-003", "TIMEOUT-004", "NOTIFY-001", "COUNTER-003"} {
				if outcome[id] != "pass" {
					t.Errorf("%s: %q, want pass", id, outcome[id])
				}
			}
			if rep.Clock != "controlled" {
				t.Errorf("clock %q, want controlled", rep.Clock)
			}
			if t.Failed() {
				t.Log(out.String())
			}
		})
	}
}

// Connections the guest closes are closed on the host (wazero v1.12.0
// leaves them open; see connCloser), and so are those left open when it
// exits.
func TestGuestClosedConnectionsAreClosed(t *testing.T) {
	h, _ := start(t, clockGuest, Config{})
	openFds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	exchange := func() net.Conn {
		c, err := net.Dial("tcp", h.GuestAddr())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET /now HTTP/1.1\r\nHost: guest\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	exchange().Close() // warm up
	// No garbage collection, whose finalizers would close leaked
	// connections sooner or later.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFds()
	for range 50 {
		exchange().Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for openFds() > before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open after 50 closed connections, %d before", openFds(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A connection open when the guest exits is closed with it.
	c := exchange()
	defer c.Close()
	http.Get("http://" + h.GuestAddr() + "/exit?code=0")
	<-h.Done()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("reading a connection the exited guest had open: %v, want EOF", err)
	}
}
