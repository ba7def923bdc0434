package main

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sessionspec/sessionspec/htmlreport"
	"github.com/sessionspec/sessionspec/spec"
)

// Matrix is what the pages show: the runs as columns, the cases as rows.
type Matrix struct {
	Runs      []*Run
	Kinds     []Group // the kinds, each spanning its runs (Impl holds the kind)
	Groups    []Group
	Rows      []Row
	Findings  []Finding
	New       []Finding // outcomes that differ from their expectations
	Wall      time.Duration
	Browser   bool
	Generated time.Time
	Machine   string
}

// Group is an implementation (or a kind): a header spanning its runs.
type Group struct {
	Impl  string
	Span  int
	First bool // the first group of its kind: the column starts a kind
}

// Row is one case across the runs.
type Row struct {
	Case  spec.Case
	Cells []Cell
}

// Cell is one case in one run.
type Cell struct {
	Run     *Run
	Result  *spec.Result // nil: the run has no such case (not run, filtered out, no report)
	Class   string       // pass, fail, na, error, none
	Text    string       // pass, fail, n/a, error, —
	Labeled bool         // an expectation gives a reason for this outcome (a deviation, or adapter code)
	New     bool         // the outcome differs from the expectation
	Title   string       // the tooltip: the reason or the message
	First   bool         // the run is the first of its kind
}

// Finding is a stated deviation: one case in one run, in one sentence.
type Finding struct {
	Run     *Run
	Case    spec.Case
	Outcome spec.Outcome
	Text    string
}

// Href is the cell's evidence link, relative to the reports directory.
func (c Cell) Href() string { return "evidence/" + c.Run.Name + ".html#" + c.Result.ID }

// Href is the finding's evidence link, relative to the reports directory.
func (f Finding) Href() string { return "evidence/" + f.Run.Name + ".html#" + f.Case.ID }

func build(rs []*Run, wall time.Duration, browser bool) *Matrix {
	m := &Matrix{Runs: rs, Wall: wall, Browser: browser, Generated: time.Now().UTC(), Machine: machine()}
	// The columns, grouped by kind (in the order of each kind's first run),
	// then by implementation.
	var kinds []string
	for _, r := range rs {
		if !slices.Contains(kinds, r.Kind) {
			kinds = append(kinds, r.Kind)
		}
	}
	rs = slices.Clone(rs)
	slices.SortStableFunc(rs, func(a, b *Run) int { return slices.Index(kinds, a.Kind) - slices.Index(kinds, b.Kind) })
	m.Runs = rs
	for i, r := range rs {
		r.KindFirst = i == 0 || rs[i-1].Kind != r.Kind
		if r.KindFirst {
			m.Kinds = append(m.Kinds, Group{Impl: r.Kind, First: true})
		}
		m.Kinds[len(m.Kinds)-1].Span++
		if n := len(m.Groups); n > 0 && !r.KindFirst && m.Groups[n-1].Impl == r.Impl {
			m.Groups[n-1].Span++
		} else {
			m.Groups = append(m.Groups, Group{r.Impl, 1, r.KindFirst})
		}
	}

	// The rows: the catalogue's order, then the cases only reports know
	// (the browser cases), by ID.
	var cases []spec.Case
	seen := map[string]bool{}
	for _, c := range spec.Cases() {
		cases = append(cases, c)
		seen[c.ID] = true
	}
	var extra []spec.Case
	for _, r := range rs {
		if r.Report == nil {
			continue
		}
		for _, res := range r.Report.Results {
			if !seen[res.ID] {
				seen[res.ID] = true
				extra = append(extra, res.Case)
			}
		}
	}
	slices.SortFunc(extra, func(a, b spec.Case) int { return strings.Compare(a.ID, b.ID) })
	cases = append(cases, extra...)

	for _, c := range cases {
		row := Row{Case: c}
		for _, r := range rs {
			cell := Cell{Run: r, Class: "none", Text: "—", Title: "not run", First: r.KindFirst}
			if r.Report == nil {
				cell.Title = r.Problem
			}
			if res := r.result(c.ID); res != nil {
				cell.Result = res
				cell.Class, cell.Text = classOf(res.Outcome)
				cell.Labeled = res.Reason != "" && res.Expected.Allows(res.Outcome)
				cell.New = res.Differs(r.Expect != "")
				cell.Title = res.Message
				if res.Reason != "" {
					cell.Title = res.Reason
				}
				if cell.Labeled && res.Outcome != spec.NotApplicable {
					m.Findings = append(m.Findings, Finding{r, c, res.Outcome, res.Reason})
				}
				if cell.New {
					msg := firstLine(res.Message)
					if res.Expected != "" {
						msg = fmt.Sprintf("expected %s, got %s: %s", res.Expected, res.Outcome, msg)
					}
					m.New = append(m.New, Finding{r, c, res.Outcome, msg})
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		m.Rows = append(m.Rows, row)
	}
	// Deviations read best by implementation, in column order.
	col := map[*Run]int{}
	for i, r := range rs {
		col[r] = i
	}
	slices.SortStableFunc(m.Findings, func(a, b Finding) int { return col[a.Run] - col[b.Run] })
	return m
}

// FindingsByKind are the findings under their kinds, in column order.
func (m *Matrix) FindingsByKind() []KindFindings {
	var out []KindFindings
	for _, f := range m.Findings {
		if n := len(out); n == 0 || out[n-1].Kind != f.Run.Kind {
			out = append(out, KindFindings{Kind: f.Run.Kind})
		}
		out[len(out)-1].Findings = append(out[len(out)-1].Findings, f)
	}
	return out
}

// KindFindings are the findings of the runs of one kind.
type KindFindings struct {
	Kind     string
	Findings []Finding
}

// result returns the run's result for a case, if it has one.
func (r *Run) result(id string) *spec.Result {
	if r.Report == nil {
		return nil
	}
	for i := range r.Report.Results {
		if r.Report.Results[i].ID == id {
			return &r.Report.Results[i]
		}
	}
	return nil
}

// classOf is the CSS class and the word of an outcome, as the pages of
// `sessionspec check --html` have them.
func classOf(o spec.Outcome) (class, text string) { return htmlreport.Class(o) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// Summary is the run's counts, or why it has none.
func (r *Run) Summary() string {
	if r.Report == nil {
		return "no report: " + r.Problem
	}
	s := r.Report.Summary
	return fmt.Sprintf("%d pass, %d fail, %d n/a, %d error", s.Pass, s.Fail, s.NotApplicable, s.Error)
}

// Gate says how the run ended against its expectations.
func (r *Run) Gate() string {
	switch {
	case r.Report == nil:
		return "no report"
	case r.Exit == 0 && r.Expect != "":
		return "as expected"
	case r.Exit == 0:
		return "every MUST case passed"
	case r.Exit == 1 && r.Expect != "":
		return "DIFFERS from expectations"
	case r.Exit == 1:
		return "a MUST case failed"
	case r.Exit == 3:
		return "INCOMPLETE: a MUST case was not applicable"
	}
	return fmt.Sprintf("exit %d", r.Exit)
}

func (m *Matrix) write(reports, snapshot string) error {
	if err := os.MkdirAll(filepath.Join(reports, "evidence"), 0o755); err != nil {
		return err
	}
	if err := writeTemplate(filepath.Join(reports, "matrix.html"), pageTemplate, m); err != nil {
		return err
	}
	for _, r := range m.Runs {
		if err := r.writeEvidence(reports); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(reports, "matrix.md"), []byte(m.markdown(true)), 0o644); err != nil {
		return err
	}
	if snapshot != "" {
		return os.WriteFile(snapshot, []byte(m.markdown(false)), 0o644)
	}
	return nil
}

func writeTemplate(path string, t *template.Template, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", path, err)
	}
	return f.Close()
}

// markdown renders the matrix as Markdown; with links, each cell links to
// its evidence page (for reports/matrix.md), without them it is a snapshot
// to commit.
func (m *Matrix) markdown(links bool) string {
	var b strings.Builder
	b.WriteString("# sessionspec compatibility matrix\n\n")
	fmt.Fprintf(&b, "Generated by `make matrix` on %s (%s); ", m.Generated.Format("2006-01-02 15:04 MST"), m.Machine)
	if m.Wall > 0 {
		fmt.Fprintf(&b, "the whole matrix took %s of wall time", m.Wall.Round(100*time.Millisecond))
	} else {
		b.WriteString("rendered from the reports already there (-run=false)")
	}
	if !m.Browser {
		b.WriteString("; the browser cases were not run (this sessionspec has no --browser)")
	}
	b.WriteString(".\n\n")
	b.WriteString("Columns are grouped by the kind of session the implementation keeps (the first line of each header): ")
	for i, k := range m.Kinds {
		if i > 0 {
			b.WriteString("; ")
		}
		var impls []string
		for _, r := range m.Runs {
			if r.Kind == k.Impl && !slices.Contains(impls, r.Impl) {
				impls = append(impls, r.Impl)
			}
		}
		fmt.Fprintf(&b, "**%s** (%s)", mdEscape(kindName(k.Impl)), mdEscape(strings.Join(impls, ", ")))
	}
	b.WriteString(".\n\n")
	b.WriteString("Cells: **fail** a case failed, pass, n/a not applicable (the reason is in the evidence), — not run; " +
		"† the outcome is a known deviation or is labelled (see below); ‼ the outcome differs from the expectations file.\n\n")

	b.WriteString("| case | level |")
	for _, r := range m.Runs {
		fmt.Fprintf(&b, " *%s*<br>%s<br>%s |", mdEscape(kindName(r.Kind)), mdEscape(r.Impl), mdEscape(r.Mode))
	}
	b.WriteString("\n|---|---|")
	for range m.Runs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range m.Rows {
		fmt.Fprintf(&b, "| %s | %s |", row.Case.ID, row.Case.Level)
		for _, c := range row.Cells {
			text := c.Text
			if c.Class == "fail" || c.Class == "error" {
				text = "**" + text + "**"
			}
			if c.Labeled {
				text += "†"
			}
			if c.New {
				text += "‼"
			}
			if links && c.Result != nil {
				text = fmt.Sprintf("[%s](%s)", text, c.Href())
			}
			fmt.Fprintf(&b, " %s |", text)
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Runs\n\n| run | kind | implementation | mode | outcomes | against its expectations | time |\n|---|---|---|---|---|---|---|\n")
	for _, r := range m.Runs {
		name := r.Name
		if r.Report != nil {
			name = r.Report.Target
		}
		gate := r.Gate()
		if r.Expect != "" {
			gate += " (`" + r.Expect + "`)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %.1f s |\n", r.Name, mdEscape(kindName(r.Kind)), mdEscape(name), mdEscape(r.Mode),
			r.Summary(), gate, r.Seconds)
	}

	if len(m.New) > 0 {
		b.WriteString("\n## Outcomes that differ from the expectations\n\n")
		for _, f := range m.New {
			fmt.Fprintf(&b, "- %s (%s): %s %s — %s\n", f.Run.Impl, f.Run.Mode, f.Case.ID, f.Outcome, mdEscape(f.Text))
		}
	}
	b.WriteString("\n## Deviations and labels, one sentence each\n\nFrom the expectations files (`ID OUTCOME reason`); the evidence is in each run's report.\n")
	impl, kind := "", ""
	for _, f := range m.Findings {
		if f.Run.Kind != kind {
			kind = f.Run.Kind
			fmt.Fprintf(&b, "\n### %s\n", capitalize(kindName(kind)))
			impl = ""
		}
		if f.Run.Impl+f.Run.Mode != impl {
			impl = f.Run.Impl + f.Run.Mode
			fmt.Fprintf(&b, "\n#### %s (%s)\n\n", f.Run.Impl, f.Run.Mode)
		}
		id := f.Case.ID
		if links {
			id = fmt.Sprintf("[%s](%s)", id, f.Href())
		}
		fmt.Fprintf(&b, "- %s (%s, %s): %s\n", id, f.Case.Level, f.Outcome, mdEscape(f.Text))
	}
	return b.String()
}

// kindName is how the pages name a kind ("" for a run without one).
func kindName(k string) string {
	if k == "" {
		return "other"
	}
	return k
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// writeEvidence writes the run's evidence page, reports/evidence/RUN.html:
// the page of `sessionspec check --html` (package htmlreport), with the
// screenshots linked rather than embedded, so that the reports directory
// holds each of them once.
func (r *Run) writeEvidence(reports string) error {
	path := filepath.Join(reports, "evidence", r.Name+".html")
	if r.Report == nil {
		return writeTemplate(path, noReportTemplate, r)
	}
	links := []htmlreport.Link{{Text: "← the matrix", Href: "../matrix.html"}}
	if r.Log != "" {
		links = append(links, htmlreport.Link{Text: "the run's log", Href: "../" + filepath.ToSlash(r.Log)})
	}
	err := htmlreport.WriteFile(path, r.Report, htmlreport.Options{
		Title: r.Impl + " (" + r.Mode + ")", Links: links, Expect: r.Expect,
		Screenshots: filepath.Join(reports, "screenshots", r.Name), MaxEmbed: -1,
	})
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

var funcs = template.FuncMap{
	"class": func(o spec.Outcome) string { c, _ := classOf(o); return c },
	"text":  func(o spec.Outcome) string { _, t := classOf(o); return t },
	"time":  func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
	"round": func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) },
	"kind":  kindName,
	"cap":   capitalize,
}

// style is the shared style of sessionspec's pages (htmlreport.Style)
// and the grid's own rules.
const style = htmlreport.Style + `
body { max-width: none; font-size: 14px; }
table { border-collapse: collapse; } table.matrix { line-height: 1.3; }
table.matrix th, table.matrix td, table.runs th, table.runs td { border: 1px solid var(--line); padding: 3px 7px; text-align: center; vertical-align: middle; }
thead th { background: #f2f5f8; font-weight: 600; font-size: 12.5px; }
th.group { font-size: 13.5px; background: #e6ecf2; }
th.kind { font-size: 14px; background: #d5dee8; text-transform: uppercase; letter-spacing: .04em; }
th.kind.client { background: #eadff0; }
.first { border-left: 3px solid #5b6b7b !important; }
table.matrix td.id { text-align: left; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; white-space: nowrap; }
table.matrix td.title { text-align: left; max-width: 330px; font-size: 12.5px; color: #3c4650; }
td.level { font-size: 11.5px; color: var(--muted); }
td a { color: inherit; text-decoration: none; display: block; }
td.pass { background: var(--pass-bg); color: var(--pass); }
td.fail { background: var(--fail-bg); color: var(--fail); font-weight: 600; }
td.na { background: #f1f2f4; color: #6b7480; }
td.error { background: var(--error-bg); color: var(--error); font-weight: 600; }
td.none { background: #fff; color: #b0b7bf; }
td.new { outline: 3px solid #d00; outline-offset: -3px; }
sup { font-size: 10px; }
.meta { margin: 0 0 14px; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border: 1px solid var(--line); }
ul.findings li { margin: 3px 0; }
.tag { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
table.runs td { text-align: left; font-size: 12.5px; }
`

var pageTemplate = template.Must(template.New("matrix").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sessionspec compatibility matrix</title>
<style>` + style + `</style></head><body>
<h1>sessionspec compatibility matrix</h1>
<p class="meta">Generated by <code>make matrix</code> on {{time .Generated}} ({{.Machine}}); {{if .Wall}}the whole matrix took <b>{{round .Wall}}</b> of wall time{{else}}rendered from the reports already there (-run=false){{end}}{{if not .Browser}}; the browser cases were not run (this sessionspec has no --browser){{end}}.
Every cell links to its evidence: the message, the expectation's reason, the HTTP exchanges of a failure, the browser screenshots.</p>
<p class="meta">The columns are grouped by the kind of session the implementation keeps: a <b>server-side store</b> gives the client an id and keeps the session on the server, which can end it; a <b>signed client-side cookie</b> is the session itself, so the server keeps nothing to revoke and every cookie it sent stays valid for its lifetime.</p>
<p class="legend"><span class="pass" style="background:#dff3e4">pass</span><span style="background:#fbdcdc">fail</span><span style="background:#f1f2f4">n/a</span><span style="background:#fde7c8">error</span><span>— not run</span>
<b>†</b> a known deviation or a labelled outcome (below) &nbsp; <span style="outline:3px solid #d00;outline-offset:-3px">differs from the expectations</span></p>
<table class="matrix">
<thead>
<tr><th rowspan="3">case</th><th rowspan="3">level</th><th rowspan="3">what the target must do</th>{{range .Kinds}}<th class="kind first{{if eq .Impl "signed client-side cookie"}} client{{end}}" colspan="{{.Span}}">{{kind .Impl}}</th>{{end}}</tr>
<tr>{{range .Groups}}<th class="group{{if .First}} first{{end}}" colspan="{{.Span}}">{{.Impl}}</th>{{end}}</tr>
<tr>{{range .Runs}}<th{{if .KindFirst}} class="first"{{end}} title="{{.Name}}">{{.Mode}}</th>{{end}}</tr>
</thead>
<tbody>
{{range .Rows}}<tr><td class="id">{{.Case.ID}}</td><td class="level">{{.Case.Level}}</td><td class="title">{{.Case.Title}}</td>
{{- range .Cells}}<td class="{{.Class}}{{if .New}} new{{end}}{{if .First}} first{{end}}" title="{{.Title}}">{{if .Result}}<a href="{{.Href}}">{{.Text}}{{if .Labeled}}<sup>†</sup>{{end}}</a>{{else}}{{.Text}}{{end}}</td>{{end}}</tr>
{{end}}</tbody></table>

{{if .New}}<h2>Outcomes that differ from the expectations</h2><ul class="findings">
{{range .New}}<li><b>{{.Run.Impl}}</b> ({{.Run.Mode}}) <a class="tag" href="{{.Href}}">{{.Case.ID}}</a> {{.Outcome}}: {{.Text}}</li>
{{end}}</ul>{{end}}

<h2>Deviations and labels, one sentence each</h2>
<p class="meta">From each target's expectations file (<code>ID OUTCOME reason</code>), which CI gates on: a new difference fails the run.</p>
{{range .FindingsByKind}}<h3>{{cap (kind .Kind)}}</h3>
<ul class="findings">
{{range .Findings}}<li><b>{{.Run.Impl}}</b> <span class="meta">({{.Run.Mode}})</span> <a class="tag" href="{{.Href}}">{{.Case.ID}}</a> <span class="meta">{{.Case.Level}}, {{.Outcome}}</span>: {{.Text}}</li>
{{end}}</ul>{{end}}

<h2>Runs</h2>
<table class="runs"><thead><tr><th>run</th><th>kind</th><th>target (from its discovery document)</th><th>clock</th><th>outcomes</th><th>against its expectations</th><th>time</th><th>log</th></tr></thead><tbody>
{{range .Runs}}<tr><td><a href="evidence/{{.Name}}.html">{{.Name}}</a></td><td>{{kind .Kind}}</td><td>{{if .Report}}{{.Report.Target}}{{else}}{{.Problem}}{{end}}</td>
<td>{{if .Report}}{{.Report.Clock}}, timeout {{.Report.Timeout}} s{{end}}</td><td>{{.Summary}}</td>
<td>{{.Gate}}{{if .Expect}} (<code>{{.Expect}}</code>){{end}}</td><td>{{printf "%.1f" .Seconds}} s</td><td><a href="{{.Log}}">log</a></td></tr>
{{end}}</tbody></table>
</body></html>
`))

// noReportTemplate is the evidence page of a run that left no report.
var noReportTemplate = template.Must(template.New("noreport").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Name}}: sessionspec evidence</title>
<style>` + htmlreport.Style + `</style></head><body>
<nav class="links"><a href="../matrix.html">← the matrix</a>{{if .Log}}<a href="../{{.Log}}">the run's log</a>{{end}}</nav>
<header class="verdict error"><h1>{{.Impl}} ({{.Mode}})</h1><div class="exit">no report: {{.Problem}}</div></header>
</body></html>
`))
