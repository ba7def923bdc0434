package reference_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionspec/sessionspec/reference"
)

// stuckWriter blocks every Write until released.
type stuckWriter struct {
	release chan struct{}
	entered chan struct{} // closed when the first Write starts, if not nil
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	if w.entered != nil {
		w.once.Do(func() { close(w.entered) })
	}
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *stuckWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A writer that does not keep up never holds up the code that logs: lines
// that do not fit are dropped and counted, and the count is written where
// they are missing once the writer is free again.
func TestLineLogNeverBlocks(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	l := reference.NewLineLog(w, 1000, func(n uint64) string { return fmt.Sprintf("note: dropped %d lines\n", n) })
	const lines = 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range lines {
			fmt.Fprintf(l, "line %03d\n", i) // 9 bytes
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked on a writer that does not write")
	}
	dropped := l.Dropped()
	if dropped == 0 || dropped > lines-100 {
		t.Fatalf("dropped %d of %d lines with room for about 111", dropped, lines)
	}
	close(w.release)
	if got := l.Close(10 * time.Second); got != dropped {
		t.Fatalf("Close reports %d dropped, want %d", got, dropped)
	}
	out := w.String()
	var kept int
	var noted uint64
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		var n uint64
		if _, err := fmt.Sscanf(line, "note: dropped %d lines", &n); err == nil {
			noted += n
			continue
		}
		kept++
	}
	if noted != dropped || uint64(kept)+dropped != lines {
		t.Fatalf("wrote %d lines and noted %d dropped; dropped %d of %d\n%s", kept, noted, dropped, lines, out)
	}
	if !strings.HasPrefix(out, "line 000\n") {
		t.Fatalf("the first line was not kept: %.40q", out)
	}
	fmt.Fprintln(l, "after close")
	if l.Dropped() != dropped+1 {
		t.Fatal("a line written after Close was not counted as dropped")
	}
}

// Close gives up on a writer that stays stuck, after its grace, and
// counts what it could not write.
func TestLineLogCloseGivesUp(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{}), entered: make(chan struct{})}
	defer close(w.release)
	l := reference.NewLineLog(w, 1<<10, nil)
	l.Write([]byte("the first line\n"))
	<-w.entered // the writer has it, and is stuck
	for range 10 {
		l.Write([]byte("a line\n"))
	}
	start := time.Now()
	if got := l.Close(20 * time.Millisecond); got != 10 {
		t.Fatalf("Close reports %d dropped, want the 10 still queued", got)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Close waited %s for a stuck writer", waited)
	}
}
