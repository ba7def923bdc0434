//go:build !js && !wasip1

package spec

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A server that reads the first 4 KiB of a request, answers 431 and
// closes at once, as fasthttp does with a header too big for it: the
// suite must read the answer, however much of the request was still to
// be written. With net/http's 4 KiB write buffer an 8 KiB request went out
// in pieces, a later piece broke the pipe, and the answer was lost in
// about 2 requests of 100.
func TestAnswerToAnUnreadRequestIsRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.ReadFull(bufio.NewReaderSize(c, 4096), make([]byte, 4096))
				io.WriteString(c, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	target, err := NewTarget("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	client := target.client()
	cookie := "TWISTED_SESSION=" + strings.Repeat("a", 8192)
	const n = 3000
	lost := 0
	for range n {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", target.Resolve("/"), nil)
		req.Header.Set("Cookie", cookie)
		resp, err := client.Do(req)
		if err != nil {
			lost++
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d answers lost: the request was not written whole before the server closed", lost, n)
	}
}
