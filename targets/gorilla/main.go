// Command gorilla-seedsite serves the seed examples of Twisted Web's session
// howtos on gorilla/sessions, with either of its two built-in stores:
//
//	--store files   sessions.FilesystemStore: the values in one file per
//	                session (session_<id> in --dir), the cookie holds the id
//	--store cookie  sessions.CookieStore: the values in the cookie itself
//
// Both encode with gorilla/securecookie: gob, AES-CTR (the block key), then
// an HMAC-SHA256 over "name|timestamp|value" (the hash key). The timestamp is
// time.Now().UTC().Unix() at the Save, whole seconds, and Decode refuses a
// value whose timestamp is older than the codec's maxAge seconds
// (securecookie.go:331-341). FilesystemStore encodes the file's content the
// same way, so the file is checked against the same maxAge when it is read.
//
// Every session is gorilla's: made by store.Get, saved by session.Save (which
// also writes the cookie), deleted by Options.MaxAge = -1 and Save. This
// program only maps the seed resources onto that API:
//
//	/          ShowSession: "Your session id is: " + the session's id
//	/expire    ExpireSession: session.Options.MaxAge = -1; session.Save
//	/counter   the session-store example: a counter kept in session.Values
//	/.well-known/sessionspec  the discovery document (no session, no cookie)
//
// The handlers follow gorilla's README example: session, _ := store.Get(r,
// name) ("We're ignoring the error resulted from decoding an existing
// session: Get() always returns a session, even if empty"), change Values,
// session.Save(r, w) before writing the body. Save runs on every request
// that uses the session: it is gorilla's only way to refresh a session's
// timestamp (there is no touch), as Twisted's getSession refreshes it.
// --get-error 500 follows doc.go's example instead (a Get error is a 500).
//
// The timeout is gorilla's own: store.MaxAge(--timeout), which sets the
// store's Options.MaxAge (the cookie's Max-Age and Expires) AND every
// securecookie codec's maxAge (what the server accepts), store.go:121-130,
// 249-257. --maxage options sets only store.Options.MaxAge, as the Options
// example in doc.go does, and --maxage codec only the codecs' (a cookie
// without Max-Age), to show what each leaves behind (README.md).
//
// gorilla/sessions has no expiry notification (nothing runs when a session
// ends: a timed-out cookie simply fails to decode) and FilesystemStore never
// removes a timed-out file, so there is no /logme or /expired; it reads
// time.Now() directly, so there is no /_clock. The discovery document leaves
// them empty and they answer 404.
//
// Settings that are not gorilla's defaults (DEPLOYMENT CODE):
//   - the keys: a 64-byte hash key and a 32-byte block key (AES-256) from
//     securecookie.GenerateRandomKey, per start (the docs: "Ensure your key
//     is sufficiently random - i.e. use Go's crypto/rand or
//     securecookie.GenerateRandomKey(32)"); cookies of an earlier run fail.
//   - the timeout, store.MaxAge(--timeout) (the default is 30 days).
//   - FilesystemStore's directory: a throw-away one under os.TempDir(),
//     removed at exit (the default is os.TempDir() itself).
//   - the cookie name: gorilla has none of its own (store.Get takes it from
//     the application); "session-name" is the name of every example in
//     gorilla's README and doc.go.
//
// Everything else is the store's default: FilesystemStore Options{Path "/",
// MaxAge}, no HttpOnly, no SameSite, no Secure (store.go:146-153);
// CookieStore Options{Path "/", MaxAge, SameSite None, Secure true}, no
// HttpOnly (store.go:54-62). The Secure cookie still works here because
// 127.0.0.1 is loopback, which net/http/cookiejar and Chromium treat as a
// secure origin.
package main

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

const (
	keyCount = "count"
	keyID    = "sessionspec.id" // cookie store only: ADAPTER CODE, see session()
)

// getErrors counts what store.Get reported, by kind (ADAPTER CODE: for the
// report printed at exit, it changes nothing).
type getErrors struct {
	mu sync.Mutex
	n  map[string]int
}

func (g *getErrors) add(err error) {
	kind := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		kind = "session file: " + pe.Err.Error()
	}
	g.mu.Lock()
	g.n[kind]++
	g.mu.Unlock()
}

func (g *getErrors) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.n) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range g.n {
		parts = append(parts, fmt.Sprintf("%d %q", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(version unknown)"
}

type site struct {
	store     sessions.Store
	kind      string // "files" or "cookie"
	name      string // the cookie's name
	getError  string // "ignore" (README.md) or "500" (doc.go)
	errs      *getErrors
	discovery []byte
}

// session is Twisted's request.getSession() in gorilla's terms: store.Get,
// which decodes the cookie (and, for the FilesystemStore, reads the file)
// or makes a new session, error or not.
func (s *site) session(w http.ResponseWriter, r *http.Request) (*sessions.Session, bool) {
	sess, err := s.store.Get(r, s.name)
	if err != nil {
		s.errs.add(err)
		if s.getError == "500" {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return nil, false
		}
		// gorilla's README: "We're ignoring the error resulted from
		// decoding an existing session: Get() always returns a session,
		// even if empty."
	}
	if s.kind == "cookie" {
		// ADAPTER CODE, not gorilla: a CookieStore session has no id
		// (session.ID stays "": CookieStore.New and Save never set it,
		// store.go:90-116), so the adapter keeps one in the session's
		// values, made the way FilesystemStore makes its ids
		// (store.go:228-233): base32 of 32 bytes of crypto/rand.
		if _, ok := sess.Values[keyID].(string); !ok {
			sess.Values[keyID] = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(securecookie.GenerateRandomKey(32))
		}
	}
	return sess, true
}

func (s *site) id(sess *sessions.Session) string {
	if s.kind == "cookie" {
		id, _ := sess.Values[keyID].(string)
		return id
	}
	return sess.ID
}

// save is session.Save, with its error answered as gorilla's examples do.
func (s *site) save(w http.ResponseWriter, r *http.Request, sess *sessions.Session) bool {
	if err := sess.Save(r, w); err != nil {
		log.Print(err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return false
	}
	return true
}

func text(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, body)
}

func (s *site) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(w, r)
		if !ok || !s.save(w, r, sess) { // FilesystemStore gives a new session its id in Save
			return
		}
		text(w, "Your session id is: "+s.id(sess))
	})
	mux.HandleFunc("GET /expire", func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(w, r)
		if !ok {
			return
		}
		// gorilla's way to end a session: "Individual sessions can be
		// deleted by setting Options.MaxAge = -1 for that session"
		// (store.go:118-120, 246-248). FilesystemStore.Save then removes
		// the file (store.go:219-226); both stores send a cookie with
		// Max-Age=0 and an Expires in 1970 (sessions.go:180-190).
		sess.Options.MaxAge = -1
		if !s.save(w, r, sess) {
			return
		}
		text(w, "Your session has been expired.")
	})
	mux.HandleFunc("GET /counter", func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(w, r)
		if !ok {
			return
		}
		n, _ := sess.Values[keyCount].(int)
		n++
		sess.Values[keyCount] = n
		if !s.save(w, r, sess) {
			return
		}
		text(w, fmt.Sprintf("Visit #%d for you!", n))
	})
	mux.HandleFunc("GET /.well-known/sessionspec", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.discovery)
	})
	return mux
}

// census counts the session files left in dir and how many of them are past
// MaxAge, decoding each with the store's own codecs (ADAPTER CODE: a report
// for README.md; gorilla never looks at a file it is not asked for).
func census(dir, name string, codecs []securecookie.Codec) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var files, expired, other int
	var bytes int64
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "session_") {
			continue
		}
		files++
		if info, err := e.Info(); err == nil {
			bytes += info.Size()
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			other++
			continue
		}
		values := map[any]any{}
		switch err := securecookie.DecodeMulti(name, string(data), &values, codecs...); {
		case err == nil:
		case strings.Contains(err.Error(), "expired timestamp"):
			expired++
		default:
			other++
		}
	}
	return fmt.Sprintf("%d session files (%d bytes) in %s, %d of them past MaxAge (unreadable by the store, never removed), %d unreadable otherwise",
		files, bytes, dir, expired, other)
}

func main() {
	port := flag.Int("port", 0, "port to serve on 127.0.0.1 (0: a free one; the \"listening on\" line says which)")
	timeout := flag.Int("timeout", 2, "the session timeout in whole seconds: store.MaxAge(N)")
	kind := flag.String("store", "files", "files (sessions.FilesystemStore) or cookie (sessions.CookieStore)")
	dir := flag.String("dir", "", "FilesystemStore's directory (default: a throw-away directory, removed at exit)")
	keep := flag.Bool("keep", false, "keep the throw-away directory at exit")
	name := flag.String("cookie-name", "session-name", "the session's name, i.e. the cookie's (gorilla has no default)")
	maxAgeHow := flag.String("maxage", "store", "store: store.MaxAge(N), the cookie and the codecs; options: only store.Options.MaxAge = N, the codecs keep 30 days; codec: store.MaxAge(N), then Options.MaxAge = 0, a cookie without Max-Age (EXPERIMENTS)")
	getError := flag.String("get-error", "ignore", "ignore: README.md's `session, _ := store.Get(...)`; 500: doc.go's `if err != nil { http.Error(..., 500) }` (EXPERIMENT)")
	encrypt := flag.Bool("encrypt", true, "give securecookie a block key (AES-256); false: HMAC only")
	flag.Parse()

	// DEPLOYMENT CODE: random keys per start.
	hashKey := securecookie.GenerateRandomKey(64)
	var blockKey []byte
	if *encrypt {
		blockKey = securecookie.GenerateRandomKey(32)
	}
	if hashKey == nil || (*encrypt && blockKey == nil) {
		log.Fatal("could not read random keys")
	}

	var (
		store  sessions.Store
		codecs []securecookie.Codec
		about  string
	)
	setMaxAge := func(maxAge func(int), opts *sessions.Options) {
		switch *maxAgeHow {
		case "store":
			maxAge(*timeout)
		case "options":
			opts.MaxAge = *timeout // EXPERIMENT: the codecs keep securecookie's 30 days
		case "codec":
			// EXPERIMENT: a browser-session cookie (no Max-Age, no
			// Expires) whose value the codecs accept for N seconds.
			maxAge(*timeout)
			opts.MaxAge = 0
		default:
			log.Fatalf("--maxage %q: store, options or codec", *maxAgeHow)
		}
	}
	switch *kind {
	case "files":
		if *dir == "" {
			// DEPLOYMENT CODE: a throw-away directory.
			d, err := os.MkdirTemp("", "gorilla-sessions-")
			if err != nil {
				log.Fatal(err)
			}
			*dir = d
			if !*keep {
				defer os.RemoveAll(d)
			}
		}
		fss := sessions.NewFilesystemStore(*dir, hashKey, blockKey)
		setMaxAge(fss.MaxAge, fss.Options)
		store, codecs = fss, fss.Codecs
		about = "FilesystemStore"
	case "cookie":
		cs := sessions.NewCookieStore(hashKey, blockKey)
		setMaxAge(cs.MaxAge, cs.Options)
		store, codecs = cs, cs.Codecs
		about = "CookieStore"
	default:
		log.Fatalf("--store %q: files or cookie", *kind)
	}
	if *getError != "ignore" && *getError != "500" {
		log.Fatalf("--get-error %q: ignore or 500", *getError)
	}

	impl := fmt.Sprintf("gorilla/sessions %s + securecookie %s, %s (MaxAge %d s via %s; no expiry hook)",
		moduleVersion("github.com/gorilla/sessions"), moduleVersion("github.com/gorilla/securecookie"),
		about, *timeout, map[string]string{"store": "store.MaxAge", "options": "Options.MaxAge only", "codec": "the codecs only"}[*maxAgeHow])
	discovery, _ := json.Marshal(map[string]any{
		"sessionspec": 1, "implementation": impl, "cookie": *name,
		"timeout_seconds": *timeout,
		"paths": map[string]string{"session": "/", "expire": "/expire", "logme": "", "expired": "",
			"counter": "/counter", "clock": ""},
	})
	s := &site{store: store, kind: *kind, name: *name, getError: *getError,
		errs: &getErrors{n: map[string]int{}}, discovery: discovery}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	// DEPLOYMENT CODE: SIGTERM and SIGINT shut the server down.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if *kind == "files" {
		fmt.Printf("session files in %s\n", *dir)
	}
	fmt.Printf("%s listening on http://%s/\n", impl, ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	// ADAPTER CODE: what was left behind, for README.md.
	fmt.Fprintf(os.Stderr, "store.Get errors: %s\n", s.errs)
	if *kind == "files" {
		fmt.Fprintf(os.Stderr, "at exit: %s\n", census(*dir, *name, codecs))
	}
}
