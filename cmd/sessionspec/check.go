package main

import (
	"context"
	"fmt"
	"io"
)

func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "sessionspec check: not implemented yet")
	return exitHarness
}
