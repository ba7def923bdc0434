package spec

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Outcome is how a case ended.
type Outcome string

const (
	Passed        Outcome = "pass"
	Failed        Outcome = "fail"
	NotApplicable Outcome = "n/a"         // the target lacks what the case needs; the reason says what
	Errored       Outcome = "error"       // the target did not answer, or the harness could not run the case
	Interrupted   Outcome = "interrupted" // the run was interrupted (a signal, its deadline) before the case ended
)

// Result is one case's outcome with its evidence.
type Result struct {
	Case
	Outcome  Outcome       `json:"outcome"`
	Message  string        `json:"message,omitempty"`  // why it failed or was not applicable
	Evidence string        `json:"evidence,omitempty"` // the HTTP exchanges of a failed case
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	// AllowedNA marks a MUST case that was not applicable and that the
	// user allowed to be (Options.AllowNA): it does not make the run
	// incomplete.
	AllowedNA bool `json:"allowed_na,omitempty"`
	// Expected and Reason come from an expectations file, if one was given.
	Expected Outcome `json:"expected,omitempty"`
	Reason   string  `json:"reason,omitempty"`
}

// Report is the outcome of one run of the suite against one target.
type Report struct {
	Target string `json:"target"`
	URL    string `json:"url"`
	// Replicas are the base URLs of a clustered target's replicas, its
	// own URL first (empty for a target that is not a cluster).
	Replicas     []string  `json:"replicas,omitempty"`
	Clock        string    `json:"clock"` // "controlled" or "wall"
	Timeout      float64   `json:"timeout_seconds"`
	Cookie       string    `json:"cookie"`
	CookieSource string    `json:"cookie_source"` // discovery, flag, detected, or why none
	Version      string    `json:"version"`       // of sessionspec
	Catalogue    string    `json:"catalogue"`     // CatalogueVersion of the cases the run chose from
	Started      time.Time `json:"started"`
	Seconds      float64   `json:"seconds"`
	Results      []Result  `json:"cases"`
	// Problems are harness errors found after the cases ran (e.g. another
	// run moved a shared fake clock): the run's verdict cannot stand.
	Problems []string `json:"problems,omitempty"`
	Summary  Summary  `json:"summary"`
	ExitCode int      `json:"exit_code"`
}

// Summary counts the outcomes of a report.
type Summary struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	NotApplicable int `json:"not_applicable"`
	Error         int `json:"error"`
	Interrupted   int `json:"interrupted"`
	MustFailures  int `json:"must_failures"`
	// Incomplete lists the MUST cases that were not applicable (and not
	// allowed to be): a run with any is not a pass.
	Incomplete []string `json:"incomplete,omitempty"`
	Unexpected int      `json:"unexpected"` // outcomes that differ from the expectations file
}

// Exit codes of a run:
//   - 0: every MUST case ran and passed (or every outcome matched its
//     expectation);
//   - 1: a conformance failure;
//   - 2: a harness or target error (also an interrupted run);
//   - 3: incomplete: nothing failed, but a MUST case was not applicable,
//     so the run did not show conformance (allow it with an expectation
//     "ID n/a reason" or --allow-na).
const (
	ExitPass       = 0
	ExitFail       = 1
	ExitHarness    = 2
	ExitIncomplete = 3
)

// Expectation is a known outcome of one case for one target.
type Expectation struct {
	Outcome Outcome
	Reason  string
}

// Expectations map case IDs to their known outcome for one target, like
// web-platform-tests' expectation files: a run then fails only when it
// differs from them.
type Expectations map[string]Expectation

// Allows reports whether an expected outcome admits got: the outcome
// itself, or for an expectation "X|n/a" either X or n/a.
func (o Outcome) Allows(got Outcome) bool {
	for _, alt := range strings.Split(string(o), "|") {
		if Outcome(alt) == got {
			return true
		}
	}
	return false
}

// ParseExpectations reads an expectations file: one case a line,
//
//	ID OUTCOME reason...
//
// with OUTCOME one of pass, fail, n/a, error, or an outcome and n/a
// ("fail|n/a"): a case that some runs cannot judge (a wall-clock case
// whose answers came too slowly says n/a, no verdict) and whose verdict,
// when there is one, is known. Two verdicts ("fail|pass") are refused: a
// verdict that flips is a defect to fix, never an expectation. '#'
// starts a comment. Unknown IDs and outcomes are errors, so a typo cannot
// hide a difference.
func ParseExpectations(r io.Reader, cases []Case) (Expectations, error) {
	known := map[string]bool{}
	for _, c := range cases {
		known[c.ID] = true
	}
	exp := Expectations{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: want \"ID OUTCOME reason\", got %q", n, line)
		}
		id, outcome := fields[0], Outcome(fields[1])
		if !known[id] {
			return nil, fmt.Errorf("line %d: no case %s in the catalogue (sessionspec list shows the IDs)", n, id)
		}
		if err := checkExpected(outcome); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if _, dup := exp[id]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice", n, id)
		}
		exp[id] = Expectation{outcome, strings.Join(fields[2:], " ")}
	}
	return exp, sc.Err()
}

// checkExpected refuses an outcome an expectations file may not give.
func checkExpected(o Outcome) error {
	alts := strings.Split(string(o), "|")
	for _, a := range alts {
		switch Outcome(a) {
		case Passed, Failed, NotApplicable, Errored:
		default:
			return fmt.Errorf("outcome %q is not pass, fail, n/a or error (or one of them and n/a: fail|n/a)", excerpt(string(o), 40))
		}
	}
	if len(alts) > 2 || len(alts) == 2 && (alts[0] == alts[1] || !slices.Contains(alts, string(NotApplicable))) {
		return fmt.Errorf("outcome %q: the only alternative allowed is n/a (no verdict), as in fail|n/a; two verdicts would hide a flip", excerpt(string(o), 40))
	}
	return nil
}

// Judge fills in the summary and the exit code. Without expectations a
// run fails on a failed MUST case, and is incomplete when a MUST case was
// not applicable; with them, it fails on any outcome that differs (an
// unlisted case is expected to pass, or to be n/a unless it is a MUST
// case). A target error, an interruption or a problem is exit 2 unless
// expected.
func (rep *Report) Judge(exp Expectations) {
	s := Summary{}
	harness := len(rep.Problems) > 0
	for i := range rep.Results {
		r := &rep.Results[i]
		switch r.Outcome {
		case Passed:
			s.Pass++
		case Failed:
			s.Fail++
			if r.Level == Must {
				s.MustFailures++
			}
		case NotApplicable:
			s.NotApplicable++
		case Errored:
			s.Error++
		case Interrupted:
			s.Interrupted++
			harness = true
		}
		e, listed := exp[r.ID]
		r.Expected, r.Reason = e.Outcome, e.Reason
		if r.Outcome == NotApplicable && r.Level == Must && !r.AllowedNA && !(listed && e.Outcome.Allows(NotApplicable)) {
			s.Incomplete = append(s.Incomplete, r.ID)
		}
		if exp == nil {
			harness = harness || r.Outcome == Errored
			continue
		}
		if r.Differs(true) {
			s.Unexpected++
			harness = harness || r.Outcome == Errored
		}
	}
	rep.Summary = s
	switch {
	case harness:
		rep.ExitCode = ExitHarness
	case exp != nil && s.Unexpected > 0, exp == nil && s.MustFailures > 0:
		rep.ExitCode = ExitFail
	case len(s.Incomplete) > 0:
		rep.ExitCode = ExitIncomplete
	default:
		rep.ExitCode = ExitPass
	}
}

// Differs reports whether r's outcome differs from its expectation (for a
// judged report with expectations).
func (r Result) Differs(withExpectations bool) bool {
	if !withExpectations {
		return r.Outcome == Errored || r.Outcome == Interrupted || r.Outcome == Failed && r.Level == Must
	}
	if r.Expected != "" {
		return !r.Expected.Allows(r.Outcome)
	}
	return r.Outcome == Failed || r.Outcome == Errored || r.Outcome == Interrupted
}

// Line renders a result as one console line.
func (r Result) Line() string {
	mark := map[Outcome]string{Passed: "PASS", Failed: "FAIL", NotApplicable: "N/A ", Errored: "ERR ", Interrupted: "INT "}[r.Outcome]
	line := fmt.Sprintf("%s  %-8s  %-11s  %s (%s)", mark, r.Level, r.ID, r.Title, r.Duration.Round(time.Millisecond))
	if r.Expected != "" {
		line += fmt.Sprintf("  [expected %s: %s]", r.Expected, r.Reason)
	}
	return line
}

// WriteJSON writes the report as JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteJUnit writes the report in the JUnit XML format CI systems read:
// one testcase per case, named by its ID, in a class per area; the
// suite's properties name the target's URL, clock, timeout and cookie,
// and a cluster's replicas ("replica 0" is the target's own URL).
func (rep *Report) WriteJUnit(w io.Writer) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Error     *failure `xml:"error,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type property struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	type testsuite struct {
		XMLName    xml.Name   `xml:"testsuite"`
		Name       string     `xml:"name,attr"`
		Tests      int        `xml:"tests,attr"`
		Failures   int        `xml:"failures,attr"`
		Errors     int        `xml:"errors,attr"`
		Skipped    int        `xml:"skipped,attr"`
		Time       string     `xml:"time,attr"`
		Timestamp  string     `xml:"timestamp,attr,omitempty"`
		Properties []property `xml:"properties>property"`
		Cases      []testcase `xml:"testcase"`
	}
	ts := testsuite{
		Name: "sessionspec: " + rep.Target, Tests: len(rep.Results), Failures: rep.Summary.Fail,
		Errors: rep.Summary.Error, Skipped: rep.Summary.NotApplicable, Time: fmt.Sprintf("%.3f", rep.Seconds),
		Properties: []property{{"url", rep.URL}, {"clock", rep.Clock}, {"timeout_seconds", fmt.Sprint(rep.Timeout)},
			{"cookie", rep.Cookie}, {"cookie_source", rep.CookieSource}, {"version", rep.Version}, {"catalogue", rep.Catalogue}},
	}
	if !rep.Started.IsZero() {
		ts.Timestamp = rep.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for i, r := range rep.Replicas { // a cluster's replicas, its own URL first, as the evidence numbers them
		ts.Properties = append(ts.Properties, property{fmt.Sprintf("replica %d", i), r})
	}
	for _, p := range rep.Problems {
		ts.Properties = append(ts.Properties, property{"problem", p})
	}
	for _, r := range rep.Results {
		tc := testcase{
			Name:      fmt.Sprintf("%s [%s] %s", r.ID, r.Level, r.Title),
			Classname: "sessionspec." + r.Area,
			Time:      fmt.Sprintf("%.3f", r.Seconds),
			SystemOut: fmt.Sprintf("%s: %q", r.Source, r.Seed),
		}
		detail := r.Message
		if r.Evidence != "" {
			detail += "\n\n" + r.Evidence
		}
		switch r.Outcome {
		case Failed:
			tc.Failure = &failure{Message: firstLine(r.Message), Type: string(r.Level), Text: detail}
		case Errored, Interrupted:
			tc.Error = &failure{Message: firstLine(r.Message), Type: string(r.Outcome), Text: detail}
		case NotApplicable:
			tc.Skipped = &skipped{Message: r.Message}
		}
		ts.Cases = append(ts.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(ts); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// WriteFile writes the report to path with write (WriteJSON, WriteJUnit,
// or another renderer) whole or not at all: into a temporary file beside
// it, renamed into place only when every byte is written.
func WriteFile(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a rename, there is nothing to remove
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp's 0600 is not what a report is
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// CheckWritable reports early whether a report could be written to path,
// without leaving anything there.
func CheckWritable(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
