// Command sessionspec checks an HTTP session implementation against the
// behaviour Twisted Web documents, and serves the reference
// implementation.
//
//	sessionspec serve [flags]        run the reference session server
//	sessionspec check [URL] [flags]  run the conformance suite against URL
//	sessionspec list [--json]        print the catalogue of cases
//	sessionspec peers                list the peers' manifests (targets/*/peer.json)
//	sessionspec --version            print the tool's and the catalogue's versions
//
// Exit codes: 0 pass, 1 conformance failure, 2 harness or target error
// (including a bad flag), 3 incomplete (a MUST case could not run).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/spec"
)

// Exit codes, the same for every subcommand.
const (
	exitOK      = 0
	exitFail    = 1
	exitHarness = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  sessionspec serve [--addr 127.0.0.1:8080] [--timeout 900s] [--fake-clock] [--max-sessions N]
                    [--store redis://HOST:PORT/DB [--replica-name NAME] [--replica URL ...]]   (a replica of a site in Redis)
  sessionspec check [URL] [flags]   (sessionspec check --help lists the flags)
  sessionspec host MODULE.wasm [--addr 127.0.0.1:0] [--timeout D] [-- guest args]   (a wasip1 server on a virtual clock)
  sessionspec list [--json]         the catalogue: ID, level, area, title, source, seed
  sessionspec replay [URL] [--out reports/replay]   the seeds' walk-throughs in headless Chromium, one page each
  sessionspec check --target targets/NAME[:MODE] [--install] [flags]   (a peer from its manifest, targets/README.md)
  sessionspec peers [--stage S] [--names] | peers install [NAME...]   (the peers' manifests, targets/*/peer.json)
  sessionspec --version

serve runs the reference session server; check runs the conformance suite
against URL, or against an embedded reference server when URL is omitted.
Exit codes: 0 pass, 1 conformance failure, 2 harness or target error,
3 incomplete (a MUST case could not run).
`

// run is the whole command, minus the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitHarness
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check":
		return check(ctx, args[1:], stdout, stderr)
	case "host":
		return host(ctx, args[1:], stdout, stderr)
	case "replay":
		return replay(ctx, args[1:], stdout, stderr)
	case "list":
		return list(args[1:], stdout, stderr)
	case "peers":
		return peers(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "sessionspec %s, catalogue %s (%d cases)\n", spec.Version, spec.CatalogueVersion(allCases()), len(allCases()))
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "sessionspec: unknown command %q\n%s", args[0], usage)
		return exitHarness
	}
}

// parseInterspersed parses fs from args, letting flags come before or
// after the positional arguments, which it returns in order.
// parseURLAndFlags parses args, flags before or after at most one URL,
// and returns the URL ("" without one) and the names of the flags set.
func parseURLAndFlags(fs *flag.FlagSet, args []string) (string, map[string]bool, error) {
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(positional) > 1 {
		return "", nil, fmt.Errorf("want at most one URL, got %q", positional)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(positional) == 1 {
		return positional[0], set, nil
	}
	return "", set, nil
}

func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// allCases is every case the tool knows: the HTTP cases, then the browser
// cases.
func allCases() []spec.Case { return append(spec.Cases(), browser.Catalogue()...) }

// list prints the catalogue without running anything.
func list(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sessionspec list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the catalogue as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitHarness
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessionspec list: unexpected argument %q (see sessionspec list --help)\n", fs.Arg(0))
		return exitHarness
	}
	cases := allCases()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Version   string      `json:"version"`
			Catalogue string      `json:"catalogue"`
			Cases     []spec.Case `json:"cases"`
		}{spec.Version, spec.CatalogueVersion(cases), cases})
		return exitOK
	}
	fmt.Fprintf(stdout, "sessionspec %s, catalogue %s: %d cases\n", spec.Version, spec.CatalogueVersion(cases), len(cases))
	for _, c := range cases {
		fmt.Fprintf(stdout, "\n%-11s %-8s %-11s %s\n", c.ID, c.Level, c.Area, c.Title)
		fmt.Fprintf(stdout, "            source: %s\n", c.Source)
		if c.Seed != "" {
			fmt.Fprintf(stdout, "            seed:   %q\n", c.Seed)
		}
	}
	return exitOK
}
