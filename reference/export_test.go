package reference

// SetFeedLimit lowers the feed's bound for a test, before any line.
func SetFeedLimit(srv *Server, lines int) { srv.feed.setLimit(lines) }

// LogMe registers srv's expiry logging on s, as GET /logme does.
func LogMe(srv *Server, s *Session) {
	if _, first := s.component(loggedKey{}, loggedMark); first {
		s.notifyOnExpire(srv.logged)
	}
}

// FreshLen reports the length of the site's eviction queue.
func FreshLen(site *Site) int {
	site.mu.Lock()
	defer site.mu.Unlock()
	return len(site.fresh.items) - site.fresh.head
}
