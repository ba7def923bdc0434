package main

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// A peer started by --target binds port 0 itself (the kernel picks a free
// port, and the peer holds it from then on: nothing can take it between
// choosing and binding) and says where it listens in a line of its stdout
// or stderr containing "listening on http://127.0.0.1:PORT/".
var announceLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[1-9][0-9]{0,4}/)`)

// watch looks for the first announcement among lines of either stream.
func (p *targetProcess) watch(lines []string) {
	if p.announced == nil || p.announceHit.Load() {
		return
	}
	for _, l := range lines {
		if m := announceLine.FindStringSubmatch(l); m != nil {
			if p.announceHit.CompareAndSwap(false, true) {
				p.announced <- m[1] // buffered: never blocks
			}
			return
		}
	}
}

// waitAnnounced waits up to wait for the target's "listening on" line
// and returns its URL; the target exiting first, or saying nothing in
// time, is an error quoting its stderr.
func (p *targetProcess) waitAnnounced(ctx context.Context, wait time.Duration) (string, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case u := <-p.announced:
		return u, nil
	case <-p.procDone:
		// It may have printed the line just before exiting.
		select {
		case u := <-p.announced:
			return "", fmt.Errorf("it exited right after announcing %s %s", u, p.exitReport())
		default:
		}
		return "", fmt.Errorf("it exited before printing \"listening on http://127.0.0.1:PORT/\" %s", p.exitReport())
	case <-ctx.Done():
		return "", context.Cause(ctx)
	case <-timer.C:
		p.mu.Lock()
		tail := p.errOut
		p.mu.Unlock()
		return "", fmt.Errorf("it printed no \"listening on http://127.0.0.1:PORT/\" line within %s (last of stderr: %q)", wait, tail)
	}
}
