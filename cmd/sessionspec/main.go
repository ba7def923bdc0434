// Command sessionspec checks an HTTP session implementation against the
// behaviour Twisted Web documents, and serves the reference
// implementation.
//
//	sessionspec serve [flags]        run the reference session server
//	sessionspec check [URL] [flags]  run the conformance suite against URL
//
// Exit codes: 0 pass, 1 conformance failure, 2 harness or target error
// (including a bad flag).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
  sessionspec check [URL] [flags]   (sessionspec check --help lists the flags)
  sessionspec host MODULE.wasm [--addr 127.0.0.1:0] [--timeout D] [-- guest args]   (a wasip1 server on a virtual clock)

serve runs the reference session server; check runs the conformance suite
against URL, or against an embedded reference server when URL is omitted.
Exit codes: 0 pass, 1 conformance failure, 2 harness or target error.
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
