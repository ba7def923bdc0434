package htmlreport

import (
	"maps"
	"sync"

	"github.com/sessionspec/sessionspec/spec"
)

// Recorder keeps the transcript of every case it wraps, whatever its
// outcome: a report keeps the exchanges of the cases that did not pass
// only, but the page shows the steps of every browser case, and the
// exchanges of every case on request (Options.AllEvidence).
//
//	rec := htmlreport.NewRecorder()
//	rep, err := spec.Run(ctx, target, spec.Options{Cases: rec.Wrap(cases)})
//	...
//	htmlreport.WriteFile(path, rep, htmlreport.Options{Transcripts: rec.Transcripts()})
//
// A transcript is bounded as a report's evidence is (the first and the
// last exchanges of a case), and the report itself is left as it is.
type Recorder struct {
	mu sync.Mutex
	m  map[string]string
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{m: map[string]string{}} }

// Wrap returns cases whose Check records its transcript in r when it
// ends, however it ends; nothing else of a case changes.
func (r *Recorder) Wrap(cases []spec.Case) []spec.Case {
	out := make([]spec.Case, len(cases))
	for i, c := range cases {
		if check := c.Check; check != nil {
			id := c.ID
			c.Check = func(p *spec.Probe) {
				defer func() {
					t := p.Tr.String()
					r.mu.Lock()
					r.m[id] = t
					r.mu.Unlock()
				}()
				check(p)
			}
		}
		out[i] = c
	}
	return out
}

// Transcripts returns the transcripts recorded so far, by case ID.
func (r *Recorder) Transcripts() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.m)
}
