package reference

import "net/http"

// componentsPath is the components resource's path in the discovery
// document, or "" while the server does not serve it.
func (srv *Server) componentsPath() string { return "" }

// serveComponents serves the components resource (not yet: 404).
func (srv *Server) serveComponents(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
