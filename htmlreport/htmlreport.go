// Package htmlreport renders a sessionspec report (a *spec.Report) as one
// HTML page that a person reads in a browser: a summary of the run (the
// target, its URL, clock, session timeout and cookie, the versions, the
// counts, the exit code and what it means), then every case with its
// level, the sentence it checks and where that sentence comes from, its
// outcome and duration, the message of a case that did not pass, the
// HTTP exchanges of a failure, and, for a browser case, the screenshot of
// every step with what the browser did and showed at that step.
//
// The page is self-contained: the style is inline, and the screenshots
// are embedded as data: URIs, up to Options.MaxEmbed bytes of them in all
// (DefaultMaxEmbed); those beyond the bound are linked instead, relative
// to the page's directory, and the page says how many. Everything is
// rendered through html/template, so the text a target sends (its pages,
// its headers, its cookies) is escaped.
//
//	rec := htmlreport.NewRecorder()
//	opts := spec.Options{Cases: rec.Wrap(cases)}
//	rep, err := spec.Run(ctx, target, opts)
//	...
//	err = htmlreport.WriteFile("report.html", rep, htmlreport.Options{
//		Screenshots: "sessionspec-screenshots", Transcripts: rec.Transcripts(),
//	})
//
// WriteFile writes the page whole or not at all (spec.WriteFile).
// `sessionspec check --html FILE` does the above; `--html-evidence` adds
// the exchanges of every case, not only of those that failed. The
// compatibility matrix (targets/matrix) renders its evidence pages, one
// per run, with the same Write, and its grid with the same Style.
package htmlreport

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/spec"
)

// DefaultMaxEmbed bounds the bytes of screenshots a page embeds when
// Options.MaxEmbed is 0: the five browser cases take about 1 MiB, so a
// page stays well under it and opens at once.
const DefaultMaxEmbed = 8 << 20

// Options say what a page shows beside the report.
type Options struct {
	// Title is the page's heading (default: "sessionspec: " and the
	// report's target).
	Title string
	// Links are shown above the heading (e.g. back to the matrix, the
	// run's log), relative to the page.
	Links []Link
	// Expect is the expectations file the run was judged against, if any:
	// the exit code then means "differs", not "failed".
	Expect string
	// Screenshots is the directory of the browser cases' screenshots,
	// <CASE-ID>-<step>-<slug>.png ("" for none). Every case of the report
	// shows its own, in step order; files older than the run are left out.
	Screenshots string
	// MaxEmbed bounds the bytes of screenshots embedded as data: URIs
	// (0: DefaultMaxEmbed); a negative MaxEmbed embeds none. The others
	// are linked, relative to Dir.
	MaxEmbed int64
	// Dir is the directory the page will be in, for the links to
	// screenshots (WriteFile sets it; default: the current directory).
	Dir string
	// Transcripts are the transcripts of the cases by ID, of every
	// outcome (Recorder.Transcripts). They give the browser steps their
	// captions, and the exchanges shown with AllEvidence; a Result's own
	// Evidence is used when there is none.
	Transcripts map[string]string
	// AllEvidence shows the exchanges of every case, not only of the
	// cases that failed, errored or were interrupted.
	AllEvidence bool
}

// Link is a link shown above the page's heading.
type Link struct {
	Text string
	Href string
}

// WriteFile writes the page of rep to path, whole or not at all (through
// a temporary file beside it, renamed into place: spec.WriteFile).
// Screenshot links are relative to path's directory.
func WriteFile(path string, rep *spec.Report, o Options) error {
	if o.Dir == "" {
		o.Dir = filepath.Dir(path)
	}
	return spec.WriteFile(path, func(w io.Writer) error { return Write(w, rep, o) })
}

// Write renders the page of rep to w.
func Write(w io.Writer, rep *spec.Report, o Options) error {
	if rep == nil {
		return errors.New("htmlreport: no report")
	}
	p := build(rep, o)
	return pageTemplate.Execute(w, p)
}

// page is what the template renders.
type page struct {
	Title   string
	Links   []Link
	Rep     *spec.Report
	Verdict verdict
	Expect  string
	Timeout string
	Started string
	Cases   []caseView
	// NotPassed lists the cases that need a look, for the summary.
	NotPassed []caseView
	Shots     shotStats
	Style     template.CSS
}

type verdict struct {
	Code    int
	Class   string // pass, fail, error, na
	Meaning string
}

type shotStats struct {
	Dir      string
	Embedded int
	Bytes    int64
	Linked   int
	Max      int64
	Problem  string // the directory could not be read
}

// caseView is one case as the page shows it.
type caseView struct {
	spec.Result
	Class, Mark  string
	Duration     string
	Evidence     string
	EvidenceOpen bool
	Steps        []step
	NoShots      string // why a browser case shows no screenshots
	Unexpected   string // how the outcome differs from the expectations file, if one was given
}

func build(rep *spec.Report, o Options) *page {
	p := &page{
		Title: o.Title, Links: o.Links, Rep: rep, Expect: o.Expect, Style: template.CSS(Style),
		Verdict: verdictOf(rep, o.Expect != ""),
		Timeout: (time.Duration(rep.Timeout * float64(time.Second))).String(),
	}
	if p.Title == "" {
		p.Title = "sessionspec: " + rep.Target
	}
	if !rep.Started.IsZero() {
		p.Started = rep.Started.UTC().Format("2006-01-02 15:04:05 MST")
	}
	budget := o.MaxEmbed
	if budget == 0 {
		budget = DefaultMaxEmbed
	}
	p.Shots.Dir, p.Shots.Max = o.Screenshots, max(budget, 0)
	var files map[string][]shotFile
	if o.Screenshots != "" {
		var err error
		if files, err = listShots(o.Screenshots, rep.Started); err != nil {
			p.Shots.Problem = err.Error()
		}
	}
	for _, r := range rep.Results {
		v := caseView{Result: r, Duration: seconds(r.Seconds)}
		v.Class, v.Mark = Class(r.Outcome)
		v.Mark = strings.ToUpper(v.Mark)
		if o.Expect != "" && r.Differs(true) {
			v.Unexpected = "unexpected: not in the expectations"
			if r.Expected != "" {
				v.Unexpected = fmt.Sprintf("unexpected: expected %s", r.Expected)
			}
		}
		transcript := o.Transcripts[r.ID]
		if transcript == "" {
			transcript = r.Evidence
		}
		bad := r.Outcome == spec.Failed || r.Outcome == spec.Errored || r.Outcome == spec.Interrupted
		switch {
		case bad:
			v.Evidence, v.EvidenceOpen = r.Evidence, true
			if v.Evidence == "" {
				v.Evidence = transcript
			}
		case o.AllEvidence:
			v.Evidence = transcript
		}
		v.Steps = steps(r.ID, files[r.ID], transcript)
		for i := range v.Steps {
			s := &v.Steps[i]
			if s.file.path == "" {
				continue
			}
			if s.file.size <= budget-p.Shots.Bytes {
				if src, ok := embed(s.file.path); ok {
					s.Src, s.Embedded = src, true
					p.Shots.Embedded++
					p.Shots.Bytes += s.file.size
					continue
				}
			}
			s.Href = link(o.Dir, s.file.path)
			p.Shots.Linked++
		}
		if r.Area == "browser" && len(files[r.ID]) == 0 && r.Outcome != spec.NotApplicable {
			switch {
			case o.Screenshots == "":
				v.NoShots = "no screenshot directory was given"
			case p.Shots.Problem == "":
				v.NoShots = "no screenshots of " + r.ID + " from this run in " + o.Screenshots
			}
		}
		p.Cases = append(p.Cases, v)
		if r.Outcome != spec.Passed || r.Expected != "" && !r.Expected.Allows(r.Outcome) {
			p.NotPassed = append(p.NotPassed, v)
		}
	}
	return p
}

// Class returns the CSS class (pass, fail, na, error) and the word (pass,
// fail, n/a, error, interrupted) of an outcome; the matrix uses them too.
func Class(o spec.Outcome) (class, text string) {
	switch o {
	case spec.Passed:
		return "pass", "pass"
	case spec.Failed:
		return "fail", "fail"
	case spec.NotApplicable:
		return "na", "n/a"
	case spec.Interrupted:
		return "error", "interrupted"
	}
	return "error", "error"
}

// ExitMeaning says what a judged report's exit code means, in one
// sentence; withExpect says whether it was judged against an
// expectations file.
func ExitMeaning(rep *spec.Report, withExpect bool) string {
	s := rep.Summary
	switch rep.ExitCode {
	case spec.ExitPass:
		if withExpect {
			return "every outcome matched the expectations"
		}
		return "every MUST case ran and passed"
	case spec.ExitFail:
		if withExpect {
			return fmt.Sprintf("a conformance failure: %d outcome(s) differ from the expectations", s.Unexpected)
		}
		return fmt.Sprintf("a conformance failure: %d MUST case(s) failed", s.MustFailures)
	case spec.ExitHarness:
		switch {
		case len(rep.Problems) > 0:
			return "a harness error: " + strings.Join(rep.Problems, "; ")
		case s.Interrupted > 0:
			return "a harness error: the run was interrupted"
		}
		return "a harness or target error: the target stopped answering, or the harness could not run a case"
	case spec.ExitIncomplete:
		return "incomplete: nothing failed, but MUST case(s) were not applicable: " + strings.Join(s.Incomplete, ", ")
	}
	return fmt.Sprintf("exit code %d", rep.ExitCode)
}

func verdictOf(rep *spec.Report, withExpect bool) verdict {
	v := verdict{Code: rep.ExitCode, Meaning: ExitMeaning(rep, withExpect)}
	switch rep.ExitCode {
	case spec.ExitPass:
		v.Class = "pass"
	case spec.ExitFail:
		v.Class = "fail"
	case spec.ExitIncomplete:
		v.Class = "na"
	default:
		v.Class = "error"
	}
	return v
}

func seconds(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%d ms", int(s*1000+0.5))
	case s < 60:
		return fmt.Sprintf("%.2f s", s)
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}
