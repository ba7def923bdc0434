package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A server under load: how to start it and where it listens.
type target struct {
	Name string // reference, twisted, bare
	Desc string
	Cmd  string
	argv func(port int) []string
	env  []string
	p    *proc
	url  string
}

// wrkResult is one wrk run.
type wrkResult struct {
	RPS             float64
	P50, P99        time.Duration
	Requests        int
	Seconds         float64 // the run's length as wrk reports it
	CPUSeconds      float64 // server CPU time over the run
	BytesPerReq     float64
	Non2xx, Errors  int
	CPUPerReq       float64 // server CPU time (user+system) per request, µs
	StoreCPUSeconds float64 // redis-server's CPU time over the run (the cluster section)
	Raw             string
}

// cpuTime reads a process's user+system CPU time from /proc.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	f := strings.Fields(rest) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reLat      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	reReqs     = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(s|m|ms), ([0-9.]+)(B|KB|MB|GB) read`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSockErrs = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func parseWrk(out string) (wrkResult, error) {
	r := wrkResult{Raw: out}
	m := reRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range reLat.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9}[m[3]]
		d := time.Duration(v * unit)
		if m[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if m := reReqs.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.Atoi(m[1])
		secs, _ := strconv.ParseFloat(m[2], 64)
		r.Seconds = secs * map[string]float64{"s": 1, "m": 60, "ms": 1e-3}[m[3]]
		v, _ := strconv.ParseFloat(m[4], 64)
		v *= map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m[5]]
		if r.Requests > 0 {
			r.BytesPerReq = v / float64(r.Requests)
		}
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.Atoi(m[1])
	}
	if m := reSockErrs.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.Errors += n
		}
	}
	return r, nil
}

// session fetches url without a cookie and returns the cookie it got
// (name=value) and the body.
func fetchSession(url, cookie string) (setCookie, body string, err error) {
	req, _ := http.NewRequest("GET", url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", "", fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	c, _, _ := strings.Cut(resp.Header.Get("Set-Cookie"), ";")
	return c, string(b), nil
}

type tpCase struct {
	Name   string // "cookie" or "new"
	Desc   string
	cookie map[string]string // per target: the Cookie header to send
}

type tpCell struct {
	Runs []wrkResult
}

func (c *tpCell) rps() stats {
	var xs []float64
	for _, r := range c.Runs {
		xs = append(xs, r.RPS)
	}
	return summarize(xs)
}

// pooled is the cell's rate over all its rounds together: requests
// served over the time served, and server CPU over requests. Rounds are
// interleaved, so the machine's ups and downs fall on every server alike,
// and a cost that comes in lumps (a collection over a million live
// sessions) is counted at its average, as a long-running server pays it.
func (c *tpCell) pooled() (rps, cpuPerReq float64) {
	var req, secs, cpu float64
	for _, r := range c.Runs {
		req += float64(r.Requests)
		secs += r.Seconds
		cpu += r.CPUSeconds
	}
	if secs == 0 || req == 0 {
		return math.NaN(), math.NaN()
	}
	return req / secs, cpu * 1e6 / req
}

func (c *tpCell) cpu() stats {
	var xs []float64
	for _, r := range c.Runs {
		if r.CPUPerReq > 0 {
			xs = append(xs, r.CPUPerReq)
		}
	}
	return summarize(xs)
}

func (c *tpCell) lat(p99 bool) stats {
	var xs []float64
	for _, r := range c.Runs {
		d := r.P50
		if p99 {
			d = r.P99
		}
		xs = append(xs, float64(d)/1e3) // µs
	}
	return summarize(xs)
}

type throughputResult struct {
	Targets  []*target
	Cases    []*tpCase
	Cells    map[string]*tpCell // target/case
	WrkArgs  []string
	Reps     int
	Duration time.Duration
	Notes    []string
	Commands []string
	RSSAfter map[string]int64
	Skipped  map[string]string // target -> why
}

func (t *throughputResult) cell(target, c string) *tpCell {
	k := target + "/" + c
	if t.Cells[k] == nil {
		t.Cells[k] = &tpCell{}
	}
	return t.Cells[k]
}

// runThroughput starts the three servers and runs wrk against each in
// turn, interleaved, reps times per configuration.
func runThroughput(ctx context.Context, cfg *config, log io.Writer) (*throughputResult, error) {
	res := &throughputResult{Cells: map[string]*tpCell{}, Reps: cfg.reps, Duration: cfg.wrkDuration,
		RSSAfter: map[string]int64{}, Skipped: map[string]string{}}
	res.WrkArgs = []string{"-t2", "-c32", "-d" + cfg.wrkDuration.String(), "--latency"}
	rp, err := buildRefprogs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	targets := []*target{
		{Name: "reference", Desc: "`bin/sessionspec serve` (real clock, 900 s timeout)",
			argv: func(p int) []string {
				return []string{cfg.sessionspec, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", p)}
			}},
		{Name: "twisted", Desc: "Twisted 22.4 `targets/twisted/seedsite.py` (real reactor, 900 s)",
			argv: func(p int) []string {
				return []string{cfg.python, cfg.root + "/targets/twisted/seedsite.py", "--port", strconv.Itoa(p)}
			}},
		{Name: "bare", Desc: "bare net/http handler, same bytes, no session work",
			argv: func(p int) []string {
				return []string{cfg.self, "child", "bare", "-addr", fmt.Sprintf("127.0.0.1:%d", p)}
			}},
	}
	if rp.before != "" {
		targets = append(targets, &target{Name: "before", Desc: "the reference before this work (commit " + beforeCommit[:7] + "), `bin/refprog-before serve`",
			argv: func(p int) []string {
				return []string{rp.before, "serve", "-addr", fmt.Sprintf("127.0.0.1:%d", p)}
			}})
	} else {
		res.Skipped["before"] = rp.beforeErr
	}
	defer func() {
		for _, t := range targets {
			if t.p != nil {
				t.p.Stop()
			}
		}
	}()
	for _, t := range targets {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		argv := t.argv(port)
		t.Cmd = displayCmd(cfg, argv)
		res.Commands = append(res.Commands, t.Cmd)
		p, err := start(t.Name, t.env, nil, argv...)
		if err != nil {
			res.Skipped[t.Name] = err.Error()
			continue
		}
		t.p = p
		t.url = fmt.Sprintf("http://127.0.0.1:%d/", port)
		if err := waitHTTP(t.url+".well-known/sessionspec", 20*time.Second); err != nil {
			res.Skipped[t.Name] = err.Error()
			p.Stop()
			t.p = nil
			continue
		}
		res.Targets = append(res.Targets, t)
	}
	if len(res.Targets) == 0 {
		return nil, fmt.Errorf("no server started: %v", res.Skipped)
	}

	withCookie := &tpCase{Name: "cookie", Desc: "GET / with a valid cookie (lookup + refresh)", cookie: map[string]string{}}
	newSess := &tpCase{Name: "new", Desc: "GET / without a cookie (a new session per request)", cookie: map[string]string{}}
	res.Cases = []*tpCase{withCookie, newSess}
	for _, t := range res.Targets {
		c, body, err := fetchSession(t.url, "")
		if err != nil || c == "" {
			return nil, fmt.Errorf("%s: no session cookie from GET / (%v)", t.Name, err)
		}
		// The cookie must be honoured: same id, no new cookie.
		c2, body2, err := fetchSession(t.url, c)
		if err != nil {
			return nil, err
		}
		if t.Name != "bare" && (c2 != "" || body2 != body) {
			return nil, fmt.Errorf("%s: the cookie %s was not honoured (got %q, %q)", t.Name, c, c2, body2)
		}
		withCookie.cookie[t.Name] = c
		fmt.Fprintf(log, "  %s at %s: %q\n", t.Name, t.url, body)
	}

	wrk := func(t *target, c *tpCase, d time.Duration) (wrkResult, error) {
		args := []string{"wrk", "-t2", "-c32", "-d" + d.String(), "--latency"}
		if ck := c.cookie[t.Name]; ck != "" {
			args = append(args, "-H", "Cookie: "+ck)
		}
		args = append(args, t.url)
		pid := t.p.cmd.Process.Pid
		cpu0, cerr := cpuTime(pid)
		out, _, err := runCmd(ctx, d+20*time.Second, "", nil, args...)
		if err != nil {
			return wrkResult{}, fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		cpu1, cerr1 := cpuTime(pid)
		r, err := parseWrk(out)
		if err == nil && cerr == nil && cerr1 == nil && r.Requests > 0 {
			r.CPUSeconds = (cpu1 - cpu0).Seconds()
			r.CPUPerReq = r.CPUSeconds * 1e6 / float64(r.Requests)
		}
		return r, err
	}
	// Warm up each configuration once (JIT-free, but caches, connection
	// pools, the runtime's heap and Python's allocator settle).
	for _, c := range res.Cases {
		for _, t := range res.Targets {
			if _, err := wrk(t, c, time.Second); err != nil {
				return nil, err
			}
		}
	}
	for rep := 1; rep <= cfg.reps; rep++ {
		// The order of the servers turns by one each round, so that none
		// always runs first, or right after the same other one.
		order := append(slices.Clone(res.Targets[rep%len(res.Targets):]), res.Targets[:rep%len(res.Targets)]...)
		for _, c := range res.Cases {
			for _, t := range order {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				r, err := wrk(t, c, cfg.wrkDuration)
				if err != nil {
					return nil, err
				}
				res.cell(t.Name, c.Name).Runs = append(res.cell(t.Name, c.Name).Runs, r)
				fmt.Fprintf(log, "  round %d %-9s %-6s %9.0f req/s  p50 %-9s p99 %-9s %6.0f B/resp  server CPU %5.1f µs/req  non-2xx %d  errors %d\n",
					rep, t.Name, c.Name, r.RPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.BytesPerReq, r.CPUPerReq, r.Non2xx, r.Errors)
			}
		}
	}
	for _, t := range res.Targets {
		if rss, err := vmRSS(t.p.cmd.Process.Pid); err == nil {
			res.RSSAfter[t.Name] = rss
		}
	}
	return res, nil
}
