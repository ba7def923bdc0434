package htmlreport

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// shotFile is one screenshot in the screenshot directory.
type shotFile struct {
	path string
	name string // <CASE-ID>-<step>-<slug>.png
	size int64
}

// step is one browser step of a case: its screenshot, if it took one,
// and what the case's transcript says it did and saw.
type step struct {
	N        int
	Name     string // the screenshot's file name
	Caption  string // the step's slug, in words: "alice reload after flush"
	Detail   string // the transcript's note of the step: the action, the page's address, status and text
	Src      template.URL
	Href     string
	Embedded bool
	Failure  bool // the last screenshot of a tab, taken when the case failed
	file     shotFile
}

// listShots lists the PNG files of dir not older than the run (a case
// removes its own old screenshots when it runs, but a case that did not
// run this time leaves them).
func listShots(dir string, started time.Time) (map[string][]shotFile, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	byPrefix := map[string][]shotFile{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".png") || strings.HasPrefix(name, ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		// Some file systems keep whole seconds.
		if !started.IsZero() && info.ModTime().Before(started.Add(-2*time.Second)) {
			continue
		}
		f := shotFile{path: filepath.Join(dir, name), name: name, size: info.Size()}
		// Every "X-" prefix of the name may be a case ID: BROWSER-001-03-alice-top-page.png
		// is filed under BROWSER-, BROWSER-001-, BROWSER-001-03-, ...
		for i := range len(name) {
			if name[i] == '-' {
				byPrefix[name[:i]] = append(byPrefix[name[:i]], f)
			}
		}
	}
	return byPrefix, nil
}

// stepOf parses <id>-<step>-<slug>.png; ok is false for a file of
// another case whose ID starts with id.
func stepOf(id, name string) (n int, slug string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSuffix(name, ".png"), id+"-")
	if !ok {
		return 0, "", false
	}
	num, slug, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, slug, true
}

// note is a browser step as the transcript notes it.
type note struct {
	text string
	shot string // the base name of its screenshot, if it took one
}

// parseNotes reads the browser steps out of a case's transcript:
//
//	# browser step 03 [alice] reload -> http://… (200): "Your session id is: …"
//	  screenshot shots/BROWSER-001-03-alice-reload.png
//
// and the screenshots of a failure ("# browser evidence [alice] when the
// case failed:"), each a block that ends with an empty line.
func parseNotes(transcript string) (steps map[int]note, failures map[string]string) {
	steps, failures = map[int]note{}, map[string]string{}
	lines := strings.Split(transcript, "\n")
	for i := 0; i < len(lines); i++ {
		head := lines[i]
		var block []string
		for i+1 < len(lines) && lines[i+1] != "" && !strings.HasPrefix(lines[i+1], "# ") {
			i++
			block = append(block, lines[i])
		}
		if rest, ok := strings.CutPrefix(head, "# browser step "); ok {
			num, text, _ := strings.Cut(rest, " ")
			n, err := strconv.Atoi(num)
			if err != nil {
				continue
			}
			nt := note{}
			var detail []string
			for _, l := range block {
				if p, ok := strings.CutPrefix(l, "  screenshot "); ok && nt.shot == "" {
					nt.shot = filepath.Base(p)
					continue
				}
				detail = append(detail, l)
			}
			nt.text = strings.Join(append([]string{text}, detail...), "\n")
			steps[n] = nt
		} else if rest, ok := strings.CutPrefix(head, "# browser evidence "); ok {
			what := strings.TrimSuffix(rest, ":")
			var shot string
			for _, l := range block {
				if p, ok := strings.CutPrefix(l, "  screenshot "); ok {
					shot = filepath.Base(p)
				} else if p, ok := strings.CutPrefix(l, "  page "); ok && !strings.HasPrefix(p, "text:") {
					what += "; the page: " + p
				}
			}
			if shot != "" {
				failures[shot] = what
			}
		}
	}
	return steps, failures
}

// steps merges a case's screenshots (files, from prefix id-) with the
// steps its transcript notes, in step order.
func steps(id string, files []shotFile, transcript string) []step {
	notes, failures := parseNotes(transcript)
	byN := map[int]*step{}
	var out []*step
	for _, f := range files {
		n, slug, ok := stepOf(id, f.name)
		if !ok {
			continue
		}
		s := &step{N: n, Name: f.name, Caption: strings.ReplaceAll(slug, "-", " "), file: f}
		if nt, ok := notes[n]; ok && (nt.shot == "" || nt.shot == f.name) {
			s.Detail = nt.text
		}
		if what, ok := failures[f.name]; ok {
			s.Failure, s.Detail = true, what
		}
		if byN[n] == nil {
			byN[n] = s
		}
		out = append(out, s)
	}
	for n, nt := range notes {
		if byN[n] == nil {
			s := &step{N: n, Detail: nt.text}
			byN[n] = s
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b *step) int {
		if a.N != b.N {
			return a.N - b.N
		}
		return strings.Compare(a.Name, b.Name)
	})
	res := make([]step, len(out))
	for i, s := range out {
		res[i] = *s
	}
	return res
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// embed reads a screenshot as a data: URI; ok is false when it cannot be
// read or is no PNG (it is then linked).
func embed(path string) (template.URL, bool) {
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, pngSignature) {
		return "", false
	}
	// Safe: a fixed media type and base64, which has no quote, space or
	// angle bracket.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b)), true
}

// link is path relative to the page's directory dir, as a URL.
func link(dir, path string) string {
	if dir == "" {
		dir = "."
	}
	absDir, err1 := filepath.Abs(dir)
	absPath, err2 := filepath.Abs(path)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absDir, absPath); err == nil {
			return (&url.URL{Path: filepath.ToSlash(rel)}).String()
		}
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(absPath)}).String()
}
