package wasmhost

import (
	"context"
	"net"
	"slices"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// connCloser works around a bug in wazero v1.12.0: closing a guest's TCP
// connection never closes it on the host. tcpConnFile.close (in
// internal/sysfs/sock.go) sets its closed flag and then calls
// Shutdown(SHUT_RDWR), whose SHUT_RDWR case calls close again, which
// returns at once because the flag is set; the *net.TCPConn is left
// open. A connection the guest closes would so stay open, its peer never
// told (CLOSE-WAIT here, a client waiting for an answer that never
// comes), until the garbage collector happens to finalize it; and all of
// them when the guest exits.
//
// So the host watches the guest's sock_accept and fd_close with a
// function listener on its WASI module (wazero's experimental API; only
// these two functions get one, the others are called as before) and
// closes the connection itself after a successful fd_close, and every
// connection still open when the guest exits. Should wazero close it
// too, the second Close is a harmless error.
type connCloser struct {
	h    *Host
	open map[int32]*net.TCPConn // accepted connections by guest fd

	// What Before saw, for After: the guest is single-threaded, so at
	// most one call is in flight.
	closing   *net.TCPConn
	closingFd int32
	acceptOut uint32
}

func newConnCloser(h *Host) *connCloser {
	return &connCloser{h: h, open: map[int32]*net.TCPConn{}}
}

// NewFunctionListener implements experimental.FunctionListenerFactory.
func (c *connCloser) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if slices.Contains(def.ExportNames(), "fd_close") || slices.Contains(def.ExportNames(), "sock_accept") {
		return c
	}
	return nil
}

// Before implements experimental.FunctionListener.
func (c *connCloser) Before(_ context.Context, _ api.Module, def api.FunctionDefinition, params []uint64, _ experimental.StackIterator) {
	if c.h.fds == nil {
		return
	}
	switch {
	case slices.Contains(def.ExportNames(), "fd_close"):
		c.closingFd = int32(params[0])
		c.closing = c.h.fds.resolve(c.closingFd).conn
	default: // sock_accept(fd, flags, result.fd)
		c.acceptOut = uint32(params[2])
	}
}

// After implements experimental.FunctionListener.
func (c *connCloser) After(_ context.Context, mod api.Module, def api.FunctionDefinition, results []uint64) {
	if c.h.fds == nil || len(results) == 0 || results[0] != errnoSuccess {
		c.closing = nil
		return
	}
	if slices.Contains(def.ExportNames(), "fd_close") {
		if c.closing != nil {
			c.closing.Close()
			delete(c.open, c.closingFd)
			c.closing = nil
		}
		c.h.fds.forget(c.closingFd)
		return
	}
	if fd, ok := mod.Memory().ReadUint32Le(c.acceptOut); ok {
		if conn := c.h.fds.resolve(int32(fd)).conn; conn != nil {
			c.open[int32(fd)] = conn
		}
	}
}

// Abort implements experimental.FunctionListener.
func (c *connCloser) Abort(context.Context, api.Module, api.FunctionDefinition, error) {
	c.closing = nil
}

// closeAll closes the connections the guest left open. Called by the
// guest's goroutine once the guest has exited.
func (c *connCloser) closeAll() {
	for fd, conn := range c.open {
		conn.Close()
		delete(c.open, fd)
	}
}
