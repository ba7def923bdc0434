//go:build js

package reference

import "net/http"

// Under GOOS=js the WebSocket library has only its browser client, so
// the reference serves no WebSocket resource there (see websocket.go).

// webSocketPath is the WebSocket resource's path in the discovery
// document: none under GOOS=js.
func (srv *Server) webSocketPath() string { return "" }

// serveWebSocket answers 404 under GOOS=js.
func (srv *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
