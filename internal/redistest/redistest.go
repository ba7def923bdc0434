// Package redistest runs Debian's redis-server (/usr/bin/redis-server) on
// a free loopback port for a test, or for a tool that needs a throw-away
// Redis: no persistence of its own (--save "" --appendonly no), its files
// in a directory of the caller's, reachable only on 127.0.0.1.
//
// In a test, New starts one and stops it when the test ends, passed or
// failed:
//
//	func TestSomething(t *testing.T) {
//		srv := redistest.New(t)
//		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr}) // or redis.ParseURL(srv.URL)
//		...
//	}
//
// Elsewhere, Start and Stop:
//
//	srv, err := redistest.Start(ctx, dir)
//	if err != nil { ... }
//	defer srv.Stop()
//	fmt.Println(srv.URL) // redis://127.0.0.1:PORT/0
//
// The port is chosen by binding 127.0.0.1:0 and closing the listener; if
// another process takes it before redis-server binds it, Start tries
// another port (up to StartAttempts times). Shutdown and Restart stop and
// start the same server on the same port, its data saved in and reloaded
// from its directory, for tests of what a client does while Redis is
// away.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is the redis-server that Start runs.
var Binary = "/usr/bin/redis-server"

// Bounds of Start and Stop.
const (
	StartAttempts = 5                      // ports tried before Start gives up
	ReadyTimeout  = 10 * time.Second       // for PING to answer after a start
	StopGrace     = 5 * time.Second        // between SIGTERM and SIGKILL
	pingInterval  = 10 * time.Millisecond  // between two PINGs while starting
	dialTimeout   = 500 * time.Millisecond // one PING's connection
	logKeep       = 8 << 10                // bytes of redis-server's output kept for errors
)

// Server is a running redis-server.
type Server struct {
	URL  string // redis://127.0.0.1:PORT/0
	Addr string // 127.0.0.1:PORT
	Dir  string // its working directory (dump.rdb after Shutdown)

	port int
	mu   sync.Mutex
	proc *process // nil while shut down
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{} // closed when Wait returned
	err    error         // Wait's result, once exited
}

// New starts a redis-server for t in t.TempDir() and stops it with
// t.Cleanup, whatever the test's outcome. It fails the test if the server
// cannot be started.
func New(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout*StartAttempts)
	defer cancel()
	srv, err := Start(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("redistest: stopping redis-server: %v", err)
		}
	})
	return srv
}

// Start runs redis-server on a free port of 127.0.0.1, its files in dir
// (which must exist), and returns once it answers PING. The caller must
// call Stop.
func Start(ctx context.Context, dir string) (*Server, error) {
	if _, err := os.Stat(Binary); err != nil {
		return nil, fmt.Errorf("%s not found (Debian package redis-server; `make deps` installs it): %v", Binary, err)
	}
	var last error
	for range StartAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		srv := &Server{port: port, Dir: dir, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		srv.URL = "redis://" + srv.Addr + "/0"
		err = srv.start(ctx)
		if err == nil {
			return srv, nil
		}
		last = err
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free port after %d attempts: %w", StartAttempts, last)
}

var errPortTaken = errors.New("port taken")

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server on s.port and waits for PING.
func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command(Binary,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.Dir,
		"--protected-mode", "yes", "--daemonize", "no")
	// Killed with its parent, even one that dies without cleaning up (a
	// test binary's timeout panic, a SIGKILLed check): no server is left.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &process{cmd: cmd, out: &tailBuffer{max: logKeep}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", Binary, err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	for {
		if err := ping(ctx, s.Addr); err == nil {
			if !ours(ctx, s.Addr, p.cmd.Process.Pid) {
				// Another server holds the port; ours is about to exit.
				kill(p)
				return fmt.Errorf("%w: %s (another server answers there)", errPortTaken, s.Addr)
			}
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return nil
		}
		select {
		case <-p.exited:
			log := p.out.String()
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, s.Addr)
			}
			return fmt.Errorf("redis-server on %s exited at start (%v): %s", s.Addr, p.err, lastLine(log))
		case <-ctx.Done():
			kill(p)
			return fmt.Errorf("redis-server on %s did not answer PING within %s: %s", s.Addr, ReadyTimeout, lastLine(p.out.String()))
		case <-time.After(pingInterval):
		}
	}
}

// ping sends PING and expects +PONG.
func ping(ctx context.Context, addr string) error {
	reply, err := command(ctx, addr, "PING")
	if err != nil {
		return err
	}
	if reply != "+PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}

// ours reports whether the server at addr is the process pid (INFO
// server names its process_id).
func ours(ctx context.Context, addr string, pid int) bool {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ReadyTimeout))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return false
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 || n > 1<<20 {
		return false
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return false
	}
	return bytes.Contains(body, []byte("\nprocess_id:"+strconv.Itoa(pid)+"\r\n"))
}

// command sends one inline command and returns the first line of the
// reply.
func command(ctx context.Context, addr, cmd string) (string, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ReadyTimeout))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited
// within StopGrace. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(StopGrace):
		kill(p)
		return fmt.Errorf("redis-server on %s ignored SIGTERM for %s; killed", s.Addr, StopGrace)
	}
}

func kill(p *process) {
	p.cmd.Process.Kill()
	<-p.exited
}

// Shutdown stops the server the way an operator restarting it would,
// saving its data to its directory (SHUTDOWN SAVE), and waits for it to
// exit (bounded by StopGrace, then SIGKILL). Clients meanwhile find no
// server. Restart starts it again with the same data.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return errors.New("redistest: the server is not running")
	}
	command(ctx, s.Addr, "SHUTDOWN SAVE") // the connection closes as the server exits: no reply to expect
	select {
	case <-p.exited:
		return nil
	case <-time.After(StopGrace):
		kill(p)
		return fmt.Errorf("redis-server on %s did not shut down within %s; killed", s.Addr, StopGrace)
	}
}

// Restart starts the server again after Shutdown, on the same port, from
// the data saved in its directory. It retries while the port is still
// held (a few times), since the clients know only this address.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		return errors.New("redistest: the server is running; Shutdown first")
	}
	var err error
	for i := range StartAttempts {
		if err = s.start(ctx); !errors.Is(err, errPortTaken) {
			return err
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	return err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
