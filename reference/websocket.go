package reference

import "net/http"

// webSocketPath is the WebSocket resource's path in the discovery
// document, or "" while the server does not serve it.
func (srv *Server) webSocketPath() string { return "" }

// serveWebSocket serves the WebSocket attached to the session (not yet:
// 404).
func (srv *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
