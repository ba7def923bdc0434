// Command fiber-seedsite serves the seed examples of Twisted Web's session
// howtos on Fiber v2's session middleware (github.com/gofiber/fiber/v2,
// package middleware/session) with its default in-memory storage, on
// Fiber's own server, fasthttp (not net/http).
//
// Every session is Fiber's: found or made by store.Get (the id from the
// cookie named by KeyLookup, "cookie:session_id"; a new one from
// KeyGenerator, utils.UUIDv4, when the cookie names nothing the storage
// has), stored and refreshed by sess.Save (which also writes the cookie),
// deleted by sess.Destroy. This program only maps the seed resources onto
// that API, as Fiber's documentation shows it (get, use, Save, return):
//
//	/          ShowSession: "Your session id is: " + sess.ID(); sess.Save()
//	/expire    ExpireSession: sess.Destroy()
//	/counter   the session-store example: a counter kept with sess.Get/Set; sess.Save()
//	/.well-known/sessionspec  the discovery document (no session, no cookie)
//
// The timeout is Fiber's own: session.Config{Expiration: --timeout}. The
// storage is the one session.New makes when Config.Storage is nil: Fiber's
// internal memory storage (internal/storage/memory), whose entries carry an
// expiry in whole seconds of utils.Timestamp (a uint32 updated by a 1 s
// ticker) and whose garbage collector deletes expired entries every 10 s
// (memory.ConfigDefault.GCInterval). Storage.Get refuses an expired entry
// itself, whether or not the GC has run.
//
// Fiber's session has no expiry notification (nothing runs when a session
// ends: the GC deletes the entry silently, Destroy deletes it and returns),
// so there is no /logme or /expired; it reads time.Now() directly (through
// utils.Timestamp), so there is no /_clock. The discovery document leaves
// them empty and they answer 404.
//
// Settings that are not Fiber's defaults (DEPLOYMENT CODE):
//   - Expiration: --timeout (the default is 24 h).
//   - fiber.Config{DisableStartupMessage: true}: the banner would be printed
//     instead of the line the harness waits for.
//   - the listener: net.Listen("tcp4", "127.0.0.1:PORT") handed to
//     app.Listener, so the port is the kernel's choice and the line
//     "listening on http://127.0.0.1:PORT/" is printed once it is bound.
//   - SIGTERM and SIGINT: app.ShutdownWithTimeout(5 s).
//
// Everything else is Fiber's default: cookie "session_id", Path "" (which
// fasthttp writes as "/"), no Domain, no Secure, no HttpOnly, SameSite Lax,
// Max-Age = Expiration in whole seconds; fasthttp's 4096-byte read buffer
// (the limit on a request's headers), no read or idle timeout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/gofiber/fiber/v2/utils"
)

const keyCount = "count"

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

// entries counts what the storage holds, expired or not (ADAPTER CODE: a
// report for README.md; it changes nothing). Fiber's default storage is in
// an internal package, so its Conn() (the map itself) is reached by
// reflection; -1 if the storage is another.
func entries(st fiber.Storage) int {
	m := reflect.ValueOf(st).MethodByName("Conn")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return -1
	}
	v := m.Call(nil)[0]
	if v.Kind() != reflect.Map {
		return -1
	}
	return v.Len()
}

func main() {
	port := flag.Int("port", 0, "port to serve on 127.0.0.1 (0: a free one; the \"listening on\" line says which)")
	timeout := flag.Duration("timeout", 2*time.Second, "session.Config.Expiration (Fiber keeps whole seconds)")
	expireHow := flag.String("expire", "destroy", "destroy: /expire calls sess.Destroy(); destroy-save: Destroy then Save, as the API tour in Fiber's session docs does (EXPERIMENT)")
	census := flag.Duration("census", 0, "ADAPTER diagnostic: print the storage's entry count every D (0: only at exit)")
	peek := flag.Bool("peek", false, "ADAPTER diagnostic: serve GET /_peek, store.Get without Save (no refresh, no cookie), for probe/")
	flag.Parse()
	if *expireHow != "destroy" && *expireHow != "destroy-save" {
		log.Fatalf("--expire %q: destroy or destroy-save", *expireHow)
	}

	// Fiber's session store: Expiration is the only setting changed; the
	// storage is session.New's default (memory.New(), GC every 10 s).
	store := session.New(session.Config{Expiration: *timeout})

	impl := fmt.Sprintf("Fiber %s middleware/session, default memory storage (Expiration %s, GC every 10s; no expiry hook), fasthttp %s",
		moduleVersion("github.com/gofiber/fiber/v2"), store.Expiration, moduleVersion("github.com/valyala/fasthttp"))
	discovery, _ := json.Marshal(map[string]any{
		"sessionspec": 1, "implementation": impl, "cookie": "session_id",
		"timeout_seconds": store.Expiration.Seconds(),
		"paths": map[string]string{"session": "/", "expire": "/expire", "logme": "", "expired": "",
			"counter": "/counter", "clock": ""},
	})

	app := fiber.New(fiber.Config{DisableStartupMessage: true})

	app.Get("/", func(c *fiber.Ctx) error {
		sess, err := store.Get(c)
		if err != nil {
			return err
		}
		id := sess.ID() // read before Save: Save releases the session to a pool
		if err := sess.Save(); err != nil {
			return err
		}
		return c.SendString("Your session id is: " + id)
	})
	app.Get("/expire", func(c *fiber.Ctx) error {
		sess, err := store.Get(c)
		if err != nil {
			return err
		}
		// Fiber's way to end a session: "Destroy will delete the session
		// from Storage and expire session cookie" (session.go:102-123).
		if err := sess.Destroy(); err != nil {
			return err
		}
		if *expireHow == "destroy-save" {
			// EXPERIMENT: the docs' API tour calls Save after Destroy.
			if err := sess.Save(); err != nil {
				return err
			}
		}
		return c.SendString("Your session has been expired.")
	})
	app.Get("/counter", func(c *fiber.Ctx) error {
		sess, err := store.Get(c)
		if err != nil {
			return err
		}
		n, _ := sess.Get(keyCount).(int)
		n++
		sess.Set(keyCount, n)
		if err := sess.Save(); err != nil {
			return err
		}
		return c.SendString(fmt.Sprintf("Visit #%d for you!", n))
	})
	app.Get("/.well-known/sessionspec", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(discovery)
	})
	if *peek {
		// ADAPTER CODE (diagnostic, off unless --peek, not in the
		// discovery document): a read-only handler, store.Get without
		// Save, so the probe can look a session up without refreshing it.
		app.Get("/_peek", func(c *fiber.Ctx) error {
			sess, err := store.Get(c)
			if err != nil {
				return err
			}
			return c.SendString(fmt.Sprintf("id %s fresh %t ts %d now %.3f",
				sess.ID(), sess.Fresh(), atomic.LoadUint32(&utils.Timestamp), float64(time.Now().UnixNano())/1e9))
		})
	}

	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}

	// DEPLOYMENT CODE: SIGTERM and SIGINT shut the server down.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			log.Print(err)
		}
	}()
	if *census > 0 {
		// ADAPTER CODE: the storage's size over time (README.md, the GC).
		go func() {
			start := time.Now()
			for range time.Tick(*census) {
				fmt.Fprintf(os.Stderr, "census +%.1fs: %d entries in the storage\n", time.Since(start).Seconds(), entries(store.Storage))
			}
		}()
	}

	fmt.Printf("%s listening on http://%s/\n", impl, ln.Addr())
	if err := app.Listener(ln); err != nil {
		log.Fatal(err)
	}
	// ADAPTER CODE: what was left behind, for README.md.
	fmt.Fprintf(os.Stderr, "at exit: %d entries in the storage (expired ones stay until the GC's next 10 s tick)\n", entries(store.Storage))
}
