//go:build wasip1

// Command clockguest is the wasmhost tests' guest: a tiny HTTP server on
// the preopened fd 3 that shows what the guest's clocks and timers do. It
// speaks just enough HTTP/1.1 (one request per connection) and leaves
// net/http out, so that the module is small and compiles fast, even under
// the race detector.
//
//	/now             time.Now, RFC 3339 with nanoseconds
//	/since           time.Since(program start), in nanoseconds
//	/timer?d=D&name=N&n=K&every=E
//	                 time.AfterFunc(D) that records "N@time" and, K-1 more
//	                 times, re-arms itself E later
//	/fired           the records, one per line
//	/sleep?d=D       sleeps D in the handler, then answers time.Now
//	/big?n=N         N bytes (more than a socket buffer holds: the guest
//	                 must wait until its socket is writable)
//	/rand            16 bytes from crypto/rand, in hex
//	/exit?code=C     exits with code C
//	/panic           panics in a new goroutine
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	start = time.Now()
	mu    sync.Mutex
	fired []string
)

func main() {
	if err := syscall.SetNonblock(3, true); err != nil {
		panic(err)
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		panic(err)
	}
	os.Stderr.WriteString("clockguest: serving on fd 3\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		head = append(head, buf[:n]...)
	}
	fields := strings.Fields(string(head[:bytes.IndexByte(head, '\n')]))
	if len(fields) < 2 {
		return
	}
	u, err := url.ParseRequestURI(fields[1])
	if err != nil {
		return
	}
	status, body := handle(u.Path, u.Query())
	c.Write([]byte("HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body))
}

func handle(path string, q url.Values) (status, body string) {
	switch path {
	case "/now":
		return "200 OK", stamp(time.Now())
	case "/since":
		return "200 OK", strconv.FormatInt(int64(time.Since(start)), 10)
	case "/timer":
		d, _ := time.ParseDuration(q.Get("d"))
		every, _ := time.ParseDuration(q.Get("every"))
		n, _ := strconv.Atoi(q.Get("n"))
		name := q.Get("name")
		var f func()
		f = func() {
			mu.Lock()
			fired = append(fired, name+"@"+stamp(time.Now()))
			mu.Unlock()
			if n--; n > 0 {
				time.AfterFunc(every, f)
			}
		}
		time.AfterFunc(d, f)
		return "200 OK", stamp(time.Now())
	case "/fired":
		mu.Lock()
		defer mu.Unlock()
		return "200 OK", strings.Join(fired, "\n")
	case "/sleep":
		d, _ := time.ParseDuration(q.Get("d"))
		time.Sleep(d)
		return "200 OK", stamp(time.Now())
	case "/big":
		n, _ := strconv.Atoi(q.Get("n"))
		return "200 OK", strings.Repeat("x", n)
	case "/rand":
		var b [16]byte
		rand.Read(b[:])
		return "200 OK", hex.EncodeToString(b[:])
	case "/exit":
		code, _ := strconv.Atoi(q.Get("code"))
		os.Exit(code)
	case "/panic":
		go func() { panic("clockguest: boom") }()
		return "200 OK", "ok"
	}
	return "404 Not Found", "not found"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
