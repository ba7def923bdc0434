package redistest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/internal/redistest"
)

// rawCommand sends one inline command and returns the reply's first line.
func rawCommand(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "%s\r\n", cmd)
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimSpace(string(buf[:n]))
}

func TestStartPingStop(t *testing.T) {
	srv := redistest.New(t)
	if !strings.HasPrefix(srv.URL, "redis://127.0.0.1:") || !strings.HasSuffix(srv.URL, "/0") {
		t.Fatalf("URL %q", srv.URL)
	}
	if got := rawCommand(t, srv.Addr, "PING"); got != "+PONG" {
		t.Fatalf("PING: %q", got)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		t.Fatal("the server still answers after Stop")
	}
	if err := srv.Stop(); err != nil { // the Cleanup's second Stop is harmless
		t.Fatal(err)
	}
}

// Two servers at once get two ports; a port taken by one is not given
// to the other.
func TestTwoServers(t *testing.T) {
	a, b := redistest.New(t), redistest.New(t)
	if a.Addr == b.Addr {
		t.Fatalf("both on %s", a.Addr)
	}
	rawCommand(t, a.Addr, "SET k a")
	if got := rawCommand(t, b.Addr, "GET k"); got != "$-1" {
		t.Fatalf("b sees a's key: %q", got)
	}
}

// Shutdown saves the data; Restart brings it back on the same address.
func TestShutdownRestartKeepsData(t *testing.T) {
	srv := redistest.New(t)
	ctx := context.Background()
	rawCommand(t, srv.Addr, "SET k kept")
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		t.Fatal("the server still answers after Shutdown")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rawCommand(t, srv.Addr, "GET k"); !strings.Contains(got, "kept") {
		t.Fatalf("after Restart GET k = %q", got)
	}
}

func ExampleStart() {
	dir, _ := os.MkdirTemp("", "redis")
	defer os.RemoveAll(dir)
	srv, err := redistest.Start(context.Background(), dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop()
	fmt.Println(strings.HasPrefix(srv.URL, "redis://127.0.0.1:"))
	// Output: true
}
