package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/internal/peer"
	"github.com/sessionspec/sessionspec/spec"
)

// checkTarget is `sessionspec check --target targets/NAME[:MODE] [flags]`:
// the peer's manifest (internal/peer) says how to install, build and start
// it; the peer binds port 0 and announces its URL; the check runs with the
// mode's expectations and flags; everything started is stopped, always.
func checkTarget(ctx context.Context, c checkConfig, args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	code, name, reports, err := runTarget(ctx, c, args, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec check: %v\n", err)
	}
	if name != "" {
		fmt.Fprintf(stdout, "%s: exit %d in %.1fs wall time%s\n", name, code, time.Since(start).Seconds(), reports)
	}
	return code
}

// peerValues are what every peer's placeholders share: the repository's bin/
// (beside targets/) and this binary.
func peerValues(m *peer.Manifest, r *peer.Run) (peer.Values, error) {
	root := filepath.Dir(filepath.Dir(m.Dir))
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return peer.Values{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return peer.Values{}, err
	}
	return peer.Values{Dir: m.Dir, Bin: bin, Sessionspec: exe, Timeout: r.Timeout, Mode: r.Mode}, nil
}

// relPath is p relative to the current directory when it lies below it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func runTarget(ctx context.Context, c checkConfig, args []string, stdout, stderr io.Writer) (code int, name, reports string, err error) {
	if c.url != "" || c.run != "" {
		return exitHarness, "", "", errors.New("--target starts the peer itself: give no URL and no --run")
	}
	dir, mode := peer.SplitTarget(c.target)
	m, err := peer.Load(dir)
	if err != nil {
		return exitHarness, "", "", fmt.Errorf("--target: %v", err)
	}
	r, err := m.Resolve(mode)
	if err != nil {
		return exitHarness, "", "", fmt.Errorf("--target: %v", err)
	}
	label := fmt.Sprintf("%s (%s)", m.Name, r.Mode)
	if c.set["timeout"] && c.timeout != r.Timeout {
		if r.TimeoutFixed() {
			return exitHarness, label, "", fmt.Errorf("--timeout %s: %s starts %s with a fixed timeout of %s (its start command takes none)", c.timeout, m.File, r.Mode, r.Timeout)
		}
		r.Timeout = c.timeout
	}
	vals, err := peerValues(m, r)
	if err != nil {
		return exitHarness, label, "", err
	}

	if c.install {
		if err := m.InstallMissing(ctx, stdout); err != nil {
			return exitHarness, label, "", err
		}
	} else if err := m.CheckInstalled(); err != nil {
		return exitHarness, label, "", err
	}
	versions, err := m.VersionsLine(ctx, vals)
	if err != nil {
		return exitHarness, label, "", err
	}
	fmt.Fprintf(stdout, "%s: %s; %s, %s\n", label, versions, r.About, r.Kind)
	if err := m.RunBuild(ctx, vals); err != nil {
		return exitHarness, label, "", err
	}

	// Services first, stopped last.
	for _, s := range r.Services {
		svc, err := peer.StartService(ctx, s)
		if err != nil {
			return exitHarness, label, "", err
		}
		defer func() {
			if err := svc.Stop(); err != nil {
				fmt.Fprintf(stderr, "sessionspec: %s: stopping %s: %v\n", label, s, err)
			}
		}()
		if s == "redis" {
			vals.Redis = svc.URL()
		}
	}

	// The replicas, each on a port it chose; stopped together, always.
	var procs []*targetProcess
	defer func() {
		start := time.Now()
		stopAll(procs)
		if len(procs) > 0 {
			fmt.Fprintf(stdout, "%s: stopped in %.1fs: %s\n", label, time.Since(start).Seconds(), howEnded(procs))
		}
	}()
	var urls []string
	for i := range r.Replicas {
		v := vals
		v.Replica = i
		cmd, err := v.Shell(r.Start)
		if err != nil {
			return exitHarness, label, "", fmt.Errorf("%s: start: %v", m.File, err)
		}
		who := label
		if r.Replicas > 1 {
			who = fmt.Sprintf("%s replica %d", label, i)
		}
		p, err := spawnTarget(cmd, m.Dir, nil, stderr, c.verbose)
		if err != nil {
			return exitHarness, label, "", fmt.Errorf("%s: %v", who, err)
		}
		procs = append(procs, p)
		deadline := time.Now().Add(c.startTimeout) // for the announcement and the first answer together
		u, err := p.waitAnnounced(ctx, c.startTimeout)
		if err != nil {
			return exitHarness, label, "", fmt.Errorf("%s: %v", who, err)
		}
		t, err := spec.NewTarget(u)
		if err != nil {
			return exitHarness, label, "", fmt.Errorf("%s: %v", who, err)
		}
		if err := p.waitReady(ctx, t, time.Until(deadline)); err != nil {
			return exitHarness, label, "", fmt.Errorf("%s: %v", who, err)
		}
		p.remember()
		urls = append(urls, u)
	}

	// The check's own arguments: the mode's flags, the defaults, then the
	// command line's (later flags win), the URL and the other replicas.
	var a []string
	for _, f := range r.Flags {
		v, err := vals.Arg(f)
		if err != nil {
			return exitHarness, label, "", fmt.Errorf("%s: modes.%s.flags: %v", m.File, r.Mode, err)
		}
		a = append(a, v)
	}
	if r.Expect != "" && !c.set["expect"] {
		a = append(a, "--expect", relPath(r.Expect))
	}
	rdir := relPath(filepath.Join(filepath.Dir(filepath.Dir(m.Dir)), "reports"))
	if !c.set["json"] && !c.set["junit"] {
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return exitHarness, label, "", err
		}
		base := filepath.Join(rdir, r.Name())
		a = append(a, "--json", base+".json", "--junit", base+".xml")
		reports = fmt.Sprintf("; %s.{json,xml}", base)
	}
	if c.browser && !c.set["screenshots"] {
		a = append(a, "--screenshots", filepath.Join(rdir, "screenshots", r.Name()))
	}
	a = append(a, args...)
	a = append(a, urls[0])
	for _, u := range urls[1:] {
		a = append(a, "--replica", u)
	}
	c2, err := parseCheckFlags(a, stderr)
	if err != nil {
		return exitHarness, label, "", fmt.Errorf("%s: the check's flags %q: %v", m.File, a, err)
	}
	c2.procs = procs
	code, err = runCheck(ctx, c2, stdout, stderr)
	return code, label, reports, err
}

// howEnded says how each stopped replica's command exited ("exit status
// 0", "signal: terminated", …).
func howEnded(procs []*targetProcess) string {
	var out []string
	for i, p := range procs {
		how := "still running"
		select {
		case <-p.procDone:
			p.mu.Lock()
			how = "exit status 0"
			if p.err != nil {
				how = p.err.Error()
			}
			p.mu.Unlock()
		default:
		}
		if len(procs) > 1 {
			how = fmt.Sprintf("replica %d %s", i, how)
		}
		out = append(out, how)
	}
	return strings.Join(out, ", ")
}

// stopAll stops the processes at once, each within its bounds.
func stopAll(procs []*targetProcess) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
}

const peersUsage = `usage:
  sessionspec peers [--root DIR] [--stage STAGE] [--names] [--json]
  sessionspec peers install [--root DIR] [NAME...]

Lists the peers, DIR/targets/*/peer.json (default DIR: .), one line per
mode: targets/NAME:MODE, its kind, implementation and mode; --names prints
only targets/NAME:MODE (for sessionspec check --target), --stage only the
modes of that make test stage (test-twisted, test-targets). A broken
manifest is an error (exit 2), never skipped. install installs what each
peer (or each NAME) needs and is missing, and prints its versions line.
`

// peers is `sessionspec peers`.
func peers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "install" {
		return peersInstall(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("sessionspec peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, peersUsage); fs.PrintDefaults() }
	root := fs.String("root", ".", "the repository `directory` holding targets/")
	stage := fs.String("stage", "", "only the modes of this make test `stage`")
	names := fs.Bool("names", false, "print only targets/NAME:MODE, one a line")
	asJSON := fs.Bool("json", false, "print the manifests as JSON")
	markdown := fs.Bool("markdown", false, "print the modes as the Markdown table of README.md (make readme-peers)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitHarness
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessionspec peers: unexpected argument %q (see sessionspec peers --help)\n", fs.Arg(0))
		return exitHarness
	}
	ms, err := peer.List(*root)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec peers: %v\n", err)
		return exitHarness
	}
	if *stage != "" && !slices.Contains(peer.Stages, *stage) {
		fmt.Fprintf(stderr, "sessionspec peers: --stage %q, want one of %q\n", *stage, peer.Stages)
		return exitHarness
	}
	if *asJSON {
		type mj struct {
			Name string `json:"name"`
			*peer.Manifest
		}
		out := make([]mj, len(ms))
		for i, m := range ms {
			out[i] = mj{m.Name, m}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return exitOK
	}
	if *markdown {
		fmt.Fprint(stdout, peersMarkdown(ms))
		return exitOK
	}
	for _, m := range ms {
		for _, r := range m.Runs() {
			if *stage != "" && r.Stage != *stage {
				continue
			}
			if *names {
				fmt.Fprintln(stdout, r.Target())
				continue
			}
			var tags []string
			if r.Browser {
				tags = append(tags, "browser")
			}
			if r.Replicas > 1 {
				tags = append(tags, fmt.Sprintf("%d replicas", r.Replicas))
			}
			if len(r.Services) > 0 {
				tags = append(tags, strings.Join(r.Services, "+"))
			}
			if r.Stage != "" {
				tags = append(tags, "make "+r.Stage)
			}
			fmt.Fprintf(stdout, "%-30s %-26s %s: %s [%s]\n", r.Target(), r.Kind, m.Impl, r.About, strings.Join(tags, ", "))
		}
	}
	return exitOK
}

// peersInstall is `sessionspec peers install`: every peer's installs, one
// after another, each one's versions line after; a failure is said and
// the others still run; the exit is 2 if any failed.
func peersInstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sessionspec peers install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, peersUsage); fs.PrintDefaults() }
	root := fs.String("root", ".", "the repository `directory` holding targets/")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitHarness
	}
	ms, err := peer.List(*root)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec peers install: %v\n", err)
		return exitHarness
	}
	want := map[string]bool{}
	for _, n := range fs.Args() {
		if !slices.ContainsFunc(ms, func(m *peer.Manifest) bool { return m.Name == n }) {
			fmt.Fprintf(stderr, "sessionspec peers install: no peer %q in %s\n", n, filepath.Join(*root, "targets"))
			return exitHarness
		}
		want[n] = true
	}
	code := exitOK
	for _, m := range ms {
		if len(want) > 0 && !want[m.Name] {
			continue
		}
		err := m.InstallMissing(ctx, stdout)
		var versions string
		if err == nil {
			r, _ := m.Resolve("")
			var vals peer.Values
			if vals, err = peerValues(m, r); err == nil {
				versions, err = m.VersionsLine(ctx, vals)
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "sessionspec peers install: FAILED: %v\n", err)
			code = exitHarness
			if ctx.Err() != nil {
				return code
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", m.Name, versions)
	}
	return code
}

// peersMarkdown is the table of every mode of every peer, as README.md
// shows it between its peers markers.
func peersMarkdown(ms []*peer.Manifest) string {
	var b strings.Builder
	b.WriteString("| `--target` | kind | implementation | mode | expectations | make test |\n|---|---|---|---|---|---|\n")
	for _, m := range ms {
		for _, r := range m.Runs() {
			expect := "every MUST case"
			if r.Expect != "" {
				expect = "`" + filepath.ToSlash(filepath.Join(m.Name, filepath.Base(r.Expect))) + "`"
			}
			stage := ""
			if r.Stage != "" {
				stage = "`" + r.Stage + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", r.Target(), r.Kind, mdCell(m.Impl), mdCell(r.About), expect, stage)
		}
	}
	return b.String()
}

func mdCell(s string) string { return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s) }
