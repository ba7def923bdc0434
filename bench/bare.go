package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessionspec/sessionspec/contract"
	"github.com/sessionspec/sessionspec/reference"
)

// The bare server answers GET / with the bytes the reference sends for
// it, headers included, and does no session work at all: no cookie
// parsing, no lookup, no random uid, no timer. Whatever it costs is what
// net/http and the loopback cost, so it is the ceiling for the reference.
const bareUID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var (
	bareBody        = []byte("Your session id is: " + bareUID)
	bareContentType = []string{"text/plain; charset=utf-8"}
	bareNoStore     = []string{"no-store"}
	bareSetCookie   = []string{contract.CookieName + "=" + bareUID + "; Path=/; HttpOnly; SameSite=Lax"}
)

type bareHandler struct{}

func (bareHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if _, ok := r.Header["Cookie"]; !ok {
		// The reference would make a session and send its cookie: the
		// same header, with a constant value.
		h["Set-Cookie"] = bareSetCookie
	}
	h["Content-Type"] = bareContentType
	h["Cache-Control"] = bareNoStore
	w.Write(bareBody)
}

// childBare serves bareHandler with the reference's http.Server settings.
func childBare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := reference.NewHTTPServer(*addr, bareHandler{})
	fmt.Printf("listening on http://%s/\n", ln.Addr())
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
