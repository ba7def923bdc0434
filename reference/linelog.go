package reference

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// LineLog is an io.Writer for log lines that never blocks the code that
// logs: a Write is queued, whole, in a buffer of bounded size that one
// goroutine of its own drains into the underlying writer, in batches. A
// Write that does not fit is dropped and its lines counted, and once the
// writer has caught up the count is written in its place, as the line
// the note function makes (nothing if note is nil). The buffer costs at
// most twice its size (one batch being written, one filling).
//
// Writes always report success: the caller's business (ending a session)
// must not depend on a terminal that is scrolled back, or a pipe nobody
// reads.
type LineLog struct {
	w    io.Writer
	size int
	note func(dropped uint64) string

	mu      sync.Mutex
	buf     []byte // queued, not yet handed to w
	spare   []byte // the buffer of the last batch written, to fill next
	pending uint64 // lines dropped and not yet noted in the stream
	dropped uint64 // lines dropped in all
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

// NewLineLog starts a LineLog that queues at most size bytes for w.
func NewLineLog(w io.Writer, size int, note func(dropped uint64) string) *LineLog {
	l := &LineLog{w: w, size: max(size, 1), note: note, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go l.run()
	return l
}

// Write queues p, or drops it if the queue has no room for all of it.
func (l *LineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.closed || len(l.buf)+len(p) > l.size {
		n := uint64(max(bytes.Count(p, []byte{'\n'}), 1))
		l.pending += n
		l.dropped += n
		l.mu.Unlock()
		l.signal() // so the count is noted as soon as the writer is free
		return len(p), nil
	}
	if l.buf == nil {
		l.buf = make([]byte, 0, l.size)
	}
	l.buf = append(l.buf, p...)
	l.mu.Unlock()
	l.signal()
	return len(p), nil
}

func (l *LineLog) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Dropped reports how many lines have been dropped so far.
func (l *LineLog) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

func (l *LineLog) run() {
	defer close(l.done)
	for {
		<-l.wake
		l.mu.Lock()
		batch := l.buf
		l.buf, l.spare = l.spare, nil
		if l.pending > 0 && l.note != nil {
			batch = append(batch, l.note(l.pending)...)
			l.pending = 0
		}
		closed := l.closed
		l.mu.Unlock()
		if len(batch) > 0 {
			l.w.Write(batch)
		}
		if closed {
			return
		}
		l.mu.Lock()
		l.spare = batch[:0]
		l.mu.Unlock()
	}
}

// Close stops taking lines, waits at most grace for the queued ones to be
// written, and reports how many lines were dropped in all, counting those
// still queued when grace ran out.
func (l *LineLog) Close(grace time.Duration) uint64 {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.signal()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-l.done:
		return l.Dropped()
	case <-t.C:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped + uint64(bytes.Count(l.buf, []byte{'\n'}))
}
