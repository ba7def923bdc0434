package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/reference"
)

func TestServeFlagsRefuseBadTimeouts(t *testing.T) {
	for _, d := range []string{"0s", "-1s", "1ns", "999us", "8785h", "100000h"} {
		_, err := parseServeFlags([]string{"--timeout", d}, io.Discard)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--timeout") {
			t.Errorf("--timeout %s: %v, want a one-line error", d, err)
		}
	}
	for _, d := range []string{"1ms", "2s", "15m", "8784h"} {
		c, err := parseServeFlags([]string{"--timeout", d, "--addr", "127.0.0.1:0"}, io.Discard)
		if err != nil {
			t.Errorf("--timeout %s: %v", d, err)
			continue
		}
		rs, err := startReference(c, io.Discard)
		if err != nil {
			t.Errorf("--timeout %s: the reference refused it: %v", d, err)
			continue
		}
		rs.shutdown(5 * time.Second)
	}
	// A configuration made in code is checked too, with an error, not a
	// panic.
	if _, err := startReference(serveConfig{addr: "127.0.0.1:0", timeout: time.Microsecond}, io.Discard); err == nil {
		t.Error("startReference took a 1µs timeout")
	}
}

func TestServeMaxSessionsFlag(t *testing.T) {
	c, err := parseServeFlags(nil, io.Discard)
	if err != nil || c.maxSessions != reference.DefaultMaxSessions {
		t.Fatalf("default --max-sessions %d (%v), want %d", c.maxSessions, err, reference.DefaultMaxSessions)
	}
	for _, v := range []string{"-1", "1", "5000000"} {
		if _, err := parseServeFlags([]string{"--max-sessions", v}, io.Discard); err != nil {
			t.Errorf("--max-sessions %s: %v", v, err)
		}
	}
	for _, v := range []string{"0", "-2"} {
		if _, err := parseServeFlags([]string{"--max-sessions", v}, io.Discard); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("--max-sessions %s: %v, want a one-line error", v, err)
		}
	}
}

// The self-signed certificate serves for as long as a process can live:
// ten years from now, and from an hour ago.
func TestSelfSignedCertificateLivesLong(t *testing.T) {
	cert, err := loadOrMakeCert("", "")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if leaf.NotBefore.After(now.Add(-59*time.Minute)) || leaf.NotAfter.Before(now.Add(selfSignedLifetime-time.Minute)) {
		t.Fatalf("valid %s to %s; want from an hour ago to ten years on", leaf.NotBefore, leaf.NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, at := range []time.Time{now.Add(-30 * time.Minute), now.Add(24 * time.Hour), now.Add(9 * 365 * 24 * time.Hour)} {
		for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: at}); err != nil {
				t.Errorf("for %s at %s: %v", name, at.Format(time.DateOnly), err)
			}
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", CurrentTime: now.Add(11 * 365 * 24 * time.Hour)}); err == nil {
		t.Error("still valid in eleven years")
	}

	// And a client that trusts it talks to serve --tls.
	rs, err := startReference(serveConfig{addr: "127.0.0.1:0", timeout: time.Minute, tls: true}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.shutdown(5 * time.Second)
	served, _ := x509.ParseCertificate(rs.http.TLSConfig.Certificates[0].Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(served)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(rs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Set-Cookie"), "TWISTED_SECURE_SESSION=") {
		t.Fatalf("GET / over TLS: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

// stuckStdout lets serve's first line through, then blocks every write
// until released: a terminal scrolled back, a pipe nobody reads.
type stuckStdout struct {
	first   chan string
	release chan struct{}
	once    sync.Once
}

func (s *stuckStdout) Write(p []byte) (int, error) {
	sent := false
	s.once.Do(func() { s.first <- string(p); sent = true })
	if !sent {
		<-s.release
	}
	return len(p), nil
}

// serve never waits for stdout: with stdout stuck, expiries are logged in
// the feed as ever, the clock advances, serve stops when told, and it
// says on stderr how many lines it dropped.
func TestServeNeverBlocksOnStdout(t *testing.T) {
	defer func(q int, g time.Duration) { logQueueBytes, logGrace = q, g }(logQueueBytes, logGrace)
	logQueueBytes, logGrace = 4<<10, 100*time.Millisecond // room for about 47 lines
	stdout := &stuckStdout{first: make(chan string, 1), release: make(chan struct{})}
	defer close(stdout.release)
	var stderr strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() {
		exit <- serve(ctx, []string{"--fake-clock", "--timeout", "5s", "--addr", "127.0.0.1:0"}, stdout, &syncWriter{w: &stderr})
	}()
	var url string
	select {
	case line := <-stdout.first:
		m := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)/ .*at most 1000000 live sessions`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first line %q", line)
		}
		url = m[1]
	case code := <-exit:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	const sessions = 300
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext}}
	for range sessions {
		jar, _ := cookiejar.New(nil)
		client.Jar = jar
		resp, err := client.Get(url + "/logme")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	advanced := make(chan error, 1)
	go func() {
		resp, err := client.Post(url+"/_clock?advance=5s", "", nil)
		if err == nil {
			resp.Body.Close()
		}
		advanced <- err
	}()
	select {
	case err := <-advanced:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the clock did not advance: expiry logging is waiting for stdout")
	}
	resp, err := client.Get(url + "/expired")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), "\n"); n != sessions {
		t.Fatalf("the feed lists %d expiries, want %d", n, sessions)
	}
	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop with stdout stuck")
	}
	m := regexp.MustCompile(`sessionspec serve: dropped (\d+) expiry log lines in all`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr %q names no dropped lines", stderr.String())
	}
	t.Logf("stderr: %s", strings.TrimSpace(stderr.String()))
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
