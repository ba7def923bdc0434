package main

// The section "cluster": the reference kept in Redis (`serve --store`),
// side by side with the in-memory reference, in the same run.
//
//   - throughput: wrk against (a) one in-memory `serve`, (b) one `serve
//     --store` and (c) three `serve --store` replicas of one site, one wrk
//     spreading its connections over the three, rounds interleaved;
//   - storm: N sessions registered through GET /logme spread over three
//     replicas on --fake-clock, one advance past the timeout posted to
//     every replica at once, and the union of their /expired feeds read
//     until it holds every notification; each uid must be in it exactly
//     once. The same storm on one in-memory `serve --fake-clock`.
//
// Redis is Debian's redis-server, started on a free loopback port by
// internal/redistest (bench's module path lies under the main module's,
// so Go lets it import that internal package), no persistence, in a
// throw-away directory, and stopped when the section ends, failed or not.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionspec/sessionspec/internal/redistest"
)

// clusterStormRun is one expiry storm over HTTP.
type clusterStormRun struct {
	Impl            string // "memory" or "cluster3"
	Desc            string
	N               int
	Replicas        int
	SetupSeconds    float64 // making the N sessions (untimed for the storm)
	SetupRPS        float64
	AdvanceSeconds  float64 // from the advance until every replica answered it
	CompleteSeconds float64 // from the advance until the union of the feeds held every notification
	FeedReads       int     // rounds of reading every feed
	PerReplica      []int   // lines in each replica's feed
	Lines           int     // lines in the union
	Distinct        int
	Missing         int // made, never in the union
	Doubled         int // in the union more than once
	Unknown         int // in the union, never made
	Err             string
}

func (r *clusterStormRun) ExactlyOnce() bool {
	return r.Err == "" && r.Missing == 0 && r.Doubled == 0 && r.Unknown == 0 && r.Distinct == r.N && r.Lines == r.N
}

type clusterResult struct {
	TP           *throughputResult
	SpreadArgs   []string // wrk's arguments against the three replicas
	Storm        []clusterStormRun
	StormCmds    []string
	Redis        string // redis-server's version and how it was started
	LoadStart    string
	LoadEnd      string
	StoreCPUNote string
}

// clusterTarget is a configuration under load: one server or three.
type clusterTarget struct {
	t      *target
	urls   []string
	procs  []*proc
	spread string // wrk Lua script spreading the threads over urls
}

func (c *clusterTarget) pids() []int {
	var ps []int
	for _, p := range c.procs {
		ps = append(ps, p.cmd.Process.Pid)
	}
	return ps
}

func (c *clusterTarget) stop() {
	for _, p := range c.procs {
		p.Stop()
	}
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// startServe runs bin/sessionspec serve with args on a port of its own
// choosing and returns it with its base URL, read from its first line.
func startServe(cfg *config, name string, args ...string) (*proc, string, string, error) {
	argv := append([]string{cfg.sessionspec, "serve", "--addr", "127.0.0.1:0"}, args...)
	cmd := displayCmd(cfg, argv)
	p, err := start(name, nil, nil, argv...)
	if err != nil {
		return nil, "", cmd, err
	}
	line, err := p.waitLine("listening on ", 20*time.Second)
	if err != nil {
		p.Stop()
		return nil, "", cmd, err
	}
	_, u, _ := strings.Cut(line, "listening on ")
	u = strings.TrimSpace(u)
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/") {
		p.Stop()
		return nil, "", cmd, fmt.Errorf("%s: odd announcement %q", name, line)
	}
	if err := waitHTTP(u+".well-known/sessionspec", 20*time.Second); err != nil {
		p.Stop()
		return nil, "", cmd, err
	}
	return p, u, cmd, nil
}

// redisPID asks the server at addr for its process id (INFO server).
func redisPID(addr string) (int, string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "INFO server\r\n"); err != nil {
		return 0, "", err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0, "", fmt.Errorf("INFO answered %q (%v)", head, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 || n > 1<<20 {
		return 0, "", fmt.Errorf("INFO answered %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, "", err
	}
	pid, version := 0, ""
	for line := range strings.SplitSeq(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			version = v
		}
	}
	if pid == 0 {
		return 0, "", errors.New("INFO server names no process_id")
	}
	return pid, version, nil
}

// spreadScript is a wrk script that points each thread at one of the
// ports in turn, so that one wrk spreads its connections evenly over the
// replicas (wrk's setup(thread) and thread.addr).
func spreadScript(dir string, urls []string) (string, error) {
	var ports []string
	for _, u := range urls {
		_, port, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), ":")
		if !ok {
			return "", fmt.Errorf("no port in %s", u)
		}
		ports = append(ports, `"`+port+`"`)
	}
	src := "-- written by bench: each wrk thread talks to one replica, in turn\n" +
		"local ports = {" + strings.Join(ports, ", ") + "}\n" +
		"local n = 0\n" +
		"function setup(thread)\n" +
		"  local port = ports[(n % #ports) + 1]\n" +
		"  n = n + 1\n" +
		"  thread.addr = wrk.lookup(\"127.0.0.1\", port)[1]\n" +
		"end\n"
	path := filepath.Join(dir, "spread.lua")
	return path, os.WriteFile(path, []byte(src), 0o644)
}

// runCluster measures the reference on Redis next to the in-memory one.
func runCluster(ctx context.Context, cfg *config, log io.Writer) (res *clusterResult, err error) {
	res = &clusterResult{LoadStart: loadAvg()}
	defer func() { res.LoadEnd = loadAvg() }()
	dir, err := os.MkdirTemp("", "bench-cluster-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	rs, err := redistest.Start(rctx, dir)
	cancel()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := rs.Stop(); err != nil {
			fmt.Fprintf(log, "  stopping redis-server: %v\n", err)
		}
	}()
	rpid, version, err := redisPID(rs.Addr)
	if err != nil {
		return nil, fmt.Errorf("redis-server on %s: %v", rs.Addr, err)
	}
	res.Redis = fmt.Sprintf("redis-server %s (Debian, %s) on %s, no persistence (`--save '' --appendonly no`), started by internal/redistest", version, redistest.Binary, rs.Addr)
	fmt.Fprintf(log, "  %s; load average %s\n", res.Redis, res.LoadStart)
	store := func(db int) string { return fmt.Sprintf("redis://%s/%d", rs.Addr, db) }

	tp, err := clusterThroughput(ctx, cfg, log, dir, store, rpid, res)
	res.TP = tp
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, clusterStorms(ctx, cfg, log, store, res)
}

func clusterThroughput(ctx context.Context, cfg *config, log io.Writer, dir string, store func(int) string, rpid int, res *clusterResult) (*throughputResult, error) {
	tp := &throughputResult{Cells: map[string]*tpCell{}, Reps: cfg.reps, Duration: cfg.wrkDuration,
		RSSAfter: map[string]int64{}, Skipped: map[string]string{}}
	tp.WrkArgs = []string{"-t2", "-c32", "-d" + cfg.wrkDuration.String(), "--latency"}
	res.SpreadArgs = []string{"-t3", "-c33", "-d" + cfg.wrkDuration.String(), "--latency", "-s", "spread.lua"}
	var cts []*clusterTarget
	defer func() {
		for _, c := range cts {
			c.stop()
		}
	}()
	add := func(name, desc string, n int, args func(i int) []string) error {
		ct := &clusterTarget{t: &target{Name: name, Desc: desc}}
		cts = append(cts, ct)
		var cmds []string
		for i := range n {
			p, u, cmd, err := startServe(cfg, fmt.Sprintf("%s-%d", name, i+1), args(i)...)
			cmds = append(cmds, cmd)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			ct.procs = append(ct.procs, p)
			ct.urls = append(ct.urls, u)
		}
		ct.t.Cmd = strings.Join(cmds, "` + `")
		ct.t.url = ct.urls[0]
		if n > 1 {
			path, err := spreadScript(dir, ct.urls)
			if err != nil {
				return err
			}
			ct.spread = path
		}
		tp.Targets = append(tp.Targets, ct.t)
		tp.Commands = append(tp.Commands, cmds...)
		return nil
	}
	if err := add("memory", "one in-memory reference, `serve` (real clock, 900 s)", 1,
		func(int) []string { return nil }); err != nil {
		return nil, err
	}
	if err := add("redis", "one reference on Redis, `serve --store` (real clock, 900 s)", 1,
		func(int) []string { return []string{"--store", store(1), "--replica-name", "solo"} }); err != nil {
		return nil, err
	}
	if err := add("cluster3", "three replicas of one site on one Redis, `serve --store` ×3", 3,
		func(i int) []string { return []string{"--store", store(2), "--replica-name", fmt.Sprintf("r%d", i+1)} }); err != nil {
		return nil, err
	}

	withCookie := &tpCase{Name: "cookie", Desc: "GET / with a valid cookie (lookup + refresh)", cookie: map[string]string{}}
	newSess := &tpCase{Name: "new", Desc: "GET / without a cookie (a new session per request)", cookie: map[string]string{}}
	tp.Cases = []*tpCase{withCookie, newSess}
	for _, ct := range cts {
		// The cookie is made on the last replica and must be honoured on
		// every one: the same page, no new cookie.
		c, body, err := fetchSession(ct.urls[len(ct.urls)-1], "")
		if err != nil || c == "" {
			return tp, fmt.Errorf("%s: no session cookie from GET / (%v)", ct.t.Name, err)
		}
		for _, u := range ct.urls {
			c2, body2, err := fetchSession(u, c)
			if err != nil {
				return tp, err
			}
			if c2 != "" || body2 != body {
				return tp, fmt.Errorf("%s: the cookie %s made on %s was not honoured on %s (got %q, %q)", ct.t.Name, c, ct.urls[len(ct.urls)-1], u, c2, body2)
			}
		}
		withCookie.cookie[ct.t.Name] = c
		fmt.Fprintf(log, "  %s at %s: %q\n", ct.t.Name, strings.Join(ct.urls, " "), body)
	}

	wrk := func(ct *clusterTarget, c *tpCase, d time.Duration) (wrkResult, error) {
		args := []string{"wrk", "-t2", "-c32", "-d" + d.String(), "--latency"}
		if ct.spread != "" {
			args = []string{"wrk", "-t3", "-c33", "-d" + d.String(), "--latency", "-s", ct.spread}
		}
		if ck := c.cookie[ct.t.Name]; ck != "" {
			args = append(args, "-H", "Cookie: "+ck)
		}
		args = append(args, ct.urls[0])
		var cpu0, cpu1 time.Duration
		var rcpu0, rcpu1 time.Duration
		var cerr error
		for _, pid := range ct.pids() {
			t, err := cpuTime(pid)
			cpu0 += t
			cerr = errors.Join(cerr, err)
		}
		rcpu0, rerr := cpuTime(rpid)
		out, _, err := runCmd(ctx, d+20*time.Second, "", nil, args...)
		if err != nil {
			return wrkResult{}, fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, pid := range ct.pids() {
			t, err := cpuTime(pid)
			cpu1 += t
			cerr = errors.Join(cerr, err)
		}
		rcpu1, rerr1 := cpuTime(rpid)
		r, err := parseWrk(out)
		if err == nil && cerr == nil && r.Requests > 0 {
			r.CPUSeconds = (cpu1 - cpu0).Seconds()
			r.CPUPerReq = r.CPUSeconds * 1e6 / float64(r.Requests)
			if ct.t.Name != "memory" && rerr == nil && rerr1 == nil {
				r.StoreCPUSeconds = (rcpu1 - rcpu0).Seconds()
			}
		}
		return r, err
	}
	for _, c := range tp.Cases {
		for _, ct := range cts {
			if _, err := wrk(ct, c, time.Second); err != nil {
				return tp, err
			}
		}
	}
	for rep := 1; rep <= cfg.reps; rep++ {
		order := append(slices.Clone(cts[rep%len(cts):]), cts[:rep%len(cts)]...)
		for _, c := range tp.Cases {
			for _, ct := range order {
				if err := ctx.Err(); err != nil {
					return tp, err
				}
				r, err := wrk(ct, c, cfg.wrkDuration)
				if err != nil {
					return tp, err
				}
				tp.cell(ct.t.Name, c.Name).Runs = append(tp.cell(ct.t.Name, c.Name).Runs, r)
				fmt.Fprintf(log, "  round %d %-8s %-6s %9.0f req/s  p50 %-9s p99 %-9s serve CPU %5.1f µs/req  redis CPU %5.1f µs/req  non-2xx %d  errors %d\n",
					rep, ct.t.Name, c.Name, r.RPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.CPUPerReq,
					r.StoreCPUSeconds*1e6/max(float64(r.Requests), 1), r.Non2xx, r.Errors)
				if r.Non2xx > 0 || r.Errors > 0 {
					tp.Notes = append(tp.Notes, fmt.Sprintf("round %d, %s, %s: %d non-2xx, %d socket errors", rep, ct.t.Name, c.Name, r.Non2xx, r.Errors))
				}
			}
		}
	}
	for _, ct := range cts {
		var sum int64
		for _, pid := range ct.pids() {
			if rss, err := vmRSS(pid); err == nil {
				sum += rss
			}
		}
		tp.RSSAfter[ct.t.Name] = sum
	}
	if rss, err := vmRSS(rpid); err == nil {
		tp.RSSAfter["redis-server"] = rss
	}
	return tp, nil
}

// clusterStorms runs the storm on one in-memory reference, then on three
// replicas on Redis.
func clusterStorms(ctx context.Context, cfg *config, log io.Writer, store func(int) string, res *clusterResult) error {
	var failed []string
	for _, k := range []struct {
		impl, desc string
		n          int
		args       func(int) []string
	}{
		{"memory", "one in-memory reference, `serve --fake-clock`", 1, func(int) []string { return []string{"--fake-clock"} }},
		{"cluster3", "three replicas on one Redis, `serve --store --fake-clock` ×3", 3, func(i int) []string {
			return []string{"--fake-clock", "--store", store(3), "--replica-name", fmt.Sprintf("s%d", i+1)}
		}},
	} {
		if err := ctx.Err(); err != nil {
			return err
		}
		run := clusterStormRun{Impl: k.impl, Desc: k.desc, N: cfg.clusterStormN, Replicas: k.n}
		err := clusterStorm(ctx, cfg, log, &run, k.args, res)
		if err != nil {
			run.Err = err.Error()
		} else if !run.ExactlyOnce() {
			run.Err = fmt.Sprintf("NOT exactly once: %d missing, %d doubled, %d unknown of %d", run.Missing, run.Doubled, run.Unknown, run.N)
		}
		if run.Err != "" {
			fmt.Fprintf(log, "  storm %-8s FAILED: %s\n", k.impl, run.Err)
			failed = append(failed, k.impl+": "+firstLine(run.Err))
		}
		res.Storm = append(res.Storm, run)
	}
	if len(failed) > 0 {
		return fmt.Errorf("expiry storm: %s", strings.Join(failed, "; "))
	}
	return nil
}

// The storm's bounds.
const (
	stormWorkers     = 32
	stormSetupBound  = 4 * time.Minute
	stormAdvanceWait = 2 * time.Minute  // for every replica to answer the advance
	stormFeedWait    = 30 * time.Second // after that, for the union to be complete
	stormAdvance     = "901s"           // the default timeout, 900 s, and a second
)

func clusterStorm(ctx context.Context, cfg *config, log io.Writer, run *clusterStormRun, args func(int) []string, res *clusterResult) error {
	var procs []*proc
	var urls []string
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	for i := range run.Replicas {
		p, u, cmd, err := startServe(cfg, fmt.Sprintf("storm-%s-%d", run.Impl, i+1), args(i)...)
		res.StormCmds = append(res.StormCmds, cmd)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		urls = append(urls, u)
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2 * stormWorkers, MaxIdleConnsPerHost: stormWorkers, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()

	// Setup: N × GET /logme without a cookie, request i on replica i mod R.
	sctx, cancel := context.WithTimeout(ctx, stormSetupBound)
	defer cancel()
	uids := make([]string, run.N)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	t0 := time.Now()
	for range stormWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= run.N || sctx.Err() != nil {
					return
				}
				uid, err := logMe(sctx, client, urls[i%len(urls)])
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				uids[i] = uid
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("making sessions: %v", firstErr)
	}
	if err := sctx.Err(); err != nil {
		return fmt.Errorf("making %d sessions: not done within %s", run.N, stormSetupBound)
	}
	run.SetupSeconds = time.Since(t0).Seconds()
	run.SetupRPS = float64(run.N) / run.SetupSeconds
	made := make(map[string]int, run.N)
	for _, u := range uids {
		made[u] = 0
	}
	if len(made) != run.N {
		return fmt.Errorf("%d sessions made, only %d distinct uids", run.N, len(made))
	}
	fmt.Fprintf(log, "  storm %-8s %s sessions registered by GET /logme over %d replica(s) in %.1fs (%.0f/s)\n",
		run.Impl, human(run.N), len(urls), run.SetupSeconds, run.SetupRPS)

	// The storm: one advance past the timeout, posted to every replica at once.
	actx, acancel := context.WithTimeout(ctx, stormAdvanceWait)
	defer acancel()
	errs := make([]error, len(urls))
	t0 = time.Now()
	for i, u := range urls {
		wg.Go(func() { errs[i] = advanceClock(actx, u, stormAdvance) })
	}
	wg.Wait()
	run.AdvanceSeconds = time.Since(t0).Seconds()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("advance: %v", err)
	}
	deadline := time.Now().Add(stormFeedWait)
	for {
		run.FeedReads++
		counts := make(map[string]int, run.N)
		run.PerReplica = run.PerReplica[:0]
		var note string
		for _, u := range urls {
			n, why, err := readFeed(ctx, u, counts)
			if err != nil {
				return fmt.Errorf("GET %sexpired: %v", u, err)
			}
			if why != "" && note == "" {
				note = why
			}
			run.PerReplica = append(run.PerReplica, n)
		}
		run.Lines, run.Distinct, run.Missing, run.Doubled, run.Unknown = 0, len(counts), 0, 0, 0
		for uid, n := range counts {
			run.Lines += n
			if _, ok := made[uid]; !ok {
				run.Unknown++
			} else if n > 1 {
				run.Doubled++
			}
		}
		for uid := range made {
			if counts[uid] == 0 {
				run.Missing++
			}
		}
		if run.Missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			run.CompleteSeconds = time.Since(t0).Seconds()
			if run.Missing > 0 {
				return fmt.Errorf("%d of %d notifications not in the union of the feeds %s after the advance (%s)",
					run.Missing, run.N, time.Since(t0).Round(time.Millisecond), note)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(log, "  storm %-8s advance answered by every replica after %.3fs; every notification in the union after %.3fs (%d read(s)); per replica %v; lines %d, distinct %d, missing %d, doubled %d, unknown %d\n",
		run.Impl, run.AdvanceSeconds, run.CompleteSeconds, run.FeedReads, run.PerReplica, run.Lines, run.Distinct, run.Missing, run.Doubled, run.Unknown)
	return nil
}

// logMe registers a new session by GET /logme and returns its uid.
func logMe(ctx context.Context, client *http.Client, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"logme", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %slogme: status %d: %s", base, resp.StatusCode, firstLine(string(b)))
	}
	rest, ok := strings.CutPrefix(string(b), "Session ")
	uid, _, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 || len(uid) != 64 || resp.Header.Get("Set-Cookie") == "" {
		return "", fmt.Errorf("GET %slogme: no new session in %q", base, firstLine(string(b)))
	}
	return uid, nil
}

func advanceClock(ctx context.Context, base, d string) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"_clock?advance="+d, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s_clock?advance=%s: status %d: %s", base, d, resp.StatusCode, firstLine(string(b)))
	}
	return nil
}

// readFeed reads a replica's whole /expired feed into counts and returns
// its lines, and its first comment line if any (a dropped line, the
// store unavailable mid-answer).
func readFeed(ctx context.Context, base string, counts map[string]int) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"expired", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	n, note := 0, ""
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			if note == "" {
				note = line
			}
		default:
			counts[line]++
			n++
		}
	}
	return n, note, sc.Err()
}
