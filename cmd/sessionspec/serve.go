package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/fakeclock"
	"github.com/sessionspec/sessionspec/internal/faulty"
	"github.com/sessionspec/sessionspec/reference"
)

// serveConfig is what `sessionspec serve` is told by its flags.
type serveConfig struct {
	addr        string
	timeout     time.Duration
	fakeClock   bool
	maxSessions int
	fault       string
	tls         bool
	cert, key   string
	remoteClock bool
	cluster     clusterFlags // --store and its companions (cluster_serve.go)
}

func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("sessionspec serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	fs.DurationVar(&c.timeout, "timeout", reference.DefaultTimeout, "session inactivity `timeout`, from "+reference.MinTimeout.String()+" to "+reference.MaxTimeout.String())
	fs.BoolVar(&c.fakeClock, "fake-clock", false, "run on a fake clock, driven through POST /_clock?advance=DURATION")
	fs.IntVar(&c.maxSessions, "max-sessions", reference.DefaultMaxSessions, "cap on live sessions (-1: none); at the default serve stays near 1 GB resident under any flood; a full site evicts sessions never visited again first, then the least recently used")
	fs.StringVar(&c.fault, "fault", "", "serve a deliberately broken reference (`name`: see internal/faulty), to watch the suite catch it; needs --fake-clock")
	fs.BoolVar(&c.tls, "tls", false, "serve HTTPS: sessions are TWISTED_SECURE_SESSION with Secure (self-signed for 127.0.0.1 and localhost unless --cert/--key)")
	fs.StringVar(&c.cert, "cert", "", "TLS certificate `file` (PEM); implies --tls")
	fs.StringVar(&c.key, "key", "", "TLS key `file` (PEM); implies --tls")
	fs.BoolVar(&c.remoteClock, "allow-remote-clock", false, "allow --fake-clock on a non-loopback address (anyone who reaches it can move time)")
	c.cluster.define(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.cluster.check(c.fault); err != nil {
		return c, err
	}
	if (c.cert == "") != (c.key == "") {
		return c, errors.New("--cert and --key go together")
	}
	c.tls = c.tls || c.cert != ""
	if c.fakeClock && !c.remoteClock {
		if err := requireLoopback(c.addr); err != nil {
			return c, fmt.Errorf("--fake-clock: %v (the clock resource lets any client move time; add --allow-remote-clock to mean it)", err)
		}
	}
	if c.fault != "" {
		if _, err := faulty.Parse(c.fault); err != nil {
			return c, fmt.Errorf("--fault: %v", err)
		}
		if !c.fakeClock {
			return c, errors.New("--fault needs --fake-clock")
		}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	if c.timeout < reference.MinTimeout || c.timeout > reference.MaxTimeout {
		return c, fmt.Errorf("--timeout %s is not between %s and %s", c.timeout, reference.MinTimeout, reference.MaxTimeout)
	}
	if c.maxSessions == 0 || c.maxSessions < -1 {
		return c, fmt.Errorf("--max-sessions %d: give a positive cap, or -1 for none", c.maxSessions)
	}
	return c, nil
}

// lockedWriter serialises lines written from several goroutines at once.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// reference server: a listener plus the Server it serves.
type runningServer struct {
	URL     string
	http    *http.Server
	done    chan error
	note    string // what else serve's first line says (a replica: its store)
	onClose func() // after the server has shut down
}

// startReference listens on c.addr and serves the reference there until
// shutdown is called.
func startReference(c serveConfig, log io.Writer) (*runningServer, error) {
	if c.cluster.store != "" {
		return startCluster(c, log)
	}
	var clock fakeclock.Clock = fakeclock.Real()
	if c.fakeClock {
		clock = fakeclock.NewFake(time.Now().UTC().Truncate(time.Second))
	}
	if c.timeout == 0 { // a serveConfig made in code, not by the flags
		c.timeout = reference.DefaultTimeout
	}
	if err := (reference.Config{SessionTimeout: c.timeout}).Validate(); err != nil {
		return nil, err
	}
	site := reference.NewSite(reference.Config{
		Clock:          clock,
		SessionTimeout: c.timeout,
		MaxSessions:    c.maxSessions, // 0: the default cap
		OnCallbackPanic: func(uid string, r any) {
			fmt.Fprintf(log, "sessionspec: expiry callback of session %s panicked: %v\n", uid, r)
		},
	})
	var h http.Handler = reference.NewServer(site, log)
	if c.fault != "" {
		f, _ := faulty.Parse(c.fault)
		h = faulty.New(f, clock.(*fakeclock.Fake), c.timeout)
	}
	return listenAndServe(c, h)
}

// listenAndServe serves h on c.addr (over TLS if c.tls) until shutdown.
func listenAndServe(c serveConfig, h http.Handler) (*runningServer, error) {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	hs := reference.NewHTTPServer(c.addr, h)
	rs := &runningServer{URL: "http://" + ln.Addr().String(), http: hs, done: make(chan error, 1)}
	if c.tls {
		cert, err := loadOrMakeCert(c.cert, c.key)
		if err != nil {
			ln.Close()
			return nil, err
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		rs.URL = "https://" + ln.Addr().String()
		go func() { rs.done <- hs.ServeTLS(ln, "", "") }()
		return rs, nil
	}
	go func() { rs.done <- hs.Serve(ln) }()
	return rs, nil
}

// requireLoopback refuses an address that is reachable from elsewhere.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", addr)
	}
	return nil
}

// selfSignedLifetime is how long the self-signed certificate is valid: as
// long as a serving process can plausibly live. It starts an hour before
// it is made, so that a client whose clock is a little behind accepts it.
const (
	selfSignedLifetime = 10 * 365 * 24 * time.Hour
	selfSignedBackdate = time.Hour
)

// loadOrMakeCert loads a certificate, or makes a self-signed one for
// 127.0.0.1, ::1 and localhost that stays valid for selfSignedLifetime.
func loadOrMakeCert(certFile, keyFile string) (tls.Certificate, error) {
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cert, fmt.Errorf("--cert/--key: %v", err)
		}
		return cert, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sessionspec reference (self-signed)"},
		NotBefore:    now.Add(-selfSignedBackdate),
		NotAfter:     now.Add(selfSignedLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// shutdown stops accepting connections and lets in-flight requests
// finish, for at most grace.
func (rs *runningServer) shutdown(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := rs.http.Shutdown(ctx)
	if serr := <-rs.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if rs.onClose != nil {
		rs.onClose()
	}
	return err
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec serve: %v\n", err)
		return exitHarness
	}
	// Everything serve prints goes through one bounded queue, so that a
	// slow stdout (a terminal, a pipe nobody reads) never holds up the
	// server: lines that do not fit are dropped and counted.
	out := reference.NewLineLog(stdout, logQueueBytes, func(n uint64) string {
		return fmt.Sprintf("sessionspec serve: dropped %d expiry log lines\n", n)
	})
	defer func() {
		if n := out.Close(logGrace); n > 0 {
			fmt.Fprintf(stderr, "sessionspec serve: dropped %d expiry log lines in all (stdout did not keep up)\n", n)
		}
	}()
	rs, err := startReference(c, out)
	if err != nil {
		fmt.Fprintf(stderr, "sessionspec serve: %v\n", err)
		return exitHarness
	}
	clock := "real clock"
	if c.fakeClock {
		clock = "fake clock, POST " + rs.URL + contract.PathClock + "?advance=DURATION"
	}
	limit := "no cap on live sessions"
	if c.maxSessions > 0 {
		limit = fmt.Sprintf("at most %d live sessions", c.maxSessions)
	}
	if rs.note != "" {
		limit += ", " + rs.note
	}
	// "listening on URL/" is what sessionspec check --target reads (a peer's announcement).
	fmt.Fprintf(out, "sessionspec reference serving %s/ (timeout %s, %s, %s), listening on %s/\n", rs.URL, c.timeout, clock, limit, rs.URL)
	select {
	case <-ctx.Done():
	case err := <-rs.done:
		fmt.Fprintf(stderr, "sessionspec serve: %v\n", err)
		return exitHarness
	}
	fmt.Fprintln(out, "sessionspec: shutting down")
	if err := rs.shutdown(10 * time.Second); err != nil {
		fmt.Fprintf(stderr, "sessionspec serve: shutdown: %v\n", err)
		return exitHarness
	}
	return exitOK
}

// The queue of serve's output: 1 MiB, about 12,000 expiry lines, and how
// long serve waits at exit for a slow stdout to take what is queued.
var logQueueBytes = 1 << 20

var logGrace = 5 * time.Second
