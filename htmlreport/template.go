package htmlreport

import (
	"fmt"
	"html/template"
	"strings"
)

// Style is the page's style sheet, inline in every page; the matrix's
// grid adds its own rules to it.
const Style = `
:root { --fg: #1d232a; --muted: #5a6572; --line: #d5dbe1; --soft: #f6f8fa;
  --pass-bg: #dff3e4; --pass: #1e6b34; --fail-bg: #fbdcdc; --fail: #9b1c1c;
  --na-bg: #eef0f3; --na: #5f6873; --error-bg: #fde7c8; --error: #8a4b00; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0 auto; padding: 20px 28px 60px; max-width: 1180px; color: var(--fg); background: #fff; }
h1 { font-size: 23px; margin: 0; line-height: 1.25; } h2 { font-size: 18px; margin: 30px 0 10px; }
h3 { font-size: 15.5px; margin: 0; font-weight: 600; line-height: 1.45; }
a { color: #0b5cad; }
code, pre, .id, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { font-size: 13px; background: var(--soft); padding: 0 3px; border-radius: 3px; }
.meta { color: var(--muted); }
nav.links { margin: 0 0 10px; font-size: 14px; } nav.links a { margin-right: 14px; }
pre { background: var(--soft); border: 1px solid #e1e5ea; border-radius: 4px; padding: 8px 10px; margin: 8px 0;
  font-size: 12.5px; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 640px; overflow: auto; }
.badge { display: inline-block; min-width: 52px; text-align: center; padding: 1px 8px; border-radius: 4px;
  font-weight: 700; font-size: 12.5px; letter-spacing: .03em; vertical-align: 1px; }
.badge.pass { background: var(--pass-bg); color: var(--pass); } .badge.fail { background: var(--fail-bg); color: var(--fail); }
.badge.na { background: var(--na-bg); color: var(--na); } .badge.error { background: var(--error-bg); color: var(--error); }
.verdict { border-radius: 6px; padding: 14px 18px; margin: 0 0 16px; border-left: 6px solid; }
.verdict.pass { background: var(--pass-bg); border-color: var(--pass); } .verdict.fail { background: var(--fail-bg); border-color: var(--fail); }
.verdict.na { background: var(--na-bg); border-color: var(--na); } .verdict.error { background: var(--error-bg); border-color: var(--error); }
.verdict .exit { font-size: 16px; margin-top: 4px; } .verdict .exit b { font-size: 17px; }
table.facts { border-collapse: collapse; margin: 0 0 14px; font-size: 14px; }
table.facts th { text-align: left; font-weight: 600; color: var(--muted); padding: 2px 18px 2px 0; vertical-align: top; white-space: nowrap; }
table.facts td { padding: 2px 0; vertical-align: top; overflow-wrap: anywhere; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0 14px; }
.counts span { border: 1px solid var(--line); border-radius: 5px; padding: 4px 12px; font-size: 14px; }
.counts span b { font-size: 17px; margin-right: 4px; }
.counts .pass { background: var(--pass-bg); color: var(--pass); } .counts .fail { background: var(--fail-bg); color: var(--fail); }
.counts .na { background: var(--na-bg); color: var(--na); } .counts .error { background: var(--error-bg); color: var(--error); }
.alert { background: #fff8e1; border-left: 4px solid #e0b000; padding: 6px 10px; margin: 8px 0; }
ul.look { margin: 4px 0 0; padding-left: 20px; } ul.look li { margin: 2px 0; }
section.case { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 5px; padding: 10px 14px; margin: 10px 0; }
section.case.pass { border-left-color: #7cc592; } section.case.fail { border-left-color: #d64545; background: #fffafa; }
section.case.na { border-left-color: #aab2bc; } section.case.error { border-left-color: #e09a3a; }
section.case .id { font-weight: 700; margin: 0 6px; }
span.level { display: inline-block; font-size: 11.5px; font-weight: 700; color: var(--muted); border: 1px solid var(--line);
  border-radius: 3px; padding: 0 5px; margin-right: 6px; vertical-align: 1px; }
span.level.MUST { color: #7a1f1f; border-color: #e3b4b4; }
.when { float: right; color: var(--muted); font-size: 13px; font-weight: 400; margin-left: 12px; }
blockquote.seed { margin: 6px 0 2px; padding: 2px 0 2px 12px; border-left: 3px solid #c9d3dd; color: #2c3640; }
blockquote.seed q { font-style: italic; } blockquote.seed q::before { content: "\201C"; } blockquote.seed q::after { content: "\201D"; }
blockquote.seed cite { display: block; font-style: normal; font-size: 13px; color: var(--muted); }
.reason { background: #fff8e1; border-left: 3px solid #e0b000; padding: 4px 8px; margin: 6px 0; font-size: 14px; }
pre.message { background: #fff; border-color: #efc6c6; color: #5c1111; }
section.case.na pre.message, section.case.error pre.message { border-color: var(--line); color: var(--fg); }
details { margin: 6px 0; } details > summary { cursor: pointer; color: var(--muted); font-size: 13.5px; }
.steps { margin: 10px 0 4px; }
.steps > p { margin: 0 0 6px; font-size: 13.5px; color: var(--muted); }
figure.step { margin: 0 0 10px; display: grid; grid-template-columns: minmax(0, 800px) minmax(200px, 1fr); gap: 4px 14px; align-items: start; }
figure.step img { display: block; width: 100%; height: auto; border: 1px solid #b9c3cd; border-radius: 3px;
  box-shadow: 0 1px 3px rgba(0,0,0,.08); background: #fff; }
figure.step.failure img { border: 2px solid #d64545; }
figure.step.noshot { display: block; margin: 0 0 10px; padding: 4px 10px; border-left: 3px solid var(--line); }
figure.step figcaption { font-size: 13.5px; min-width: 0; }
figure.step .detail { display: block; margin-top: 3px; color: #3c4650; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; max-height: 16em; overflow: auto; }
figure.step.noshot .detail { display: inline; max-height: none; margin-left: 6px; }
@media (max-width: 980px) { figure.step { grid-template-columns: 1fr; } }
@media print { section.case { break-inside: avoid; } pre { max-height: none; } }
`

var funcs = template.FuncMap{
	"kib": func(n int64) string {
		if n >= 1<<20 {
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		}
		return fmt.Sprintf("%d KiB", (n+1023)/1024)
	},
	"join": func(s []string) string { return strings.Join(s, ", ") },
}

var pageTemplate = template.Must(template.New("page").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.Style}}</style></head><body>
{{with .Links}}<nav class="links">{{range .}}<a href="{{.Href}}">{{.Text}}</a>{{end}}</nav>{{end}}
{{$r := .Rep}}{{$s := .Rep.Summary}}
<header class="verdict {{.Verdict.Class}}">
<h1>{{.Title}}</h1>
<div class="exit"><b>exit {{.Verdict.Code}}</b> — {{.Verdict.Meaning}}</div>
</header>

<table class="facts">
<tr><th>target</th><td>{{$r.Target}}</td></tr>
<tr><th>URL</th><td><code>{{$r.URL}}</code></td></tr>
{{if $r.Replicas}}<tr><th>replicas</th><td>{{range $i, $u := $r.Replicas}}{{if $i}}, {{end}}<code>{{$u}}</code>{{end}} (the suite their load balancer)</td></tr>
{{end}}<tr><th>clock</th><td>{{if eq $r.Clock "controlled"}}controlled (the target's clock, moved by the cases){{else if eq $r.Clock "wall"}}wall clock{{else}}{{$r.Clock}}{{end}}</td></tr>
<tr><th>session timeout</th><td>{{.Timeout}}</td></tr>
<tr><th>cookie</th><td>{{if $r.Cookie}}<code>{{$r.Cookie}}</code>{{else}}none{{end}}{{with $r.CookieSource}} <span class="meta">(from {{.}})</span>{{end}}</td></tr>
<tr><th>versions</th><td>sessionspec {{$r.Version}}, catalogue {{$r.Catalogue}}</td></tr>
<tr><th>run</th><td>{{with .Started}}started {{.}}, {{end}}{{printf "%.2f" $r.Seconds}} s</td></tr>
{{with .Expect}}<tr><th>expectations</th><td><code>{{.}}</code>: {{$s.Unexpected}} outcome(s) differ</td></tr>{{end}}
{{if .Shots.Dir}}<tr><th>screenshots</th><td><code>{{.Shots.Dir}}</code>{{if .Shots.Problem}}: cannot be read: {{.Shots.Problem}}{{else if not .Shots.Max}}: {{.Shots.Linked}} linked{{else}}: {{.Shots.Embedded}} embedded ({{kib .Shots.Bytes}}){{if .Shots.Linked}}, <b>{{.Shots.Linked}} linked</b>, not embedded: the page embeds at most {{kib .Shots.Max}}{{end}}{{end}}</td></tr>{{end}}
</table>

<div class="counts">
<span><b>{{len $r.Results}}</b> cases</span>
<span class="pass"><b>{{$s.Pass}}</b> pass</span>
<span class="fail"><b>{{$s.Fail}}</b> fail{{if $s.Fail}} ({{$s.MustFailures}} MUST){{end}}</span>
<span class="na"><b>{{$s.NotApplicable}}</b> n/a</span>
<span class="error"><b>{{$s.Error}}</b> error</span>
{{if $s.Interrupted}}<span class="error"><b>{{$s.Interrupted}}</b> interrupted</span>{{end}}
</div>
{{with $s.Incomplete}}<p class="alert"><b>Incomplete:</b> MUST cases not applicable: {{join .}} (their reasons are below; <code>--allow-na</code> accepts them on purpose).</p>{{end}}
{{range $r.Problems}}<p class="alert"><b>Problem:</b> {{.}}</p>{{end}}
{{with .NotPassed}}<p><b>Not passed{{if $.Expect}} or not as expected{{end}}:</b></p>
<ul class="look">{{range .}}<li><span class="badge {{.Class}}">{{.Mark}}</span> <a class="mono" href="#{{.ID}}">{{.ID}}</a> <span class="level {{.Level}}">{{.Level}}</span>{{.Title}}{{with .Unexpected}} <span class="badge error">{{.}}</span>{{end}}</li>
{{end}}</ul>{{end}}

<h2>Cases</h2>
{{range .Cases}}<section class="case {{.Class}}" id="{{.ID}}">
<h3><span class="when">{{.Area}} · {{.Duration}}</span><span class="badge {{.Class}}">{{.Mark}}</span><span class="id">{{.ID}}</span><span class="level {{.Level}}">{{.Level}}</span>{{.Title}}{{with .Unexpected}} <span class="badge error">{{.}}</span>{{end}}</h3>
{{if .Seed}}<blockquote class="seed"><q>{{.Seed}}</q><cite>{{.Source}}</cite></blockquote>{{else}}<blockquote class="seed"><cite>{{.Source}}</cite></blockquote>{{end}}
{{if .Expected}}<p class="reason">expected <b>{{.Expected}}</b>{{if .Reason}}: {{.Reason}}{{end}}</p>{{end}}
{{if .AllowedNA}}<p class="reason">not applicable, and allowed to be (<code>--allow-na</code>, or a resource the target declares optional)</p>{{end}}
{{if and .Message (ne .Outcome "pass")}}<pre class="message">{{.Message}}</pre>{{end}}
{{with .Steps}}<div class="steps"><p>The browser's steps, each with the screenshot it took:</p>{{range .}}{{if or .Embedded .Href}}<figure class="step{{if .Failure}} failure{{end}}">
{{if .Embedded}}<img src="{{.Src}}" alt="{{.Name}}">{{else}}<a href="{{.Href}}"><img src="{{.Href}}" alt="{{.Name}}"></a>{{end}}
<figcaption><b>step {{.N}}{{with .Caption}}: {{.}}{{end}}</b>{{if .Failure}} <span class="badge fail">when it failed</span>{{end}}{{with .Detail}}<span class="detail">{{.}}</span>{{end}}</figcaption>
</figure>{{else}}<figure class="step noshot"><figcaption><b>step {{.N}}</b><span class="detail">{{.Detail}}</span></figcaption></figure>{{end}}
{{end}}</div>{{end}}
{{if .Evidence}}<details{{if .EvidenceOpen}} open{{end}}><summary>evidence: the exchanges{{if .Steps}} and the browser's steps{{end}}</summary><pre>{{.Evidence}}</pre></details>{{end}}
{{with .NoShots}}<p class="meta">{{.}}</p>{{end}}
</section>
{{end}}
</body></html>
`))
