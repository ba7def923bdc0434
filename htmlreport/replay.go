package htmlreport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sessionspec/sessionspec/browser"
	"github.com/sessionspec/sessionspec/spec"
)

// ReplayOptions shape the pages of a replay.
type ReplayOptions struct {
	// ShotWidth is the width, in pixels, the screenshots are scaled down
	// to (0: as Chromium took them). Every screenshot is also cut below
	// what the page shows (its blank rows, but for a margin).
	ShotWidth int
	// JPEG embeds the screenshots as JPEG (quality 80) rather than PNG:
	// smaller pages, for examples kept in a repository.
	JPEG bool
}

// ReplayPageName is the file name of a walk-through's page in the
// replay's directory: <id>.html.
func ReplayPageName(w *browser.Walkthrough) string { return w.ID + ".html" }

// WriteReplay writes the pages of a replay into dir: one self-contained
// page per walk-through, <id>.html, which sets the seed's paragraphs
// beside what the target did at each step (the screenshot, the cookie
// jar, the verdict on the step's claim, the claim's sentence highlighted
// in the paragraph: green where it held, red where it did not), and
// index.html, which links them with a summary. Each file is written whole
// or not at all (spec.WriteFile); dir is made if need be.
//
//	r, err := b.Replay(ctx, target, browser.Walkthroughs())
//	...
//	err = htmlreport.WriteReplay("reports/replay", r, htmlreport.ReplayOptions{})
func WriteReplay(dir string, r *browser.Replay, o ReplayOptions) error {
	if r == nil {
		return errors.New("htmlreport: no replay")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	idx := replayIndex{Title: "sessionspec replay: " + r.Target, R: r, Style: template.CSS(Style + ReplayStyle)}
	idx.Verdict = replayVerdict(r)
	for _, w := range r.Walks {
		pg, err := buildReplayPage(r, w, o)
		if err != nil {
			return err
		}
		pg.Style = idx.Style
		pg.Links = []Link{{Text: "← all walk-throughs", Href: "index.html"}}
		for _, other := range r.Walks {
			if other != w {
				pg.Links = append(pg.Links, Link{Text: other.Walkthrough.Title, Href: ReplayPageName(other.Walkthrough)})
			}
		}
		if err := spec.WriteFile(filepath.Join(dir, ReplayPageName(w.Walkthrough)), func(wr io.Writer) error {
			return replayTemplate.ExecuteTemplate(wr, "walk", pg)
		}); err != nil {
			return err
		}
		idx.Walks = append(idx.Walks, pg.summary)
	}
	return spec.WriteFile(filepath.Join(dir, "index.html"), func(wr io.Writer) error {
		return replayTemplate.ExecuteTemplate(wr, "index", idx)
	})
}

// replayIndex is what the index page renders.
type replayIndex struct {
	Title   string
	R       *browser.Replay
	Verdict verdict
	Walks   []walkSummary
	Style   template.CSS
}

// walkSummary is one walk-through's line on the index.
type walkSummary struct {
	Href, Title, Source string
	Class, Mark         string
	Held, Claims, Steps int
	Message             string
	Failed              []string // the claims that did not hold: "step 6: Keep visiting it ..."
}

// walkPage is what a walk-through's page renders.
type walkPage struct {
	Title      string
	Links      []Link
	R          *browser.Replay
	W          *browser.Replayed
	Verdict    verdict
	Paragraphs []paragraphView
	Unplayed   int // steps the walk-through did not reach
	Shots      int64
	Version    string
	Style      template.CSS
	summary    walkSummary
}

// paragraphView is a paragraph of the seed with its claims marked, and
// the steps taken under it.
type paragraphView struct {
	Parts []textPart
	Steps []stepView
}

// textPart is a run of the paragraph: plain, code (“x“ in the seed's
// markup) or a claim, marked with its steps' verdict.
type textPart struct {
	Text  string
	Code  bool
	Class string     // "" for plain text, else the claim's verdict: pass, fail, na, error
	Steps []int      // the steps that judged the claim
	Sub   []textPart // a claim's own runs, plain and code
}

// claimPart is a claim marked with the verdict class and its steps.
func claimPart(text, class string, steps []int) textPart {
	return textPart{Text: text, Class: class, Steps: steps, Sub: codeParts(textPart{Text: text})}
}

// stepView is a step as the page shows it.
type stepView struct {
	browser.ReplayStep
	Class, Word string
	Claim       []textPart
	Src         template.URL
	Width       int
}

func buildReplayPage(r *browser.Replay, w *browser.Replayed, o ReplayOptions) (*walkPage, error) {
	wt := w.Walkthrough
	pg := &walkPage{Title: wt.Title + ": replayed against " + r.Target, R: r, W: w, Version: spec.Version}
	s := walkSummary{Href: ReplayPageName(wt), Title: wt.Title, Source: wt.Source, Steps: len(wt.Steps), Message: w.Message}
	s.Class, s.Mark = Class(w.Outcome)
	// The claims of the steps that ran, by paragraph, each with the
	// verdicts of its steps.
	type claim struct {
		text  string
		marks []spec.Outcome
		steps []int
	}
	claims := make([][]*claim, len(wt.Paragraphs))
	pg.Paragraphs = make([]paragraphView, len(wt.Paragraphs))
	for _, st := range w.Steps {
		if st.Claim != "" {
			s.Claims++
			if st.Mark == spec.Passed {
				s.Held++
			}
			if st.Mark == spec.Failed {
				s.Failed = append(s.Failed, fmt.Sprintf("step %d: %s", st.N, st.Claim))
			}
			i := slices.IndexFunc(claims[st.Paragraph], func(c *claim) bool { return c.text == st.Claim })
			if i < 0 {
				claims[st.Paragraph] = append(claims[st.Paragraph], &claim{text: st.Claim})
				i = len(claims[st.Paragraph]) - 1
			}
			c := claims[st.Paragraph][i]
			c.marks, c.steps = append(c.marks, st.Mark), append(c.steps, st.N)
		}
		v := stepView{ReplayStep: st}
		v.Class, v.Word = Class(st.Mark)
		v.Word = strings.ToUpper(v.Word)
		if st.Claim != "" {
			v.Claim = []textPart{claimPart(st.Claim, v.Class, nil)}
		}
		if len(st.Screenshot) > 0 {
			src, width, n, err := shotURL(st.Screenshot, o)
			if err != nil {
				return nil, fmt.Errorf("%s step %d: the screenshot: %v", wt.ID, st.N, err)
			}
			v.Src, v.Width = src, width
			pg.Shots += int64(n)
		}
		pg.Paragraphs[st.Paragraph].Steps = append(pg.Paragraphs[st.Paragraph].Steps, v)
	}
	pg.Unplayed = len(wt.Steps) - len(w.Steps)
	for i, text := range wt.Paragraphs {
		var marks []textPart
		var at []int
		for _, c := range claims[i] {
			start := strings.Index(text, c.text)
			if start < 0 {
				continue
			}
			o := spec.Passed
			if slices.Contains(c.marks, spec.Failed) {
				o = spec.Failed
			} else if slices.Contains(c.marks, spec.NotApplicable) {
				o = spec.NotApplicable
			}
			class, _ := Class(o)
			marks = append(marks, claimPart(c.text, class, c.steps))
			at = append(at, start)
		}
		pg.Paragraphs[i].Parts = splitClaims(text, marks, at)
	}
	pg.Verdict = verdict{Class: s.Class}
	switch w.Outcome {
	case spec.Passed:
		pg.Verdict.Meaning = fmt.Sprintf("every claim held: %d of %d", s.Held, s.Claims)
	case spec.Failed:
		pg.Verdict.Meaning = fmt.Sprintf("%d of %d claims did not hold", len(s.Failed), s.Claims)
	case spec.NotApplicable:
		pg.Verdict.Meaning = "not applicable: " + w.Message
	default:
		pg.Verdict.Meaning = "the walk-through could not be played to its end (" + string(w.Outcome) + "): " + firstLine(w.Message)
	}
	pg.summary = s
	return pg, nil
}

// splitClaims cuts text into plain runs and the marked claims, which
// start at at; a claim that overlaps an earlier one is left unmarked.
func splitClaims(text string, marks []textPart, at []int) []textPart {
	order := make([]int, len(marks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return at[a] - at[b] })
	var out []textPart
	pos := 0
	for _, i := range order {
		if at[i] < pos {
			continue
		}
		out = append(out, codeParts(textPart{Text: text[pos:at[i]]})...)
		out = append(out, marks[i])
		pos = at[i] + len(marks[i].Text)
	}
	return append(out, codeParts(textPart{Text: text[pos:]})...)
}

// codeParts splits a run at the seed's “code“ markup.
func codeParts(p textPart) []textPart {
	var out []textPart
	for i, s := range strings.Split(p.Text, "``") {
		if s == "" {
			continue
		}
		q := p
		q.Text, q.Code = s, i%2 == 1
		out = append(out, q)
	}
	return out
}

// shotURL is a screenshot as a data: URI: trimmed of the blank rows
// below what the page shows (trimBlank), scaled down to o.ShotWidth and
// as JPEG if asked. It returns the width and the bytes embedded.
func shotURL(pngData []byte, o ReplayOptions) (template.URL, int, int, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return "", 0, 0, err
	}
	img = trimBlank(img, 16)
	if b := img.Bounds(); o.ShotWidth > 0 && b.Dx() > o.ShotWidth {
		img = scaleDown(img, o.ShotWidth)
	}
	var buf bytes.Buffer
	media := "image/png"
	if o.JPEG {
		media = "image/jpeg"
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img)
	}
	if err != nil {
		return "", 0, 0, err
	}
	// Safe: a fixed media type and base64.
	return template.URL("data:" + media + ";base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), img.Bounds().Dx(), buf.Len(), nil
}

// trimBlank cuts the rows at the bottom of img that are all the colour of
// its bottom-left pixel (the page's background below its text), keeping
// margin of them.
func trimBlank(img image.Image, margin int) image.Image {
	b := img.Bounds()
	bg := img.At(b.Min.X, b.Max.Y-1)
	br, bgG, bb, ba := bg.RGBA()
	last := b.Min.Y // the last row that is not blank, +1
	for y := b.Max.Y - 1; y >= b.Min.Y && last == b.Min.Y; y-- {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, a := img.At(x, y).RGBA(); r != br || g != bgG || bl != bb || a != ba {
				last = y + 1
				break
			}
		}
	}
	h := min(last+margin, b.Max.Y)
	if h <= b.Min.Y || h == b.Max.Y {
		return img
	}
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), h-b.Min.Y))
	for y := b.Min.Y; y < h; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(x-b.Min.X, y-b.Min.Y, img.At(x, y))
		}
	}
	return dst
}

// scaleDown scales img down to width w (the height in proportion),
// each pixel the average of the pixels it covers: text stays legible.
func scaleDown(img image.Image, w int) *image.RGBA {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	h := max(sh*w/sw, 1)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		y0 := y * sh / h
		y1 := max((y+1)*sh/h, y0+1)
		for x := range w {
			x0 := x * sw / w
			x1 := max((x+1)*sw/w, x0+1)
			var r, g, bl, a, n uint64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					cr, cg, cb, ca := img.At(b.Min.X+xx, b.Min.Y+yy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			dst.Set(x, y, color.RGBA64{uint16(r / n), uint16(g / n), uint16(bl / n), uint16(a / n)})
		}
	}
	return dst
}

// replayVerdict is the index's verdict: the replay's exit code and what
// it means.
func replayVerdict(r *browser.Replay) verdict {
	v := verdict{Code: r.ExitCode()}
	failed, claims := 0, 0
	for _, w := range r.Walks {
		for _, s := range w.Steps {
			if s.Claim != "" {
				claims++
				if s.Mark == spec.Failed {
					failed++
				}
			}
		}
	}
	switch v.Code {
	case spec.ExitPass:
		v.Class, v.Meaning = "pass", fmt.Sprintf("every claim of every walk-through held (%d claims)", claims)
	case spec.ExitFail:
		v.Class, v.Meaning = "fail", fmt.Sprintf("%d of %d claims did not hold", failed, claims)
	case spec.ExitIncomplete:
		v.Class, v.Meaning = "na", "nothing failed, but a walk-through could not be played: the target lacks a resource it needs"
	default:
		v.Class, v.Meaning = "error", "a harness or target error: a walk-through could not be played to its end"
		if len(r.Problems) > 0 {
			v.Meaning += ": " + strings.Join(r.Problems, "; ")
		}
	}
	return v
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ReplayStyle is what the replay's pages add to Style.
const ReplayStyle = `
section.para { display: grid; grid-template-columns: minmax(260px, 380px) minmax(0, 1fr); gap: 8px 24px;
  border-top: 1px solid var(--line); padding: 14px 0; align-items: start; }
section.para blockquote.seed { position: sticky; top: 8px; margin: 0; font-size: 15.5px; line-height: 1.6; }
mark { padding: 1px 2px; border-radius: 3px; color: inherit; }
mark.pass { background: #b9e8c5; box-shadow: inset 0 -2px 0 #2f8f4e; }
mark.fail { background: #f7b7b7; box-shadow: inset 0 -2px 0 #c62828; }
mark.na { background: var(--na-bg); box-shadow: inset 0 -2px 0 #9aa3ad; }
mark sup { font-size: 10.5px; font-weight: 700; margin-left: 2px; color: var(--muted); font-style: normal; }
.rstep { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 5px; padding: 8px 12px; margin: 0 0 12px; }
.rstep.pass { border-left-color: #7cc592; } .rstep.fail { border-left-color: #d64545; background: #fffafa; }
.rstep.na { border-left-color: #aab2bc; }
.rstep h3 { margin-bottom: 4px; }
.rstep .claim { margin: 4px 0; } .rstep .claim q::before { content: "\201C"; } .rstep .claim q::after { content: "\201D"; }
.rstep .why { margin: 2px 0 6px; font-size: 14px; }
.rstep.fail .why { color: #7a1414; font-weight: 600; }
.rstep ul.did { margin: 2px 0 6px; padding-left: 18px; font-size: 13.5px; color: #3c4650; }
.rstep img { display: block; max-width: 100%; height: auto; border: 1px solid #b9c3cd; border-radius: 3px; margin: 6px 0; }
table.jar { border-collapse: collapse; font-size: 12.5px; margin: 4px 0; }
table.jar th, table.jar td { border: 1px solid var(--line); padding: 1px 6px; text-align: left; vertical-align: top; }
table.jar th { background: var(--soft); font-weight: 600; } table.jar tr.session td { font-weight: 600; }
table.walks { border-collapse: collapse; margin: 10px 0; font-size: 14.5px; }
table.walks th, table.walks td { border-bottom: 1px solid var(--line); padding: 6px 12px 6px 0; text-align: left; vertical-align: top; }
@media (max-width: 900px) { section.para { grid-template-columns: 1fr; } section.para blockquote.seed { position: static; } }
`

var replayTemplate = template.Must(template.New("replay").Funcs(funcs).Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.Style}}</style></head><body>
{{end}}

{{define "facts"}}<table class="facts">
<tr><th>target</th><td>{{.Target}}</td></tr>
<tr><th>URL</th><td><code>{{.URL}}</code></td></tr>
<tr><th>clock</th><td>{{if eq .Clock "controlled"}}controlled (the target's clock, advanced for each wait){{else}}wall clock (each wait is real){{end}}</td></tr>
<tr><th>session timeout</th><td>{{.Timeout}}</td></tr>
<tr><th>cookie</th><td>{{if .Cookie}}<code>{{.Cookie}}</code>{{else}}none{{end}}</td></tr>
<tr><th>run</th><td>{{if not .Started.IsZero}}started {{.Started.UTC.Format "2006-01-02 15:04:05 MST"}}, {{end}}{{printf "%.2f" .Seconds}} s</td></tr>
</table>
{{range .Problems}}<p class="alert"><b>Problem:</b> {{.}}</p>{{end}}{{end}}

{{define "runs"}}{{range .}}{{if .Code}}<code>{{.Text}}</code>{{else}}{{.Text}}{{end}}{{end}}{{end}}
{{define "text"}}{{range .}}{{if .Class}}<mark class="{{.Class}}">{{template "runs" .Sub}}{{with .Steps}}<sup>{{range $i, $n := .}}{{if $i}},{{end}}{{$n}}{{end}}</sup>{{end}}</mark>{{else if .Code}}<code>{{.Text}}</code>{{else}}{{.Text}}{{end}}{{end}}{{end}}

{{define "walk"}}{{template "head" .}}
{{with .Links}}<nav class="links">{{range .}}<a href="{{.Href}}">{{.Text}}</a>{{end}}</nav>{{end}}
<header class="verdict {{.Verdict.Class}}">
<h1>{{.Title}}</h1>
<div class="exit"><b>{{.Verdict.Meaning}}</b></div>
</header>
<p class="meta">The seed's own text, paragraph by paragraph ({{.W.Walkthrough.Source}}), beside what the target did when a headless Chromium followed it: each step's screenshot (cut below the page's last line), the cookie jar afterwards, and the verdict on the sentence the step checks, highlighted in the paragraph (green: it held; red: it did not; the small numbers are the steps).</p>
{{template "facts" .R}}
{{range .Paragraphs}}<section class="para">
<blockquote class="seed"><q>{{template "text" .Parts}}</q></blockquote>
<div class="rsteps">{{range .Steps}}<div class="rstep {{.Class}}" id="step-{{.N}}">
<h3><span class="badge {{.Class}}">{{.Word}}</span> step {{.N}} <span class="meta">[{{.User}}]</span></h3>
{{with .Claim}}<div class="claim">claim: <q>{{template "text" .}}</q></div>{{end}}
<div class="why">{{.Reason}}</div>
<ul class="did">{{range .Did}}<li>{{.}}</li>{{end}}{{if .URL}}<li>the browser shows {{.URL}}{{if .Status}} ({{.Status}}){{end}}: “{{.Text}}”</li>{{end}}</ul>
{{if .Src}}<img src="{{.Src}}" width="{{.Width}}" alt="step {{.N}}: the browser's page">{{end}}
<table class="jar"><tr><th colspan="5">{{.User}}'s cookie jar</th></tr>
{{range .Jar}}<tr{{if .Session}} class="session"{{end}}><td>{{.Name}}</td><td class="mono">{{.Value}}</td><td>Path={{.Path}}</td><td>{{.Expires}}</td><td>{{if .HTTPOnly}}HttpOnly {{end}}{{.SameSite}}</td></tr>
{{else}}<tr><td colspan="5">(empty)</td></tr>{{end}}</table>
</div>{{end}}</div>
</section>
{{end}}
{{if .Unplayed}}<p class="alert">{{.Unplayed}} step(s) of the walk-through were not played: {{.W.Message}}</p>{{end}}
<p class="meta">{{len .W.Steps}} steps, {{kib .Shots}} of screenshots embedded. Written by <code>sessionspec replay</code>, sessionspec {{.Version}}.</p>
</body></html>
{{end}}

{{define "index"}}{{template "head" .}}
<header class="verdict {{.Verdict.Class}}">
<h1>{{.Title}}</h1>
<div class="exit"><b>exit {{.Verdict.Code}}</b> — {{.Verdict.Meaning}}</div>
</header>
<p class="meta">The seeds' walk-throughs, replayed in headless Chromium against the target: one page each, the seed's paragraphs beside what the target did at every step.</p>
{{template "facts" .R}}
<table class="walks">
<tr><th>walk-through</th><th>outcome</th><th>claims held</th><th>source</th></tr>
{{range .Walks}}<tr><td><a href="{{.Href}}">{{.Title}}</a></td><td><span class="badge {{.Class}}">{{.Mark}}</span></td><td>{{.Held}} of {{.Claims}}{{range .Failed}}<div class="meta">did not hold: {{.}}</div>{{end}}{{if and .Message (ne .Class "pass") (ne .Class "fail")}}<div class="meta">{{.Message}}</div>{{end}}</td><td class="meta">{{.Source}}</td></tr>
{{end}}</table>
</body></html>
{{end}}
`))
