//go:build linux

package wasmhost

import (
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// pollFd is struct pollfd of poll(2).
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

func platformError() error { return nil }

// ppoll waits until one of fds is ready or timeout has passed; a negative
// timeout waits without limit. It retries on EINTR (the Go runtime's
// preemption signals) with what is left of the timeout, and returns the
// number of descriptors with events.
func ppoll(fds []pollFd, timeout time.Duration) (int, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		var ts syscall.Timespec
		tsp := &ts
		switch {
		case timeout < 0:
			tsp = nil
		case timeout > 0:
			ts = syscall.NsecToTimespec(int64(max(time.Until(deadline), 0)))
		}
		var p *pollFd
		if len(fds) > 0 {
			p = &fds[0]
		}
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(p)), uintptr(len(fds)),
			uintptr(unsafe.Pointer(tsp)), 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// waker is a self-pipe: wake makes its read end readable, so that a guest
// blocked in ppoll on it returns; drain empties it.
type waker struct {
	mu     sync.Mutex
	r, w   int
	closed bool
}

func newWaker() (*waker, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return nil, err
	}
	return &waker{r: p[0], w: p[1]}, nil
}

func (w *waker) fd() int32 { return int32(w.r) }

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		b := [1]byte{1}
		syscall.Write(w.w, b[:]) // EAGAIN: a wake is pending already
	}
}

func (w *waker) drain() {
	var b [64]byte
	for {
		if n, err := syscall.Read(w.r, b[:]); n <= 0 || err != nil {
			return
		}
	}
}

// close is called once the guest's goroutine, the only one that waits on
// the pipe, has finished.
func (w *waker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		syscall.Close(w.r)
		syscall.Close(w.w)
	}
}
