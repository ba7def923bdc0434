//go:build !wasm

package reference_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/reference"
)

// listen serves the reference through NewHTTPServer on loopback.
func listen(t *testing.T, tweak func(*http.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	site := reference.NewSite(reference.Config{Clock: fakeclock.NewFake(epoch)})
	hs := reference.NewHTTPServer("", reference.NewServer(site, nil))
	if tweak != nil {
		tweak(hs)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// rawStatus sends a raw request and returns the status line.
func rawStatus(t *testing.T, addr, request string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(conn, request) // the server may answer before reading it all
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

// Oversized headers get 431, not a silent disconnect (Twisted closes the
// connection on a line over 16 KiB). net/http allows 4 KiB of slack over
// MaxHeaderBytes, so the tests go well past it.
func TestOversizedHeadersGet431(t *testing.T) {
	addr := listen(t, nil)
	line := "GET / HTTP/1.1\r\nHost: x\r\nCookie: TWISTED_SESSION=" + strings.Repeat("a", 40<<10) + "\r\n\r\n"
	if got := rawStatus(t, addr, line); !strings.Contains(got, "431") {
		t.Errorf("one 40 KiB header line: %q, want 431", got)
	}
	var block strings.Builder
	block.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
	for i := range 40 {
		fmt.Fprintf(&block, "X-Filler-%d: %s\r\n", i, strings.Repeat("b", 1000))
	}
	block.WriteString("\r\n")
	if got := rawStatus(t, addr, block.String()); !strings.Contains(got, "431") {
		t.Errorf("a 40 KiB header block: %q, want 431", got)
	}
	if got := rawStatus(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: TWISTED_SESSION=junk\r\n\r\n"); !strings.Contains(got, "200") {
		t.Errorf("duplicated Cookie headers: %q, want 200", got)
	}
}

// A client that never finishes its headers is cut off by the header
// timeout. The timeout is shortened here; this waits on net/http's own
// timer, which no fake clock drives.
func TestSlowClientIsCutOff(t *testing.T) {
	addr := listen(t, func(hs *http.Server) { hs.ReadHeaderTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and nothing more
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the connection was not closed by the server: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("closed after %s", took)
	}
}

func TestHTTPServerLimits(t *testing.T) {
	hs := reference.NewHTTPServer("127.0.0.1:0", http.NotFoundHandler())
	if hs.MaxHeaderBytes != 16<<10 || hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 {
		t.Fatalf("unbounded server: %+v", hs)
	}
}

// The most ids GET /expired takes fit within the header limit, with a
// browser's ordinary headers beside them: the answer is the feed's, never
// 431; one more id is a 400 with the reason.
func TestExpiredQueryFitsHeaderLimit(t *testing.T) {
	addr := listen(t, nil)
	ids := strings.TrimSuffix(strings.Repeat("id="+strings.Repeat("ab", 32)+"&", reference.MaxExpiredIDs), "&")
	headers := "Host: " + addr + "\r\nUser-Agent: " + strings.Repeat("x", 200) + "\r\nAccept: */*\r\nCookie: TWISTED_SESSION=" + strings.Repeat("0", 64) + "\r\n"
	if got := rawStatus(t, addr, "GET /expired?"+ids+" HTTP/1.1\r\n"+headers+"\r\n"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("%d ids: %q", reference.MaxExpiredIDs, got)
	}
	more := ids + "&id=" + strings.Repeat("cd", 32)
	if got := rawStatus(t, addr, "GET /expired?"+more+" HTTP/1.1\r\n"+headers+"\r\n"); got != "HTTP/1.1 400 Bad Request" {
		t.Fatalf("%d ids: %q", reference.MaxExpiredIDs+1, got)
	}
}
