//go:build !linux

package wasmhost

import (
	"errors"
	"time"
)

// The host waits on the guest's sockets with Linux's ppoll(2); elsewhere
// Start fails with this error.
var errPlatform = errors.New("wasmhost: the embedded host needs Linux (it waits on the guest's sockets with ppoll)")

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const (
	pollIn   = 0x1
	pollOut  = 0x4
	pollErr  = 0x8
	pollHup  = 0x10
	pollNval = 0x20
)

func platformError() error { return errPlatform }

func ppoll([]pollFd, time.Duration) (int, error) { return 0, errPlatform }

type waker struct{}

func newWaker() (*waker, error) { return nil, errPlatform }
func (*waker) fd() int32        { return -1 }
func (*waker) wake()            {}
func (*waker) drain()           {}
func (*waker) close()           {}
