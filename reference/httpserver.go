package reference

import (
	"net/http"
	"time"
)

// Limits on every connection of NewHTTPServer: a slow or oversized
// request is cut off, never left to hold the server.
const (
	MaxHeaderBytes    = 16 << 10
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
)

// NewHTTPServer returns an http.Server for h with bounded header size and
// timeouts. An oversized header block is answered 431 by net/http.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
	}
}
