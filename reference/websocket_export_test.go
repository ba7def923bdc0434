//go:build !js

package reference

// SetSocketLimits lowers srv's socket caps for a test.
func SetSocketLimits(srv *Server, perSession, total int) {
	r := srv.sockets()
	r.mu.Lock()
	r.maxPerSession, r.maxTotal = perSession, total
	r.mu.Unlock()
}

// SocketCounts reports srv's open sockets and the live sessions its
// registry holds.
func SocketCounts(srv *Server) (sockets, sessions int) {
	r := srv.sockets()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, len(r.sessions)
}

// ServedWebSocketPath is the ws path the discovery document declares on
// this platform (none under GOOS=js).
const ServedWebSocketPath = "/ws"
