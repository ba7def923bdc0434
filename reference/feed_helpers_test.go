package reference_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
)

func httptestRequest(target string) *http.Request {
	return httptest.NewRequest("GET", "http://127.0.0.1"+target, nil)
}

// gatedWriter is a ResponseWriter whose writes after the first wait for
// its gate: a reader that stops reading.
type gatedWriter struct {
	h     http.Header
	gate  chan struct{}
	first chan struct{}
	once  sync.Once
	n     int
	buf   bytes.Buffer
}

func (w *gatedWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *gatedWriter) WriteHeader(int) {}
func (w *gatedWriter) Write(p []byte) (int, error) {
	if w.n > 0 {
		w.once.Do(func() { close(w.first) })
		<-w.gate
	}
	w.n++
	return w.buf.Write(p)
}
