// Command refprog runs the reference package for the benchmarks: its
// HTTP server, its handler alone, its memory per session and an expiry
// storm. It uses only the reference's exported API, so the bench harness
// builds this same file against the working tree and against an earlier
// commit and measures both side by side.
//
//	refprog serve   -addr A [-cpuprofile F]   what `sessionspec serve` runs (real clock, 900 s)
//	refprog handler                           the handler alone, GET / with and without a cookie
//	refprog mem     -n N [-path P] [-heapprofile F]
//	                                          RSS and heap growth for N live sessions, made by
//	                                          Site.MakeSession or by GET P without a cookie
//	                                          (/ plain, /logme logged, /counter counted)
//	refprog storm   -n N                      N logged sessions expiring in one Advance
//
// Results are printed as one JSON object on the last line.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: refprog serve|handler|mem|storm [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "handler":
		err = handler(os.Args[2:])
	case "mem":
		err = mem(os.Args[2:])
	case "storm":
		err = storm(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "refprog:", err)
		os.Exit(1)
	}
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// serve is the core of `sessionspec serve` without flags: the real
// clock, the default timeout, the seed resources, the bounded server.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	site := reference.NewSite(reference.Config{})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := reference.NewHTTPServer(*addr, reference.NewServer(site, io.Discard))
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	fmt.Printf("listening on http://%s/\n", ln.Addr())
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// sink is a ResponseWriter that keeps nothing but its header map, which
// is cleared between requests, so the figures are the reference's own.
type sink struct {
	h    http.Header
	code int
	n    int
}

func (w *sink) Header() http.Header         { return w.h }
func (w *sink) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *sink) WriteHeader(code int)        { w.code = code }

type benchResult struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
	N           int     `json:"n"`
}

func handler(args []string) error {
	fs := flag.NewFlagSet("handler", flag.ContinueOnError)
	count := fs.Int("count", 3, "runs of each benchmark")
	if err := fs.Parse(args); err != nil {
		return err
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cookieFor := func(srv http.Handler) string {
		w := &sink{h: http.Header{}}
		srv.ServeHTTP(w, mustRequest(""))
		c, _, _ := strings.Cut(w.h.Get("Set-Cookie"), ";")
		return c
	}
	withCookie := func(clock fakeclock.Clock) func(b *testing.B) {
		return func(b *testing.B) {
			srv := reference.NewServer(reference.NewSite(reference.Config{Clock: clock}), nil)
			req := mustRequest(cookieFor(srv))
			w := &sink{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 0
				srv.ServeHTTP(w, req)
				if w.code != 0 && w.code != 200 {
					b.Fatal(w.code)
				}
			}
		}
	}
	newSession := func(b *testing.B) {
		srv := reference.NewServer(reference.NewSite(reference.Config{}), nil)
		req := mustRequest("")
		w := &sink{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			srv.ServeHTTP(w, req)
		}
	}
	benches := []struct {
		name string
		f    func(*testing.B)
	}{
		{"GET / with a cookie, fake clock", withCookie(fakeclock.NewFake(epoch))},
		{"GET / with a cookie, real clock", withCookie(nil)},
		{"GET / without a cookie (new session, crypto/rand, real clock)", newSession},
	}
	var out []benchResult
	for _, bm := range benches {
		for range *count {
			r := testing.Benchmark(bm.f)
			out = append(out, benchResult{Name: bm.name, NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N),
				BytesPerOp: r.AllocedBytesPerOp(), AllocsPerOp: r.AllocsPerOp(), N: r.N})
			runtime.GC()
		}
	}
	emit(out)
	return nil
}

func mustRequest(cookie string) *http.Request {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n")))
	if err != nil {
		panic(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return req
}

type memResult struct {
	N              int     `json:"n"`
	Path           string  `json:"path,omitempty"`
	RSSBefore      int64   `json:"rss_before"`
	RSSAfter       int64   `json:"rss_after"`
	RSSSettled     int64   `json:"rss_settled"`
	HeapBefore     uint64  `json:"heap_inuse_before"`
	HeapAfter      uint64  `json:"heap_inuse_after"`
	LiveBefore     uint64  `json:"heap_alloc_before"`
	LiveAfter      uint64  `json:"heap_alloc_after"`
	RSSPerSession  float64 `json:"rss_per_session"`
	SettledPer     float64 `json:"rss_settled_per_session"`
	HeapPerSession float64 `json:"heap_inuse_per_session"`
	LivePerSession float64 `json:"heap_alloc_per_session"`
	Seconds        float64 `json:"seconds"`
}

// mem creates n sessions on a fake clock, through Site.MakeSession or
// through the handler (GET path without a cookie: plain, logged or
// counted sessions), and reports how much the process grew.
func mem(args []string) error {
	fs := flag.NewFlagSet("mem", flag.ContinueOnError)
	n := fs.Int("n", 100_000, "live sessions to create")
	path := fs.String("path", "", "make each session by GET `path` through the handler (/, /logme, /counter) instead of Site.MakeSession")
	heapprofile := fs.String("heapprofile", "", "write a heap profile to `file` once the sessions exist")
	if err := fs.Parse(args); err != nil {
		return err
	}
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	site := reference.NewSite(reference.Config{Clock: clock})
	make1 := func() error { _, err := site.MakeSession(); return err }
	if *path != "" {
		srv := reference.NewServer(site, nil)
		req, err := http.NewRequest("GET", "http://127.0.0.1"+*path, nil)
		if err != nil {
			return err
		}
		w := &sink{h: http.Header{}}
		make1 = func() error {
			clear(w.h)
			w.code = 0
			srv.ServeHTTP(w, req)
			if w.code != 0 && w.code != 200 || len(w.h["Set-Cookie"]) != 1 {
				return fmt.Errorf("GET %s: status %d, Set-Cookie %q", *path, w.code, w.h["Set-Cookie"])
			}
			return nil
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	debug.FreeOSMemory()
	r := memResult{N: *n, Path: *path}
	runtime.ReadMemStats(&ms)
	r.HeapBefore, r.LiveBefore = ms.HeapInuse, ms.HeapAlloc
	var err error
	if r.RSSBefore, err = rss(); err != nil {
		return err
	}
	t0 := time.Now()
	for range *n {
		if err := make1(); err != nil {
			return err
		}
	}
	r.Seconds = time.Since(t0).Seconds()
	// As the process stands after making them (garbage not yet collected
	// or returned is part of a real server's footprint too) ...
	r.RSSAfter, _ = rss()
	// ... and once collected and returned to the OS.
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	r.HeapAfter, r.LiveAfter = ms.HeapInuse, ms.HeapAlloc
	r.RSSSettled, _ = rss()
	if site.Len() != *n {
		return fmt.Errorf("site holds %d sessions, want %d", site.Len(), *n)
	}
	if *heapprofile != "" {
		f, err := os.Create(*heapprofile)
		if err != nil {
			return err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	per := func(a, b int64) float64 { return float64(a-b) / float64(*n) }
	r.RSSPerSession = per(r.RSSAfter, r.RSSBefore)
	r.SettledPer = per(r.RSSSettled, r.RSSBefore)
	r.HeapPerSession = per(int64(r.HeapAfter), int64(r.HeapBefore))
	r.LivePerSession = per(int64(r.LiveAfter), int64(r.LiveBefore))
	runtime.KeepAlive(site)
	emit(r)
	return nil
}

func rss() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

type stormResult struct {
	N             int     `json:"n"`
	SetupSeconds  float64 `json:"setup_seconds"`
	AdvanceSecs   float64 `json:"advance_seconds"`
	LastNotifySec float64 `json:"last_notification_seconds"`
	Ran           int     `json:"calls_run"`
	Logged        int     `json:"logged"`
	Distinct      int     `json:"distinct"`
	Duplicates    int     `json:"duplicates"`
	Missing       int     `json:"missing"`
	Unknown       int     `json:"unknown"`
	LiveAfter     int     `json:"live_after"`
	NsPerSession  float64 `json:"ns_per_session"`
}

// countingLog counts the lines the server logs and notes when the line
// that completes the expected count arrives (reading the clock only then,
// so as not to add its cost to every notification).
type countingLog struct {
	want  int64
	lines atomic.Int64
	last  atomic.Int64 // UnixNano of the want-th line
}

func (c *countingLog) Write(p []byte) (int, error) {
	if c.lines.Add(int64(bytes.Count(p, []byte{'\n'}))) >= c.want && c.last.Load() == 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return len(p), nil
}

// storm makes n sessions through GET /logme, as the ExpirationLogger
// seed does, all at one instant, then advances the fake clock past their
// timeout in one step and checks that every logged expiry came once.
func storm(args []string) error {
	fs := flag.NewFlagSet("storm", flag.ContinueOnError)
	n := fs.Int("n", 1_000_000, "sessions")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the advance to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	clock := fakeclock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	site := reference.NewSite(reference.Config{Clock: clock})
	log := &countingLog{want: int64(*n)}
	srv := reference.NewServer(site, log)
	req, err := http.NewRequest("GET", "http://127.0.0.1/logme", nil)
	if err != nil {
		return err
	}
	w := &sink{h: http.Header{}}
	r := stormResult{N: *n}
	// The setup is not timed; a lazier collector makes it quicker.
	gc := debug.SetGCPercent(400)
	t0 := time.Now()
	made := make([]string, 0, *n)
	for range *n {
		clear(w.h)
		srv.ServeHTTP(w, req)
		c, _, _ := strings.Cut(w.h.Get("Set-Cookie"), ";")
		_, uid, _ := strings.Cut(c, "=")
		made = append(made, uid)
	}
	r.SetupSeconds = time.Since(t0).Seconds()
	debug.SetGCPercent(gc)
	runtime.GC()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	start := time.Now()
	r.Ran = clock.Advance(reference.DefaultTimeout)
	end := time.Now()
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	r.AdvanceSecs = end.Sub(start).Seconds()
	if last := log.last.Load(); last > 0 {
		r.LastNotifySec = float64(last-start.UnixNano()) / 1e9
	}
	r.Logged = int(log.lines.Load())
	// Every session made must be logged exactly once: compare the sorted
	// lists of uids made and logged.
	logged := srv.Expired()
	slices.Sort(made)
	slices.Sort(logged)
	for i, uid := range made {
		if len(uid) != 64 || i > 0 && made[i-1] == uid {
			return fmt.Errorf("bad or repeated uid %q from /logme", uid)
		}
	}
	i, j := 0, 0
	for i < len(made) || j < len(logged) {
		switch {
		case j == len(logged) || i < len(made) && made[i] < logged[j]:
			r.Missing++
			i++
		case i == len(made) || logged[j] < made[i]:
			r.Unknown++
			j++
		default: // equal
			uid := made[i]
			i++
			j++
			r.Distinct++
			for j < len(logged) && logged[j] == uid {
				r.Duplicates++
				j++
			}
		}
	}
	r.LiveAfter = site.Len()
	r.NsPerSession = r.LastNotifySec * 1e9 / float64(*n)
	emit(r)
	return nil
}
